"""``make eval``: NLU and danger-net figures on the held-out set in ``tests/nlu/`` (never trained on).

For each language: per-intent precision, recall and F1, and macro-F1 of the full NLU pipeline (so
the danger net's overrides count); the danger net's recall on disclosures and false-alarm rate on
benign messages, for the whole pipeline and for the lexicon net alone.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from bot.model import ensure_model
from bot.safety.net import DISCLOSURE_INTENTS, DangerNet
from bot.settings import PROJECT_ROOT, get_settings

__all__ = ["load_heldout", "evaluate", "main"]

HELDOUT = PROJECT_ROOT / "tests" / "nlu"
LANGUAGES = ("en", "ar")


def load_heldout(lang: str, root: Path = HELDOUT) -> List[Tuple[str, str]]:
    """(text, intent) pairs of the held-out NLU set for a language."""
    with open(root / f"heldout_{lang}.yml", encoding="utf-8") as f:
        data = yaml.safe_load(f)
    pairs: List[Tuple[str, str]] = []
    for block in data["nlu"]:
        for line in block["examples"].splitlines():
            text = line.strip()
            if text.startswith("- "):
                pairs.append((text[2:].strip(), block["intent"]))
    return pairs


def load_danger_set(name: str = "danger_eval.yml", root: Path = HELDOUT) -> Dict[str, Dict[str, List[str]]]:
    with open(root / name, encoding="utf-8") as f:
        return yaml.safe_load(f)


@dataclass
class LanguageReport:
    language: str
    examples: int
    accuracy: float
    macro_f1: float
    per_intent: Dict[str, Dict[str, float]]
    danger_recall: float
    danger_false_alarms: float
    net_recall: float
    net_false_alarms: float
    danger_counts: Dict[str, int]
    blind_recall: float
    blind_false_alarms: float
    blind_counts: Dict[str, int]
    missed_disclosures: List[str] = field(default_factory=list)
    false_alarms: List[str] = field(default_factory=list)


async def _predict(agent: Any, texts: List[str]) -> List[str]:
    intents = []
    for text in texts:
        parsed = await agent.parse_message(text)
        intents.append((parsed.get("intent") or {}).get("name") or "")
    return intents


def _prf(gold: List[str], predicted: List[str]) -> Tuple[Dict[str, Dict[str, float]], float, float]:
    from sklearn.metrics import precision_recall_fscore_support

    labels = sorted(set(gold))
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    per = {
        lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, lab in enumerate(labels)
    }
    macro = float(sum(f) / len(f)) if len(f) else 0.0
    accuracy = sum(g == q for g, q in zip(gold, predicted, strict=False)) / max(1, len(gold))
    return per, macro, accuracy


async def evaluate(model: Path) -> List[LanguageReport]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    net = DangerNet.load(get_settings().data_dir / "safety" / "danger.yml")
    danger_set = load_danger_set()
    # Written after the lexicon and training data were tuned, by someone who saw neither.
    blind_set = load_danger_set("danger_blind.yml")
    reports = []
    for lang in LANGUAGES:
        pairs = load_heldout(lang)
        texts, gold = [t for t, _ in pairs], [i for _, i in pairs]
        predicted = await _predict(agent, texts)
        per, macro, accuracy = _prf(gold, predicted)

        # Disclosures: the held-out disclosure examples plus the danger set; benign likewise.
        danger_texts = [t for t, i in pairs if i in DISCLOSURE_INTENTS] + list(danger_set["danger"][lang])
        benign_texts = [t for t, i in pairs if i not in DISCLOSURE_INTENTS] + list(danger_set["benign"][lang])
        danger_pred = await _predict(agent, danger_texts)
        benign_pred = await _predict(agent, benign_texts)
        missed = [t for t, p in zip(danger_texts, danger_pred, strict=False) if p not in DISCLOSURE_INTENTS]
        alarms = [t for t, p in zip(benign_texts, benign_pred, strict=False) if p in DISCLOSURE_INTENTS]
        blind_danger = await _predict(agent, list(blind_set["danger"][lang]))
        blind_benign = await _predict(agent, list(blind_set["benign"][lang]))
        blind_missed = [
            t for t, p in zip(blind_set["danger"][lang], blind_danger, strict=False) if p not in DISCLOSURE_INTENTS
        ]
        blind_alarms = [
            t for t, p in zip(blind_set["benign"][lang], blind_benign, strict=False) if p in DISCLOSURE_INTENTS
        ]
        net_hits = sum(1 for t in danger_texts if net.assess(t))
        net_alarms = sum(1 for t in benign_texts if net.assess(t))
        reports.append(
            LanguageReport(
                language=lang,
                examples=len(pairs),
                accuracy=accuracy,
                macro_f1=macro,
                per_intent=per,
                danger_recall=1 - len(missed) / max(1, len(danger_texts)),
                danger_false_alarms=len(alarms) / max(1, len(benign_texts)),
                net_recall=net_hits / max(1, len(danger_texts)),
                net_false_alarms=net_alarms / max(1, len(benign_texts)),
                danger_counts={"disclosures": len(danger_texts), "benign": len(benign_texts)},
                blind_recall=1 - len(blind_missed) / max(1, len(blind_danger)),
                blind_false_alarms=len(blind_alarms) / max(1, len(blind_benign)),
                blind_counts={"disclosures": len(blind_danger), "benign": len(blind_benign)},
                missed_disclosures=missed + [f"(blind) {t}" for t in blind_missed],
                false_alarms=alarms + [f"(blind) {t}" for t in blind_alarms],
            )
        )
    return reports


def _print(reports: List[LanguageReport]) -> None:
    for r in reports:
        print(f"\n== {r.language}: {r.examples} held-out examples ==")
        print(f"{'intent':32} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>4}")
        for intent, m in r.per_intent.items():
            print(f"{intent:32} {m['precision']:6.2f} {m['recall']:6.2f} {m['f1']:6.2f} {m['support']:4d}")
        print(f"accuracy {r.accuracy:.3f}   macro-F1 {r.macro_f1:.3f}")
        print(
            f"danger net (whole pipeline): recall {r.danger_recall:.3f} on {r.danger_counts['disclosures']} disclosures, "
            f"false alarms {r.danger_false_alarms:.3f} on {r.danger_counts['benign']} benign"
        )
        print(f"lexicon net alone:           recall {r.net_recall:.3f}, false alarms {r.net_false_alarms:.3f}")
        print(
            f"blind set (whole pipeline):  recall {r.blind_recall:.3f} on {r.blind_counts['disclosures']} disclosures, "
            f"false alarms {r.blind_false_alarms:.3f} on {r.blind_counts['benign']} benign"
        )
        for text in r.missed_disclosures:
            print(f"  MISSED: {text}")
        for text in r.false_alarms:
            print(f"  false alarm: {text}")
    print("\n| language | macro-F1 | accuracy | danger recall | danger false alarms | lexicon-only recall |")
    print("|---|---|---|---|---|---|")
    for r in reports:
        print(
            f"| {r.language} | {r.macro_f1:.3f} | {r.accuracy:.3f} | {r.danger_recall:.3f} | {r.danger_false_alarms:.3f} | {r.net_recall:.3f} |"
        )


def main(json_path: Optional[str] = None) -> int:
    import logging

    from rasa.utils.log_utils import configure_structlog

    # Rasa logs every parsed message at debug level; an evaluation prints figures, not texts.
    configure_structlog(logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    reports = asyncio.run(evaluate(ensure_model()))
    _print(reports)
    if json_path:
        out = Path(json_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps([r.__dict__ for r in reports], ensure_ascii=False, indent=2))
    return 0

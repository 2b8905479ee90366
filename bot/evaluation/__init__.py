"""``make eval``: the figures of understanding and of the safety net, on data the model never saw.

Every set in ``tests/nlu/`` (``bot.evaluation.sets``: development sets and the frozen blind sets)
is read by the trained model's whole NLU pipeline. For each language: intent accuracy and macro-F1
on the held-out set; for the development sets together and each blind set apart, disclosure recall
(the helplines in the first reply), crisis replies on ordinary messages, check-ins on them, and
crisis replies on out-of-scope requests; topic accuracy on short and long messages, on MSA and
dialect. The JSON report records the commit and the model it measured.

It fails (exit status 1) when a gate (``bot.evaluation.gates``) does not hold on the development
sets or the blind set, in either language: CI runs it. Where the blind set's target is not met yet,
the build is held at its recorded floor and the report says the target is not met. Development sets print their misses and false alarms
(to learn from); the blind set prints only counts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bot.evaluation.gates import GATES, check_gates
from bot.evaluation.measure import Reading, intent_figures, read_all, safety_figures, topic_figures
from bot.evaluation.sets import BLIND_ROLES, EVAL_ROOT, LANGUAGES, ROLES, SETS, file_digest, load_items
from bot.settings import PROJECT_ROOT

__all__ = ["main", "evaluate", "GATES"]


def _commit() -> Dict[str, Any]:
    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
        except OSError:
            return ""
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD") or None,
        "dirty": bool(git("status", "--porcelain", "--", "bot", "data", "config.yml", "domain.yml", "tests/nlu")),
    }


async def _read_sets(model: Path, roles: Sequence[str] = ROLES) -> Dict[str, List[Reading]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return {s.name: await read_all(agent, load_items(s)) for s in SETS if s.role in roles}


def evaluate(readings: Dict[str, List[Reading]], roles: Sequence[str] = ROLES) -> Dict[str, Any]:
    """The report (a JSON-ready dict) from every set's readings."""
    role_of = {eval_set.name: eval_set.role for eval_set in SETS}
    writer_dev = [s.name for s in SETS if s.role == "dev" and s.shape == "writer"]
    languages: Dict[str, Any] = {}
    for lang in LANGUAGES:
        mine = {name: [r for r in rs if r.item.language == lang] for name, rs in readings.items()}
        of_role = {role: [r for name, rs in mine.items() if role_of[name] == role for r in rs] for role in ROLES}
        languages[lang] = {
            "intents": intent_figures(mine.get("heldout", [])),
            "safety": {
                **{role: safety_figures(of_role[role]) for role in ROLES},
                "by_set": {name: safety_figures(rs) for name, rs in mine.items() if role_of[name] == "dev"},
            },
            "topics": {
                "heldout": topic_figures(mine.get("heldout", [])),
                "realistic": topic_figures([r for name in writer_dev for r in mine.get(name, [])]),
                **{role: topic_figures(of_role[role]) for role in BLIND_ROLES},
            },
        }
    gates = check_gates(languages, roles)
    return {
        "measured": {**_commit(), "at": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "sets": {
            eval_set.name: {
                "role": eval_set.role,
                "description": eval_set.description,
                "files": {
                    path: file_digest(EVAL_ROOT / path)
                    for path in sorted(set(eval_set.files.values()))
                    if (EVAL_ROOT / path).exists()
                },
                "items": len(readings.get(eval_set.name, [])),
            }
            for eval_set in SETS
        },
        "languages": languages,
        "gates": gates,
        "passed": all(g["passed"] for g in gates),
        "targets_met": all(g["target_met"] for g in gates),
    }


def _show_dev_errors(readings: Dict[str, List[Reading]]) -> None:
    """What the development sets got wrong, to learn from. Never the blind set's messages."""
    roles = {eval_set.name: eval_set.role for eval_set in SETS}
    for name, rs in readings.items():
        if roles[name] != "dev":
            continue
        for r in rs:
            where = f"[{name}/{r.item.language}]"
            if r.item.disclosure and not r.caught:
                print(f"  MISSED {where} ({r.score:.2f}) {r.item.text}")
            elif not r.item.disclosure and r.reply == "crisis":
                print(f"  CRISIS {where} ({r.source} {r.score:.2f}) {r.item.text}")
            elif not r.item.disclosure and r.reply == "check_in":
                print(f"  check-in {where} ({r.score:.2f}) {r.item.text}")


def _pct(value: Optional[float]) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _topic_cells(figures: Dict[str, Any], measure: str) -> List[str]:
    """One language's topic ``measure`` (accuracy or answered) by length and dialect, development then blind."""
    topics = figures["topics"]
    tables = [topics["realistic"]] + [topics[role] for role in BLIND_ROLES]
    return [_pct(t[k][measure]) for t in tables for k in ("short", "long", "msa", "dialect")]


def _show(report: Dict[str, Any]) -> None:
    print(
        "\n| language | set | disclosures caught | recall | crisis on ordinary | check-ins on ordinary | crisis on out-of-scope |"
    )
    print("|---|---|---|---|---|---|---|")
    for lang, figures in report["languages"].items():
        for role in ROLES:
            s = figures["safety"][role]
            if not s["disclosures"]:
                continue
            print(
                f"| {lang} | {role} | {s['caught']}/{s['disclosures']} | {_pct(s['recall'])} | "
                f"{s['crisis_on_ordinary']}/{s['ordinary']} ({_pct(s['crisis_rate'])}) | {_pct(s['check_in_rate'])} | "
                f"{s['crisis_on_out_of_scope']}/{s['out_of_scope']} |"
            )
    blind_heads = "".join(f" {role}: short | long | MSA | dialect |" for role in BLIND_ROLES)
    print("\n| language | held-out macro-F1 | accuracy | topics short | long | MSA | dialect |" + blind_heads)
    print("|---|---|---|---|---|---|---|" + "---|---|---|---|" * len(BLIND_ROLES))
    for lang, figures in report["languages"].items():
        i = figures["intents"]
        cells = _topic_cells(figures, "accuracy")
        print(f"| {lang} | {i.get('macro_f1', 0):.3f} | {_pct(i.get('accuracy'))} | " + " | ".join(cells) + " |")
    print(
        "\n| language | topic answered in the first reply (a check-in's answer too): short | long | MSA | dialect |"
        + blind_heads
    )
    print("|---|---|---|---|---|" + "---|---|---|---|" * len(BLIND_ROLES))
    for lang, figures in report["languages"].items():
        print(f"| {lang} | " + " | ".join(_topic_cells(figures, "answered")) + " |")
    for g in report["gates"]:
        if g["passed"] and not g["target_met"]:
            print(
                f"TARGET NOT MET: {g['language']} {g['role']} {g['figure']} = {g['value']} "
                f"(target {g['target']}; held at the recorded floor {g['limit']})"
            )
    failed = [g for g in report["gates"] if not g["passed"]]
    for g in failed:
        print(f"GATE FAILED: {g['language']} {g['role']} {g['figure']} = {g['value']} (must be {g['limit']})")
    print("\nAll gates hold." if not failed else f"\n{len(failed)} gate(s) failed.")


def main(json_path: Optional[str] = None, show_errors: bool = True, dev_only: bool = False) -> int:
    from rasa.utils.log_utils import configure_structlog

    from bot.model import ensure_model

    # Rasa logs every parsed message at debug level; an evaluation prints figures, not texts.
    configure_structlog(logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    model = ensure_model()
    # --dev-only: while changing the model, look at the development sets alone (the blind set is
    # measured when the work is done, not after every change).
    roles = ("dev",) if dev_only else ROLES
    readings = asyncio.run(_read_sets(model, roles))
    report = evaluate(readings, roles)
    report["measured"]["model"] = model.name
    if show_errors:
        _show_dev_errors(readings)
    _show(report)
    if json_path:
        out = Path(json_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"Report: {out}")
    return 0 if report["passed"] else 1

"""``python -m bot.evaluation.sweep``: how the safety net's check-in thresholds trade recall for
check-ins, on the development sets only.

Reads every development set once with the trained model, then replays ``bot.nlu.danger.decide``
itself under a grid of check-in thresholds (with the lexicon as it is now), printing per language:
disclosures caught, crisis replies and check-ins on ordinary messages. The blind sets are never read here: thresholds are chosen on what this prints, and the
blind sets are measured afterwards by ``make eval``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Dict, List, Sequence, Tuple

from bot.evaluation.measure import Reading, read_all
from bot.evaluation.sets import LANGUAGES, SETS, load_items
from bot.nlu.danger import Thresholds, decide
from bot.safety.net import DISCLOSURE_INTENTS, DangerNet

__all__ = ["replay", "main"]

MODEL_CHECK_IN = (0.15, 0.2, 0.25, 0.3, 0.35)
SCORER_CHECK_IN = (0.25, 0.3, 0.35, 0.4, 0.5)


def replay(
    readings: Sequence[Reading],
    net: DangerNet,
    model_check_in: float,
    scorer_check_in: float,
    model_clear: float,
    scorer_clear: float,
    scorer_hedged: float = 1.0,
) -> Tuple[int, int, int, int, int]:
    """(disclosures, caught, ordinary, crisis on ordinary, check-ins on ordinary) under these thresholds,
    decided by ``bot.nlu.danger.decide`` itself (the family gate and app-only questions included)."""
    thresholds = Thresholds.from_config(
        {
            "check_in_threshold": model_check_in,
            "clear_threshold": model_clear,
            "scorer_check_in_threshold": scorer_check_in,
            "scorer_clear_threshold": scorer_clear,
            "scorer_hedged_threshold": scorer_hedged,
        }
    )
    caught = crisis = check_ins = 0
    for r in readings:
        intent = r.danger_intent if r.danger_intent in DISCLOSURE_INTENTS else "disclose_harm"
        found = decide(r.item.text, [{"name": intent, "confidence": r.score}], net, thresholds, r.scorer)
        reply = "none" if found is None else "crisis" if found.tier == "clear" else "check_in"
        if r.item.disclosure:
            caught += reply != "none"
        else:
            crisis += reply == "crisis"
            check_ins += reply == "check_in"
    disclosures = sum(r.item.disclosure for r in readings)
    return disclosures, caught, len(readings) - disclosures, crisis, check_ins


def main(model_clear: float = 0.9, scorer_clear: float = 0.7, scorer_hedged: float = 0.3) -> int:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    from bot.model import ensure_model

    configure_structlog(logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    agent = Agent.load(str(ensure_model()))
    dev = [s for s in SETS if s.role == "dev"]  # never a blind set
    readings: List[Reading] = []
    for eval_set in dev:
        readings += asyncio.run(read_all(agent, load_items(eval_set)))
    net = DangerNet.load()
    print("| language | model check-in | scorer check-in | caught | crisis on ordinary | check-ins on ordinary |")
    print("|---|---|---|---|---|---|")
    for lang in LANGUAGES:
        mine = [r for r in readings if r.item.language == lang]
        rows: Dict[Tuple[float, float], Tuple[int, int, int, int, int]] = {}
        for m, s in itertools.product(MODEL_CHECK_IN, SCORER_CHECK_IN):
            rows[(m, s)] = replay(mine, net, m, s, model_clear, scorer_clear, scorer_hedged)
        for (m, s), (d, c, o, cr, ci) in rows.items():
            print(f"| {lang} | {m} | {s} | {c}/{d} | {cr}/{o} | {ci}/{o} ({100 * ci / o:.1f}%) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

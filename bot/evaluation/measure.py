"""Reading every evaluation message with the trained model, and the figures made from the readings.

A message's first reply is one of three, decided by the NLU (rules map each to its action):
``crisis`` (a clear disclosure: the crisis reply and an urgent case), ``check_in`` (an uncertain
one: the helplines and a question, no case), or ``none`` (the answer to what was asked). A
disclosure is *caught* when its first reply shows the helplines: crisis or check-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from bot.evaluation.sets import TOPIC_INTENTS, EvalItem
from bot.safety.net import ANSWER_WITH_CHECK_IN, DISCLOSURE_INTENTS, POSSIBLE_DISCLOSURE

__all__ = ["Reading", "answered", "read_all", "safety_figures", "intent_figures", "topic_figures", "LONG_WORDS"]

# A "long" message, for topic accuracy by length.
LONG_WORDS = 15


@dataclass(frozen=True)
class Reading:
    item: EvalItem
    intent: str  # the pipeline's intent (after the danger component)
    reply: str  # crisis | check_in | none
    source: Optional[str]  # net | model, when the danger component fired
    score: float  # the classifier's confidence in its likeliest disclosure intent
    danger_intent: Optional[str] = None  # the disclosure intent a check-in rests on
    scorer: Optional[float] = None  # the disclosure scorer's probability
    asked: Optional[str] = None  # a check-in's reading of what the message asks (the topic it may answer)
    asked_confidence: float = 0.0

    @property
    def caught(self) -> bool:
        return self.reply != "none"

    @property
    def as_intent(self) -> str:
        """The intent for intent figures: a check-in counts as the disclosure intent it rests on."""
        if self.intent == POSSIBLE_DISCLOSURE:
            return self.danger_intent or "disclose_harm"
        return self.intent


def _reading(item: EvalItem, parsed: Dict[str, Any]) -> Reading:
    intent = (parsed.get("intent") or {}).get("name") or ""
    danger = parsed.get("danger") or {}
    ranking = parsed.get("intent_ranking") or []
    score = (
        danger.get("score")
        if danger
        else max(
            (float(r.get("confidence") or 0.0) for r in ranking if r.get("name") in DISCLOSURE_INTENTS), default=0.0
        )
    )
    reply = "crisis" if intent in DISCLOSURE_INTENTS else "check_in" if intent == POSSIBLE_DISCLOSURE else "none"
    return Reading(
        item,
        intent,
        reply,
        danger.get("source"),
        float(score or 0.0),
        danger.get("intent"),
        parsed.get("disclosure_probability"),
        danger.get("asked"),
        float(danger.get("asked_confidence") or 0.0),
    )


async def read_all(agent: Any, items: Sequence[EvalItem]) -> List[Reading]:
    """Each item through the whole NLU pipeline of ``agent`` (a loaded Rasa ``Agent``)."""
    return [_reading(item, await agent.parse_message(item.text)) for item in items]


def _rate(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def safety_figures(readings: Sequence[Reading]) -> Dict[str, Any]:
    """Recall (helplines in the first reply), and what ordinary messages got."""
    disclosures = [r for r in readings if r.item.disclosure]
    ordinary = [r for r in readings if not r.item.disclosure]
    out_of_scope = [r for r in ordinary if r.item.intent == "out_of_scope"]
    hard = [r for r in ordinary if r.item.hard_negative]
    crisis = [r for r in ordinary if r.reply == "crisis"]
    return {
        "disclosures": len(disclosures),
        "caught": sum(r.caught for r in disclosures),
        "recall": _rate(sum(r.caught for r in disclosures), len(disclosures)),
        "crisis_recall": _rate(sum(r.reply == "crisis" for r in disclosures), len(disclosures)),
        "ordinary": len(ordinary),
        "crisis_on_ordinary": len(crisis),
        "crisis_rate": _rate(len(crisis), len(ordinary)),
        "check_in_rate": _rate(sum(r.reply == "check_in" for r in ordinary), len(ordinary)),
        "out_of_scope": len(out_of_scope),
        "crisis_on_out_of_scope": sum(r.reply == "crisis" for r in out_of_scope),
        "hard_negatives": len(hard),
        "crisis_rate_hard_negatives": _rate(sum(r.reply == "crisis" for r in hard), len(hard)),
        "crisis_by_source": {source: sum(r.source == source for r in crisis) for source in ("net", "model")},
    }


def intent_figures(readings: Sequence[Reading]) -> Dict[str, Any]:
    """Accuracy, macro-F1 and per-intent precision/recall/F1 over the items that name an intent."""
    from sklearn.metrics import precision_recall_fscore_support

    labelled = [r for r in readings if r.item.intent]
    gold = [r.item.intent or "" for r in labelled]
    predicted = [r.as_intent for r in labelled]
    labels = sorted(set(gold))
    if not labels:
        return {"examples": 0}
    p, rec, f, s = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    return {
        "examples": len(labelled),
        "accuracy": round(sum(g == q for g, q in zip(gold, predicted, strict=True)) / len(gold), 4),
        "macro_f1": round(float(sum(f) / len(f)), 4),
        "per_intent": {
            label: {
                "precision": round(float(p[i]), 3),
                "recall": round(float(rec[i]), 3),
                "f1": round(float(f[i]), 3),
                "support": int(s[i]),
            }
            for i, label in enumerate(labels)
        },
    }


def answered(reading: Reading) -> bool:
    """The first reply gives the advice of the topic asked: the topic was understood, or a check-in
    also answers it (``actions/check_in.py``: the classifier sure enough of it; an app named, with
    that app's guide or reporting steps)."""
    if reading.intent == reading.item.intent:
        return True
    return (
        reading.reply == "check_in"
        and reading.asked == reading.item.intent
        and reading.asked_confidence >= ANSWER_WITH_CHECK_IN
    )


def _accuracy(readings: Sequence[Reading]) -> Dict[str, Any]:
    right = sum(r.intent == r.item.intent for r in readings)
    return {
        "n": len(readings),
        "accuracy": _rate(right, len(readings)),
        "answered": _rate(sum(answered(r) for r in readings), len(readings)),
    }


def topic_figures(readings: Sequence[Reading]) -> Dict[str, Any]:
    """Accuracy on topic questions: short against long messages, and MSA against dialect."""
    topical = [r for r in readings if r.item.intent in TOPIC_INTENTS]
    return {
        "all": _accuracy(topical),
        "short": _accuracy([r for r in topical if r.item.words < LONG_WORDS]),
        "long": _accuracy([r for r in topical if r.item.words >= LONG_WORDS]),
        "msa": _accuracy([r for r in topical if r.item.style == "msa"]),
        "dialect": _accuracy([r for r in topical if r.item.style not in (None, "msa", "en")]),
    }

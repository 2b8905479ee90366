"""Risk triage: which cases a counselor sees first.

* **urgent**: someone is in immediate danger now; self-harm; coercion, threats, abuse or blackmail
  disclosed as happening now (a disclosure caught by the danger net is, by its nature, happening);
  a report of blackmail that is still going on.
* **high**: blackmail, grooming or an adult stranger, a planned meeting (the danger net's
  ``meeting`` kind), intimate images shared (not in the issue's list; added because sharing a
  child's images is itself a crime that needs fast removal).
* **normal**: everything else.

A case's risk only ever goes up: new information never makes an open case less urgent.
"""

from __future__ import annotations

from typing import Iterable, Optional

__all__ = ["RISKS", "URGENT_KINDS", "HIGH_KINDS", "triage", "higher_risk"]

RISKS = ("normal", "high", "urgent")
# Danger-net kinds (bot.safety.net.DANGER_KINDS) that make a case urgent or high on their own.
# "unspecified" is a disclosure the classifier caught without a lexicon kind: when in doubt, urgent.
URGENT_KINDS = frozenset({"self_harm", "coercion", "blackmail", "threat", "abuse", "images", "unspecified"})
HIGH_KINDS = frozenset({"meeting"})
# Report-form answers to "what kind of harm?" that make a case high.
HIGH_HARMS = frozenset({"blackmail", "grooming", "images"})


def triage(
    *,
    danger_now: Optional[str] = None,
    disclosure_kinds: Iterable[str] = (),
    harm: Optional[str] = None,
    when: Optional[str] = None,
) -> str:
    """The risk level for what is known about a case.

    Args:
        danger_now: the answer to "is anyone in immediate danger now?" (yes / no / skipped).
        disclosure_kinds: kinds the danger net found in this conversation.
        harm: the answer to "what kind of harm?" (blackmail, grooming, cyberbullying, images, other).
        when: the answer to "when did it happen?" (``ongoing`` means it is still happening).
    """
    kinds = set(disclosure_kinds)
    if danger_now == "yes" or kinds & URGENT_KINDS:
        return "urgent"
    if harm == "blackmail" and when == "ongoing":
        return "urgent"
    if harm in HIGH_HARMS or kinds & HIGH_KINDS:
        return "high"
    return "normal"


def higher_risk(a: Optional[str], b: Optional[str]) -> str:
    """The more urgent of two risk levels (unknown values count as normal)."""
    rank = {risk: i for i, risk in enumerate(RISKS)}
    return max(a or "normal", b or "normal", key=lambda r: rank.get(r, 0))

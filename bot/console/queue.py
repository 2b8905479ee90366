"""The queue's order and the metadata a queue row shows (nothing a user said)."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List

from bot.cases.store import CaseMeta
from bot.cases.triage import RISKS

__all__ = ["ordered", "row", "visible_to"]

# RISKS runs from the least to the most urgent; the queue starts with the most urgent.
_RANK = {risk: i for i, risk in enumerate(reversed(RISKS))}


def ordered(cases: Iterable[CaseMeta]) -> List[CaseMeta]:
    """Most urgent first (urgent, high, normal), then who has waited longest."""
    return sorted(cases, key=lambda c: (_RANK.get(c.risk, len(_RANK)), c.created_at, c.reference))


def visible_to(case: CaseMeta, username: str, supervisor: bool) -> bool:
    """Supervisors see every case; a counselor sees unassigned cases and their own."""
    return supervisor or case.assignee is None or case.assignee == username


def row(case: CaseMeta) -> Dict[str, Any]:
    return {
        "reference": case.reference,
        "risk": case.risk,
        "opened_by": case.opened_by or "",
        "status": case.status,
        "channel": case.channel,
        "language": case.language or "",
        "audience": case.audience or "",
        "waiting_since": case.created_at.isoformat(timespec="seconds"),
        "assignee": case.assignee or "",
        "held": case.held,
    }

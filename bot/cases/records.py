"""What the case store takes and gives: a conversation, a case's metadata, one turn's update, and
how an update is merged into the encrypted report (``merge_contents``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Optional

from bot.cases.models import Case

__all__ = ["CaseStoreError", "Conversation", "CaseMeta", "CaseUpdate", "Recorded", "merge_contents"]

MAX_EXCERPTS = 20
MAX_EXCERPT_CHARS = 2000


class CaseStoreError(RuntimeError):
    """The case database could not be read or written; nothing was changed."""


@dataclass(frozen=True)
class Conversation:
    """Which chat a case came from: the channel and that channel's sender id."""

    channel: str
    sender_id: str

    def as_dict(self) -> Dict[str, str]:
        return {"channel": self.channel, "sender_id": self.sender_id}


@dataclass(frozen=True)
class CaseMeta:
    """What may be shown without decrypting: the queue's view of a case."""

    reference: str
    risk: str
    status: str
    channel: str
    language: Optional[str]
    audience: Optional[str]
    created_at: datetime
    updated_at: datetime
    closed_at: Optional[datetime]
    assignee: Optional[str] = None
    held: bool = False
    held_since: Optional[datetime] = None
    outcome: Optional[str] = None
    opened_by: Optional[str] = None

    @classmethod
    def of(cls, case: Case) -> CaseMeta:
        return cls(
            reference=case.reference,
            risk=case.risk,
            status=case.status,
            channel=case.channel,
            language=case.language,
            audience=case.audience,
            created_at=case.created_at,
            updated_at=case.updated_at,
            closed_at=case.closed_at,
            assignee=case.assignee,
            held=bool(case.held),
            held_since=case.held_since,
            outcome=case.outcome,
            opened_by=case.opened_by,
        )


@dataclass(frozen=True)
class CaseUpdate:
    """What one turn of the conversation adds to a case.

    Attributes:
        origin: ``report`` (the form), ``disclosure`` (a clear disclosure the danger net caught),
            ``check_in`` (a possible disclosure the user confirmed), ``counselor_request`` ("talk
            to a person") or ``urgent_answer`` ("is anyone in danger now?" answered yes).
        risk: the risk this update alone implies (``bot.cases.triage.triage``).
        answers: report answers by question (``reporter``, ``harm``, ``where``...).
        disclosure: ``{"kind", "source"}`` when the danger net fired.
        excerpt: the user's own words, kept only encrypted (a disclosure, for example).
    """

    origin: str
    risk: str = "normal"
    language: Optional[str] = None
    audience: Optional[str] = None
    answers: Dict[str, str] = field(default_factory=dict)
    disclosure: Optional[Dict[str, str]] = None
    excerpt: Optional[str] = None
    counselor_requested: bool = False


@dataclass(frozen=True)
class Recorded:
    """The case after a ``record``: whether it is new, and whether its risk went up."""

    case: CaseMeta
    created: bool
    risk_raised: bool


def merge_contents(document: Dict[str, Any], update: CaseUpdate, now: datetime) -> Dict[str, Any]:
    """The encrypted document with ``update`` merged in (answers overwrite, the rest appends)."""
    doc = dict(document)
    at = now.isoformat(timespec="seconds")
    doc.setdefault("version", 1)
    doc["origins"] = list(dict.fromkeys([*doc.get("origins", []), update.origin]))
    answers = dict(doc.get("answers", {}))
    for key, value in update.answers.items():
        if value in (None, ""):
            continue
        if value == "skipped" and answers.get(key) not in (None, "skipped"):
            continue  # a later "skip" does not erase an earlier answer
        answers[key] = value
    doc["answers"] = answers
    if update.disclosure:
        doc["disclosures"] = [*doc.get("disclosures", []), {**update.disclosure, "at": at}]
    if update.excerpt:
        excerpts = [*doc.get("excerpts", []), {"at": at, "text": update.excerpt[:MAX_EXCERPT_CHARS]}]
        doc["excerpts"] = excerpts[-MAX_EXCERPTS:]
    if update.counselor_requested:
        doc["counselor_requested_at"] = at
    doc["history"] = [*doc.get("history", []), {"at": at, "origin": update.origin, "risk": update.risk}]
    return doc

"""The audit log: who opened, claimed, handed back, closed or reassigned which case, who signed in
(or failed to), and who read the audit log itself. Never what anyone said."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, List, Optional

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.cases.models import utcnow
from bot.console.schema import AuditEntry

__all__ = ["AuditLog", "Audited", "ACTIONS"]

ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_in_limited",
    "sign_out",
    "open_case",
    "claim",
    "hand_back",
    "close",
    "reassign",
    "view_audit",
    # The Campaigns page (bot/console/campaigns.py).
    "view_campaigns",
    "campaign_send",
    "campaign_pause",
    "campaign_resume",
    "campaign_cancel",
    "view_analytics",
    "export_analytics",
)


@dataclass(frozen=True)
class Audited:
    id: int
    at: datetime
    actor: str
    action: str
    reference: Optional[str]
    detail: Optional[str]
    ip: Optional[str]


class AuditLog:
    """Append-only: there is no method to change or delete an entry."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self._clock = clock

    def record(
        self,
        actor: str,
        action: str,
        reference: Optional[str] = None,
        detail: Optional[str] = None,
        ip: Optional[str] = None,
    ) -> Audited:
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        with Session(self.engine, future=True) as session, session.begin():
            row = AuditEntry(
                at=self._clock(),
                actor=actor[:64],
                action=action,
                reference=reference,
                detail=(detail or None) and detail[:200],
                ip=(ip or None) and ip[:64],
            )
            session.add(row)
            session.flush()
            return self._entry(row)

    def entries(self, reference: Optional[str] = None, actor: Optional[str] = None, limit: int = 200) -> List[Audited]:
        """The newest entries first, optionally for one case or one actor."""
        query = select(AuditEntry)
        if reference:
            query = query.where(AuditEntry.reference == reference)
        if actor:
            query = query.where(AuditEntry.actor == actor)
        with Session(self.engine, future=True) as session:
            rows = session.execute(query.order_by(AuditEntry.id.desc()).limit(limit)).scalars().all()
            return [self._entry(row) for row in rows]

    @staticmethod
    def _entry(row: AuditEntry) -> Audited:
        return Audited(row.id, row.at, row.actor, row.action, row.reference, row.detail, row.ip)

"""Signed-in sessions on the server side. The browser holds only a random id, inside the encrypted,
HTTP-only cookie; the database holds its SHA-256, who it belongs to and when it was last used, so a
session ends for real on sign-out, after ``idle`` without a request, or when the account is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.cases.models import utcnow
from bot.console.schema import ConsoleSession, Counselor

__all__ = ["SessionStore"]


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


class SessionStore:
    def __init__(self, engine: Engine, idle: timedelta, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.idle = idle
        self._clock = clock

    def start(self, username: str) -> str:
        """A new session for ``username``; returns the id for the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        with Session(self.engine, future=True) as session, session.begin():
            session.add(ConsoleSession(id_hash=_hash(session_id), username=username, created_at=now, last_seen=now))
        return session_id

    def check(self, session_id: str, touch: bool = True) -> Optional[str]:
        """The session's username if it is live (not ended, not idle too long, account enabled);
        ``touch`` records this request as activity. An idle session is ended here."""
        now = self._clock()
        with Session(self.engine, future=True) as session, session.begin():
            row = session.get(ConsoleSession, _hash(session_id))
            if row is None or row.ended_at is not None:
                return None
            if now - row.last_seen > self.idle:
                row.ended_at = now
                return None
            account = session.execute(select(Counselor).where(Counselor.username == row.username)).scalar_one_or_none()
            if account is None or account.disabled:
                row.ended_at = now
                return None
            if touch:
                row.last_seen = now
            return str(row.username)

    def end(self, session_id: str) -> None:
        with Session(self.engine, future=True) as session, session.begin():
            row = session.get(ConsoleSession, _hash(session_id))
            if row is not None and row.ended_at is None:
                row.ended_at = self._clock()

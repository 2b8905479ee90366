"""Sign-in rate limiting, per account and per IP address, kept in the case database so that it
holds across restarts and across every console process (no Redis needed).

An account is locked after ``per_account`` failed sign-ins within ``window``, an address after
``per_ip``; while locked, the password is not even checked. A successful sign-in clears the
account's failures (not the address's). Names are stored hashed: a password typed into the name
field must not end up in the database in clear.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.cases.models import utcnow
from bot.console.schema import LoginFailure

__all__ = ["LoginLimiter"]


def _account_key(username: str) -> str:
    return "account:" + hashlib.sha256(username.strip().lower().encode("utf-8")).hexdigest()


def _ip_key(ip: str) -> str:
    return f"ip:{ip}"[:128]


class LoginLimiter:
    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime] = utcnow,
        per_account: int = 5,
        per_ip: int = 20,
        window: timedelta = timedelta(minutes=15),
    ):
        self.engine = engine
        self._clock = clock
        self.per_account = per_account
        self.per_ip = per_ip
        self.window = window

    def blocked(self, username: str, ip: str) -> bool:
        """True if this account or this address has failed too often lately."""
        since = self._clock() - self.window
        with Session(self.engine, future=True) as session:
            return (
                self._count(session, _account_key(username), since) >= self.per_account
                or self._count(session, _ip_key(ip), since) >= self.per_ip
            )

    def failed(self, username: str, ip: str) -> None:
        now = self._clock()
        with Session(self.engine, future=True) as session, session.begin():
            session.add(LoginFailure(key=_account_key(username), at=now))
            session.add(LoginFailure(key=_ip_key(ip), at=now))
            # Keep the table short: what is older than the window no longer counts.
            session.execute(delete(LoginFailure).where(LoginFailure.at < now - self.window))

    def succeeded(self, username: str) -> None:
        with Session(self.engine, future=True) as session, session.begin():
            session.execute(delete(LoginFailure).where(LoginFailure.key == _account_key(username)))

    @staticmethod
    def _count(session: Session, key: str, since: datetime) -> int:
        query = select(func.count()).select_from(LoginFailure).where(LoginFailure.key == key, LoginFailure.at >= since)
        return int(session.execute(query).scalar_one())

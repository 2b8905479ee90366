"""Sign-in rate limiting, per account and per IP address, kept in the case database so that it
holds across restarts and across every console process (no Redis needed).

An account is locked after ``per_account`` failed sign-ins within ``window``, an address after
``per_ip``; while locked, the password is not even checked. A successful sign-in clears the
account's failures (not the address's). Names are stored hashed: a password typed into the name
field must not end up in the database in clear.

The limit is atomic: ``attempt`` first *commits* a failure row for the account and the address and
only then counts them, so a burst of parallel wrong passwords is ordered by the database. The
attempt committed in the k-th place sees at least k rows, so no more than ``per_account`` attempts
reach the password check, however many arrive at once (tests/test_security_console.py). A refused
attempt takes its rows back (being locked does not extend the lock); a right password removes
the account's rows and this attempt's address row; a wrong one leaves them as the failure.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.cases.models import utcnow
from bot.console.schema import LoginFailure

__all__ = ["LoginLimiter", "Attempt"]


def _account_key(username: str) -> str:
    return "account:" + hashlib.sha256(username.strip().lower().encode("utf-8")).hexdigest()


def _ip_key(ip: str) -> str:
    return f"ip:{ip}"[:128]


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt that may check its password (the rows it reserved)."""

    username: str
    account_row: int
    ip_row: int


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

    def attempt(self, username: str, ip: str) -> Optional[Attempt]:
        """Reserve one try for this account from this address: an ``Attempt`` if it is within both
        limits (counted as a failure until ``succeeded``), None if either is reached."""
        now = self._clock()
        account_row = LoginFailure(key=_account_key(username), at=now)
        ip_row = LoginFailure(key=_ip_key(ip), at=now)
        with Session(self.engine, future=True) as session, session.begin():
            session.add_all([account_row, ip_row])
            # Keep the table short: what is older than the window no longer counts.
            session.execute(delete(LoginFailure).where(LoginFailure.at < now - self.window))
            session.flush()
            ids = (int(account_row.id), int(ip_row.id))
        since = now - self.window
        with Session(self.engine, future=True) as session, session.begin():
            over = (
                self._count(session, _account_key(username), since) > self.per_account
                or self._count(session, _ip_key(ip), since) > self.per_ip
            )
            if over:
                session.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))
                return None
        return Attempt(username, *ids)

    def blocked(self, username: str, ip: str) -> bool:
        """True if this account or this address has failed too often lately (a look, not a try)."""
        since = self._clock() - self.window
        with Session(self.engine, future=True) as session:
            return (
                self._count(session, _account_key(username), since) >= self.per_account
                or self._count(session, _ip_key(ip), since) >= self.per_ip
            )

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the account's failures are forgotten, and this try from the address."""
        with Session(self.engine, future=True) as session, session.begin():
            session.execute(delete(LoginFailure).where(LoginFailure.key == _account_key(attempt.username)))
            session.execute(delete(LoginFailure).where(LoginFailure.id == attempt.ip_row))

    @staticmethod
    def _count(session: Session, key: str, since: datetime) -> int:
        query = select(func.count()).select_from(LoginFailure).where(LoginFailure.key == key, LoginFailure.at >= since)
        return int(session.execute(query).scalar_one())

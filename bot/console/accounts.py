"""Counselor accounts: argon2id password hashes (``argon2-cffi``), roles, disabling.

Passwords are never stored or logged; only their argon2 hashes are. A sign-in for an unknown or
disabled account still costs one hash check, so timing does not tell which names exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, List, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.cases.models import utcnow
from bot.console.schema import ConsoleSession, Counselor

__all__ = ["Accounts", "Account", "AccountError", "ROLES", "MIN_PASSWORD_CHARS", "valid_username"]

ROLES = ("counselor", "supervisor")
MIN_PASSWORD_CHARS = 12
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


class AccountError(ValueError):
    """A bad name, role or password, or a name that is taken or unknown."""


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    disabled: bool
    created_at: datetime

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"


def valid_username(name: str) -> bool:
    """Lower-case letters, digits, ``.``, ``_``, ``-``; 2 to 32 characters."""
    return bool(_USERNAME.match(name))


class Accounts:
    """Create, list, disable and verify counselor accounts."""

    def __init__(self, engine: Engine, hasher: Optional[PasswordHasher] = None, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._clock = clock
        self._dummy: Optional[str] = None

    def add(self, username: str, role: str, password: str) -> Account:
        if not valid_username(username):
            raise AccountError("a name is 2-32 lower-case letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise AccountError(f"role must be one of {ROLES}")
        self._check_password(password)
        row = Counselor(
            username=username, role=role, password_hash=self.hasher.hash(password), created_at=self._clock()
        )
        try:
            with Session(self.engine, future=True) as session, session.begin():
                session.add(row)
                session.flush()
                return self._account(row)
        except IntegrityError:
            raise AccountError(f"an account named {username!r} exists") from None

    def get(self, username: str) -> Optional[Account]:
        with Session(self.engine, future=True) as session:
            row = self._row(session, username)
            return self._account(row) if row else None

    def all(self) -> List[Account]:
        with Session(self.engine, future=True) as session:
            rows = session.execute(select(Counselor).order_by(Counselor.username)).scalars().all()
            return [self._account(row) for row in rows]

    def set_disabled(self, username: str, disabled: bool = True) -> Account:
        """Disable (or enable) an account; either ends its sessions."""
        with Session(self.engine, future=True) as session, session.begin():
            row = self._row(session, username)
            if row is None:
                raise AccountError(f"no account named {username!r}")
            row.disabled = disabled
            self._end_sessions(session, username)
            session.flush()
            return self._account(row)

    def set_password(self, username: str, password: str) -> None:
        """A new password; every session of the account ends (whoever knew the old one is out)."""
        self._check_password(password)
        with Session(self.engine, future=True) as session, session.begin():
            row = self._row(session, username)
            if row is None:
                raise AccountError(f"no account named {username!r}")
            row.password_hash = self.hasher.hash(password)
            self._end_sessions(session, username)

    def _end_sessions(self, session: Session, username: str) -> None:
        """End the account's live sessions: any change to an account signs it out everywhere."""
        now = self._clock()
        query = select(ConsoleSession).where(ConsoleSession.username == username, ConsoleSession.ended_at.is_(None))
        for live in session.execute(query).scalars():
            live.ended_at = now

    def verify(self, username: str, password: str) -> Optional[Account]:
        """The account, if the name and password match an enabled account; else None."""
        with Session(self.engine, future=True) as session, session.begin():
            row = self._row(session, username) if valid_username(username) else None
            if row is None or row.disabled:
                self._burn(password)
                return None
            try:
                self.hasher.verify(row.password_hash, password)
            except (VerificationError, InvalidHashError):
                return None
            if self.hasher.check_needs_rehash(row.password_hash):
                row.password_hash = self.hasher.hash(password)
            return self._account(row)

    def _burn(self, password: str) -> None:
        if self._dummy is None:
            self._dummy = self.hasher.hash("not-a-password-of-anyone")
        try:
            self.hasher.verify(self._dummy, password)
        except (VerificationError, InvalidHashError):
            pass

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(f"a password has at least {MIN_PASSWORD_CHARS} characters")

    @staticmethod
    def _row(session: Session, username: str) -> Optional[Counselor]:
        return session.execute(select(Counselor).where(Counselor.username == username)).scalar_one_or_none()

    @staticmethod
    def _account(row: Counselor) -> Account:
        return Account(row.username, row.role, bool(row.disabled), row.created_at)

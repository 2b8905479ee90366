"""The console's own tables in the case database, migrated as the component ``console`` in
``amaan_schema`` (the case store migrates the component ``cases``; the levels never collide).

* ``counselors``: accounts (argon2 hashes, never passwords), role, disabled flag.
* ``console_sessions``: signed-in sessions, by the SHA-256 of the id in the encrypted cookie, so
  signing out, idle expiry and disabling an account end a session on the server, not just in a browser.
* ``console_login_failures``: failed sign-ins per account (hashed name) and per IP, for rate limiting
  that survives restarts and is shared by every console process.
* ``audit_log``: who did what to which case, when.
* ``console_undelivered``: counselor messages the delivery endpoint did not accept.
"""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

from sqlalchemy import Boolean, Column, Integer, String
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import declarative_base

from bot.cases.models import UTCDateTime, utcnow
from bot.cases.store import migrate_component

__all__ = [
    "ConsoleBase",
    "Counselor",
    "ConsoleSession",
    "LoginFailure",
    "AuditEntry",
    "Undelivered",
    "MIGRATIONS",
    "CONSOLE_SCHEMA_VERSION",
    "migrate_console",
]

ConsoleBase: Any = declarative_base()

COMPONENT = "console"
_PG_LOCK_KEY = 0x414D41414E01  # not the case store's key: the two migrations may run side by side


class Counselor(ConsoleBase):
    __tablename__ = "counselors"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, unique=True, index=True)
    role = Column(String(16), nullable=False)  # counselor | supervisor
    password_hash = Column(String(255), nullable=False)
    disabled = Column(Boolean, nullable=False, default=False, server_default="0")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class ConsoleSession(ConsoleBase):
    __tablename__ = "console_sessions"

    id_hash = Column(String(64), primary_key=True)  # SHA-256 of the id in the cookie
    username = Column(String(64), nullable=False, index=True)
    created_at = Column(UTCDateTime, nullable=False)
    last_seen = Column(UTCDateTime, nullable=False)
    ended_at = Column(UTCDateTime, nullable=True)


class LoginFailure(ConsoleBase):
    __tablename__ = "console_login_failures"

    id = Column(Integer, primary_key=True, autoincrement=True)
    key = Column(String(128), nullable=False, index=True)  # "account:<sha256>" | "ip:<address>"
    at = Column(UTCDateTime, nullable=False, index=True)


class AuditEntry(ConsoleBase):
    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(UTCDateTime, nullable=False, index=True)
    actor = Column(String(64), nullable=False, index=True)
    action = Column(String(32), nullable=False)
    reference = Column(String(16), nullable=True, index=True)
    detail = Column(String(200), nullable=True)
    ip = Column(String(64), nullable=True)


class Undelivered(ConsoleBase):
    __tablename__ = "console_undelivered"

    message_id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, index=True)
    status = Column(Integer, nullable=True)  # the endpoint's HTTP status; None if unreachable
    at = Column(UTCDateTime, nullable=False)


def _migrate_v1(conn: Connection) -> None:
    for table in (Counselor, ConsoleSession, LoginFailure, AuditEntry, Undelivered):
        table.__table__.create(conn, checkfirst=True)


# (level, step) for the component "console"; each step brings the schema to its own level.
MIGRATIONS: List[Tuple[int, Callable[[Connection], None]]] = [(1, _migrate_v1)]
CONSOLE_SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate_console(engine: Engine) -> int:
    """Create or migrate the console's tables; returns the level (run after the case store's migrate)."""
    return migrate_component(engine, COMPONENT, MIGRATIONS, lock_key=_PG_LOCK_KEY)

"""The case database's engine and schema: ``engine_for`` a ``DATABASE_URL``, and the migrations
that create or bring the tables up to date.

A table ``amaan_schema`` holds the level each component is at (the cases here, the console in
``bot.console.schema``); ``migrate_component`` runs the steps above it, under an advisory lock on
PostgreSQL so that two processes starting together do not race.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, List, Sequence, Tuple

from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

from bot.cases.models import Case, CaseMessage, CounselorPresence, SchemaVersion

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate_component", "engine_for"]

logger = logging.getLogger(__name__)

_PG_LOCK_KEY = 0x414D41414E  # "AMAAN"


def _migrate_v1(conn: Connection) -> None:
    Case.__table__.create(conn, checkfirst=True)


def _migrate_v2(conn: Connection) -> None:
    """Hand-over: who a case is assigned to, whether a counselor holds the chat, the outcome, and
    the messages exchanged meanwhile. (A database created at level 2 already has the columns.)"""
    have = {column["name"] for column in inspect(conn).get_columns("cases")}
    false = "false" if conn.dialect.name == "postgresql" else "0"
    timestamp = "TIMESTAMP" if conn.dialect.name == "postgresql" else "DATETIME"
    for name, ddl in (
        ("assignee", "VARCHAR(64)"),
        ("held", f"BOOLEAN NOT NULL DEFAULT {false}"),
        ("held_since", timestamp),
        ("outcome", "VARCHAR(32)"),
    ):
        if name not in have:
            conn.execute(text(f"ALTER TABLE cases ADD COLUMN {name} {ddl}"))
    CaseMessage.__table__.create(conn, checkfirst=True)


def _migrate_v3(conn: Connection) -> None:
    """Availability: which counselors are signed in to the console (``bot.cases.availability``)."""
    CounselorPresence.__table__.create(conn, checkfirst=True)


def _migrate_v4(conn: Connection) -> None:
    """Triage: how each case was opened (a clear disclosure, a confirmed check-in, a report...)."""
    if "opened_by" not in {column["name"] for column in inspect(conn).get_columns("cases")}:
        conn.execute(text("ALTER TABLE cases ADD COLUMN opened_by VARCHAR(32)"))


# (level, step): each step brings the schema from the previous level to its own.
MIGRATIONS: List[Tuple[int, Callable[[Connection], None]]] = [
    (1, _migrate_v1),
    (2, _migrate_v2),
    (3, _migrate_v3),
    (4, _migrate_v4),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate_component(
    engine: Engine,
    component: str,
    migrations: Sequence[Tuple[int, Callable[[Connection], None]]],
    lock_key: int = _PG_LOCK_KEY,
) -> int:
    """Bring ``component``'s tables up to the last level of ``migrations``, in one transaction, under
    an advisory lock on PostgreSQL (two processes starting together do not race); the level reached
    is kept in ``amaan_schema``. Returns that level."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        SchemaVersion.__table__.create(conn, checkfirst=True)
        current = conn.execute(
            select(SchemaVersion.version).where(SchemaVersion.component == component)
        ).scalar_one_or_none()
        level = current or 0
        for version, step in migrations:
            if version > level:
                step(conn)
                level = version
        if current is None:
            conn.execute(SchemaVersion.__table__.insert().values(component=component, version=level))
        elif level != current:
            conn.execute(
                SchemaVersion.__table__.update().where(SchemaVersion.component == component).values(version=level)
            )
    return level


def engine_for(url: str, pooled_sqlite: bool = False) -> Engine:
    """An engine for a ``DATABASE_URL`` (``postgres://`` is accepted for ``postgresql://``).

    ``pooled_sqlite`` keeps SQLite connections open between transactions (SQLAlchemy 1.4 opens and
    closes one per transaction on a file, and closing the last one checkpoints the write-ahead log):
    for the campaign workers, whose threads commit once per message."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            _private_file(Path(path))
        connect_args = {"timeout": 5, "check_same_thread": False}
        if pooled_sqlite and path and path != ":memory:":
            return create_engine(url, future=True, poolclass=QueuePool, pool_size=16, connect_args=connect_args)
        return create_engine(url, future=True, connect_args=connect_args)
    return create_engine(
        url, future=True, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args={"connect_timeout": 3}
    )


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (its clear columns are still metadata).
    If that fails, SQLite fails too when first used, and that comes out as ``CaseStoreError``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError:
        logger.warning("cases.sqlite.file_unavailable")

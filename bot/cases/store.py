"""``CaseStore``: cases in SQLite (default, ``.run/cases.db``) or PostgreSQL (``DATABASE_URL``).

Every write is one transaction, committed before the method returns: a caller that tells a user
"your report was sent" has the commit behind it. Every failure of the database (down, locked, full,
schema missing) comes out as ``CaseStoreError``, and a failed write changes nothing.

The schema is created or migrated by ``migrate()`` (``make run`` calls it on start, and the store
calls it on first use in each process): a table ``amaan_schema`` holds the level each component
is at, and the steps in ``MIGRATIONS`` bring it up to date, under an advisory lock on PostgreSQL so
that two processes starting together do not race.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from sqlalchemy import create_engine, delete, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot.cases.crypto import CaseCipher, InvalidToken
from bot.cases.models import STATUSES, Case, CaseMessage, CounselorPresence, SchemaVersion, utcnow
from bot.cases.reference import new_reference
from bot.cases.triage import higher_risk

__all__ = [
    "CaseStore",
    "CaseStoreError",
    "CaseMeta",
    "CaseUpdate",
    "Conversation",
    "Recorded",
    "engine_for",
    "merge_contents",
    "SCHEMA_VERSION",
    "migrate_component",
]

logger = logging.getLogger(__name__)

MAX_EXCERPTS = 20
MAX_EXCERPT_CHARS = 2000
_COMPONENT = "cases"
_PG_LOCK_KEY = 0x414D41414E  # "AMAAN"


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
        )


@dataclass(frozen=True)
class CaseUpdate:
    """What one turn of the conversation adds to a case.

    Attributes:
        origin: ``report`` (the form), ``disclosure`` (the danger net), ``counselor_request``
            ("talk to a person") or ``urgent_answer`` ("is anyone in danger now?" answered yes).
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


# (level, step): each step brings the schema from the previous level to its own.
MIGRATIONS: List[Tuple[int, Callable[[Connection], None]]] = [(1, _migrate_v1), (2, _migrate_v2), (3, _migrate_v3)]
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


def engine_for(url: str) -> Engine:
    """An engine for a ``DATABASE_URL`` (``postgres://`` is accepted for ``postgresql://``)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            _private_file(Path(path))
        return create_engine(url, future=True, connect_args={"timeout": 5, "check_same_thread": False})
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


class CaseStore:
    """Cases: record, look up, change status, unlink, purge, re-encrypt."""

    def __init__(self, engine: Engine, cipher: CaseCipher, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self._cipher = cipher
        self._clock = clock
        self._migrated = False
        self._migrate_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, keys: Sequence[str]) -> CaseStore:
        return cls(engine_for(url), CaseCipher(keys))

    def close(self) -> None:
        self.engine.dispose()

    # --- schema ----------------------------------------------------------------------------

    def migrate(self) -> int:
        """Create or migrate the schema; returns the level it is at."""
        with self._guard("migrate"):
            level = migrate_component(self.engine, _COMPONENT, MIGRATIONS)
        self._migrated = True
        return level

    def _ensure_schema(self) -> None:
        if not self._migrated:
            with self._migrate_lock:
                if not self._migrated:
                    self.migrate()

    # --- writing -----------------------------------------------------------------------------

    def record(self, conversation: Conversation, update: CaseUpdate, reference: Optional[str] = None) -> Recorded:
        """Add ``update`` to the conversation's open case ``reference``, or open a new case.

        A reference that is closed, unknown or filed by another conversation opens a new case.
        Committed before returning.
        """
        self._ensure_schema()
        for _attempt in range(5):
            try:
                return self._record(conversation, update, reference)
            except IntegrityError:
                logger.info("cases.reference.collision")  # astronomically rare: draw again
        raise CaseStoreError("could not draw a unique reference")

    def _record(self, conversation: Conversation, update: CaseUpdate, reference: Optional[str]) -> Recorded:
        now = self._clock()
        with self._guard("record"), Session(self.engine, future=True) as session, session.begin():
            case = self._find(session, reference, lock=True) if reference else None
            if case is not None and (case.status == "closed" or not self._linked(case, conversation)):
                case = None
            if case is None:
                case = Case(
                    reference=new_reference(),
                    risk=update.risk,
                    status="received",
                    channel=conversation.channel,
                    language=update.language,
                    audience=update.audience,
                    created_at=now,
                    updated_at=now,
                    conversation=self._cipher.encrypt(conversation.as_dict()),
                    contents=self._cipher.encrypt(merge_contents({}, update, now)),
                )
                session.add(case)
                session.flush()
                return Recorded(CaseMeta.of(case), created=True, risk_raised=False)
            before = case.risk
            case.risk = higher_risk(case.risk, update.risk)
            case.language = update.language or case.language
            case.audience = update.audience or case.audience
            case.updated_at = now
            case.contents = self._cipher.encrypt(merge_contents(self._cipher.decrypt(case.contents), update, now))
            session.flush()
            return Recorded(CaseMeta.of(case), created=False, risk_raised=case.risk != before)

    def set_status(self, reference: str, status: str) -> Optional[Tuple[CaseMeta, str]]:
        """Change a case's status; returns (case, previous status), or None for an unknown reference."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        self._ensure_schema()
        now = self._clock()
        with self._guard("set_status"), Session(self.engine, future=True) as session, session.begin():
            case = self._find(session, reference, lock=True)
            if case is None:
                return None
            previous = case.status
            case.status = status
            case.updated_at = now
            case.closed_at = now if status == "closed" else None
            session.flush()
            return CaseMeta.of(case), previous

    def unlink(self, conversation: Conversation) -> List[CaseMeta]:
        """Forget which cases this conversation filed; the cases stay, without the link."""
        self._ensure_schema()
        with self._guard("unlink"), Session(self.engine, future=True) as session, session.begin():
            found = [case for case in self._linked_cases(session, conversation)]
            for case in found:
                case.conversation = None
                case.updated_at = self._clock()
            session.flush()
            return [CaseMeta.of(case) for case in found]

    def purge_closed(self, older_than: timedelta, dry_run: bool = False) -> int:
        """Delete cases closed longer ago than ``older_than``; returns how many (would be) deleted."""
        self._ensure_schema()
        cutoff = self._clock() - older_than
        where = (Case.status == "closed", Case.closed_at.is_not(None), Case.closed_at < cutoff)
        with self._guard("purge"), Session(self.engine, future=True) as session, session.begin():
            references = list(session.execute(select(Case.reference).where(*where)).scalars())
            if dry_run or not references:
                return len(references)
            session.execute(delete(CaseMessage).where(CaseMessage.reference.in_(references)))
            return int(session.execute(delete(Case).where(Case.reference.in_(references))).rowcount or 0)

    def rotate_keys(self, batch: int = 200) -> int:
        """Re-encrypt every case and hand-over message with the newest key; returns how many rows were rewritten."""
        self._ensure_schema()
        done = 0
        last_id = 0
        while True:
            with self._guard("rotate"), Session(self.engine, future=True) as session, session.begin():
                rows = (
                    session.execute(select(Case).where(Case.id > last_id).order_by(Case.id).limit(batch))
                    .scalars()
                    .all()
                )
                if not rows:
                    return done + self._rotate_messages(batch)
                for case in rows:
                    case.contents = self._cipher.rotate(case.contents)
                    if case.conversation is not None:
                        case.conversation = self._cipher.rotate(case.conversation)
                    last_id = case.id
                done += len(rows)

    def _rotate_messages(self, batch: int) -> int:
        done, last_id = 0, 0
        while True:
            with self._guard("rotate"), Session(self.engine, future=True) as session, session.begin():
                query = select(CaseMessage).where(CaseMessage.id > last_id).order_by(CaseMessage.id).limit(batch)
                rows = session.execute(query).scalars().all()
                if not rows:
                    return done
                for message in rows:
                    message.body = self._cipher.rotate(message.body)
                    last_id = message.id
                done += len(rows)

    # --- reading -----------------------------------------------------------------------------

    def get(self, reference: str) -> Optional[CaseMeta]:
        self._ensure_schema()
        with self._guard("get"), Session(self.engine, future=True) as session:
            case = self._find(session, reference)
            return CaseMeta.of(case) if case else None

    def contents(self, reference: str) -> Optional[Dict[str, Any]]:
        """The decrypted report: for counselors (and tests), never for the chat."""
        self._ensure_schema()
        with self._guard("contents"), Session(self.engine, future=True) as session:
            case = self._find(session, reference)
            return self._cipher.decrypt(case.contents) if case else None

    def conversation_of(self, reference: str) -> Optional[Conversation]:
        """Where to answer a case (for the counselor console); None once unlinked."""
        self._ensure_schema()
        with self._guard("conversation_of"), Session(self.engine, future=True) as session:
            case = self._find(session, reference)
            if case is None or case.conversation is None:
                return None
            return Conversation(**self._cipher.decrypt(case.conversation))

    def case_in_conversation(self, reference: str, conversation: Conversation) -> Optional[CaseMeta]:
        """The case, only if ``conversation`` filed it (else None, as for an unknown reference)."""
        self._ensure_schema()
        with self._guard("case_in_conversation"), Session(self.engine, future=True) as session:
            case = self._find(session, reference)
            if case is None or not self._linked(case, conversation):
                return None
            return CaseMeta.of(case)

    def cases_of(self, conversation: Conversation) -> List[CaseMeta]:
        """The cases this conversation filed, oldest first."""
        self._ensure_schema()
        with self._guard("cases_of"), Session(self.engine, future=True) as session:
            return [CaseMeta.of(case) for case in self._linked_cases(session, conversation)]

    def count(self) -> int:
        self._ensure_schema()
        with self._guard("count"), Session(self.engine, future=True) as session:
            return len(session.execute(select(Case.id)).all())

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _find(session: Session, reference: Optional[str], lock: bool = False) -> Optional[Case]:
        query = select(Case).where(Case.reference == reference)
        if lock:
            query = query.with_for_update()
        return session.execute(query).scalar_one_or_none()

    def _linked(self, case: Case, conversation: Conversation) -> bool:
        if case.conversation is None:
            return False
        try:
            return self._cipher.decrypt(case.conversation) == conversation.as_dict()
        except InvalidToken:
            logger.warning("cases.decrypt.failed reference=%s", case.reference)
            return False

    def _linked_cases(self, session: Session, conversation: Conversation) -> Iterator[Case]:
        # The link is encrypted (a sender id can be a phone number), so candidates from the same
        # channel are decrypted and compared; closed cases are purged, which keeps this short.
        query = (
            select(Case)
            .where(Case.channel == conversation.channel, Case.conversation.is_not(None))
            .order_by(Case.created_at, Case.id)
        )
        for case in session.execute(query).scalars():
            if self._linked(case, conversation):
                yield case

    class _Guard:
        def __init__(self, operation: str):
            self.operation = operation

        def __enter__(self) -> None:
            return None

        def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
            if error is None or isinstance(error, CaseStoreError | ValueError):
                return
            if isinstance(error, IntegrityError) and self.operation == "record":
                return  # a reference collision: ``record`` draws again
            if isinstance(error, SQLAlchemyError | OSError | InvalidToken):
                logger.error("cases.store.failed operation=%s error=%s", self.operation, type(error).__name__)
                raise CaseStoreError(f"case store {self.operation} failed: {type(error).__name__}") from error

    def _guard(self, operation: str) -> CaseStore._Guard:
        """Turns database failures into ``CaseStoreError`` (logged by type, never by content)."""
        return CaseStore._Guard(operation)

"""``CaseStore``: cases in SQLite (default, ``.run/cases.db``) or PostgreSQL (``DATABASE_URL``).

Every write is one transaction, committed before the method returns: a caller that tells a user
"your report was sent" has the commit behind it. Every failure of the database (down, locked, full,
schema missing) comes out as ``CaseStoreError``, and a failed write changes nothing.

The schema is created or migrated by ``migrate()`` (``make run`` calls it on start, and the store
calls it on first use in each process), with the steps in ``bot.cases.schema``. The values the
store takes and gives are in ``bot.cases.records``.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot.analytics.counts import Counts
from bot.cases import schema
from bot.cases.crypto import CaseCipher, InvalidToken
from bot.cases.models import STATUSES, Case, CaseMessage, utcnow
from bot.cases.records import CaseMeta, CaseStoreError, CaseUpdate, Conversation, Recorded, merge_contents
from bot.cases.reference import new_reference
from bot.cases.schema import SCHEMA_VERSION, engine_for, migrate_component
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

_COMPONENT = "cases"


class CaseStore:
    """Cases: record, look up, change status, unlink, purge, re-encrypt."""

    def __init__(
        self,
        engine: Engine,
        cipher: CaseCipher,
        clock: Callable[[], datetime] = utcnow,
        counts: Optional[Counts] = None,
    ):
        self.engine = engine
        self._cipher = cipher
        self._clock = clock
        self.counts = counts or Counts.for_engine(engine, clock)  # anonymous daily counters (bot.analytics)
        self._migrated = False
        self._migrate_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, keys: Sequence[str]) -> CaseStore:
        return cls(engine_for(url), CaseCipher(keys))

    def close(self) -> None:
        self.counts.close()
        self.engine.dispose()

    # --- schema ----------------------------------------------------------------------------

    def migrate(self) -> int:
        """Create or migrate the schema; returns the level it is at."""
        with self._guard("migrate"):
            level = migrate_component(self.engine, _COMPONENT, schema.MIGRATIONS)
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
                recorded = self._record(conversation, update, reference)
            except IntegrityError:
                logger.info("cases.reference.collision")  # astronomically rare: draw again
                continue
            if recorded.created:
                self.counts.count("cases_opened", risk=update.risk, origin=update.origin)
            return recorded
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
                    opened_by=update.origin,
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

"""``Handovers``: a counselor taking a conversation over from the bot, and giving it back.

Shared by the two processes that need it, through the case database (no Redis required):

* the **console** claims a case (it is assigned to that counselor and the conversation is *held*),
  adds the counselor's messages and private notes, hands the conversation back to the bot or
  closes the case with an outcome, and reassigns (supervisors);
* the **Rasa server's channels** ask ``holder(conversation)`` for every incoming message: while a
  case of that conversation is held, the bot stays silent and the message is added to the case
  with ``add_message(reference, "user", text)`` for the console to show.

A hold ends only by ``release`` (hand back or close): Rasa's own session expiry or a typed
``/restart`` never reaches the bot while the gate in the channels holds the conversation.

Message texts are encrypted with the case cipher, like the report. Every write is committed
before returning; database failures come out as ``CaseStoreError``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, List, Optional, Tuple

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.analytics.metrics import response_bucket
from bot.cases.models import AUTHORS, OUTCOMES, Case, CaseMessage
from bot.cases.store import CaseMeta, CaseStore, Conversation

__all__ = ["Handovers", "HeldByAnother", "CaseClosed", "Message"]

MAX_MESSAGE_CHARS = 4000


class HeldByAnother(RuntimeError):
    """The case is assigned to another counselor (a supervisor can reassign it)."""

    def __init__(self, assignee: str):
        super().__init__(f"case is assigned to {assignee}")
        self.assignee = assignee


class CaseClosed(RuntimeError):
    """The case is closed: nothing more can be said in it."""


@dataclass(frozen=True)
class Message:
    id: int
    reference: str
    at: datetime
    author: str  # one of AUTHORS
    counselor: Optional[str]
    text: str


class Handovers:
    """Claim, hold, talk, hand back, close, reassign; and the channels' ``holder`` lookup."""

    def __init__(self, store: CaseStore):
        self.store = store
        self._cipher = store._cipher
        self._clock = store._clock

    # --- the console -----------------------------------------------------------------------

    def claim(self, reference: str, counselor: str, force: bool = False) -> Optional[CaseMeta]:
        """Assign the case to ``counselor`` and hold its conversation (the bot goes silent).

        Claiming one's own case again is fine. Raises ``HeldByAnother`` if someone else has it
        (unless ``force``, for a supervisor's reassignment) and ``CaseClosed`` for a closed case;
        returns None for an unknown reference."""
        with self._write("claim") as session:
            case = self._case(session, reference)
            if case is None:
                return None
            if case.status == "closed":
                raise CaseClosed(reference)
            if case.assignee and case.assignee != counselor and not force:
                raise HeldByAnother(case.assignee)
            now = self._clock()
            # A conditional UPDATE, not the read above, decides who gets the case: SQLite ignores
            # FOR UPDATE, so two counselors could both read "unassigned"; only one UPDATE matches.
            first_claim = case.assignee is None
            claimable = [Case.id == case.id, Case.status != "closed"]
            if not force:
                claimable.append(or_(Case.assignee.is_(None), Case.assignee == counselor))
            changed = session.execute(
                update(Case)
                .where(*claimable)
                .values(
                    assignee=counselor,
                    held_since=case.held_since if case.held else now,
                    held=case.conversation is not None,  # an unlinked case has no chat to hold
                    status="with_counselor",
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            session.refresh(case)
            if changed.rowcount != 1:
                if case.status == "closed":
                    raise CaseClosed(reference)
                raise HeldByAnother(case.assignee or "")
            claimed = CaseMeta.of(case)
        if first_claim:
            self.store.counts.count("cases_claimed", risk=claimed.risk)
        return claimed

    def reassign(self, reference: str, counselor: str) -> Optional[CaseMeta]:
        """A supervisor gives the case to ``counselor``; a held conversation stays held."""
        with self._write("reassign") as session:
            case = self._case(session, reference)
            if case is None:
                return None
            if case.status == "closed":
                raise CaseClosed(reference)
            case.assignee = counselor
            case.status = "with_counselor"
            case.updated_at = self._clock()
            session.flush()
            return CaseMeta.of(case)

    def release(self, reference: str, outcome: Optional[str] = None) -> Optional[CaseMeta]:
        """End the hold: hand back to the bot (``outcome`` None; the case stays assigned and open)
        or close the case with an ``outcome`` from ``OUTCOMES``."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        with self._write("release") as session:
            case = self._case(session, reference)
            if case is None:
                return None
            now = self._clock()
            case.held = False
            case.held_since = None
            case.updated_at = now
            closing = outcome is not None and case.status != "closed"
            if outcome is not None:
                case.status = "closed"
                case.outcome = outcome
                case.closed_at = now
            session.flush()
            released = CaseMeta.of(case)
        if closing:
            self.store.counts.count("cases_closed", outcome=outcome)
        return released

    def add_message(self, reference: str, author: str, text: str, counselor: Optional[str] = None) -> Message:
        """Add a message to the case's hand-over conversation (encrypted); committed."""
        if author not in AUTHORS:
            raise ValueError(f"author must be one of {AUTHORS}, got {author!r}")
        text = text[:MAX_MESSAGE_CHARS]
        first_response = None
        with self._write("add_message") as session:
            if author == "counselor":
                first_response = self._first_response(session, reference)
            row = CaseMessage(
                reference=reference,
                at=self._clock(),
                author=author,
                counselor=counselor,
                body=self._cipher.encrypt({"text": text}),
            )
            session.add(row)
            session.flush()
            message = Message(row.id, reference, row.at, author, counselor, text)
        if first_response is not None:
            risk, opened = first_response
            delay = (message.at - opened).total_seconds()
            self.store.counts.count("first_response", risk=risk, bucket=response_bucket(max(0.0, delay)))
        return message

    @staticmethod
    def _first_response(session: Session, reference: str) -> Optional[Tuple[str, datetime]]:
        """(risk, opened at) of the case if no counselor has written in it yet (for the
        time-to-first-answer counter), else None."""
        earlier = select(CaseMessage.id).where(CaseMessage.reference == reference, CaseMessage.author == "counselor")
        if session.execute(earlier.limit(1)).first() is not None:
            return None
        row = session.execute(select(Case.risk, Case.created_at).where(Case.reference == reference)).first()
        return (row[0], row[1]) if row else None

    def messages(self, reference: str, after: int = 0, notes: bool = True) -> List[Message]:
        """The case's hand-over messages after id ``after``, oldest first (``notes``: include the
        counselors' private notes; never pass True for anything a user sees)."""
        with self._read("messages") as session:
            query = select(CaseMessage).where(CaseMessage.reference == reference, CaseMessage.id > after)
            if not notes:
                query = query.where(CaseMessage.author != "note")
            rows = session.execute(query.order_by(CaseMessage.id)).scalars().all()
            return [
                Message(
                    row.id, row.reference, row.at, row.author, row.counselor, self._cipher.decrypt(row.body)["text"]
                )
                for row in rows
            ]

    def open_cases(self) -> List[CaseMeta]:
        """Every case that is not closed (the console orders them)."""
        with self._read("open_cases") as session:
            rows = session.execute(select(Case).where(Case.status != "closed")).scalars().all()
            return [CaseMeta.of(case) for case in rows]

    # --- the channels ------------------------------------------------------------------------

    def holder(self, conversation: Conversation) -> Optional[CaseMeta]:
        """The held case of this conversation, if a counselor holds it; else None.

        Called for every incoming message: one indexed query, and decryption only for the few
        conversations held right now."""
        with self._read("holder") as session:
            query = select(Case).where(Case.held.is_(True), Case.channel == conversation.channel)
            for case in session.execute(query).scalars():
                if self.store._linked(case, conversation):
                    return CaseMeta.of(case)
        return None

    # --- helpers -----------------------------------------------------------------------------

    @contextmanager
    def _write(self, operation: str) -> Iterator[Session]:
        self.store._ensure_schema()
        with self.store._guard(operation), Session(self.store.engine, future=True) as session, session.begin():
            yield session

    @contextmanager
    def _read(self, operation: str) -> Iterator[Session]:
        self.store._ensure_schema()
        with self.store._guard(operation), Session(self.store.engine, future=True) as session:
            yield session

    @staticmethod
    def _case(session: Session, reference: str) -> Optional[Case]:
        return session.execute(select(Case).where(Case.reference == reference).with_for_update()).scalar_one_or_none()

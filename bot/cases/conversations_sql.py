"""Conversations in PostgreSQL, one sealed row per event, appended and never rewritten
(``AppendOnlySQLTrackerStore``); ``bot.run`` uses it when ``DATABASE_URL`` names PostgreSQL.

What it does better than Rasa's ``SQLTrackerStore`` for us:

* Sealed at rest: each event is sealed with the case keys (``TrackerSeal.seal_json``). In clear
  are only the row id, the pseudonymous ``sender_id``, the kind of event (``user``, ``bot``,
  ``slot``...) and its time: no text, no slot value, and no intent or action name either (an
  intent such as ``disclose_harm`` says what a child told us).
* Append-only: a save inserts the events the store does not have yet, found by the last stored
  row (its kind and time) rather than by counting the session's rows again, so a turn costs the
  same at turn 200 as at turn 2. A row is never updated.
* "Delete my data": the turn in which ``action_delete_my_data`` ran deletes every row of that
  sender and stores the fresh session ``forget_before_request`` gives (in one transaction), and
  the other copies are cleared (``bot.cases.copies``).
* Retention: a conversation whose last event is older than ``retention_days`` is deleted when it
  is next looked up, and by a sweep at most every ten minutes (``sweep``).
* A conversation that no configured key opens (its key was retired) is deleted and starts afresh,
  as the memory and Redis stores do.
* The database calls run in a worker thread, so a slow query never holds the event loop.

The table (``conversation_events``) is created by ``migrate_component`` under the same advisory
lock as the case tables. The URL comes from ``DATABASE_URL`` (never written to endpoints.yml).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence

import sqlalchemy as sa
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import Connection, Engine

from bot.cases.conversations import TrackerSeal, forget_before_request
from bot.cases.conversations_outage import ConversationsUnavailable, OutageCopies
from bot.cases.copies import forget_copies
from bot.cases.crypto import InvalidToken
from bot.cases.schema import engine_for, migrate_component
from bot.settings import get_settings

__all__ = ["AppendOnlySQLTrackerStore", "EVENTS"]

logger = logging.getLogger(__name__)

_RECENT_CONVERSATIONS = 2000
_SWEEP_EVERY_SECONDS = 600
_PG_LOCK_KEY = 0x414D41414F  # not the cases' key: the two migrate independently

metadata = sa.MetaData()
EVENTS = sa.Table(
    "conversation_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("type_name", sa.String(64), nullable=False),
    sa.Column("timestamp", sa.Float(precision=53), nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # the event, sealed
    sa.Index("ix_conversation_events_sender_id", "sender_id", "id"),
)


def _create_v1(conn: Connection) -> None:
    EVENTS.create(conn, checkfirst=True)


class AppendOnlySQLTrackerStore(TrackerStore):
    """Rasa tracker store keeping each conversation as sealed event rows, appended only."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[str] = None,
        event_broker: Any = None,
        retention_days: float = 30,
        encryption_keys: Optional[str] = None,
        url: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        self.seal = TrackerSeal.from_settings(encryption_keys)
        # Rasa passes an endpoint's "url" on as ``host``; bot.run writes none, so it is DATABASE_URL.
        url = url or (host if host and "://" in host else None) or get_settings().database_url
        if not url:
            raise ValueError("AppendOnlySQLTrackerStore needs DATABASE_URL")
        self.engine: Engine = engine_for(url)
        self.retention_seconds = float(retention_days) * 86400
        self._schema_ready = False
        self._next_sweep = time.monotonic() + _SWEEP_EVERY_SECONDS
        # The last state of recent conversations, used only while the database cannot be reached:
        # a child mid-report keeps the conversation through an outage, and the events saved then
        # are appended by the first save that reaches the database again (a save writes every event
        # after the last stored one). In this process's memory only, as the in-memory store.
        self._recent: OrderedDict[str, DialogueStateTracker] = OrderedDict()
        # Shared through Redis when there is one, for every server (bot.cases.conversations_outage).
        redis_url = get_settings().redis_url
        self.outage: Optional[OutageCopies] = OutageCopies(redis_url, self.seal) if redis_url else None
        self._from_deferred: set = set()  # conversations last read from a deferred copy
        try:
            self._ensure_schema()
        except sa.exc.OperationalError:  # the database is not up yet: tried again on first use
            logger.warning("conversations.database_unavailable")

    # --- Rasa's interface ---------------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the events of ``tracker`` that are not stored yet (after a deletion request: its
        fresh session, in place of everything stored)."""
        forgotten = forget_before_request(tracker, self.domain)
        if forgotten is not None:
            tracker = forgotten
        await self.stream_events(tracker)
        self._remember(tracker)
        try:
            await asyncio.to_thread(self._save, tracker, forgotten is not None)
        except sa.exc.OperationalError:
            logger.warning("conversations.save_deferred reason=database_unavailable")
            if self.outage is not None:
                await self.outage.defer(tracker)
            return
        if self.outage is not None:
            await self.outage.saved(tracker, tracker.sender_id in self._from_deferred)
            self._from_deferred.discard(tracker.sender_id)
        if forgotten is not None:
            logger.info("conversation.forgotten reason=request")
            if self.outage is not None:
                await self.outage.forget(tracker.sender_id)
            await forget_copies(tracker.sender_id)
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + _SWEEP_EVERY_SECONDS
            await asyncio.to_thread(self.sweep)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The latest session of the conversation (from its last ``session_started``); a copy
        deferred in an outage first; while the database is down, the last state this process saw
        if it is the latest (``ConversationsUnavailable`` if not; bot.cases.conversations_outage)."""
        if self.outage is not None:
            deferred = await self.outage.deferred(sender_id, lambda: self.init_tracker(sender_id))
            if deferred is not None:
                self._from_deferred.add(sender_id)
                return deferred
        try:
            return await asyncio.to_thread(self._retrieve, sender_id, False)
        except sa.exc.OperationalError:
            recent = self._recent.get(sender_id)
            if self.outage is not None and (recent is None or not await self.outage.is_latest(recent)):
                logger.warning("conversations.unavailable reason=database_unavailable")
                raise ConversationsUnavailable(sender_id) from None
            logger.warning("conversations.read_from_memory reason=database_unavailable")
            return copy.deepcopy(recent) if recent is not None else None

    async def retrieve_full_tracker(self, conversation_id: str) -> Optional[DialogueStateTracker]:
        """Every session of the conversation (a copy deferred in an outage is written first)."""
        if self.outage is not None:
            deferred = await self.outage.deferred(conversation_id, lambda: self.init_tracker(conversation_id))
            if deferred is not None:
                self._from_deferred.add(conversation_id)
                await self.save(deferred)
        return await asyncio.to_thread(self._retrieve, conversation_id, True)

    async def keys(self) -> Iterable[str]:
        return await asyncio.to_thread(self._keys)

    # --- ours ---------------------------------------------------------------------------------

    def _remember(self, tracker: DialogueStateTracker) -> None:
        self._recent[tracker.sender_id] = copy.deepcopy(tracker)
        self._recent.move_to_end(tracker.sender_id)
        while len(self._recent) > _RECENT_CONVERSATIONS:
            self._recent.popitem(last=False)

    def forget(self, sender_id: str) -> bool:
        """Delete every row of one conversation now; True if there was one."""
        self._recent.pop(sender_id, None)
        self._ensure_schema()
        with self.engine.begin() as conn:
            return conn.execute(EVENTS.delete().where(EVENTS.c.sender_id == sender_id)).rowcount > 0

    def sweep(self, now: Optional[float] = None) -> int:
        """Delete the conversations idle for longer than the retention; how many there were."""
        self._ensure_schema()
        cutoff = (now or time.time()) - self.retention_seconds
        idle = (
            sa.select(EVENTS.c.sender_id)
            .group_by(EVENTS.c.sender_id)
            .having(sa.func.max(EVENTS.c.timestamp) < cutoff)
            .scalar_subquery()
        )
        with self.engine.begin() as conn:
            senders = conn.execute(sa.select(sa.distinct(EVENTS.c.sender_id)).where(EVENTS.c.sender_id.in_(idle)))
            count = len(senders.all())
            if count:
                conn.execute(EVENTS.delete().where(EVENTS.c.sender_id.in_(idle)))
                logger.info("conversation.swept count=%d", count)
        return count

    # --- in the worker thread -------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            migrate_component(self.engine, "conversations", [(1, _create_v1)], lock_key=_PG_LOCK_KEY)
            self._schema_ready = True

    def _save(self, tracker: DialogueStateTracker, replace: bool) -> None:
        self._ensure_schema()
        events: Sequence[Event] = list(tracker.events)
        with self.engine.begin() as conn:
            if replace:
                conn.execute(EVENTS.delete().where(EVENTS.c.sender_id == tracker.sender_id))
                new = events
            else:
                last = conn.execute(
                    sa.select(EVENTS.c.type_name, EVENTS.c.timestamp)
                    .where(EVENTS.c.sender_id == tracker.sender_id)
                    .order_by(EVENTS.c.id.desc())
                    .limit(1)
                ).first()
                new = _unsaved(events, last)
            if new:
                conn.execute(EVENTS.insert(), [self._row(tracker.sender_id, event) for event in new])

    def _row(self, sender_id: str, event: Event) -> Dict[str, Any]:
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": event.timestamp,
            "data": self.seal.seal_json(event.as_dict()),
        }

    def _retrieve(self, sender_id: str, every_session: bool) -> Optional[DialogueStateTracker]:
        self._ensure_schema()
        query = sa.select(EVENTS.c.timestamp, EVENTS.c.data).where(EVENTS.c.sender_id == sender_id)
        if not every_session:
            session_start = (
                sa.select(sa.func.max(EVENTS.c.id))
                .where(EVENTS.c.sender_id == sender_id, EVENTS.c.type_name == SessionStarted.type_name)
                .scalar_subquery()
            )
            query = query.where(EVENTS.c.id >= sa.func.coalesce(session_start, 0))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(EVENTS.c.id)).all()
        if not rows:
            return None
        if rows[-1].timestamp < time.time() - self.retention_seconds:
            self.forget(sender_id)
            logger.info("conversation.forgotten reason=retention")
            return None
        try:
            dicts = [self.seal.open_json(row.data) for row in rows]
        except InvalidToken:
            # No configured key opens it: unreadable for good, so it goes and the user starts afresh.
            logger.warning("conversation.undecryptable (a retired key); starting afresh")
            self.forget(sender_id)
            return None
        return DialogueStateTracker.from_dict(sender_id, dicts, self.domain.slots if self.domain else None)

    def _keys(self) -> List[str]:
        self._ensure_schema()
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(sa.distinct(EVENTS.c.sender_id))).scalars())


def _unsaved(events: Sequence[Event], last: Any) -> Sequence[Event]:
    """The events after the last stored one (matched by kind and time, from the end).

    A tracker that does not hold the stored tail (built afresh while rows exist) gets the events
    newer than that tail appended, never a copy of what is stored."""
    if last is None:
        return events
    for index in range(len(events) - 1, -1, -1):
        if events[index].type_name == last.type_name and events[index].timestamp == last.timestamp:
            return events[index + 1 :]
    logger.warning("conversation.tail_not_in_tracker")
    return [event for event in events if event.timestamp > last.timestamp]

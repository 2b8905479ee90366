"""``CampaignStore``: subscribers, broadcasts, their deliveries and poll counts, in the case
database (SQLite by default, PostgreSQL with ``DATABASE_URL``), migrated as component "campaigns".

Every write is one committed transaction; a database failure comes out as ``CampaignStoreError``.
A delivery row is the idempotency key of one broadcast to one recipient: ``claim`` moves it from
queued (or held) to sending in one conditional UPDATE, so however many workers hold the same job,
one of them sends (see ``bot.campaigns.delivery``).
"""

from __future__ import annotations

import logging
import secrets
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Dict, Iterator, List, Optional, Sequence

from sqlalchemy import delete, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.analytics.counts import Counts
from bot.campaigns.deliveries import DeliveryRecords
from bot.campaigns.errors import CampaignStoreError
from bot.campaigns.models import Broadcast, Delivery, PollCount, Subscriber
from bot.campaigns.records import BroadcastInfo, Segment, SubscriberInfo, subscriber_info
from bot.cases.models import utcnow
from bot.cases.schema import engine_for, migrate_component

__all__ = [
    "CampaignStore",
    "CampaignStoreError",
    "SubscriberInfo",
    "BroadcastInfo",
    "Segment",
    "campaign_store",
    "close_campaign_stores",
]

logger = logging.getLogger(__name__)

_COMPONENT = "campaigns"
_LOCK_KEY = 0x414D41414E + 11  # another advisory lock than the cases'


def _create_tables(conn: Connection) -> None:
    for model in (Subscriber, Broadcast, Delivery, PollCount):
        model.__table__.create(conn, checkfirst=True)


def _index_deliveries_by_state(conn: Connection) -> None:
    """``ix_campaign_deliveries_broadcast_state``: what ``unfinished`` and ``pending`` look up. (A
    database created at level 2 has it already.)"""
    index = next(i for i in Delivery.__table__.indexes if i.name == "ix_campaign_deliveries_broadcast_state")
    index.create(conn, checkfirst=True)


MIGRATIONS = [(1, _create_tables), (2, _index_deliveries_by_state)]


def _sqlite_for_many_writers(connection: Any, record: Any) -> None:
    """A broadcast writes two rows per recipient from many threads: with SQLite's write-ahead log
    readers never wait for a writer, and a commit syncs at checkpoints rather than every time
    (a power cut may lose the last commits, never corrupt the file). bench/campaigns.py measured
    15 messages/s without, on this machine."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class CampaignStore(DeliveryRecords):
    """Campaign data on one engine; the schema is migrated on first use in each process. Deliveries
    and poll counts: ``bot.campaigns.deliveries``."""

    def __init__(self, engine: Engine, counts: Optional[Counts] = None):
        self.engine = engine
        self.counts = counts or Counts.for_engine(engine)  # anonymous daily counters (bot.analytics)
        self._migrated = False
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> CampaignStore:
        engine = engine_for(url, pooled_sqlite=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_for_many_writers)
        return cls(engine)

    def close(self) -> None:
        self.counts.close()
        self.engine.dispose()

    def migrate(self) -> int:
        with self._guard():
            return migrate_component(self.engine, _COMPONENT, MIGRATIONS, _LOCK_KEY)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as error:
            logger.error("campaigns.store.failed error=%s", type(error).__name__)
            raise CampaignStoreError(type(error).__name__) from error

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        if not self._migrated:
            with self._lock:
                if not self._migrated:
                    self.migrate()
                    self._migrated = True
        with self._guard(), self.engine.begin() as conn:
            yield conn

    def _insert(self, conn: Connection, model: Any) -> Any:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(model.__table__)

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(
        self, sender_id: str, channel: str, language: str, audience: Optional[str], timezone: str, every: timedelta
    ) -> bool:
        """Subscribe (again) with this language and audience; True when it was not active before.
        The first tip is due one interval after the subscription."""
        now = utcnow()
        with self._tx() as conn:
            row = conn.execute(select(Subscriber.state).where(Subscriber.sender_id == sender_id)).first()
            values = dict(channel=channel, language=language, audience=audience, timezone=timezone, changed_at=now)
            if row is None:
                conn.execute(
                    Subscriber.__table__.insert().values(
                        sender_id=sender_id,
                        state="active",
                        subscribed_at=now,
                        tips_sent=0,
                        next_tip_at=now + every,
                        **values,
                    )
                )
            else:
                if row.state != "active":
                    values.update(state="active", next_tip_at=now + every)
                conn.execute(update(Subscriber).where(Subscriber.sender_id == sender_id).values(**values))
        new = row is None or row.state != "active"
        if new:
            self.counts.count("campaign_subscriptions", channel=channel, language=language, audience=audience)
        return new

    def stop(self, sender_id: str, reason: str = "user") -> bool:
        """Stop campaign messages at once; True when an active subscription was stopped (counted
        by ``reason``: ``user``, ``blocked``, ``twilio_stop``)."""
        with self._tx() as conn:
            who = conn.execute(
                select(Subscriber.channel, Subscriber.language).where(Subscriber.sender_id == sender_id)
            ).first()
            stopped = conn.execute(
                update(Subscriber)
                .where(Subscriber.sender_id == sender_id, Subscriber.state == "active")
                .values(state="stopped", changed_at=utcnow())
            ).rowcount
            # What was waiting for this user is not sent.
            conn.execute(
                update(Delivery)
                .where(Delivery.sender_id == sender_id, Delivery.state.in_(("queued", "held")))
                .values(state="opted_out", updated_at=utcnow())
            )
        if stopped and who is not None:
            self.counts.count("campaign_stops", channel=who.channel, language=who.language, reason=reason)
        return bool(stopped)

    def start(self, sender_id: str, every: timedelta) -> bool:
        """Re-subscribe someone who stopped; False when there is no stopped subscription."""
        now = utcnow()
        with self._tx() as conn:
            started = conn.execute(
                update(Subscriber)
                .where(Subscriber.sender_id == sender_id, Subscriber.state == "stopped")
                .values(state="active", changed_at=now, next_tip_at=now + every)
            ).rowcount
            who = conn.execute(
                select(Subscriber.channel, Subscriber.language, Subscriber.audience).where(
                    Subscriber.sender_id == sender_id
                )
            ).first()
        if started and who is not None:
            self.counts.count(
                "campaign_subscriptions", channel=who.channel, language=who.language, audience=who.audience
            )
        return bool(started)

    def forget(self, sender_id: str) -> bool:
        """ "Delete my data": the subscription and every delivery row naming this sender."""
        with self._tx() as conn:
            gone = conn.execute(delete(Subscriber).where(Subscriber.sender_id == sender_id)).rowcount
            conn.execute(delete(Delivery).where(Delivery.sender_id == sender_id))
        return bool(gone)

    def get(self, sender_id: str) -> Optional[SubscriberInfo]:
        with self._tx() as conn:
            row = conn.execute(select(Subscriber).where(Subscriber.sender_id == sender_id)).first()
        return subscriber_info(row) if row is not None else None

    def segment(self, segment: Segment, after: str = "", limit: int = 1000) -> List[str]:
        """Active subscribers in ``segment``, by sender id, ``limit`` at a time after ``after``."""
        query = select(Subscriber.sender_id).where(Subscriber.state == "active", Subscriber.sender_id > after)
        for column, value in (
            (Subscriber.channel, segment.channel),
            (Subscriber.language, segment.language),
            (Subscriber.audience, segment.audience),
        ):
            if value is not None:
                query = query.where(column == value)
        with self._tx() as conn:
            return [r.sender_id for r in conn.execute(query.order_by(Subscriber.sender_id).limit(limit))]

    def series_counts(self) -> Dict[str, int]:
        """Active subscribers per series ("<audience>/<language>", "all/<language>" without audience)."""
        with self._tx() as conn:
            rows = conn.execute(
                select(Subscriber.audience, Subscriber.language, func.count())
                .where(Subscriber.state == "active")
                .group_by(Subscriber.audience, Subscriber.language)
            )
            return {f"{r[0] or 'all'}/{r[1]}": int(r[2]) for r in rows}

    def due_tips(self, now: datetime, limit: int = 500) -> List[SubscriberInfo]:
        with self._tx() as conn:
            rows = conn.execute(
                select(Subscriber)
                .where(Subscriber.state == "active", Subscriber.next_tip_at <= now)
                .order_by(Subscriber.next_tip_at)
                .limit(limit)
            )
            return [subscriber_info(r) for r in rows]

    def advance_tip(self, sender_id: str, sent_index: int, next_at: Optional[datetime], finished: bool = False) -> bool:
        """Record tip ``sent_index`` as sent (once: False when another worker already did), or,
        ``finished``, the series as complete (no next tip)."""
        values: Dict[str, Any] = {"next_tip_at": next_at}
        if not finished:
            values["tips_sent"] = sent_index + 1
        with self._tx() as conn:
            return bool(
                conn.execute(
                    update(Subscriber)
                    .where(Subscriber.sender_id == sender_id, Subscriber.tips_sent == sent_index)
                    .values(**values)
                ).rowcount
            )

    # --- broadcasts --------------------------------------------------------------------------

    def create_broadcast(
        self,
        item_id: str,
        segment: Segment,
        texts: Optional[Dict[str, str]] = None,
        send_at: Optional[datetime] = None,
        created_by: Optional[str] = None,
    ) -> str:
        broadcast_id = "b" + secrets.token_hex(6)
        texts = texts or {}
        with self._tx() as conn:
            conn.execute(
                Broadcast.__table__.insert().values(
                    id=broadcast_id,
                    item_id=item_id,
                    text_en=texts.get("en"),
                    text_ar=texts.get("ar"),
                    channel=segment.channel,
                    language=segment.language,
                    audience=segment.audience,
                    status="scheduled",
                    send_at=send_at or utcnow(),
                    created_at=utcnow(),
                    created_by=created_by,
                )
            )
        return broadcast_id

    def broadcast(self, broadcast_id: str) -> Optional[BroadcastInfo]:
        with self._tx() as conn:
            row = conn.execute(select(Broadcast).where(Broadcast.id == broadcast_id)).first()
        if row is None:
            return None
        segment = Segment(row.channel, row.language, row.audience)
        texts = {"en": row.text_en, "ar": row.text_ar}
        return BroadcastInfo(row.id, row.item_id, segment, row.status, row.send_at, texts)

    def broadcasts(self, limit: int = 50) -> List[BroadcastInfo]:
        with self._tx() as conn:
            ids = [r.id for r in conn.execute(select(Broadcast.id).order_by(Broadcast.created_at.desc()).limit(limit))]
        return [b for b in (self.broadcast(i) for i in ids) if b is not None]

    def set_status(self, broadcast_id: str, status: str, only_from: Sequence[str] = ()) -> bool:
        query = update(Broadcast).where(Broadcast.id == broadcast_id)
        if only_from:
            query = query.where(Broadcast.status.in_(tuple(only_from)))
        with self._tx() as conn:
            return bool(conn.execute(query.values(status=status)).rowcount)


_STORES: Dict[str, CampaignStore] = {}
_STORES_LOCK = threading.Lock()


def campaign_store(settings: Any) -> CampaignStore:
    """The process's ``CampaignStore`` on the case database (``DATABASE_URL``, else SQLite)."""
    from bot.cases.desk import database_url

    url = database_url(settings)
    with _STORES_LOCK:
        if url not in _STORES:
            _STORES[url] = CampaignStore.from_url(url)
        return _STORES[url]


def close_campaign_stores() -> None:
    with _STORES_LOCK:
        for store in _STORES.values():
            store.close()
        _STORES.clear()

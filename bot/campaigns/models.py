"""The campaign tables, beside the cases in the same database (``DATABASE_URL``, else SQLite).

Nothing here says who a subscriber is: the pseudonymous sender id (``tg-<keyed hash>``, ``wa-<keyed
hash>``), never a phone number, and never a message's text. Poll answers are counts only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base

from bot.cases.models import UTCDateTime, utcnow

__all__ = [
    "Base",
    "Subscriber",
    "Broadcast",
    "Delivery",
    "PollCount",
    "DELIVERY_STATES",
    "SUBSCRIBER_STATES",
    "UNFINISHED_STATES",
]

Base: Any = declarative_base()

SUBSCRIBER_STATES = ("active", "stopped")
# queued → sending → sent → delivered | failed; or skipped (no window and no template, a channel that
# cannot push), opted_out (stopped before it went), held (quiet hours; queued again when they end).
DELIVERY_STATES = ("queued", "held", "sending", "sent", "delivered", "failed", "skipped", "opted_out")
# A broadcast is done when none of its rows is in one of these.
UNFINISHED_STATES = ("queued", "held", "sending")


class Subscriber(Base):
    __tablename__ = "campaign_subscribers"

    sender_id = Column(String(80), primary_key=True)
    channel = Column(String(16), nullable=False)
    language = Column(String(2), nullable=False)
    audience = Column(String(16), nullable=True)  # None: the general series
    timezone = Column(String(40), nullable=False)
    state = Column(String(8), nullable=False, default="active")
    subscribed_at = Column(UTCDateTime, nullable=False, default=utcnow)
    changed_at = Column(UTCDateTime, nullable=False, default=utcnow)
    tips_sent = Column(Integer, nullable=False, default=0)  # the next tip of the series is this index
    next_tip_at = Column(UTCDateTime, nullable=True)


class Broadcast(Base):
    __tablename__ = "campaign_broadcasts"

    id = Column(String(16), primary_key=True)
    item_id = Column(String(64), nullable=False)  # a message, tip, quiz or poll of data/campaigns
    text_en = Column(Text, nullable=True)  # text written for this broadcast (else the item's)
    text_ar = Column(Text, nullable=True)
    channel = Column(String(16), nullable=True)  # the segment; None: any
    language = Column(String(2), nullable=True)
    audience = Column(String(16), nullable=True)
    status = Column(String(12), nullable=False, default="scheduled")  # scheduled running paused cancelled done
    send_at = Column(UTCDateTime, nullable=False, default=utcnow)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    created_by = Column(String(64), nullable=True)


class Delivery(Base):
    """One recipient of one broadcast: the idempotency key is (broadcast_id, sender_id)."""

    __tablename__ = "campaign_deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "sender_id", name="uq_campaign_delivery"),
        # "Is anyone of this broadcast still unfinished?" after every batch, and the queued rows a
        # fan-out sends again: both a few index entries, however many rows the broadcast has.
        Index("ix_campaign_deliveries_broadcast_state", "broadcast_id", "state"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    broadcast_id = Column(String(16), nullable=False, index=True)
    sender_id = Column(String(80), nullable=False)
    state = Column(String(12), nullable=False, default="queued")
    reason = Column(String(32), nullable=True)
    provider_id = Column(String(64), nullable=True, index=True)  # Twilio's MessageSid, for status callbacks
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class PollCount(Base):
    __tablename__ = "campaign_poll_counts"

    poll_id = Column(String(64), primary_key=True)
    choice = Column(String(32), primary_key=True)
    count = Column(Integer, nullable=False, default=0)

"""The campaign worker: Dramatiq actors on a Redis broker, queue ``campaigns`` in the namespace
``amaan-campaigns`` (never the Rasa servers' Redis keys or connections).

Run it as ``python -m dramatiq bot.campaigns.worker --processes N --threads M`` (``make run``
starts one process beside the servers when ``REDIS_URL`` is set); any number may run at once:
the pace is shared in Redis and each recipient's row is claimed by one of them.

* ``fan_out(broadcast_id)`` — once due and neither paused nor cancelled: a queued row for every
  active subscriber of the segment (idempotent), then ``send_batch`` jobs of ``BATCH`` recipients
  (RapidPro's batch size). Run again (a restart, a resume), it queues what is still queued.
* ``send_batch(broadcast_id, sender_ids)`` — ``Deliverer.deliver_batch``; recipients in quiet hours
  go back on the queue with a delay for when their quiet hours end.
* ``tips_tick()`` — every ``TICK_SECONDS``: each subscriber whose next tip is due gets it (a delivery
  row ``t-<tip id>``, the same exactly-once key), and their next one is scheduled. One chain of
  ticks runs however many workers start one (``SET NX`` on the next tick's slot).

Each worker process shares two malloc arenas among its threads and gives freed memory back to the
system after its jobs (``bot.campaigns.memory``), so that its memory stays flat over a broadcast.

A worker killed with ``kill -9`` keeps its jobs unacknowledged; another worker (or the same one
started again) takes them back after ``CAMPAIGN_HEARTBEAT_MS`` and finishes them: the delivery
rows say who already got the message.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from bot.campaigns.addresses import WhatsAppAddresses, address_cipher
from bot.campaigns.content import CampaignLibrary, Item
from bot.campaigns.delivery import Deliverer, Rates
from bot.campaigns.memory import ReturnFreedMemory
from bot.campaigns.quiet import QuietHours
from bot.campaigns.senders import TelegramSender, TwilioSender
from bot.campaigns.store import BroadcastInfo, Segment, campaign_store
from bot.settings import Settings, get_settings

__all__ = ["fan_out", "send_batch", "tips_tick", "QUEUE", "NAMESPACE", "BATCH", "deliverer"]

logger = logging.getLogger(__name__)

QUEUE = "campaigns"
NAMESPACE = "amaan-campaigns"
BATCH = 100
TICK_SECONDS = 60
TICK_KEY = "amaan:camp:tick"


class _TickOnBoot(Middleware):
    """Each worker starts a tick when it boots; extra chains die out at their first ``SET NX``."""

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        tips_tick.send()


class _BelowReplies(Middleware):
    """Each worker process lowers its CPU priority (``CAMPAIGN_WORKER_NICE``, 10) as it boots: on a
    machine it shares with the Rasa servers, a broadcast takes the CPU they leave, so that it never
    delays a reply (``bench/campaigns.py`` compares the REST p95 of live chat with a broadcast and
    without one: docs/CAMPAIGNS.md, "Figures")."""

    def after_process_boot(self, broker: Any) -> None:
        wanted = get_settings().campaign_worker_nice
        if wanted > 0:
            os.nice(wanted)  # below whatever started it (make run, beside the servers)


def _broker(settings: Settings) -> RedisBroker:
    # No connection is made here: redis-py connects on the first command.
    broker = RedisBroker(
        url=settings.redis_url or "redis://127.0.0.1:6379/0",
        namespace=NAMESPACE,
        heartbeat_timeout=settings.campaign_heartbeat_ms,
        # Look for dead workers' messages at every fetch when the heartbeat is short (tests), else
        # at Dramatiq's default chance.
        maintenance_chance=1_000_000 if settings.campaign_heartbeat_ms < 10_000 else 1000,
    )
    broker.add_middleware(_TickOnBoot())
    broker.add_middleware(_BelowReplies())
    broker.add_middleware(ReturnFreedMemory())  # flat memory over a broadcast (bot.campaigns.memory)
    return broker


dramatiq.set_broker(_broker(get_settings()))

_DELIVERER: Optional[Deliverer] = None
_LOCK = threading.Lock()


def deliverer() -> Deliverer:
    """The process's ``Deliverer``: its own HTTP clients and Redis connection, made on first use."""
    global _DELIVERER
    with _LOCK:
        if _DELIVERER is None:
            settings = get_settings()
            client = redis.Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")
            telegram = (
                TelegramSender(settings.telegram_bot_token or "", settings.telegram_api_base_url)
                if settings.telegram_bot_token
                else None
            )
            twilio = None
            if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_whatsapp_from:
                callback = f"{settings.public_base_url}/webhooks/whatsapp/status" if settings.public_base_url else None
                twilio = TwilioSender(
                    settings.twilio_account_sid,
                    settings.twilio_auth_token,
                    settings.twilio_whatsapp_from,
                    callback,
                    settings.twilio_api_base_url,
                )
            _DELIVERER = Deliverer(
                campaign_store(settings),
                CampaignLibrary.load(settings.data_dir),
                client,
                QuietHours.parse(settings.campaign_quiet_hours, settings.campaign_timezone),
                Rates(telegram=settings.campaign_telegram_rate, whatsapp=settings.campaign_whatsapp_rate),
                telegram,
                twilio,
                WhatsAppAddresses(client, address_cipher(settings)),
            )
        return _DELIVERER


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _item(broadcast: BroadcastInfo) -> Optional[Item]:
    item = deliverer().library.item(broadcast.item_id)
    if item is None and any(broadcast.texts.values()):
        item = Item(broadcast.item_id, "message", {k: v or "" for k, v in broadcast.texts.items()})
    return item


@dramatiq.actor(queue_name=QUEUE, max_retries=10, min_backoff=1000, max_backoff=60_000)
def fan_out(broadcast_id: str) -> None:
    store = deliverer().store
    broadcast = store.broadcast(broadcast_id)
    if broadcast is None or broadcast.status in ("paused", "cancelled", "done"):
        return
    due = broadcast.send_at - _now()
    if due.total_seconds() > 1:
        fan_out.send_with_options(args=(broadcast_id,), delay=int(due.total_seconds() * 1000))
        return
    store.set_status(broadcast_id, "running", only_from=("scheduled", "running"))
    after = ""
    while True:
        recipients = store.segment(broadcast.segment, after, 1000)
        if not recipients:
            break
        store.add_deliveries(broadcast_id, recipients)
        after = recipients[-1]
    after = ""
    while True:
        pending = store.pending(broadcast_id, 1000, after)
        if not pending:
            break
        for start in range(0, len(pending), BATCH):
            send_batch.send(broadcast_id, pending[start : start + BATCH])
        after = pending[-1]
    logger.info("campaigns.fan_out broadcast=%s", broadcast_id)
    _finish_if_done(broadcast_id)


@dramatiq.actor(queue_name=QUEUE, max_retries=10, min_backoff=1000, max_backoff=60_000)
def send_batch(broadcast_id: str, sender_ids: List[str]) -> None:
    d = deliverer()
    broadcast = d.store.broadcast(broadcast_id)
    if broadcast is None or broadcast.status in ("paused", "cancelled"):
        return  # a resume fans out again what is still queued
    item = _item(broadcast)
    if item is None:
        logger.error("campaigns.batch.unknown_item broadcast=%s", broadcast_id)
        return
    held: Dict[int, List[str]] = {}
    for sender_id, (state, wait) in zip(sender_ids, d.deliver_batch(broadcast, item, sender_ids), strict=True):
        if state == "held":
            held.setdefault(int(wait) + 1, []).append(sender_id)
    for wait, group in held.items():
        send_batch.send_with_options(args=(broadcast_id, group), delay=wait * 1000)
    _finish_if_done(broadcast_id)


def _finish_if_done(broadcast_id: str) -> None:
    store = deliverer().store
    if not store.unfinished(broadcast_id):
        store.set_status(broadcast_id, "done", only_from=("running",))


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def tips_tick() -> None:
    d = deliverer()
    now = _now()
    for subscriber in d.store.due_tips(now):
        series = d.library.series_for(subscriber.audience)
        index = subscriber.tips_sent
        if index >= len(series.tips):
            d.store.advance_tip(subscriber.sender_id, index, None, finished=True)
            continue
        tip = series.tips[index]
        broadcast = BroadcastInfo(f"t-{tip.id}"[:16], tip.id, Segment(), "running", now, {})
        d.store.add_deliveries(broadcast.id, [subscriber.sender_id])
        state, _ = d.deliver(broadcast, tip, subscriber.sender_id)
        if state != "held":
            d.store.advance_tip(subscriber.sender_id, index, now + series.every)
    # One chain of ticks: whoever takes the next slot schedules it.
    if d.redis.set(TICK_KEY, "1", nx=True, px=(TICK_SECONDS - 1) * 1000):
        tips_tick.send_with_options(delay=TICK_SECONDS * 1000)


def resume(broadcast_id: str) -> bool:
    """Paused → running, and what is still queued goes out again."""
    store = deliverer().store
    if not store.set_status(broadcast_id, "running", only_from=("paused",)):
        return False
    fan_out.send(broadcast_id)
    return True

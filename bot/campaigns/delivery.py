"""One broadcast (or tip) to one recipient, exactly once.

The delivery row (broadcast id, sender id) is the idempotency key. In order:

1. a row no longer queued or held was dealt with already (a job run twice, or again after a
   worker was killed): nothing happens; a row left in ``sending`` is resolved first (below);
2. a subscriber who stopped (or deleted their data) is ``opted_out``; quiet hours in their zone
   make it ``held`` (the caller queues it again for when they end);
3. the message is chosen for the channel: Telegram text; WhatsApp free text inside the 24-hour
   window, else the item's approved template, else ``skipped``; the web and REST channels cannot
   push, so ``skipped``;
4. the pace is awaited (``bot.campaigns.pacing``), the request built, and only then the row is
   claimed (queued → sending, one conditional UPDATE: one worker wins), signed with this process's
   id (``bot.campaigns.liveness``) and how it was sent, and the request sent at once;
5. the outcome is recorded: ``sent`` with the provider's id (Twilio's status callbacks then say
   delivered or failed), ``opted_out`` and the subscription stopped on Telegram 403 or Twilio
   21610, ``failed`` on any other 4xx, and 5xx/network errors retried with backoff. A request that
   never reached the platform (429, no connection) gives the claim back while it waits.

A worker's job (``deliver_batch``) reads its recipients' rows and addresses in one query and one
``MGET``, and records its Telegram sends as ``sent`` together, every ``SENT_EVERY`` and at its end
(Twilio's, at once: its status callback names the row by its provider id). Until then such a row
stays in ``sending``, signed by a live worker; if that worker dies first, the row is resolved as
below, rightly, since its request was answered. ``bench/campaigns.py`` measured what each step saved.

**A worker killed in the middle** (``kill -9``) leaves in ``sending``, per thread, the row whose
request was on the wire and the Telegram rows answered but not recorded yet (fewer than
``SENT_EVERY``). Rows still signed by a live process are left alone; once
the signer's liveness key has expired, its connections are closed and the platform has all it
will ever get, so the row is resolved:

* WhatsApp: Twilio is asked (``TwilioSender.find``) for a message from our sender to that number
  since the claim (with the same text when it was free text; outside the window nothing but a
  campaign template can have gone to them). Found: ``sent`` with its sid (``reconciled``). Not
  found: the request never arrived, so the row is queued again and sent now. Exactly once.
* Telegram: the Bot API can neither be asked nor given an idempotency key. The row is counted
  ``sent`` (``unconfirmed``) and not sent again: right whenever the request had been written to
  the socket, which is all of the row's time in ``sending`` but the microseconds between the
  claim's commit and the write. Never a second copy; a loss only if the kill falls in that gap.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from bot.campaigns.addresses import WhatsAppAddresses
from bot.campaigns.content import CampaignLibrary, Item
from bot.campaigns.liveness import LIVENESS_TTL, WorkerLiveness
from bot.campaigns.pacing import Pacer
from bot.campaigns.quiet import QuietHours
from bot.campaigns.senders import SendResult, TelegramSender, TwilioSender
from bot.campaigns.store import BroadcastInfo, CampaignStore, SubscriberInfo

__all__ = ["Batch", "Deliverer", "Rates", "POLL_KEY", "POLL_TTL", "SENT_EVERY", "render", "poll_sent"]

logger = logging.getLogger(__name__)

POLL_KEY = "amaan:camp:poll:{sender}"  # read by channels.campaigns: a bare number answers the poll
POLL_TTL = 7 * 24 * 3600
ATTEMPTS = 4
MAX_RETRY_AFTER = 300.0
# Rows claimed before rows were signed (no worker id): resolved once this old.
SENDING_LEASE = 15.0
# Twilio's creation time has whole seconds and another clock than ours.
LOOKUP_SKEW = timedelta(seconds=5)
SENT_EVERY = 20  # Telegram sends recorded together (one commit), at most this many in sending


# The WhatsApp connector's last numbered list (channels/whatsapp/choices.py, under its "amaan:" prefix).
CHOICES_KEY = "amaan:wa:choices:{sender}"


def poll_sent(redis: Any, sender_id: str, item: Item) -> None:
    """A poll went out: a bare number answers it (``channels.campaigns``), not the list of buttons
    the bot offered before it, which it supersedes (a list offered after it drops the poll's key)."""
    poll = {"id": item.id, "choices": [c["id"] for c in item.choices]}
    redis.set(POLL_KEY.format(sender=sender_id), json.dumps(poll), ex=POLL_TTL)
    redis.delete(CHOICES_KEY.format(sender=sender_id))


@dataclass(frozen=True)
class Rates:
    telegram: float = 25.0
    telegram_chat: float = 1.0
    whatsapp: float = 10.0


@dataclass
class Batch:
    """What ``deliver_batch`` read ahead for its recipients, and its sends not recorded yet."""

    recipients: Dict[str, Tuple[str, datetime, Optional[SubscriberInfo], Optional[str]]]
    addresses: Dict[str, Optional[str]]
    sent: List[Tuple[SubscriberInfo, Optional[str]]] = field(default_factory=list)


def render(item: Item, broadcast: Optional[BroadcastInfo], language: str, poll_hint: str = "") -> str:
    """The text a subscriber reads: the broadcast's own text, else the item's; a poll's choices numbered."""
    texts = broadcast.texts if broadcast is not None else {}
    text = texts.get(language) or item.text.get(language) or item.text.get("ar") or ""
    if item.kind == "poll":
        lines = [f"{n}. {c.get(language) or c.get('ar')}" for n, c in enumerate(item.choices, 1)]
        text = "\n".join([text, *lines, poll_hint]).strip()
    return text


class Deliverer:
    def __init__(
        self,
        store: CampaignStore,
        library: CampaignLibrary,
        redis: Any,
        quiet: QuietHours,
        rates: Rates,
        telegram: Optional[TelegramSender],
        twilio: Optional[TwilioSender],
        addresses: WhatsAppAddresses,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        sleep: Callable[[float], None] = time.sleep,
        liveness: Optional[WorkerLiveness] = None,
    ):
        self.store = store
        self.library = library
        self.redis = redis
        self.quiet = quiet
        self.rates = rates
        self.telegram = telegram
        self.twilio = twilio
        self.addresses = addresses
        self.pacer = Pacer(redis, sleep)
        self.liveness = liveness or WorkerLiveness(redis)
        self._clock = clock
        self._sleep = sleep

    def deliver_batch(self, broadcast: BroadcastInfo, item: Item, sender_ids: Sequence[str]) -> List[Tuple[str, float]]:
        """``deliver`` to each of ``sender_ids``, their rows and addresses read in one go."""
        batch = Batch(self.store.recipients(broadcast.id, sender_ids), self.addresses.addresses(sender_ids))
        try:
            return [self.deliver(broadcast, item, sender_id, batch) for sender_id in sender_ids]
        finally:
            self._record_sent(broadcast.id, item, batch)

    def deliver(
        self, broadcast: BroadcastInfo, item: Item, sender_id: str, batch: Optional[Batch] = None
    ) -> Tuple[str, float]:
        """Deliver ``item`` to ``sender_id`` under ``broadcast``'s key; (state, seconds to wait when held)."""
        bid = broadcast.id
        found = batch.recipients.get(sender_id) if batch else self.store.recipient(bid, sender_id)
        if found is None:
            return "unknown", 0.0
        state, changed, subscriber, signature = found
        if state == "sending":
            resolved = self._unfinished(broadcast, item, sender_id, changed, signature, subscriber)
            if resolved is not None:
                return resolved
            state = "queued"  # it never reached the platform: it goes out now
        if state not in ("queued", "held"):
            return state, 0.0
        if subscriber is None or subscriber.state != "active":
            self._final(subscriber, bid, sender_id, "opted_out", only_from=("queued", "held"))
            return "opted_out", 0.0
        wait = self.quiet.wait(self._clock(), subscriber.timezone)
        if wait > 0:
            self.store.mark(bid, sender_id, "held", "quiet_hours", only_from=("queued", "held"))
            return "held", wait
        text = self._text(item, broadcast, subscriber.language)
        if subscriber.channel == "telegram" and self.telegram is not None:
            result = self._telegram(bid, subscriber, text, batch)
        elif subscriber.channel == "whatsapp" and self.twilio is not None:
            result = self._whatsapp(bid, subscriber, item, text, batch)
        else:
            self._final(
                subscriber, bid, sender_id, "skipped", f"cannot_push_{subscriber.channel}"[:32], ("queued", "held")
            )
            return "skipped", 0.0
        if isinstance(result, str):
            return result, 0.0
        if result.outcome == "sent" and batch is not None and subscriber.channel == "telegram":
            batch.sent.append((subscriber, result.provider_id))
            if len(batch.sent) >= SENT_EVERY:
                self._record_sent(bid, item, batch)
            return "sent", 0.0
        return self._record(bid, subscriber, item, result), 0.0

    def _record_sent(self, bid: str, item: Item, batch: Batch) -> None:
        """Record the batch's sends so far as ``sent`` in one commit, and count each row moved."""
        if not batch.sent:
            return
        subscribers = {s.sender_id: s for s, _ in batch.sent}
        moved = self.store.mark_sent(bid, [(s.sender_id, provider_id) for s, provider_id in batch.sent])
        batch.sent.clear()
        for sender_id in moved:
            self._count(subscribers[sender_id], bid, "sent")
            if item.kind == "poll":
                poll_sent(self.redis, sender_id, item)

    def _address(self, sender_id: str, batch: Optional[Batch]) -> Optional[str]:
        if batch is not None and sender_id in batch.addresses:
            return batch.addresses[sender_id]
        return self.addresses.address(sender_id)

    def _text(self, item: Item, broadcast: BroadcastInfo, language: str) -> str:
        return render(
            item, broadcast, language, self.library.reply("poll_hint", language) if item.kind == "poll" else ""
        )

    def _unfinished(
        self,
        broadcast: BroadcastInfo,
        item: Item,
        sender_id: str,
        since: datetime,
        signature: Optional[str],
        subscriber: Optional[SubscriberInfo],
    ) -> Optional[Tuple[str, float]]:
        """A row left in ``sending`` (see the module's docstring): (state, wait) when settled or to
        look again later; None when its request never reached the platform and it is queued again."""
        bid = broadcast.id
        worker, _, mode = (signature or "").partition(":")[2].partition(":")
        if worker:
            if self.liveness.alive(worker):
                return "held", LIVENESS_TTL  # still in its signer's hands
        else:
            age = (self._clock() - since).total_seconds()
            if age < SENDING_LEASE:
                return "held", SENDING_LEASE - age
        address = self.addresses.address(sender_id) if mode in ("b", "t") else None
        if self.twilio is not None and subscriber is not None and address is not None:
            body = self._text(item, broadcast, subscriber.language) if mode == "b" else None
            found = self.twilio.find(address, since - LOOKUP_SKEW, body)
            if found.outcome == "retry":
                return "held", LIVENESS_TTL
            if found.outcome == "sent":
                self._sent(subscriber, bid, item, found.provider_id, "reconciled")
                logger.info("campaigns.send.reconciled broadcast=%s", bid)
                return "sent", 0.0
            if self.store.mark(bid, sender_id, "queued", "resend", only_from=("sending",)):
                logger.info("campaigns.send.resend broadcast=%s", bid)
                return None
            return "taken", 0.0
        self._sent(subscriber, bid, item, None, "unconfirmed", sender_id)
        logger.warning("campaigns.send.unconfirmed broadcast=%s", bid)
        return "sent", 0.0

    def _final(
        self,
        subscriber: Optional[SubscriberInfo],
        bid: str,
        sender_id: str,
        state: str,
        reason: Optional[str] = None,
        only_from: Tuple[str, ...] = ("sending",),
        provider_id: Optional[str] = None,
    ) -> bool:
        """Record a row's outcome and, when this call recorded it, count it (``bot.analytics``)."""
        done = self.store.mark(bid, sender_id, state, reason, provider_id=provider_id, only_from=only_from)
        if done:
            self._count(subscriber, bid, state)
        return done

    def _count(self, subscriber: Optional[SubscriberInfo], bid: str, state: str) -> None:
        self.store.counts.count(
            "campaign_messages",
            state=state,
            kind="tip" if bid.startswith("t-") else "broadcast",
            channel=subscriber.channel if subscriber else None,
            language=subscriber.language if subscriber else None,
        )

    def _sent(
        self,
        subscriber: Optional[SubscriberInfo],
        bid: str,
        item: Item,
        provider_id: Optional[str],
        reason: Optional[str],
        sender_id: str = "",
    ) -> None:
        sender_id = sender_id or (subscriber.sender_id if subscriber else "")
        self._final(subscriber, bid, sender_id, "sent", reason, ("sending",), provider_id)
        if item.kind == "poll":
            poll_sent(self.redis, sender_id, item)

    # --- per platform --------------------------------------------------------------------------

    def _telegram(self, bid: str, subscriber: SubscriberInfo, text: str, batch: Optional[Batch]) -> Any:
        telegram = self.telegram
        assert telegram is not None
        # The sender id is a keyed hash: the chat id is in the connector's encrypted address book.
        address = self._address(subscriber.sender_id, batch)
        try:
            chat_id = int(address or "")
        except ValueError:
            reason = "no_address" if address is None else "bad_address"
            self._final(subscriber, bid, subscriber.sender_id, "skipped", reason, ("queued", "held"))
            return "skipped"

        def pace() -> None:
            self.pacer.wait_all(((f"tg:{chat_id}", self.rates.telegram_chat), ("tg", self.rates.telegram)))

        return self._claim_and_send(
            bid, subscriber.sender_id, pace, lambda: telegram.prepare(chat_id, text), telegram.send, "tg", "g"
        )

    def _whatsapp(self, bid: str, subscriber: SubscriberInfo, item: Item, text: str, batch: Optional[Batch]) -> Any:
        twilio = self.twilio
        assert twilio is not None
        sender_id = subscriber.sender_id
        address = self._address(sender_id, batch)
        if address is None:
            self._final(subscriber, bid, sender_id, "skipped", "no_address", ("queued", "held"))
            return "skipped"
        template = item.template or {}
        if self.addresses.in_window(sender_id):
            content: Dict[str, Any] = {"body": text}
            mode = "b"
        elif template.get("content_sid"):
            variables = {str(k): str(v) for k, v in (template.get("variables") or {}).items()}
            content = {"content_sid": str(template["content_sid"]), "variables": variables}
            mode = "t"
        else:
            self._final(subscriber, bid, sender_id, "skipped", "outside_window", ("queued", "held"))
            return "skipped"
        key = f"wa:{twilio.sender}"
        return self._claim_and_send(
            bid,
            sender_id,
            lambda: self.pacer.wait(key, self.rates.whatsapp),
            lambda: twilio.prepare(address, **content),
            twilio.send,
            key,
            mode,
        )

    def _claim_and_send(
        self,
        bid: str,
        sender_id: str,
        pace: Callable[[], Any],
        prepare: Callable[[], Any],
        send: Callable[[Any], SendResult],
        pace_key: str,
        mode: str,
    ) -> Any:
        """Pace, build, claim the row signed ``w:<worker>:<mode>``, send at once. A retry keeps the
        claim when the request may have arrived, and gives it back while waiting when it cannot have."""
        self.liveness.ensure_started()
        signature = f"w:{self.liveness.worker_id}:{mode}"
        claimed = False
        result = SendResult("retry")
        for n in range(ATTEMPTS):
            pace()
            request = prepare()
            if not claimed:
                if not self.store.claim(bid, sender_id, signature):
                    return "taken"  # another worker holds it
                claimed = True
            result = send(request)
            if not result.left and result.outcome in ("limited", "retry") and n + 1 < ATTEMPTS:
                claimed = not self.store.mark(bid, sender_id, "queued", only_from=("sending",))
            if result.outcome == "limited":
                wait = min(result.retry_after, MAX_RETRY_AFTER)
                logger.info("campaigns.send.limited retry_after=%.1f", wait)
                self.pacer.hold(pace_key, wait)
                continue
            if result.outcome == "retry" and n + 1 < ATTEMPTS:
                self._sleep(0.5 * 2**n)
                continue
            return result
        return result

    def _record(self, bid: str, subscriber: SubscriberInfo, item: Item, result: SendResult) -> str:
        sender_id = subscriber.sender_id
        if result.outcome == "sent":
            self._sent(subscriber, bid, item, result.provider_id, None)
            return "sent"
        if result.outcome == "blocked":
            self.store.stop(sender_id, "blocked")
            self._final(subscriber, bid, sender_id, "opted_out", f"blocked_{result.code}")
            logger.info("campaigns.send.unsubscribed code=%s", result.code)
            return "opted_out"
        self._final(subscriber, bid, sender_id, "failed", f"{result.outcome}_{result.code}"[:32])
        logger.warning("campaigns.send.failed outcome=%s code=%s", result.outcome, result.code)
        return "failed"

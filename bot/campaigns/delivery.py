"""One broadcast (or tip) to one recipient, exactly once.

The delivery row (broadcast id, sender id) is the idempotency key. In order:

1. a row no longer queued or held was dealt with already (a job run twice, or again after a
   worker was killed): nothing happens;
2. a subscriber who stopped (or deleted their data) is ``opted_out``; quiet hours in their zone
   make it ``held`` (the caller queues it again for when they end);
3. the message is chosen for the channel: Telegram text; WhatsApp free text inside the 24-hour
   window, else the item's approved template, else ``skipped``; the web and REST channels cannot
   push, so ``skipped``;
4. the pace is awaited (``bot.campaigns.pacing``), the request built, and only then the row is
   claimed (queued → sending, one conditional UPDATE: one worker wins) and the request sent at once;
5. the outcome is recorded: ``sent`` with the provider's id (Twilio's status callbacks then say
   delivered or failed), ``opted_out`` and the subscription stopped on Telegram 403 or Twilio
   21610, ``failed`` on any other 4xx, and 5xx/network errors retried with backoff.

A worker killed with ``kill -9`` leaves at most one row per thread in ``sending``: its request had
left, or was a few microseconds from leaving (the claim is the last step before the request). Such
a row is never sent again (no child gets a second copy) and counts as sent, ``unconfirmed``, once
``SENDING_LEASE`` has passed.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional, Tuple

from bot.campaigns.addresses import WhatsAppAddresses
from bot.campaigns.content import CampaignLibrary, Item
from bot.campaigns.pacing import Pacer
from bot.campaigns.quiet import QuietHours
from bot.campaigns.senders import SendResult, TelegramSender, TwilioSender
from bot.campaigns.store import BroadcastInfo, CampaignStore, SubscriberInfo

__all__ = ["Deliverer", "Rates", "POLL_KEY", "POLL_TTL", "render"]

logger = logging.getLogger(__name__)

POLL_KEY = "amaan:camp:poll:{sender}"  # read by channels.campaigns: a bare number answers the poll
POLL_TTL = 7 * 24 * 3600
ATTEMPTS = 4
MAX_RETRY_AFTER = 300.0
# Longer than one send takes with its retries (429 waits aside); see ``Deliverer._unfinished``.
SENDING_LEASE = 15.0


@dataclass(frozen=True)
class Rates:
    telegram: float = 25.0
    telegram_chat: float = 1.0
    whatsapp: float = 10.0


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
        self._clock = clock
        self._sleep = sleep

    def deliver(self, broadcast: BroadcastInfo, item: Item, sender_id: str) -> Tuple[str, float]:
        """Deliver ``item`` to ``sender_id`` under ``broadcast``'s key; (state, seconds to wait when held)."""
        bid = broadcast.id
        found = self.store.recipient(bid, sender_id)
        if found is not None and found[0] == "sending":
            return self._unfinished(bid, sender_id, found[1])
        if found is None or found[0] not in ("queued", "held"):
            return found[0] if found else "unknown", 0.0
        subscriber = found[2]
        if subscriber is None or subscriber.state != "active":
            self.store.mark(bid, sender_id, "opted_out", only_from=("queued", "held"))
            return "opted_out", 0.0
        wait = self.quiet.wait(self._clock(), subscriber.timezone)
        if wait > 0:
            self.store.mark(bid, sender_id, "held", "quiet_hours", only_from=("queued", "held"))
            return "held", wait
        language = subscriber.language
        text = render(
            item, broadcast, language, self.library.reply("poll_hint", language) if item.kind == "poll" else ""
        )
        if subscriber.channel == "telegram" and self.telegram is not None:
            result = self._telegram(bid, subscriber, text)
        elif subscriber.channel == "whatsapp" and self.twilio is not None:
            result = self._whatsapp(bid, subscriber, item, text)
        else:
            self.store.mark(
                bid, sender_id, "skipped", f"cannot_push_{subscriber.channel}"[:32], only_from=("queued", "held")
            )
            return "skipped", 0.0
        if isinstance(result, str):
            return result, 0.0
        return self._record(bid, subscriber, item, result), 0.0

    def _unfinished(self, bid: str, sender_id: str, since: datetime) -> Tuple[str, float]:
        """A row left in ``sending``: within ``SENDING_LEASE`` another worker may still be at it
        (look again later); after it, its worker died with the request sent or leaving: never sent
        again, counted as sent (``unconfirmed``)."""
        age = (self._clock() - since).total_seconds()
        if age < SENDING_LEASE:
            return "held", SENDING_LEASE - age
        self.store.mark(bid, sender_id, "sent", "unconfirmed", only_from=("sending",))
        logger.warning("campaigns.send.unconfirmed broadcast=%s", bid)
        return "sent", 0.0

    # --- per platform --------------------------------------------------------------------------

    def _telegram(self, bid: str, subscriber: SubscriberInfo, text: str) -> Any:
        telegram = self.telegram
        assert telegram is not None
        # The sender id is a keyed hash: the chat id is in the connector's encrypted address book.
        address = self.addresses.address(subscriber.sender_id)
        try:
            chat_id = int(address or "")
        except ValueError:
            reason = "no_address" if address is None else "bad_address"
            self.store.mark(bid, subscriber.sender_id, "skipped", reason, only_from=("queued", "held"))
            return "skipped"

        def pace() -> None:
            self.pacer.wait(f"tg:{chat_id}", self.rates.telegram_chat)
            self.pacer.wait("tg", self.rates.telegram)

        return self._claim_and_send(
            bid, subscriber.sender_id, pace, lambda: telegram.prepare(chat_id, text), telegram.send, "tg"
        )

    def _whatsapp(self, bid: str, subscriber: SubscriberInfo, item: Item, text: str) -> Any:
        twilio = self.twilio
        assert twilio is not None
        sender_id = subscriber.sender_id
        address = self.addresses.address(sender_id)
        if address is None:
            self.store.mark(bid, sender_id, "skipped", "no_address", only_from=("queued", "held"))
            return "skipped"
        template = item.template or {}
        if self.addresses.in_window(sender_id):
            content: Dict[str, Any] = {"body": text}
        elif template.get("content_sid"):
            variables = {str(k): str(v) for k, v in (template.get("variables") or {}).items()}
            content = {"content_sid": str(template["content_sid"]), "variables": variables}
        else:
            self.store.mark(bid, sender_id, "skipped", "outside_window", only_from=("queued", "held"))
            return "skipped"
        key = f"wa:{twilio.sender}"
        return self._claim_and_send(
            bid,
            sender_id,
            lambda: self.pacer.wait(key, self.rates.whatsapp),
            lambda: twilio.prepare(address, **content),
            twilio.send,
            key,
        )

    def _claim_and_send(
        self,
        bid: str,
        sender_id: str,
        pace: Callable[[], Any],
        prepare: Callable[[], Any],
        send: Callable[[Any], SendResult],
        pace_key: str,
    ) -> Any:
        """Pace, build, claim the row (first attempt only), send at once; retries keep the claim."""
        claimed = False
        result = SendResult("retry")
        for n in range(ATTEMPTS):
            pace()
            request = prepare()
            if not claimed:
                if not self.store.claim(bid, sender_id):
                    return "taken"  # another worker holds it
                claimed = True
            result = send(request)
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
            self.store.mark(bid, sender_id, "sent", provider_id=result.provider_id, only_from=("sending", "sent"))
            if item.kind == "poll":
                poll = {"id": item.id, "choices": [c["id"] for c in item.choices]}
                self.redis.set(POLL_KEY.format(sender=sender_id), json.dumps(poll), ex=POLL_TTL)
            return "sent"
        if result.outcome == "blocked":
            self.store.stop(sender_id)
            self.store.mark(bid, sender_id, "opted_out", f"blocked_{result.code}", only_from=("sending",))
            logger.info("campaigns.send.unsubscribed code=%s", result.code)
            return "opted_out"
        self.store.mark(bid, sender_id, "failed", f"{result.outcome}_{result.code}"[:32], only_from=("sending",))
        logger.warning("campaigns.send.failed outcome=%s code=%s", result.outcome, result.code)
        return "failed"

"""Delivery of one broadcast to its recipients (``bot.campaigns.delivery``) on real Redis and on
SQLite and PostgreSQL, with Telegram and Twilio faked at their HTTP boundary (``tests/campaign_fakes``):
pacing visible in the fake's timestamps, 429 and 403, WhatsApp's window and templates, quiet hours."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterator, List, Optional

import pytest
import redis
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import select

from bot.campaigns.addresses import WhatsAppAddresses
from bot.campaigns.content import CampaignLibrary, Item
from bot.campaigns.delivery import POLL_KEY, Deliverer, Rates
from bot.campaigns.models import Delivery
from bot.campaigns.quiet import QuietHours
from bot.campaigns.senders import TelegramSender, TwilioSender
from bot.campaigns.store import BroadcastInfo, CampaignStore, Segment
from bot.settings import PROJECT_ROOT
from tests.campaign_fakes import FakePlatforms, telegram_users
from tests.services import redis_url

REDIS_URL = redis_url(11)  # the tests' Redis (tests/services.py), database 11
WEEK = timedelta(days=7)
LIB = CampaignLibrary.load(PROJECT_ROOT / "data")
FROM = "whatsapp:+14155238886"
NOON_RIYADH = datetime(2026, 9, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def fake() -> Iterator[FakePlatforms]:
    f = FakePlatforms().start()
    yield f
    f.stop()


@pytest.fixture
def store(database_url: str) -> Iterator[CampaignStore]:
    s = CampaignStore.from_url(database_url)
    yield s
    s.close()


class Setup:
    def __init__(
        self,
        store: CampaignStore,
        fake: FakePlatforms,
        rates: Rates,
        quiet: str = "",
        now: Any = None,
        cipher: Optional[MultiFernet] = None,
    ):
        self.store = store
        self.fake = fake
        self.redis = redis.Redis.from_url(REDIS_URL)
        # Each test has its ADDRESS_ENCRYPTION_KEY (workers of one deployment share theirs).
        self.cipher = cipher or MultiFernet([Fernet(Fernet.generate_key())])
        self.chats: Dict[str, str] = {}  # sender id -> chat id, for reading the fake
        self.telegram = TelegramSender("123:tok", fake.url)
        # Each test paces on a sender of its own, so that tests never share a pace key.
        self.twilio = TwilioSender("AC" + "1" * 32, "token", f"{FROM}{uuid.uuid4().int % 1000}", None, fake.url)
        self.deliverer = Deliverer(
            store,
            LIB,
            self.redis,
            QuietHours.parse(quiet, "Asia/Riyadh"),
            rates,
            self.telegram,
            self.twilio,
            WhatsAppAddresses(self.redis, self.cipher),
            clock=(lambda: now) if now else (lambda: datetime.now(timezone.utc)),
        )

    def telegram_subscriber(
        self, language: str = "en", audience: Optional[str] = "parent", address: bool = True
    ) -> str:
        """A Telegram user as the connector leaves them: a hashed sender id, the chat id in the
        connector's encrypted ``AddressBook`` (unless ``address`` is False: e.g. it expired)."""
        chat = uuid.uuid4().int % 10**12
        if address:
            [sender] = telegram_users(REDIS_URL, self.cipher, [chat])
        else:
            sender = "tg-" + uuid.uuid4().hex
        self.chats[sender] = str(chat)
        self.store.subscribe(sender, "telegram", language, audience, "Asia/Riyadh", WEEK)
        return sender

    def chat(self, sender: str) -> str:
        return self.chats[sender]

    def whatsapp_subscriber(self, in_window: bool) -> str:
        """A WhatsApp user as the connector leaves them: the number encrypted by the connector's own
        ``AddressBook``, and the window marked when they wrote within 24 hours."""
        from channels.identity import AddressBook
        from channels.state import KeyValue, open_redis

        sender = "wa-" + uuid.uuid4().hex
        address = f"whatsapp:+9665{uuid.uuid4().int % 10**8:08d}"

        async def remember() -> None:
            state = KeyValue(open_redis(REDIS_URL))
            await AddressBook(state, self.cipher).remember(sender, address)
            if in_window:
                await state.put(f"wa:seen:{sender}", b"1", 3600)
            await state.close()

        asyncio.run(remember())
        self.store.subscribe(sender, "whatsapp", "ar", "parent", "Asia/Riyadh", WEEK)
        return sender

    def send(self, item_id: str, segment: Optional[Segment] = None, repeat: int = 1) -> str:
        """What the fan-out and batches do, ``repeat`` times over (a job run again sends nothing new)."""
        segment = segment or Segment()
        bid = self.store.create_broadcast(item_id, segment)
        broadcast = self.store.broadcast(bid)
        item = LIB.item(item_id)
        assert broadcast is not None and item is not None
        for _ in range(repeat):
            recipients = self.store.segment(segment)
            self.store.add_deliveries(bid, recipients)
            for sender in recipients:
                self.deliverer.deliver(broadcast, item, sender)
        return bid

    def close(self) -> None:
        self.telegram.close()
        self.twilio.close()
        self.redis.close()


@pytest.fixture
def setup(store: CampaignStore, fake: FakePlatforms) -> Iterator[Setup]:
    s = Setup(store, fake, Rates(telegram=200, telegram_chat=50, whatsapp=200))
    yield s
    s.close()


def test_a_broadcast_reaches_exactly_the_segment_once(setup: Setup) -> None:
    members = [setup.telegram_subscriber("en", "parent") for _ in range(5)]
    others = [setup.telegram_subscriber("ar", "parent"), setup.telegram_subscriber("en", "teen")]
    stopped = setup.telegram_subscriber("en", "parent")
    setup.store.stop(stopped)
    bid = setup.send("msg-back-to-school", Segment("telegram", "en", "parent"), repeat=3)
    for sender in members:
        received = setup.fake.to(setup.chat(sender))
        assert [r.body["text"] for r in received] == [LIB.item("msg-back-to-school").text["en"]]  # type: ignore[union-attr]
    assert not [r for s in [*others, stopped] for r in setup.fake.to(setup.chat(s))]
    progress = setup.store.progress(bid)
    assert (progress["sent"], progress["total"]) == (5, 5)


def test_telegram_pace_is_shared_and_even(store: CampaignStore, fake: FakePlatforms) -> None:
    """Two deliverers (two workers) at 20 messages/s overall: the fake never sees more than the
    rate allows in any half second (the slots are 50 ms apart; a slow database commit may make one
    message late, never two early)."""
    first = Setup(store, fake, Rates(telegram=20))
    second = Setup(store, fake, Rates(telegram=20), cipher=first.cipher)
    recipients = [first.telegram_subscriber() for _ in range(12)]
    bid = store.create_broadcast("msg-safer-internet-day", Segment())
    store.add_deliveries(bid, recipients)
    broadcast, item = store.broadcast(bid), LIB.item("msg-safer-internet-day")
    assert broadcast is not None and item is not None

    def work(setup: Setup, part: List[str]) -> None:
        for sender in part:
            setup.deliverer.deliver(broadcast, item, sender)

    threads = [
        threading.Thread(target=work, args=(first, recipients[::2])),
        threading.Thread(target=work, args=(second, recipients[1::2])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times = sorted(r.at for s in recipients for r in fake.to(first.chat(s)))
    assert len(times) == 12
    busiest = max(len([t for t in times if start <= t < start + 0.5]) for start in times)
    assert busiest <= 11  # 20/s: 10 slots in half a second, plus one at its edge
    assert times[-1] - times[0] >= 11 * 0.05 * 0.95
    first.close()
    second.close()


def test_one_message_a_second_per_chat(store: CampaignStore, fake: FakePlatforms) -> None:
    s = Setup(store, fake, Rates(telegram=200, telegram_chat=1))
    sender = s.telegram_subscriber()
    s.send("msg-back-to-school")
    s.send("msg-safer-internet-day")
    times = [r.at for r in fake.to(s.chat(sender))]
    assert len(times) == 2 and times[1] - times[0] >= 0.95
    s.close()


def test_429_retry_after_is_waited_out(setup: Setup) -> None:
    sender = setup.telegram_subscriber()
    setup.fake.limited, setup.fake.retry_after = 1, 1
    bid = setup.send("msg-back-to-school")
    refused = [r for r in setup.fake.sent() if r.platform == "telegram-429"]
    delivered = setup.fake.to(setup.chat(sender))
    assert len(refused) == 1 and len([r for r in delivered if r.platform == "telegram"]) == 1
    assert delivered[-1].at - refused[0].at >= 0.95
    assert setup.store.progress(bid)["sent"] == 1


def test_telegram_403_unsubscribes(setup: Setup) -> None:
    blocked, fine = setup.telegram_subscriber(), setup.telegram_subscriber()
    setup.fake.blocked.add(int(setup.chat(blocked)))
    bid = setup.send("msg-back-to-school")
    assert setup.store.get(blocked).state == "stopped"  # type: ignore[union-attr]
    assert setup.store.delivery_state(bid, blocked) == "opted_out"
    assert setup.store.delivery_state(bid, fine) == "sent"
    setup.send("msg-safer-internet-day")  # nothing more is tried for the blocked user
    assert len(setup.fake.to(setup.chat(fine))) == 2


def test_a_telegram_subscriber_without_an_address_is_skipped(setup: Setup) -> None:
    """The sender id says nothing of the chat: with no chat id in the address book (it expired, or
    the user deleted their data) nothing goes out to them, and the row says why; others are reached."""
    lost, known = setup.telegram_subscriber(address=False), setup.telegram_subscriber()
    bid = setup.send("msg-back-to-school", repeat=2)
    assert setup.fake.to(setup.chat(lost)) == []
    assert [r.platform for r in setup.fake.sent()] == ["telegram"]  # the one with an address, once
    assert setup.fake.sent()[0].to == setup.chat(known)
    assert setup.store.delivery_state(bid, lost) == "skipped"
    with setup.store.engine.connect() as conn:
        reason = conn.execute(
            select(Delivery.reason).where(Delivery.broadcast_id == bid, Delivery.sender_id == lost)
        ).scalar_one()
    assert reason == "no_address"
    progress = setup.store.progress(bid)
    assert (progress["skipped"], progress["sent"], progress["total"]) == (1, 1, 2)


def test_whatsapp_window_template_or_skipped(setup: Setup) -> None:
    inside, outside = setup.whatsapp_subscriber(True), setup.whatsapp_subscriber(False)
    with_template = setup.send("msg-back-to-school")  # has an approved template
    without = setup.send("msg-safer-internet-day")  # has none
    sent = {r.to: [] for r in setup.fake.sent()}
    for r in setup.fake.sent():
        sent[r.to].append(r.body)
    inside_address = setup.deliverer.addresses.address(inside)
    outside_address = setup.deliverer.addresses.address(outside)
    assert [("Body" in b, "ContentSid" in b) for b in sent[inside_address]] == [(True, False), (True, False)]
    template = LIB.item("msg-back-to-school").template  # type: ignore[union-attr]
    assert sent[outside_address] == [
        {
            "To": outside_address,
            "From": setup.twilio.sender,
            "ContentSid": template["content_sid"],  # type: ignore[index]
            "ContentVariables": '{"1": "back to school"}',
        }
    ]
    assert setup.store.delivery_state(with_template, outside) == "sent"
    assert setup.store.delivery_state(without, outside) == "skipped"
    assert setup.store.progress(without)["skipped"] == 1


def test_twilio_21610_on_send_unsubscribes(setup: Setup) -> None:
    sender = setup.whatsapp_subscriber(True)
    setup.fake.twilio_errors[setup.deliverer.addresses.address(sender) or ""] = (400, 21610)
    bid = setup.send("msg-back-to-school")
    assert setup.store.delivery_state(bid, sender) == "opted_out"
    assert setup.store.get(sender).state == "stopped"  # type: ignore[union-attr]


def test_quiet_hours_hold_messages_until_morning(store: CampaignStore, fake: FakePlatforms) -> None:
    late = datetime(2026, 9, 1, 20, 0, tzinfo=timezone.utc)  # 23:00 in Riyadh
    s = Setup(store, fake, Rates(telegram=200), quiet="21:00-07:00", now=late)
    sender = s.telegram_subscriber()
    bid = store.create_broadcast("msg-back-to-school", Segment())
    store.add_deliveries(bid, [sender])
    broadcast, item = store.broadcast(bid), LIB.item("msg-back-to-school")
    state, wait = s.deliverer.deliver(broadcast, item, sender)  # type: ignore[arg-type]
    assert (state, wait) == ("held", 8 * 3600)  # until 07:00 Riyadh
    assert fake.to(s.chat(sender)) == []
    s.deliverer._clock = lambda: late + timedelta(hours=8)  # the job comes back in the morning
    assert s.deliverer.deliver(broadcast, item, sender)[0] == "sent"  # type: ignore[arg-type]
    assert len(fake.to(s.chat(sender))) == 1
    s.close()


def test_a_poll_goes_out_numbered_and_leaves_its_key(setup: Setup) -> None:
    sender = setup.telegram_subscriber("ar")
    setup.send("poll-talked-about-safety")
    text = setup.fake.to(setup.chat(sender))[0].body["text"]
    assert text.startswith(LIB.polls["poll-talked-about-safety"].question["ar"]) and "\n1. نعم\n2. لا\n" in text
    assert setup.redis.get(POLL_KEY.format(sender=sender)) is not None
    setup.redis.delete(POLL_KEY.format(sender=sender))


def test_a_tip_item_is_each_audience_series() -> None:
    for audience in ("child", "teen", "parent", "educator"):
        series = LIB.series_for(audience)
        assert series.tips and all(isinstance(t, Item) and t.sources for t in series.tips)
    assert LIB.series_for(None).audience == "teen"


def test_quiet_hours_parse() -> None:
    quiet = QuietHours.parse("21:00-07:00", "Asia/Riyadh")
    assert quiet.wait(NOON_RIYADH) == 0
    assert QuietHours.parse("", "Asia/Riyadh").wait(datetime(2026, 9, 1, 20, 0, tzinfo=timezone.utc)) == 0
    for bad in ("9pm-7am", "25:00-07:00"):
        with pytest.raises(ValueError):
            QuietHours.parse(bad, "Asia/Riyadh")
    with pytest.raises(ValueError):
        QuietHours.parse("21:00-07:00", "Mars/Olympus")


def test_broadcast_info_shape() -> None:
    info = BroadcastInfo("b1", "x", Segment(), "running", NOON_RIYADH, {})
    assert info.segment == Segment()

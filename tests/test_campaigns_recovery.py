"""A row a killed worker left in ``sending``, resolved by the next worker (``bot.campaigns.delivery``),
on real Redis and on SQLite and PostgreSQL, with Telegram and Twilio faked at their HTTP boundary.

The worker test (``tests/test_campaigns_worker.py``) kills a real worker; these take each case
apart: a row still in a live worker's hands is left alone; Telegram's is counted sent and never sent
twice; WhatsApp's is looked up at Twilio, found (not sent again) or not (sent now, once); and a
request the platform refused (429) gives its claim back while it waits, so a kill then loses nothing."""

from __future__ import annotations

from typing import Iterator, List, Tuple

import pytest

from bot.campaigns.content import Item
from bot.campaigns.delivery import Rates, render
from bot.campaigns.liveness import WorkerLiveness
from bot.campaigns.store import BroadcastInfo, CampaignStore, Segment
from tests.campaign_fakes import FakePlatforms
from tests.test_campaigns_delivery import LIB, Setup

DEAD = "w:0123456789ab"  # a worker id with no liveness key: killed


@pytest.fixture
def setup(database_url: str) -> Iterator[Setup]:
    store = CampaignStore.from_url(database_url)
    fake = FakePlatforms().start()
    s = Setup(store, fake, Rates(telegram=200, telegram_chat=50, whatsapp=200))
    yield s
    s.close()
    fake.stop()
    store.close()


def claimed_by(setup: Setup, signature: str, sender: str) -> Tuple[BroadcastInfo, Item]:
    """A broadcast whose row for ``sender`` a worker claimed and then died (or not) holding."""
    bid = setup.store.create_broadcast("msg-back-to-school", Segment())
    setup.store.add_deliveries(bid, [sender])
    assert setup.store.claim(bid, sender, signature)
    broadcast, item = setup.store.broadcast(bid), LIB.item("msg-back-to-school")
    assert broadcast is not None and item is not None
    return broadcast, item


def outcome(setup: Setup, broadcast: BroadcastInfo, sender: str) -> Tuple[str, str]:
    found = setup.store.recipient(broadcast.id, sender)
    assert found is not None
    return found[0], found[3] or ""


def test_a_row_in_a_live_workers_hands_is_left_alone(setup: Setup) -> None:
    sender = setup.telegram_subscriber()
    other = WorkerLiveness(setup.redis)
    other.ensure_started()
    try:
        broadcast, item = claimed_by(setup, f"w:{other.worker_id}:g", sender)
        state, wait = setup.deliverer.deliver(broadcast, item, sender)
        assert state == "held" and wait > 0
        assert setup.fake.to(setup.chat(sender)) == []
        assert outcome(setup, broadcast, sender)[0] == "sending"
    finally:
        other.stop()


def test_a_dead_workers_telegram_row_counts_sent_and_is_never_sent_twice(setup: Setup) -> None:
    sender = setup.telegram_subscriber()
    broadcast, item = claimed_by(setup, f"{DEAD}:g", sender)
    assert setup.deliverer.deliver(broadcast, item, sender) == ("sent", 0.0)
    assert setup.deliverer.deliver(broadcast, item, sender)[0] == "sent"
    assert setup.fake.to(setup.chat(sender)) == []
    assert outcome(setup, broadcast, sender) == ("sent", "unconfirmed")


@pytest.mark.parametrize("in_window", [True, False], ids=["free-text", "template"])
def test_a_dead_workers_whatsapp_row_that_never_reached_twilio_goes_out_once(setup: Setup, in_window: bool) -> None:
    sender = setup.whatsapp_subscriber(in_window=in_window)
    broadcast, item = claimed_by(setup, f"{DEAD}:{'b' if in_window else 't'}", sender)
    assert setup.deliverer.deliver(broadcast, item, sender) == ("sent", 0.0)
    assert setup.deliverer.deliver(broadcast, item, sender)[0] == "sent"
    address = setup.deliverer.addresses.address(sender)
    assert address is not None
    [received] = setup.fake.to(address)
    assert ("Body" in received.body) is in_window
    assert outcome(setup, broadcast, sender) == ("sent", "")


@pytest.mark.parametrize("in_window", [True, False], ids=["free-text", "template"])
def test_a_dead_workers_whatsapp_row_that_reached_twilio_is_not_sent_again(setup: Setup, in_window: bool) -> None:
    sender = setup.whatsapp_subscriber(in_window=in_window)
    broadcast, item = claimed_by(setup, f"{DEAD}:{'b' if in_window else 't'}", sender)
    address = setup.deliverer.addresses.address(sender)
    assert address is not None
    # What the killed worker's request left at Twilio before it died.
    if in_window:
        arrived = setup.twilio.send(setup.twilio.prepare(address, body=render(item, broadcast, "ar")))
    else:
        template = item.template or {}
        arrived = setup.twilio.send(setup.twilio.prepare(address, content_sid=str(template["content_sid"])))
    assert arrived.outcome == "sent"
    assert setup.deliverer.deliver(broadcast, item, sender) == ("sent", 0.0)
    assert len(setup.fake.to(address)) == 1
    assert outcome(setup, broadcast, sender) == ("sent", "reconciled")


def test_an_other_message_to_the_same_number_is_not_taken_for_the_broadcast(setup: Setup) -> None:
    """Inside the window the bot also answers the user: a reply is not the broadcast."""
    sender = setup.whatsapp_subscriber(in_window=True)
    broadcast, item = claimed_by(setup, f"{DEAD}:b", sender)
    address = setup.deliverer.addresses.address(sender)
    assert address is not None
    assert setup.twilio.send(setup.twilio.prepare(address, body="a reply in the conversation")).outcome == "sent"
    assert setup.deliverer.deliver(broadcast, item, sender) == ("sent", 0.0)
    assert [r.body.get("Body") for r in setup.fake.to(address)][-1] == render(item, broadcast, "ar")
    assert len(setup.fake.to(address)) == 2


def test_a_refused_request_gives_its_claim_back_while_it_waits(setup: Setup) -> None:
    sender = setup.telegram_subscriber()
    setup.fake.limited, setup.fake.retry_after = 1, 1
    bid = setup.store.create_broadcast("msg-back-to-school", Segment())
    setup.store.add_deliveries(bid, [sender])
    broadcast, item = setup.store.broadcast(bid), LIB.item("msg-back-to-school")
    assert broadcast is not None and item is not None
    seen: List[str] = []
    pacer_sleep = setup.deliverer.pacer._sleep

    def sleep(seconds: float) -> None:
        seen.append(setup.store.recipient(bid, sender)[0])  # type: ignore[index]
        pacer_sleep(seconds)

    setup.deliverer.pacer._sleep = sleep
    assert setup.deliverer.deliver(broadcast, item, sender)[0] == "sent"
    assert "queued" in seen and "sending" not in seen  # a kill during the wait leaves it to send
    assert len([r for r in setup.fake.to(setup.chat(sender)) if r.platform == "telegram"]) == 1


def test_a_batch_whose_worker_died_before_recording_its_sends_sends_nobody_twice(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's job records its Telegram sends together (``SENT_EVERY``); killed after the sends
    went out but before that commit, its rows stay in ``sending``: the next worker counts them sent."""
    senders = [setup.telegram_subscriber() for _ in range(3)]
    bid = setup.store.create_broadcast("msg-back-to-school", Segment())
    setup.store.add_deliveries(bid, senders)
    broadcast, item = setup.store.broadcast(bid), LIB.item("msg-back-to-school")
    assert broadcast is not None and item is not None

    def killed(*args: object) -> None:
        raise SystemExit("kill -9")  # the process ends here: nothing after it runs

    dying = setup.deliverer.liveness
    with monkeypatch.context() as patch:
        patch.setattr(setup.store, "mark_sent", killed)
        with pytest.raises(SystemExit):
            setup.deliverer.deliver_batch(broadcast, item, senders)
    assert [outcome(setup, broadcast, s)[0] for s in senders] == ["sending"] * 3
    dying.stop()  # its liveness key gone, as after kill -9 and the key's expiry
    setup.deliverer.liveness = WorkerLiveness(setup.redis)
    try:
        assert setup.deliverer.deliver_batch(broadcast, item, senders) == [("sent", 0.0)] * 3
    finally:
        setup.deliverer.liveness.stop()
    assert [len(setup.fake.to(setup.chat(s))) for s in senders] == [1, 1, 1]
    assert [outcome(setup, broadcast, s) for s in senders] == [("sent", "unconfirmed")] * 3


def test_a_batch_records_its_telegram_sends_as_sent(setup: Setup) -> None:
    senders = [setup.telegram_subscriber() for _ in range(25)]  # more than SENT_EVERY
    bid = setup.store.create_broadcast("msg-back-to-school", Segment())
    setup.store.add_deliveries(bid, senders)
    broadcast, item = setup.store.broadcast(bid), LIB.item("msg-back-to-school")
    assert broadcast is not None and item is not None
    assert setup.deliverer.deliver_batch(broadcast, item, senders) == [("sent", 0.0)] * 25
    assert [len(setup.fake.to(setup.chat(s))) for s in senders] == [1] * 25
    progress = setup.store.progress(bid)
    assert (progress["sent"], progress["sending"], progress["queued"]) == (25, 0, 0)
    assert {outcome(setup, broadcast, s) for s in senders} == {("sent", "")}

"""``CampaignStore`` on SQLite and PostgreSQL: subscriptions by sender id, STOP/START, delete my
data, segments, the delivery row as an idempotency key, and poll counts."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Iterator, List

import pytest
from sqlalchemy import text

from bot.campaigns.store import CampaignStore, Segment

WEEK = timedelta(days=7)


@pytest.fixture
def store(database_url: str) -> Iterator[CampaignStore]:
    s = CampaignStore.from_url(database_url)
    yield s
    s.close()


def tg() -> str:
    return f"tg-{uuid.uuid4().int % 10**9}"


def test_subscribe_stop_start_and_forget(store: CampaignStore) -> None:
    sender = tg()
    assert store.subscribe(sender, "telegram", "ar", "parent", "Asia/Riyadh", WEEK) is True
    assert store.subscribe(sender, "telegram", "en", "parent", "Asia/Riyadh", WEEK) is False  # already: updated
    found = store.get(sender)
    assert found is not None and (found.language, found.audience, found.state) == ("en", "parent", "active")
    assert store.stop(sender) is True
    assert store.get(sender).state == "stopped"  # type: ignore[union-attr]
    assert store.stop(sender) is False
    assert store.start(sender, WEEK) is True
    assert store.get(sender).state == "active"  # type: ignore[union-attr]
    assert store.forget(sender) is True
    assert store.get(sender) is None
    assert store.start(sender, WEEK) is False  # nobody to re-subscribe


def test_no_phone_number_or_text_in_the_tables(store: CampaignStore) -> None:
    store.subscribe("wa-" + "a" * 32, "whatsapp", "ar", None, "Asia/Riyadh", WEEK)
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM campaign_subscribers")).mappings().first()
    assert row is not None
    assert set(row.keys()) == {
        "sender_id", "channel", "language", "audience", "timezone", "state",
        "subscribed_at", "changed_at", "tips_sent", "next_tip_at",
    }  # fmt: skip


def test_segment_takes_active_members_only(store: CampaignStore) -> None:
    members: List[str] = []
    for n in range(6):
        sender = tg()
        store.subscribe(sender, "telegram", "en" if n % 2 else "ar", "teen", "Asia/Riyadh", WEEK)
        if n % 2:
            members.append(sender)
    stopped = tg()
    store.subscribe(stopped, "telegram", "en", "teen", "Asia/Riyadh", WEEK)
    store.stop(stopped)
    store.subscribe(tg(), "telegram", "en", "parent", "Asia/Riyadh", WEEK)
    assert sorted(store.segment(Segment("telegram", "en", "teen"))) == sorted(members)
    assert store.series_counts()["teen/en"] == 3 and store.series_counts()["teen/ar"] == 3


def test_a_delivery_is_claimed_by_exactly_one_of_many(store: CampaignStore) -> None:
    sender = tg()
    store.subscribe(sender, "telegram", "en", None, "Asia/Riyadh", WEEK)
    bid = store.create_broadcast("msg-back-to-school", Segment())
    store.add_deliveries(bid, [sender])
    store.add_deliveries(bid, [sender])  # a fan-out run twice adds nothing
    assert store.progress(bid)["total"] == 1
    wins: List[bool] = []
    threads = [threading.Thread(target=lambda: wins.append(store.claim(bid, sender))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
    assert store.mark(bid, sender, "sent", provider_id="SM1", only_from=("sending",))
    assert store.progress(bid)["sent"] == 1


def test_stop_turns_what_was_waiting_into_opted_out(store: CampaignStore) -> None:
    sender = tg()
    store.subscribe(sender, "telegram", "en", None, "Asia/Riyadh", WEEK)
    bid = store.create_broadcast("msg-back-to-school", Segment())
    store.add_deliveries(bid, [sender])
    store.stop(sender)
    assert store.delivery_state(bid, sender) == "opted_out"
    assert store.claim(bid, sender) is False


def test_poll_keeps_counts_only(store: CampaignStore) -> None:
    poll = f"poll-{uuid.uuid4().hex[:6]}"
    for choice in ("yes", "yes", "no"):
        store.vote(poll, choice)
    assert store.poll_counts(poll) == {"yes": 2, "no": 1}
    with store.engine.connect() as conn:
        columns = set(conn.execute(text("SELECT * FROM campaign_poll_counts")).keys())
    assert columns == {"poll_id", "choice", "count"}


def test_a_status_callback_finds_its_delivery(store: CampaignStore) -> None:
    from bot.campaigns.callbacks import apply_twilio_status

    stopping, outside = "wa-" + uuid.uuid4().hex, "wa-" + uuid.uuid4().hex
    bid = store.create_broadcast("msg-back-to-school", Segment())
    for n, sender in enumerate((stopping, outside)):
        store.subscribe(sender, "whatsapp", "ar", None, "Asia/Riyadh", WEEK)
        store.add_deliveries(bid, [sender])
        store.claim(bid, sender)
        store.mark(bid, sender, "sent", provider_id=f"SM{bid}{n}")
    assert apply_twilio_status(store, f"SM{bid}0", "failed", "21610") == "opted_out"
    assert store.get(stopping).state == "stopped"  # type: ignore[union-attr]
    assert apply_twilio_status(store, f"SM{bid}1", "undelivered", "63016") == "skipped"
    assert store.get(outside).state == "active"  # type: ignore[union-attr]
    assert apply_twilio_status(store, "SMunknown", "delivered", "") is None  # a reply's callback
    progress = store.progress(bid)
    assert (progress["opted_out"], progress["skipped"], progress["sent"]) == (1, 1, 0)


def test_unfinished_says_what_progress_said(store: CampaignStore) -> None:
    """``unfinished`` (the worker's question after every batch) against the counts it replaces:
    not done while any row is queued, held or sending, whatever the other rows and broadcasts."""
    from bot.campaigns.models import DELIVERY_STATES

    senders = [tg() for _ in range(3)]
    bid, other = store.create_broadcast("msg-back-to-school", Segment()), store.create_broadcast("m", Segment())
    assert store.unfinished(bid) is False  # nobody to send to: done
    store.add_deliveries(bid, senders)
    store.add_deliveries(other, senders)  # another broadcast's rows, all queued, never count
    for state in DELIVERY_STATES:
        for last in DELIVERY_STATES:
            for sender in senders[:-1]:
                store.mark(bid, sender, state)
            store.mark(bid, senders[-1], last)
            p = store.progress(bid)
            assert store.unfinished(bid) is not (p["queued"] == 0 and p["held"] == 0 and p["sending"] == 0)
            assert store.unfinished(bid) is bool({state, last} & {"queued", "held", "sending"})


def _plan(store: CampaignStore, bid: str) -> List[str]:
    """The lines of the database's plan for ``unfinished``'s query that read the deliveries."""
    from sqlalchemy import select

    from bot.campaigns.models import UNFINISHED_STATES, Delivery

    query = (
        select(Delivery.id)
        .where(Delivery.broadcast_id == bid, Delivery.state.in_(UNFINISHED_STATES))
        .limit(1)
        .compile(store.engine, compile_kwargs={"literal_binds": True})
    )
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE campaign_deliveries"))
        explain = "EXPLAIN" if conn.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
        lines = [str(r[-1]) for r in conn.execute(text(f"{explain} {query}"))]
    return [line for line in lines if "campaign_deliveries" in line or "Cond" in line or "Filter" in line]


def test_unfinished_looks_up_the_state_index_after_a_migration_from_level_1(store: CampaignStore) -> None:
    """A database migrated before the index (level 1) gets it; the query then finds a broadcast's
    unfinished rows in it by broadcast and state, not by reading every row of the broadcast."""
    bids = [store.create_broadcast("msg-back-to-school", Segment()) for _ in range(3)]
    for bid in bids:
        store.add_deliveries(bid, [f"tg-{n:05d}" for n in range(2000)])
        with store.engine.begin() as conn:  # a broadcast nearly done: 5 rows still queued
            conn.execute(
                text(
                    "UPDATE campaign_deliveries SET state = 'sent' WHERE broadcast_id = :b AND sender_id > 'tg-00004'"
                ),
                {"b": bid},
            )
    with store.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_campaign_deliveries_broadcast_state"))
        conn.execute(text("UPDATE amaan_schema SET version = 1 WHERE component = 'campaigns'"))
    assert "ix_campaign_deliveries_broadcast_state" not in "\n".join(_plan(store, bids[0]))
    assert store.migrate() == 2
    plan = "\n".join(_plan(store, bids[0]))
    assert "ix_campaign_deliveries_broadcast_state" in plan, plan
    if store.engine.dialect.name == "postgresql":
        assert "Filter" not in plan and "state" in plan.split("Index Cond:")[1], plan
    else:
        assert "(broadcast_id=? AND state=?)" in plan, plan
    assert store.unfinished(bids[0]) is True

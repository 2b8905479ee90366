"""The append-only conversation store (``bot.cases.conversations_sql``) on a real PostgreSQL: what is
read back, what a save writes (and never rewrites), what is in clear in the table, "delete my
data", retention and a retired key."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from bot.cases import FORGET_ACTION, generate_key
from bot.cases.conversations_sql import AppendOnlySQLTrackerStore
from bot.run import is_postgresql
from bot.settings import PROJECT_ROOT, Settings
from tests.services import postgres_url

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))
SECRET_ANSWER = "he waits behind the zq_marker_school gym"
SECRET_PHONE = "+962791234567"
SECRET_INTENT = "disclose_harm"


@pytest.fixture
def url() -> Iterator[str]:
    """A PostgreSQL schema of this test's own (dropped after)."""
    schema = f"amaan_conv_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url(), future=True)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{postgres_url()}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def key() -> str:
    return generate_key()


@pytest.fixture
def store(url: str, key: str) -> Iterator[AppendOnlySQLTrackerStore]:
    made = AppendOnlySQLTrackerStore(DOMAIN, url=url, retention_days=30, encryption_keys=key)
    yield made
    made.engine.dispose()


def session_start(at: float = 0.0) -> List[Event]:
    at = at or time.time()
    return [ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at + 0.001)]


def turn(n: int, at: float = 0.0) -> List[Event]:
    """One turn of a report: the user's answer (with a phone number), the slot it fills, the reply."""
    at = at or time.time()
    return [
        UserUttered(f"{SECRET_ANSWER} {n}, call {SECRET_PHONE}", {"name": SECRET_INTENT}, timestamp=at),
        SlotSet("report_where", f"{SECRET_ANSWER} {n}", timestamp=at + 0.001),
        ActionExecuted("utter_report_thanks", timestamp=at + 0.002),
        BotUttered(f"Thank you, step {n}", timestamp=at + 0.003),
        ActionExecuted("action_listen", timestamp=at + 0.004),
    ]


def dicts(events: Any) -> List[Dict[str, Any]]:
    return [event.as_dict() for event in events]


def rows(store: AppendOnlySQLTrackerStore, sender: str = "") -> List[Any]:
    """(id, ctid, xmin, the whole row as text) of every row, or of one sender's."""
    where = "WHERE sender_id = :sender" if sender else ""
    with store.engine.connect() as conn:
        return conn.execute(
            text(f"SELECT id, ctid::text, xmin::text, t::text FROM conversation_events t {where} ORDER BY id"),
            {"sender": sender},
        ).all()


async def converse(store: AppendOnlySQLTrackerStore, sender: str, turns: int) -> List[Event]:
    """``turns`` turns the way the Rasa server runs them: retrieve, add the turn's events, save."""
    said: List[Event] = []
    for n in range(turns):
        tracker = await store.retrieve(sender)
        if tracker is None:
            tracker = DialogueStateTracker.from_events(sender, [], slots=DOMAIN.slots)
            for event in session_start():
                tracker.update(event)
                said.append(event)
        for event in turn(n):
            tracker.update(event)
            said.append(event)
        await store.save(tracker)
    return said


async def test_a_long_conversation_reads_back_identical_across_sessions(store: AppendOnlySQLTrackerStore) -> None:
    sender = f"u-{uuid.uuid4().hex[:10]}"
    said = await converse(store, sender, 60)
    back = await store.retrieve(sender)
    assert back is not None and dicts(back.events) == dicts(said)[1:]  # from its session_started, as Rasa does
    assert back.get_slot("report_where") == f"{SECRET_ANSWER} 59"

    # A new session: the latest one is what ``retrieve`` gives; every one is in the full tracker.
    back.update(ActionExecuted("action_session_start"))
    back.update(SessionStarted())
    back.update(SlotSet("language", "ar"))
    await store.save(back)
    latest = await store.retrieve(sender)
    assert latest is not None and [e.type_name for e in latest.events] == ["session_started", "slot"]
    full = await store.retrieve_full_tracker(sender)
    assert full is not None and dicts(full.events) == dicts(said) + dicts(back.events)[-3:]
    assert len(rows(store, sender)) == len(said) + 3  # each event once, never twice
    assert sender in await store.keys()


async def test_a_save_appends_only_and_never_rewrites_a_row(store: AppendOnlySQLTrackerStore) -> None:
    sender = f"u-{uuid.uuid4().hex[:10]}"
    await converse(store, sender, 5)
    before = rows(store, sender)
    tracker = await store.retrieve(sender)
    assert tracker is not None
    for event in turn(5):
        tracker.update(event)
    await store.save(tracker)
    await store.save(tracker)  # a second save of the same tracker adds nothing
    after = rows(store, sender)
    assert len(after) == len(before) + 5
    # Same ids, same physical row (ctid) and same writing transaction (xmin): not updated, not
    # deleted and re-inserted.
    assert after[: len(before)] == before
    assert min(row.id for row in after[len(before) :]) > max(row.id for row in before)


async def test_no_answer_phone_number_or_intent_is_in_clear_in_any_column(store: AppendOnlySQLTrackerStore) -> None:
    sender = f"u-{uuid.uuid4().hex[:10]}"
    await converse(store, sender, 3)
    stored = rows(store, sender)
    assert len(stored) == 2 + 3 * 5
    for row in stored:
        for secret in ("zq_marker_school", SECRET_PHONE, "962791234567", SECRET_INTENT, "report_where", "step"):
            assert secret not in row[3]
    assert SECRET_PHONE in json.dumps(dicts((await store.retrieve(sender)).events))  # type: ignore[union-attr]


async def test_delete_my_data_deletes_every_row_of_that_sender(store: AppendOnlySQLTrackerStore) -> None:
    sender, other = f"u-{uuid.uuid4().hex[:10]}", f"u-{uuid.uuid4().hex[:10]}"
    await converse(store, sender, 4)
    await converse(store, other, 2)
    before = {row.id for row in rows(store, sender)}
    tracker = await store.retrieve(sender)
    assert tracker is not None
    tracker.update(SlotSet("language", "ar"))
    for event in (ActionExecuted(FORGET_ACTION), BotUttered("Done, deleted."), ActionExecuted("action_listen")):
        tracker.update(event)
    await store.save(tracker)

    kept = rows(store, sender)
    assert not before & {row.id for row in kept}  # every earlier row is gone
    full = await store.retrieve_full_tracker(sender)
    assert full is not None and full.get_slot("language") == "ar"
    dumped = json.dumps(dicts(full.events))
    assert "zq_marker_school" not in dumped and SECRET_PHONE not in dumped and "Done, deleted." in dumped
    assert len(rows(store, other)) == 2 + 2 * 5  # nobody else's

    assert store.forget(sender) and rows(store, sender) == [] and await store.retrieve(sender) is None


async def test_idle_conversations_are_deleted_after_the_retention(store: AppendOnlySQLTrackerStore) -> None:
    idle, swept, active = (f"u-{uuid.uuid4().hex[:10]}" for _ in range(3))
    long_ago = time.time() - 31 * 86400
    for sender in (idle, swept):
        events = session_start(long_ago) + turn(0, long_ago + 1)
        await store.save(DialogueStateTracker.from_events(sender, events, slots=DOMAIN.slots))
    await converse(store, active, 1)
    assert len(rows(store, idle)) == 7

    assert await store.retrieve(idle) is None  # looked up: gone
    assert rows(store, idle) == []
    assert store.sweep() == 1  # the sweep: only the idle one
    assert rows(store, swept) == [] and len(rows(store, active)) == 7
    assert await store.retrieve(active) is not None


async def test_a_conversation_sealed_with_a_retired_key_starts_afresh(
    store: AppendOnlySQLTrackerStore, url: str
) -> None:
    sender = f"u-{uuid.uuid4().hex[:10]}"
    await converse(store, sender, 2)
    rotated = AppendOnlySQLTrackerStore(DOMAIN, url=url, encryption_keys=generate_key())  # the old key retired
    try:
        assert await rotated.retrieve(sender) is None  # no crash: a fresh conversation
        assert rows(rotated, sender) == []  # the unreadable rows are gone
        said = await converse(rotated, sender, 2)
        back = await rotated.retrieve(sender)
        assert back is not None and dicts(back.events) == dicts(said)[1:]
    finally:
        rotated.engine.dispose()


def test_bot_run_keeps_conversations_in_postgresql_when_database_url_names_it(tmp_path: Path) -> None:
    from bot.run import write_runtime_config

    settings = Settings(
        database_url="postgresql://amaan:s3cr3t-zq@db:5432/amaan",
        redis_url="redis://127.0.0.1:6379/0",
        conversation_retention_days=3,
    )
    endpoints = write_runtime_config(settings, tmp_path, 5055)["endpoints"]
    assert "s3cr3t" not in endpoints.read_text()  # the URL comes from DATABASE_URL, never from the file
    loaded = yaml.safe_load(endpoints.read_text())
    assert loaded["tracker_store"] == {
        "type": "bot.cases.conversations_sql.AppendOnlySQLTrackerStore",
        "retention_days": 3,
    }
    assert loaded["lock_store"]["type"] == "bot.locks.AtomicRedisLockStore"  # locks stay in Redis

    for other in (f"sqlite:///{tmp_path / 'cases.db'}", None):
        store = yaml.safe_load(
            write_runtime_config(Settings(database_url=other), tmp_path, 5055)["endpoints"].read_text()
        )["tracker_store"]
        assert store["type"] == "bot.cases.conversations.ForgetfulTrackerStore"


async def test_rasa_loads_it_from_the_endpoints_bot_run_writes(
    url: str, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import read_endpoint_config

    from bot.run import write_runtime_config
    from bot.settings import get_settings

    endpoints = write_runtime_config(Settings(database_url=url, conversation_retention_days=5), tmp_path, 5055)
    monkeypatch.setenv("DATABASE_URL", url)  # what bot.run hands the Rasa server
    monkeypatch.setenv("CASE_ENCRYPTION_KEYS", key)
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "t" * 32)
    get_settings.cache_clear()
    try:
        loaded = TrackerStore.create(read_endpoint_config(str(endpoints["endpoints"]), "tracker_store"), DOMAIN)
    finally:
        get_settings.cache_clear()
    assert isinstance(loaded, AppendOnlySQLTrackerStore) and loaded.retention_seconds == 5 * 86400
    sender = f"u-{uuid.uuid4().hex[:10]}"
    said = await converse(loaded, sender, 2)
    back = await loaded.retrieve(sender)
    assert back is not None and dicts(back.events) == dicts(said)[1:]
    loaded.engine.dispose()


@pytest.mark.server
def test_a_report_through_the_servers_is_kept_sealed_in_postgresql(url: str, model_path: Path, tmp_path: Path) -> None:
    """``make run``'s servers with DATABASE_URL naming PostgreSQL: the conversation of a report is
    in ``conversation_events``, read back by the bot, with no answer or phone number in any row."""
    from bot.run import start, stop, wait_until_up
    from bot.settings import get_settings
    from tests.conftest import API_TOKEN, LOG_DIR, Bot, free_port, new_sender, restore_environment

    env = {"DATABASE_URL": url, "CASE_ENCRYPTION_KEYS": generate_key(), "RASA_API_TOKEN": API_TOKEN}
    saved = {name: os.environ.get(name) for name in (*env, "REDIS_URL")}
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)  # PostgreSQL is chosen whether or not Redis is configured
    get_settings.cache_clear()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    port, actions_port = free_port(), free_port()
    with open(LOG_DIR / "conversations-sql-servers.log", "w") as log:
        try:
            processes = start(port, actions_port, model_path, output=log, run_dir=tmp_path)
        finally:
            restore_environment(saved)
        try:
            up = wait_until_up(f"http://localhost:{actions_port}/health", processes, 120) and wait_until_up(
                f"http://localhost:{port}/webhooks/rest/", processes, 300
            )
            assert up, (LOG_DIR / "conversations-sql-servers.log").read_text()[-5000:]
            bot = Bot(f"http://localhost:{port}", f"http://localhost:{actions_port}/webhook", tmp_path)
            mark = uuid.uuid4().hex[:8]
            secrets = [f"zq{mark}disclosure", f"zq{mark}what", f"zq{mark}where", "+966 55 741 " + mark[:4]]
            sender = new_sender()
            bot.say(sender, "hello")
            bot.say(sender, '/tell_audience{"audience":"teen"}')
            bot.say(sender, f"someone threatens to leak my photos {secrets[0]}")
            bot.say(sender, "I want to report")
            for answer in ["/skip", f"mean comments {secrets[1]}", f"snap user {secrets[2]}", "/skip", "/skip"]:
                bot.say(sender, answer)
            bot.say(sender, "by phone")
            bot.say(sender, secrets[3])
            bot.say(sender, "/affirm")
            tracker = json.dumps(bot.tracker(sender), ensure_ascii=False)
            assert secrets[0] in tracker and secrets[2] in tracker  # the bot reads it back
        finally:
            stop(processes)
    engine = create_engine(url, future=True)
    with engine.connect() as conn:
        stored = [row[0] for row in conn.execute(text("SELECT t::text FROM conversation_events t"))]
    engine.dispose()
    assert len(stored) > 20
    for row in stored:
        for secret in secrets:
            assert secret not in row
        assert "55741" + mark[:4] not in row.replace(" ", "")


@pytest.mark.parametrize(
    ("url", "postgresql"),
    [
        ("postgresql://a@b/c", True),
        ("postgres://a@b/c", True),
        ("postgresql+psycopg2://a@b/c", True),
        ("sqlite:///x.db", False),
        (None, False),
    ],
)
def test_which_urls_name_postgresql(url: str, postgresql: bool) -> None:
    assert is_postgresql(url) is postgresql

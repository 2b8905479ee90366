"""Issue 13, point 2: what a child said, and what they reported, is never kept in clear.

A report made over the REST channel against servers started as ``make run`` starts them, with Redis
(``REDIS_URL``: conversations, locks, the widget's state) and the SQLite case file: afterwards no
answer appears in any Redis key or value, in any database row or in any file the servers wrote.
The conversation itself is still there for the bot (read back through Rasa's API), sealed with the
case keys (``bot.cases.conversations.TrackerSeal``). And the widget's replay log is sealed and is
cleared by "delete my data".
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import redis
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.cases import FORGET_ACTION, generate_key
from bot.cases.conversations import ForgetfulRedisTrackerStore, TrackerSeal, on_forget
from bot.cases.crypto import CaseCipher, InvalidToken
from bot.settings import PROJECT_ROOT, get_settings
from channels.web.sessions import RedisWebSessions
from tests.conftest import API_TOKEN, LOG_DIR, Bot, free_port, new_sender, restore_environment
from tests.services import redis_address, redis_url

REDIS_URL = redis_url()
SERVER_DBS = (0, 1, 2)  # the channels' state, the lock store, the conversations (bot.run)


def redis_dump(client: redis.Redis) -> Iterator[Tuple[bytes, bytes]]:
    """(key, everything stored under it) for every key of one Redis database."""
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            value = client.get(key) or b""
        elif kind == b"list":
            value = b"\n".join(client.lrange(key, 0, -1))
        elif kind == b"hash":
            value = b"\n".join(k + b"=" + v for k, v in client.hgetall(key).items())
        elif kind == b"set":
            value = b"\n".join(client.smembers(key))
        elif kind == b"zset":
            value = b"\n".join(client.zrange(key, 0, -1))
        elif kind == b"stream":
            value = b"\n".join(k + b"=" + v for _id, fields in client.xrange(key) for k, v in fields.items())
        else:
            value = b""
        yield key, value


@pytest.fixture(scope="module")
def sealed_servers(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """The servers with Redis and SQLite cases, a case key of their own, Rasa's API behind a token."""
    from bot.run import start, stop, wait_until_up

    run_dir = tmp_path_factory.mktemp("at-rest-run")
    env = {"REDIS_URL": REDIS_URL, "CASE_ENCRYPTION_KEYS": generate_key(), "RASA_API_TOKEN": API_TOKEN}
    saved = {name: os.environ.get(name) for name in (*env, "DATABASE_URL")}
    os.environ.update(env)
    os.environ.pop("DATABASE_URL", None)  # SQLite in run_dir: a file this test can read
    get_settings.cache_clear()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / "at-rest-servers.log", "w")  # noqa: SIM115 - closed below
    port, actions_port = free_port(), free_port()
    try:
        processes = start(port, actions_port, model_path, output=log, run_dir=run_dir)
    finally:
        restore_environment(saved)
    try:
        up = wait_until_up(f"http://localhost:{actions_port}/health", processes, 120) and wait_until_up(
            f"http://localhost:{port}/webhooks/rest/", processes, 300
        )
        if not up:
            log.flush()
            pytest.fail("servers did not start:\n" + (LOG_DIR / "at-rest-servers.log").read_text()[-5000:])
        yield Bot(f"http://localhost:{port}", f"http://localhost:{actions_port}/webhook", run_dir)
    finally:
        stop(processes)
        log.close()


@pytest.mark.server
def test_after_a_report_no_answer_is_in_clear_in_redis_the_database_or_any_file(sealed_servers: Bot) -> None:
    bot = sealed_servers
    mark = uuid.uuid4().hex[:8]
    secrets: List[str] = [f"zq{mark}disclosure", f"zq{mark}where", f"zq{mark}what", "+966 55 741 " + mark[:4]]
    sender = new_sender()
    bot.say(sender, "hello")
    bot.say(sender, '/tell_audience{"audience":"teen"}')
    bot.say(sender, f"someone threatens to leak my photos {secrets[0]}")
    bot.say(sender, "I want to report")
    for answer in ["/skip", f"mean comments {secrets[2]}", f"snap user {secrets[1]}", "/skip", "/skip", "by phone"]:
        bot.say(sender, answer)
    bot.say(sender, secrets[3])
    done = bot.text(sender, "/affirm")
    assert "reference" in done.lower() or any(c.isdigit() for c in done)

    # The bot still has the conversation (opened with the key): the search below looks where it is.
    tracker = json.dumps(bot.tracker(sender), ensure_ascii=False)
    assert secrets[0] in tracker and secrets[1] in tracker
    looked_at = 0
    stored_under_sender = False
    for db in SERVER_DBS:
        client = redis.Redis.from_url(REDIS_URL, db=db)
        for key, value in redis_dump(client):
            looked_at += 1
            stored_under_sender = stored_under_sender or (db == 2 and sender.encode() in key and bool(value))
            for secret in secrets:
                assert secret.encode() not in key + value, (db, key, secret)
            assert b"966 55 741" not in value and b"96655741" not in value, (db, key)
    assert stored_under_sender and looked_at > 0  # the conversation is in Redis, sealed
    assert bot.run_dir is not None
    files = [path for path in bot.run_dir.rglob("*") if path.is_file()]
    assert any(path.name == "cases.db" for path in files)
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, (path.name, secret)
        assert b"55741" + mark[:4].encode() not in content.replace(b" ", b""), path.name


def _forgetting(sender: str, domain: Domain) -> DialogueStateTracker:
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("zq-widget-secret", {"name": "disclose_harm"}),
        ActionExecuted(FORGET_ACTION),
        BotUttered("Done."),
        ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events(sender, events, slots=domain.slots)


async def test_the_widget_replay_log_is_sealed_and_cleared_by_delete_my_data() -> None:
    key = generate_key()
    prefix = f"amaantest:web13a:{uuid.uuid4().hex[:8]}:"
    sessions = RedisWebSessions(REDIS_URL, prefix=prefix, cipher=CaseCipher([key]))
    store = ForgetfulRedisTrackerStore(
        Domain.load(str(PROJECT_ROOT / "domain.yml")),
        host=redis_address()[0],
        port=redis_address()[1],
        db=15,
        key_prefix="amaantest13a",
        encryption_keys=key,
    )
    client = redis.Redis.from_url(REDIS_URL)
    _token, sender = await sessions.issue()
    try:
        on_forget(sessions, sessions.forget)
        await sessions.record(sender, {"text": "a counselor wrote zq-widget-reply", "from": "counselor"})
        raw = b"\n".join(client.lrange(f"{prefix}log:{sender}", 0, -1))
        assert raw and b"zq-widget-reply" not in raw  # sealed in Redis
        assert [m["text"] for m in await sessions.replay(sender, 0)] == ["a counselor wrote zq-widget-reply"]

        await store.save(_forgetting(sender, store.domain))  # the turn in which "delete my data" ran
        assert await sessions.replay(sender, 0) == []
        assert not client.exists(f"{prefix}log:{sender}")
    finally:
        on_forget(sessions, _nothing)
        client.delete(*[k for k in client.scan_iter(match=f"{prefix}*")] or ["-"])
        redis.Redis.from_url(redis_url(15)).delete(store.key_prefix + sender)
        await sessions.close()


async def _nothing(sender_id: str) -> None:
    return None


def test_a_sealed_conversation_opens_only_with_its_keys_and_survives_rotation() -> None:
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    old, new = generate_key(), generate_key()
    tracker = _forgetting("u-seal", domain)
    sealed = TrackerSeal.from_settings(old).seal(tracker)
    assert "zq-widget-secret" not in sealed and sealed.startswith("sealed:1:")
    rotated = TrackerSeal.from_settings(f"{new},{old}")  # new key first, old one still there
    opened = rotated.open(sealed)
    assert opened is not None and "zq-widget-secret" in json.dumps([e.as_dict() for e in opened.events])
    assert TrackerSeal.from_settings(new).open(sealed) is None  # the old key retired: unreadable
    assert TrackerSeal.from_settings(old).open('{"events": []}') is None  # clear text is not accepted
    with pytest.raises(InvalidToken):
        TrackerSeal.from_settings(new).open_json(rotated.seal_json({"a": 1})[:-4] + "AAAA")


async def test_delete_my_data_also_drops_the_number_kept_to_reply() -> None:
    from cryptography.fernet import Fernet, MultiFernet

    from bot.cases.copies import forget_copies
    from channels.identity import AddressBook
    from channels.state import KeyValue

    book = AddressBook(KeyValue(), MultiFernet([Fernet(Fernet.generate_key())]))
    await book.remember("wa-kept", "whatsapp:+966557771234")
    await book.remember("wa-other", "whatsapp:+966550000000")
    await forget_copies("wa-kept")
    assert await book.lookup("wa-kept") is None
    assert await book.lookup("wa-other") == "whatsapp:+966550000000"

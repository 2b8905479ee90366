"""The case store on real SQLite and real PostgreSQL (a schema of its own per test, dropped after),
case events on real Redis, the counselor notice faked at the HTTP boundary only, the conversation
store's forgetting, and the ``python -m bot`` case commands."""

from __future__ import annotations

import json
import re
import socket
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

import httpx
import pytest
import redis
from sqlalchemy import create_engine, inspect, text

from bot.cases import (
    CaseCipher,
    CaseDesk,
    CaseEvents,
    CaseStore,
    CaseStoreError,
    CaseUpdate,
    Conversation,
    CounselorNotifier,
    find_references,
    generate_key,
    new_reference,
    triage,
)
from bot.cases import answers as parse
from bot.cases import schema as schema_module
from bot.cases.crypto import dev_key, parse_keys
from bot.cases.notify import notice_text
from bot.cases.reference import ALPHABET, normalize_reference
from bot.cases.setup import prepare_cases, status_lines
from bot.cases.store import engine_for
from bot.settings import Settings
from tests.services import redis_address, redis_url

REDIS_URL = redis_url()
ME = Conversation("rest", "sender-me-4711")
SOMEONE_ELSE = Conversation("rest", "sender-other-0815")
# Words that must never appear in clear in the database, the stream or a notice.
SECRET_WHERE = "snapchat user zq_marker_where_77"
SECRET_EXCERPT = "he says he will post my photos, zq_marker_excerpt"
SECRET_PHONE = "+966551234987"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def report(**answers: str) -> CaseUpdate:
    return CaseUpdate(origin="report", risk="high", language="en", audience="teen", answers=answers)


def disclosure(kind: str = "blackmail") -> CaseUpdate:
    return CaseUpdate(
        origin="disclosure",
        risk=triage(disclosure_kinds=[kind]),
        language="ar",
        audience="child",
        disclosure={"kind": kind, "source": "net"},
        excerpt=SECRET_EXCERPT,
    )


@pytest.fixture
def key() -> str:
    return generate_key()


@pytest.fixture
def store(database_url: str, key: str) -> Iterator[CaseStore]:
    s = CaseStore.from_url(database_url, [key])
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def stream() -> Iterator[str]:
    name = f"amaan:cases:test-{uuid.uuid4().hex[:12]}"
    yield name
    redis.Redis.from_url(REDIS_URL).delete(name)


def raw_dump(store: CaseStore, database_url: str) -> bytes:
    """Everything the database holds for the cases, as bytes: the SQLite file itself, or every
    PostgreSQL row cast to text."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT c::text FROM cases c")).scalars().all()
    return "\n".join(rows).encode()


def stream_entries(name: str) -> List[Dict[str, str]]:
    entries = redis.Redis.from_url(REDIS_URL, decode_responses=True).xrange(name)
    return [fields for _id, fields in entries]


# --- references and triage --------------------------------------------------------------------


def test_references_are_eight_characters_without_look_alikes() -> None:
    refs = {new_reference() for _ in range(2000)}
    assert len(refs) == 2000
    assert all(re.fullmatch(rf"[{ALPHABET}]{{8}}", r) for r in refs)
    assert not set("0O1IL2Z5S8BUVDQ") & set(ALPHABET)


@pytest.mark.parametrize(
    ("message", "found"),
    [
        ("status K7P3XM94", ["K7P3XM94"]),
        ("what about k7p3xm94?", ["K7P3XM94"]),
        ("حالة بلاغي K7P3-XM94", ["K7P3XM94"]),
        ("رقم ٤FJ7KMPX", ["4FJ7KMPX"]),
        ("it was ATTACHED to the message", []),
        ("my number is 12345678", []),
    ],
)
def test_references_are_found_in_what_people_type(message: str, found: List[str]) -> None:
    assert find_references(message) == found


def test_normalize_reference() -> None:
    assert normalize_reference(" k7p3-xm94 ") == "K7P3XM94"
    assert normalize_reference("K7P2XM9") is None


@pytest.mark.parametrize(
    ("kwargs", "risk"),
    [
        ({"danger_now": "yes"}, "urgent"),
        ({"disclosure_kinds": ["self_harm"]}, "urgent"),
        ({"disclosure_kinds": ["coercion"]}, "urgent"),
        ({"disclosure_kinds": ["blackmail"]}, "urgent"),
        ({"harm": "blackmail", "when": "ongoing"}, "urgent"),
        ({"harm": "blackmail", "when": "earlier"}, "high"),
        ({"harm": "grooming"}, "high"),
        ({"disclosure_kinds": ["meeting"]}, "high"),
        ({"harm": "cyberbullying", "danger_now": "no"}, "normal"),
        ({}, "normal"),
    ],
)
def test_triage(kwargs: Dict[str, Any], risk: str) -> None:
    assert triage(**kwargs) == risk


@pytest.mark.parametrize(
    ("reader", "typed", "value"),
    [
        (parse.parse_reporter, "it's my daughter", "parent"),
        (parse.parse_reporter, "انا امه", "parent"),
        (parse.parse_reporter, "صاحبتي", "other"),
        (parse.parse_reporter, "it happened to me", "self"),
        (parse.parse_harm, "he threatens to post my pics", "blackmail"),
        (parse.parse_harm, "غريب يكلمني", "grooming"),
        (parse.parse_harm, "تنمر", "cyberbullying"),
        (parse.parse_harm, "qwerty", None),
        (parse.parse_when, "امس", "this_week"),
        (parse.parse_when, "it's still going on", "ongoing"),
        (parse.parse_yes_no, "نعم", "yes"),
        (parse.parse_yes_no, "no, not anymore", "no"),
        (parse.parse_yes_no, "not sure", None),
        (parse.parse_contact, "here in the chat", "chat"),
        (parse.parse_contact, "اتصلوا علي", "phone"),
        (parse.parse_contact, "no thanks", "none"),
        (parse.normalize_phone, "+966 55 123 4987", SECRET_PHONE),
        (parse.normalize_phone, "٠٥٥١٢٣٤٩٨٧", "0551234987"),
        (parse.normalize_phone, "call me", None),
        (parse.normalize_phone, "123", None),
        (parse.parse_confirm, "send it", "submit"),
        (parse.parse_confirm, "ابي اغير", "change"),
        (parse.is_skip, "I don't know", True),
        (parse.is_skip, "مدري", True),
        (parse.is_skip, "skip please", True),
        (parse.is_skip, "i dont know what to do, he keeps messaging me", False),
    ],
)
def test_typed_answers_are_read(reader: Any, typed: str, value: Any) -> None:
    assert reader(typed) == value


# --- the store --------------------------------------------------------------------------------


def test_schema_is_created_and_migrated(database_url: str, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CaseStore.from_url(database_url, [key])
    assert store.migrate() == schema_module.SCHEMA_VERSION
    assert store.migrate() == schema_module.SCHEMA_VERSION  # idempotent
    tables = set(inspect(store.engine).get_table_names())
    assert {"cases", "case_messages", "amaan_schema"} <= tables

    def add_column(conn: Any) -> None:
        conn.execute(text("ALTER TABLE cases ADD COLUMN migrated_marker INTEGER"))

    next_level = schema_module.SCHEMA_VERSION + 1
    steps = [*schema_module.MIGRATIONS, (next_level, add_column)]
    monkeypatch.setattr(schema_module, "MIGRATIONS", steps)
    later = CaseStore.from_url(database_url, [key])
    assert later.migrate() == next_level
    assert later.migrate() == next_level  # the step ran once
    assert "migrated_marker" in {c["name"] for c in inspect(later.engine).get_columns("cases")}
    store.close()
    later.close()


def test_a_new_case_has_its_metadata_in_clear_and_the_rest_encrypted(store: CaseStore, database_url: str) -> None:
    recorded = store.record(ME, disclosure())
    case = recorded.case
    assert recorded.created
    assert re.fullmatch(rf"[{ALPHABET}]{{8}}", case.reference)
    assert (case.risk, case.status, case.channel, case.language, case.audience) == (
        "urgent",
        "received",
        "rest",
        "ar",
        "child",
    )
    assert case.created_at.tzinfo is not None and case.closed_at is None
    contents = store.contents(case.reference)
    assert contents["excerpts"][0]["text"] == SECRET_EXCERPT
    assert contents["disclosures"][0]["kind"] == "blackmail"
    assert store.conversation_of(case.reference) == ME


def test_the_raw_database_holds_no_readable_report_text(store: CaseStore, database_url: str) -> None:
    first = store.record(ME, disclosure()).case
    store.record(ME, report(where=SECRET_WHERE, contact="phone", phone=SECRET_PHONE), first.reference)
    assert store.contents(first.reference)["answers"]["where"] == SECRET_WHERE
    dump = raw_dump(store, database_url)
    assert first.reference.encode() in dump  # the dump is real: the clear reference is there
    for secret in (SECRET_WHERE, SECRET_EXCERPT, SECRET_PHONE, "zq_marker", ME.sender_id, "blackmail"):
        assert secret.encode() not in dump, secret


def test_a_case_grows_in_its_own_conversation_and_its_risk_only_goes_up(store: CaseStore) -> None:
    first = store.record(ME, report(harm="cyberbullying")).case
    assert first.risk == "high"
    grown = store.record(ME, disclosure(), first.reference)
    assert not grown.created and grown.risk_raised and grown.case.risk == "urgent"
    assert grown.case.reference == first.reference
    calmer = store.record(ME, CaseUpdate(origin="report", risk="normal", answers={"danger_now": "no"}), first.reference)
    assert calmer.case.risk == "urgent" and not calmer.risk_raised
    assert store.record(ME, report()).created  # without a reference: a new case
    elsewhere = store.record(SOMEONE_ELSE, report(where="x"), first.reference)
    assert elsewhere.created and elsewhere.case.reference != first.reference
    store.set_status(first.reference, "closed")
    assert store.record(ME, report(where="y"), first.reference).created  # a closed case stays closed


def test_a_later_skip_does_not_erase_an_earlier_answer(store: CaseStore) -> None:
    case = store.record(ME, report(where=SECRET_WHERE)).case
    store.record(ME, report(where="skipped", when="today"), case.reference)
    assert store.contents(case.reference)["answers"] == {"where": SECRET_WHERE, "when": "today"}


def test_status_is_given_only_to_the_filing_conversation(store: CaseStore) -> None:
    case = store.record(ME, report(where=SECRET_WHERE)).case
    assert store.case_in_conversation(case.reference, ME) == store.get(case.reference)
    assert store.case_in_conversation(case.reference, SOMEONE_ELSE) is None
    assert store.case_in_conversation("AAAA3333", ME) is None
    assert [c.reference for c in store.cases_of(ME)] == [case.reference]
    assert store.cases_of(SOMEONE_ELSE) == []


def test_status_changes(store: CaseStore) -> None:
    case = store.record(ME, report()).case
    changed, previous = store.set_status(case.reference, "with_counselor") or (None, None)
    assert previous == "received" and changed is not None and changed.status == "with_counselor"
    closed, _ = store.set_status(case.reference, "closed") or (None, None)
    assert closed is not None and closed.closed_at is not None
    assert store.set_status("AAAA3333", "closed") is None
    with pytest.raises(ValueError):
        store.set_status(case.reference, "deleted")


def test_unlinking_keeps_the_cases_for_the_counselors(store: CaseStore) -> None:
    mine = [store.record(ME, report(where=SECRET_WHERE)).case, store.record(ME, disclosure()).case]
    theirs = store.record(SOMEONE_ELSE, report()).case
    assert {c.reference for c in store.unlink(ME)} == {c.reference for c in mine}
    assert store.cases_of(ME) == []
    assert store.case_in_conversation(mine[0].reference, ME) is None
    assert store.conversation_of(mine[0].reference) is None
    assert store.contents(mine[0].reference)["answers"]["where"] == SECRET_WHERE  # the case itself stays
    assert store.cases_of(SOMEONE_ELSE)[0].reference == theirs.reference


def test_purge_deletes_only_cases_closed_before_the_retention(database_url: str, key: str) -> None:
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    store = CaseStore(engine_for(database_url), CaseCipher([key]), clock=lambda: now[0])
    old_closed = store.record(ME, report()).case.reference
    store.set_status(old_closed, "closed")
    still_open = store.record(ME, report()).case.reference
    now[0] += timedelta(days=80)
    recently_closed = store.record(ME, report()).case.reference
    store.set_status(recently_closed, "closed")
    now[0] += timedelta(days=11)  # 91 days after the first closing, 11 after the second
    assert store.purge_closed(timedelta(days=90), dry_run=True) == 1
    assert store.get(old_closed) is not None
    assert store.purge_closed(timedelta(days=90)) == 1
    assert store.get(old_closed) is None
    assert store.get(still_open) is not None and store.get(recently_closed) is not None
    store.close()


def test_keys_rotate(database_url: str) -> None:
    old, new = generate_key(), generate_key()
    with_old = CaseStore.from_url(database_url, [old])
    reference = with_old.record(ME, report(where=SECRET_WHERE)).case.reference
    both = CaseStore.from_url(database_url, [new, old])  # the new key first: it encrypts
    assert both.contents(reference)["answers"]["where"] == SECRET_WHERE
    assert both.rotate_keys() == 1
    only_new = CaseStore.from_url(database_url, [new])
    assert only_new.contents(reference)["answers"]["where"] == SECRET_WHERE
    assert only_new.case_in_conversation(reference, ME) is not None
    with pytest.raises(CaseStoreError):
        with_old.contents(reference)  # the retired key opens nothing any more
    for s in (with_old, both, only_new):
        s.close()


def test_a_failed_write_changes_nothing(store: CaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    case = store.record(ME, report(where=SECRET_WHERE)).case
    cipher = store._cipher

    def broken(document: Any) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(cipher, "encrypt", broken)
    with pytest.raises(CaseStoreError):
        store.record(ME, disclosure(), case.reference)
    monkeypatch.undo()
    assert store.get(case.reference) == case  # risk, timestamps: as before
    assert store.contents(case.reference)["answers"] == {"where": SECRET_WHERE}
    assert store.count() == 1


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_a_database_that_is_down_is_a_case_store_error(kind: str, tmp_path: Path, key: str) -> None:
    if kind == "postgresql":
        url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"  # nothing listens there
    else:
        (tmp_path / "not-a-directory").write_text("x")
        url = f"sqlite:///{tmp_path / 'not-a-directory' / 'cases.db'}"
    store = CaseStore.from_url(url, [key])
    with pytest.raises(CaseStoreError):
        store.record(ME, disclosure())
    store.close()


def test_no_key_no_store() -> None:
    desk = CaseDesk.from_settings(Settings(database_url="sqlite:///:memory:", environment="production"))
    assert desk.store is None and "CASE_ENCRYPTION_KEYS" in (desk.problem or "")
    with pytest.raises(CaseStoreError):
        desk.record(ME, disclosure())
    with pytest.raises(ValueError):
        parse_keys("not-a-key")


# --- events on the Redis stream, and the counselors' notice -----------------------------------------


def test_each_case_and_each_status_change_is_an_event_with_metadata_only(store: CaseStore, stream: str) -> None:
    desk = CaseDesk(store, CaseEvents(REDIS_URL, stream), CounselorNotifier(None, None))
    opened = desk.record(ME, disclosure()).case
    desk.record(ME, report(where=SECRET_WHERE), opened.reference)
    desk.record(ME, CaseUpdate(origin="counselor_request", risk="normal", counselor_requested=True), opened.reference)
    desk.set_status(opened.reference, "with_counselor")
    other = desk.record(SOMEONE_ELSE, report()).case
    events = stream_entries(stream)
    assert [(e["type"], e["reference"]) for e in events] == [
        ("case.opened", opened.reference),
        ("case.updated", opened.reference),
        ("case.escalated", opened.reference),
        ("case.status_changed", opened.reference),
        ("case.opened", other.reference),
    ]
    first = events[0]
    assert set(first) == {
        "type",
        "reference",
        "risk",
        "status",
        "channel",
        "language",
        "audience",
        "waiting_since",
        "at",
    }
    assert (first["risk"], first["status"], first["channel"], first["language"]) == ("urgent", "received", "rest", "ar")
    assert events[3]["previous_status"] == "received" and events[3]["status"] == "with_counselor"
    everything = json.dumps(events)
    for secret in (SECRET_WHERE, SECRET_EXCERPT, ME.sender_id, "blackmail"):
        assert secret not in everything


def test_redis_down_does_not_lose_the_case(store: CaseStore) -> None:
    desk = CaseDesk(store, CaseEvents(f"redis://127.0.0.1:{free_port()}/0", "x"), CounselorNotifier(None, None))
    case = desk.record(ME, disclosure()).case
    assert store.get(case.reference) == case


class FakeTelegram:
    """The Telegram Bot API at the HTTP boundary: records what would have been sent."""

    def __init__(self, status: int = 200):
        self.requests: List[httpx.Request] = []
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json={"ok": self.status == 200, "result": {}})

    @property
    def bodies(self) -> List[Dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def test_the_counselors_group_gets_metadata_only(store: CaseStore, stream: str) -> None:
    telegram = FakeTelegram()
    notifier = CounselorNotifier("123:ABC", "-100777", transport=httpx.MockTransport(telegram))
    desk = CaseDesk(store, CaseEvents(REDIS_URL, stream), notifier)
    urgent = desk.record(ME, disclosure()).case
    desk.record(ME, report(where=SECRET_WHERE), urgent.reference)  # an update: no new notice
    normal = desk.record(SOMEONE_ELSE, CaseUpdate(origin="report", risk="normal", language="en")).case
    desk.wait_for_notices()
    assert [r.url.path for r in telegram.requests] == ["/bot123:ABC/sendMessage"] * 2
    first, second = telegram.bodies
    assert first["chat_id"] == "-100777" and first["disable_notification"] is False
    assert second["disable_notification"] is True  # only urgent cases ring
    assert first["text"] == notice_text("case.opened", urgent)
    for field in (urgent.reference, "urgent", "ar", "rest", urgent.created_at.strftime("%Y-%m-%d %H:%M")):
        assert field in first["text"]
    assert normal.reference in second["text"]
    for secret in (SECRET_WHERE, SECRET_EXCERPT, ME.sender_id, "blackmail", "child"):
        assert secret not in json.dumps(telegram.bodies)


def test_a_failing_telegram_costs_nothing_but_the_notice(store: CaseStore) -> None:
    telegram = FakeTelegram(status=500)
    notifier = CounselorNotifier("123:ABC", "-100777", transport=httpx.MockTransport(telegram))
    case = CaseDesk(store, CaseEvents(None), notifier).record(ME, disclosure()).case
    assert notifier.notify("case.opened", case) is False
    assert store.get(case.reference) is not None

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    assert CounselorNotifier("t", "c", transport=httpx.MockTransport(unreachable)).notify("case.opened", case) is False
    assert not CounselorNotifier(None, "c").enabled


# --- set-up and commands --------------------------------------------------------------------------


def test_make_run_creates_a_development_key_once_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cases.db'}")
    env = prepare_cases(settings, tmp_path)
    key = env["CASE_ENCRYPTION_KEYS"]
    assert parse_keys(key) == [key]
    assert "WARNING" in capsys.readouterr().err
    assert oct((tmp_path / "case.key").stat().st_mode & 0o777) == "0o600"
    assert prepare_cases(settings, tmp_path) == {"CASE_ENCRYPTION_KEYS": key}
    assert "WARNING" not in capsys.readouterr().err  # warned once
    assert dev_key(tmp_path) == (key, False)
    assert "cases" in inspect(create_engine(settings.database_url or "")).get_table_names()  # migrated on start
    assert "development key" in status_lines(settings, tmp_path)[0]


def test_production_never_gets_a_development_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(environment="production", database_url=f"sqlite:///{tmp_path / 'cases.db'}")
    assert prepare_cases(settings, tmp_path) == {}
    assert not (tmp_path / "case.key").exists()
    assert "no report can be stored" in capsys.readouterr().err
    assert "NO KEY" in status_lines(settings, tmp_path)[0]


def test_status_lines_never_show_the_database_password() -> None:
    settings = Settings(database_url="postgresql://amaan:s3cret@db:5432/amaan", case_encryption_keys=generate_key())
    assert "s3cret" not in "\n".join(status_lines(settings))


def test_cli_purge_rotate_and_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stream: str
) -> None:
    from bot.__main__ import main
    from bot.settings import get_settings

    old, new = generate_key(), generate_key()
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CASE_ENCRYPTION_KEYS", old)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("CASES_STREAM", stream)
    get_settings.cache_clear()
    assert main(["migrate"]) == 0
    reference = CaseStore.from_url(url, [old]).record(ME, report(where=SECRET_WHERE)).case.reference

    assert main(["case-status", reference.lower(), "closed"]) == 0
    assert stream_entries(stream)[-1]["type"] == "case.status_changed"
    assert main(["case-status", "AAAA3333", "closed"]) == 1

    assert main(["purge", "--dry-run", "--days", "0"]) == 0
    assert "would delete 1 case(s)" in capsys.readouterr().out
    monkeypatch.setenv("CASE_ENCRYPTION_KEYS", f"{new},{old}")
    get_settings.cache_clear()
    assert main(["rotate-keys"]) == 0
    assert "re-encrypted 1 case(s)" in capsys.readouterr().out
    assert CaseStore.from_url(url, [new]).contents(reference)["answers"]["where"] == SECRET_WHERE

    assert main(["purge"]) == 0  # closed today: within the 90-day retention
    assert "deleted 0 case(s)" in capsys.readouterr().out
    assert main(["purge", "--days", "0"]) == 0
    assert "deleted 1 case(s)" in capsys.readouterr().out

    assert main(["new-key"]) == 0
    assert parse_keys(capsys.readouterr().out.strip())
    get_settings.cache_clear()


# --- the conversation store forgets ---------------------------------------------------------------


async def test_delete_my_data_leaves_only_a_fresh_conversation() -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.cases import FORGET_ACTION
    from bot.cases.conversations import ForgetfulTrackerStore
    from bot.settings import PROJECT_ROOT

    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    store = ForgetfulTrackerStore(domain, retention_days=30, encryption_keys=generate_key())
    said = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("language", "ar"),
        SlotSet("audience", "teen"),
        ActionExecuted("action_listen"),
        UserUttered(SECRET_EXCERPT, {"name": "disclose_harm"}),
        SlotSet("case_reference", "K7P3XM94"),
        ActionExecuted("action_listen"),
    ]
    tracker = DialogueStateTracker.from_events("u1", said, slots=domain.slots)
    await store.save(tracker)
    assert SECRET_EXCERPT in json.dumps((await store.retrieve("u1")).current_state())  # type: ignore[union-attr]

    forgetting = said + [
        UserUttered("yes", {"name": "affirm"}),
        ActionExecuted(FORGET_ACTION),
        BotUttered("Done. I've deleted our conversation."),
        ActionExecuted("action_listen"),
    ]
    await store.save(DialogueStateTracker.from_events("u1", forgetting, slots=domain.slots))
    kept = await store.retrieve_full_tracker("u1")
    assert kept is not None
    dumped = json.dumps([e.as_dict() for e in kept.events])
    assert SECRET_EXCERPT not in dumped and "K7P3XM94" not in dumped and '"yes"' not in dumped
    assert kept.get_slot("language") == "ar" and kept.get_slot("audience") is None
    assert "Done. I've deleted our conversation." in dumped

    await store.save(DialogueStateTracker.from_events("u2", said, slots=domain.slots))
    store._last_seen["u2"] -= 31 * 86400  # idle for longer than the retention
    assert await store.retrieve("u2") is None
    assert "u2" not in await store.keys()


async def test_the_redis_conversation_store_forgets_on_request_and_expires() -> None:
    # Real Redis, database 15 (tests only): Rasa's own Redis store merges a save with what it had,
    # which would bring forgotten words back; ours must not.
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.cases import FORGET_ACTION
    from bot.cases.conversations import ForgetfulRedisTrackerStore
    from bot.settings import PROJECT_ROOT

    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    store = ForgetfulRedisTrackerStore(
        domain,
        host=redis_address()[0],
        port=redis_address()[1],
        db=15,
        retention_days=7,
        key_prefix="amaantest",
        encryption_keys=generate_key(),
    )
    sender = f"u-{uuid.uuid4().hex[:10]}"
    said = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("language", "ar"),
        ActionExecuted("action_listen"),
        UserUttered(SECRET_EXCERPT, {"name": "disclose_harm"}),
        ActionExecuted("action_listen"),
    ]
    try:
        await store.save(DialogueStateTracker.from_events(sender, said, slots=domain.slots))
        raw = redis.Redis.from_url(redis_url(15)).get(store.key_prefix + sender)
        assert raw is not None and SECRET_EXCERPT.encode() not in raw  # sealed (issue 13)
        assert SECRET_EXCERPT in json.dumps([e.as_dict() for e in (await store.retrieve_full_tracker(sender)).events])  # type: ignore[union-attr]
        ttl = redis.Redis.from_url(redis_url(15)).ttl(store.key_prefix + sender)
        assert 7 * 86400 - 60 < ttl <= 7 * 86400  # expires the retention after the last message

        forgetting = said + [ActionExecuted(FORGET_ACTION), BotUttered("Done."), ActionExecuted("action_listen")]
        await store.save(DialogueStateTracker.from_events(sender, forgetting, slots=domain.slots))
        raw = redis.Redis.from_url(redis_url(15)).get(store.key_prefix + sender)
        assert raw is not None and b"Done." not in raw
        kept = await store.retrieve_full_tracker(sender)
        assert kept is not None and kept.get_slot("language") == "ar"
        dumped = json.dumps([e.as_dict() for e in kept.events])
        assert SECRET_EXCERPT not in dumped and "Done." in dumped
        assert store.forget(sender) and await store.retrieve(sender) is None
    finally:
        redis.Redis.from_url(redis_url(15)).delete(store.key_prefix + sender)


def test_with_redis_conversations_are_kept_in_redis(tmp_path: Path) -> None:
    from bot.run import write_runtime_config

    paths = write_runtime_config(
        Settings(redis_url="redis://127.0.0.1:6379/0", conversation_retention_days=3), tmp_path, 5055
    )
    import yaml

    store = yaml.safe_load(paths["endpoints"].read_text())["tracker_store"]
    assert store["type"] == "bot.cases.conversations.ForgetfulRedisTrackerStore"
    assert (store["url"], store["port"], store["retention_days"]) == ("127.0.0.1", 6379, 3)


def test_a_redis_password_reaches_rasa_but_never_the_endpoints_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.utils.endpoints import read_endpoint_config

    from bot.run import redis_password_env, write_runtime_config

    url = "rediss://:s3cr%40t-zq@redis.example:6380/0"
    paths = write_runtime_config(Settings(redis_url=url), tmp_path, 5055)
    assert "s3cr" not in paths["endpoints"].read_text()  # only the variable's name is on disk
    env = redis_password_env(url)
    assert env == {"AMAAN_REDIS_PASSWORD": "s3cr@t-zq"}
    monkeypatch.setenv("AMAAN_REDIS_PASSWORD", env["AMAAN_REDIS_PASSWORD"])
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "t" * 32)  # the file names it too (bot.action_server)
    for section in ("lock_store", "tracker_store"):
        config = read_endpoint_config(str(paths["endpoints"]), section)  # as the Rasa server reads it
        assert config is not None
        assert config.kwargs["password"] == "s3cr@t-zq" and config.kwargs["use_ssl"] is True
        assert config.url == "redis.example" and config.kwargs["port"] == 6380
    assert redis_password_env("redis://127.0.0.1:6379/0") == {}

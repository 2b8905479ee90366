"""Hand-over state in the case database (real SQLite and real PostgreSQL): claim, hold, the
channels' ``holder`` lookup, messages encrypted at rest, hand back, close, reassign, and the
migration that adds it all to a database made before it existed."""

from __future__ import annotations

from typing import Iterator

import pytest
from sqlalchemy import create_engine, inspect, text

from bot.cases import CaseStore, CaseUpdate, Conversation, generate_key
from bot.cases import schema as schema_module
from bot.cases.handover import CaseClosed, Handovers, HeldByAnother

CHILD = Conversation("web", "web-child-1")
OTHER = Conversation("web", "web-other-2")
SECRET = "zq_marker_handover_words"


@pytest.fixture
def store(database_url: str) -> Iterator[CaseStore]:
    s = CaseStore.from_url(database_url, [generate_key()])
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def handovers(store: CaseStore) -> Handovers:
    return Handovers(store)


def open_case(store: CaseStore, conversation: Conversation = CHILD) -> str:
    update = CaseUpdate(origin="counselor_request", risk="high", language="ar", audience="child")
    return store.record(conversation, update).case.reference


def test_claiming_holds_the_conversation_until_handed_back(store: CaseStore, handovers: Handovers) -> None:
    reference = open_case(store)
    open_case(store, OTHER)
    assert handovers.holder(CHILD) is None
    claimed = handovers.claim(reference, "mona")
    assert claimed is not None
    assert (claimed.assignee, claimed.held, claimed.status) == ("mona", True, "with_counselor")
    assert claimed.held_since is not None
    held = handovers.holder(CHILD)
    assert held is not None and held.reference == reference
    assert handovers.holder(OTHER) is None  # another chat is not held
    assert handovers.holder(Conversation("telegram", CHILD.sender_id)) is None  # same id, other channel

    back = handovers.release(reference)
    assert back is not None
    assert (back.held, back.status, back.assignee) == (False, "with_counselor", "mona")
    assert handovers.holder(CHILD) is None


def test_another_counselor_cannot_take_a_claimed_case_but_a_supervisor_can_reassign(
    store: CaseStore, handovers: Handovers
) -> None:
    reference = open_case(store)
    handovers.claim(reference, "mona")
    assert handovers.claim(reference, "mona") is not None  # claiming one's own again is fine
    with pytest.raises(HeldByAnother) as refused:
        handovers.claim(reference, "sami")
    assert refused.value.assignee == "mona"
    moved = handovers.reassign(reference, "sami")
    assert moved is not None and moved.assignee == "sami" and moved.held
    assert handovers.claim("ZZZZZZZZ", "mona") is None


def test_closing_ends_the_hold_with_an_outcome_and_nothing_more_can_be_claimed(
    store: CaseStore, handovers: Handovers
) -> None:
    reference = open_case(store)
    handovers.claim(reference, "mona")
    with pytest.raises(ValueError):
        handovers.release(reference, outcome="made-up")
    assert handovers.holder(CHILD) is not None  # a refused close changed nothing
    closed = handovers.release(reference, outcome="referred_helpline")
    assert closed is not None
    assert (closed.status, closed.outcome, closed.held) == ("closed", "referred_helpline", False)
    assert closed.closed_at is not None
    assert handovers.holder(CHILD) is None
    with pytest.raises(CaseClosed):
        handovers.claim(reference, "mona")
    assert reference not in {case.reference for case in handovers.open_cases()}


def test_messages_are_kept_in_order_encrypted_and_notes_can_be_left_out(
    store: CaseStore, handovers: Handovers, database_url: str
) -> None:
    reference = open_case(store)
    handovers.claim(reference, "mona")
    first = handovers.add_message(reference, "user", f"hello {SECRET}")
    handovers.add_message(reference, "counselor", "I am here with you", counselor="mona")
    handovers.add_message(reference, "note", "private note", counselor="mona")
    with pytest.raises(ValueError):
        handovers.add_message(reference, "robot", "no")
    everything = handovers.messages(reference)
    assert [(m.author, m.text) for m in everything] == [
        ("user", f"hello {SECRET}"),
        ("counselor", "I am here with you"),
        ("note", "private note"),
    ]
    assert [m.author for m in handovers.messages(reference, notes=False)] == ["user", "counselor"]
    assert [m.text for m in handovers.messages(reference, after=first.id)][0] == "I am here with you"
    engine = create_engine(database_url, future=True)
    with engine.connect() as conn:
        raw = b"".join(bytes(row[0]) for row in conn.execute(text("SELECT body FROM case_messages")))
    engine.dispose()
    assert SECRET.encode() not in raw and b"private note" not in raw


def test_purging_a_closed_case_purges_its_messages(store: CaseStore, handovers: Handovers) -> None:
    from datetime import timedelta

    reference = open_case(store)
    handovers.claim(reference, "mona")
    handovers.add_message(reference, "user", "hi")
    handovers.release(reference, outcome="advised")
    assert store.purge_closed(timedelta(days=-1)) == 1
    assert handovers.messages(reference) == []


def test_a_database_made_before_hand_over_is_migrated_and_keeps_its_cases(database_url: str) -> None:
    key = generate_key()
    old = CaseStore.from_url(database_url, [key])
    level_one = [(1, schema_module._migrate_v1)]
    real = schema_module.MIGRATIONS
    schema_module.MIGRATIONS = level_one
    try:
        with old.engine.begin() as conn:  # the level-1 table, as it was
            conn.execute(
                text(
                    "CREATE TABLE cases (id INTEGER PRIMARY KEY, reference VARCHAR(16) NOT NULL UNIQUE,"
                    " risk VARCHAR(16) NOT NULL, status VARCHAR(16) NOT NULL, channel VARCHAR(32) NOT NULL,"
                    " language VARCHAR(8), audience VARCHAR(16), created_at TIMESTAMP NOT NULL,"
                    " updated_at TIMESTAMP NOT NULL, closed_at TIMESTAMP, conversation BYTEA, contents BYTEA NOT NULL)"
                    if conn.dialect.name == "postgresql"
                    else "CREATE TABLE cases (id INTEGER PRIMARY KEY AUTOINCREMENT, reference VARCHAR(16) NOT NULL"
                    " UNIQUE, risk VARCHAR(16) NOT NULL, status VARCHAR(16) NOT NULL, channel VARCHAR(32) NOT NULL,"
                    " language VARCHAR(8), audience VARCHAR(16), created_at DATETIME NOT NULL, updated_at DATETIME"
                    " NOT NULL, closed_at DATETIME, conversation BLOB, contents BLOB NOT NULL)"
                )
            )
            if conn.dialect.name == "postgresql":
                conn.execute(text("CREATE SEQUENCE cases_id_seq OWNED BY cases.id"))
                conn.execute(text("ALTER TABLE cases ALTER COLUMN id SET DEFAULT nextval('cases_id_seq')"))
        assert old.migrate() == 1
    finally:
        schema_module.MIGRATIONS = real
    old.close()
    # A case written at level 1 (the columns of then only).
    cipher_store = CaseStore.from_url(database_url, [key])
    with cipher_store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cases (reference, risk, status, channel, created_at, updated_at, contents, conversation)"
                " VALUES ('OLDCASE2', 'high', 'received', 'web', :now, :now, :contents, :conversation)"
            ),
            {
                "now": "2026-01-01 00:00:00",
                "contents": cipher_store._cipher.encrypt({"answers": {}}),
                "conversation": cipher_store._cipher.encrypt(CHILD.as_dict()),
            },
        )
    assert cipher_store.migrate() == schema_module.SCHEMA_VERSION
    columns = {c["name"] for c in inspect(cipher_store.engine).get_columns("cases")}
    assert {"assignee", "held", "held_since", "outcome"} <= columns
    handovers = Handovers(cipher_store)
    assert handovers.holder(CHILD) is None
    claimed = handovers.claim("OLDCASE2", "mona")
    assert claimed is not None and claimed.held
    assert handovers.holder(CHILD) is not None
    cipher_store.close()

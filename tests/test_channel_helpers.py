"""The pieces the Telegram and WhatsApp channels share: splitting long replies, numbered choices,
de-duplication and state on real Redis (and with Redis down), per-chat ordering, sender hashing
and address encryption, and how ``make run`` switches the channels on."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest
import redis
from cryptography.fernet import Fernet

from bot.run import write_runtime_config
from bot.settings import Settings, get_settings
from channels.dedup import Deduplicator
from channels.identity import AddressBook, SenderIdentity, load_keys
from channels.ordering import ChatSequencer
from channels.outgoing import button_list, match_choice, numbered_choices, split_text, utf16_len
from channels.state import KeyValue, KeyValueOfferedPayloads, open_redis
from channels.telegram import CallbackKeys
from tests.channel_app import CHANNEL_ENV, REDIS_URL

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


# --- splitting ---------------------------------------------------------------------------------------


def test_short_text_is_one_part() -> None:
    assert split_text("  hello  ", 4096) == ["hello"]
    assert split_text("", 10) == []


def test_english_is_cut_after_a_sentence() -> None:
    text = "First sentence here. Second one follows! Third asks a question? Fourth ends it."
    parts = split_text(text, 45)
    assert parts == ["First sentence here. Second one follows!", "Third asks a question? Fourth ends it."]


def test_arabic_is_cut_after_a_sentence_including_the_arabic_question_mark() -> None:
    text = "هل تعرف من يراسلك؟ لا ترسل صورك لأحد. أخبر شخصاً كبيراً تثق به… واحفظ المحادثة."
    parts = split_text(text, 40)
    assert all(len(p) <= 40 for p in parts)
    assert parts[0] == "هل تعرف من يراسلك؟ لا ترسل صورك لأحد."
    assert " ".join(parts) == text


def test_paragraphs_beat_sentences_and_clauses_beat_words() -> None:
    text = "Para one is short.\n\nPara two. It has two sentences."
    assert split_text(text, 40)[0] == "Para one is short."
    clauses = "one two three four five six, seven eight nine ten eleven twelve thirteen"
    assert split_text(clauses, 40)[0] == "one two three four five six,"


def test_without_any_boundary_the_cut_is_hard_but_never_inside_a_letter() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    emoji = "😀" * 30  # two UTF-16 units each, as Telegram and Twilio count
    parts = split_text(emoji, 10)
    assert all(utf16_len(p) <= 10 for p in parts) and "".join(parts) == emoji
    voweled = "كَتَبَ" * 10  # harakat stay with their letter
    assert all(not ("\u064b" <= p[0] <= "\u0652") for p in split_text(voweled, 7))


@pytest.mark.parametrize("limit", [50, 160, 1600, 4096])
def test_no_part_is_over_the_limit_and_nothing_is_lost(limit: int) -> None:
    rng = random.Random(limit)
    words = ["safe", "online", "أمان", "الإنترنت", "report.", "أبلغ؟", "block,", "😀", "\n", "\n\n"]
    text = " ".join(rng.choice(words) for _ in range(3000))
    parts = split_text(text, limit)
    assert all(utf16_len(p) <= limit for p in parts)
    assert " ".join(parts).split() == text.split()


# --- numbered choices --------------------------------------------------------------------------------


CHOICES = [("A child (under 13)", '/tell_audience{"audience":"child"}'), ("أب أو أم أو ولي أمر", "/parent")]


def test_buttons_become_a_numbered_list() -> None:
    rendered = numbered_choices("Who's chatting?", CHOICES, "Reply with a number.")
    assert rendered == "Who's chatting?\n\n1. A child (under 13)\n2. أب أو أم أو ولي أمر\nReply with a number."
    assert numbered_choices("More:", CHOICES[:1], "hint", first=5).startswith("More:\n\n5. ")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("1", CHOICES[0][1]),
        ("١", CHOICES[0][1]),
        ("۲", CHOICES[1][1]),
        (" 2. ", CHOICES[1][1]),
        ("a child (UNDER 13)", CHOICES[0][1]),
        ("أَب أو أم أو وليّ أمر", CHOICES[1][1]),
        ("3", None),
        ("0", None),
        ("I'm a child", None),
        ("", None),
    ],
)
def test_a_reply_maps_back_to_its_button(reply: str, expected: object) -> None:
    assert match_choice(reply, CHOICES) == expected


def test_malformed_buttons_are_skipped() -> None:
    buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": ""}, "junk", {"title": "Plain"}]
    assert button_list(buttons) == [("Yes", "/affirm"), ("Plain", "Plain")]


# --- de-duplication and state, on real Redis ------------------------------------------------------


async def test_dedup_claims_a_key_once_across_processes() -> None:
    key = f"test:{uuid.uuid4().hex}"
    one, two = Deduplicator(open_redis(REDIS_URL)), Deduplicator(open_redis(REDIS_URL))  # two replicas
    assert await one.first_time(key) is True
    assert await two.first_time(key) is False
    assert 0 < redis.Redis.from_url(REDIS_URL).ttl(f"amaan:dedup:{key}") <= 24 * 3600
    await one.redis.close()
    await two.redis.close()


async def test_dedup_fails_open_with_a_log_line_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    dedup = Deduplicator(open_redis(DEAD_REDIS))
    key = f"test:{uuid.uuid4().hex}"
    assert await dedup.first_time(key) is True  # processed anyway
    assert "dedup.redis.unavailable" in caplog.text
    assert await dedup.first_time(key) is False  # though this process still remembers it
    await dedup.redis.close()


async def test_state_falls_back_to_memory_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    state = KeyValue(open_redis(DEAD_REDIS))
    keys = CallbackKeys(state)
    payload = "/inform" + "{" + '"x":"' + "y" * 100 + '"}'
    data = await keys.data_for(payload)
    assert len(data.encode()) <= 64
    assert await keys.payload_for(data) == payload
    assert "state.redis.unavailable" in caplog.text
    await state.close()


async def test_offered_payloads_share_bot_offered_keys() -> None:
    sender = f"test-{uuid.uuid4().hex}"
    state = KeyValue(open_redis(REDIS_URL))
    offered = KeyValueOfferedPayloads(state)
    await offered.remember(sender, ["/a", "/b"])
    assert await offered.current(sender) == {"/a", "/b"}
    assert redis.Redis.from_url(REDIS_URL).exists(f"amaan:offered:{sender}")  # bot.offered's key
    await state.close()


# --- ordering ----------------------------------------------------------------------------------------


async def test_each_chat_runs_in_order_and_chats_run_side_by_side() -> None:
    sequencer = ChatSequencer("test")
    done: List[str] = []

    def work(chat: str, n: int, delay: float):  # type: ignore[no-untyped-def]
        async def run() -> None:
            await asyncio.sleep(delay)
            done.append(f"{chat}{n}")

        return run

    sequencer.submit("a", work("a", 1, 0.05))
    sequencer.submit("a", work("a", 2, 0.0))
    sequencer.submit("b", work("b", 1, 0.0))
    sequencer.submit("a", work("a", 3, 0.0))
    await sequencer.drain()
    assert [d for d in done if d[0] == "a"] == ["a1", "a2", "a3"]
    assert done[0] == "b1"  # b did not wait for a
    assert sequencer.pending == 0


async def test_a_failure_does_not_stop_the_chat(caplog: pytest.LogCaptureFixture) -> None:
    sequencer = ChatSequencer("test")
    done: List[int] = []

    async def fail() -> None:
        raise RuntimeError("whatsapp:+966500000000 is not a valid number")

    async def ok() -> None:
        done.append(1)

    sequencer.submit("a", fail)
    sequencer.submit("a", ok)
    await sequencer.drain()
    assert done == [1]
    assert "test.process.failed error=RuntimeError" in caplog.text
    assert "966500000000" not in "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)


# --- identity ----------------------------------------------------------------------------------------


def test_sender_ids_are_keyed_hashes() -> None:
    one, other = SenderIdentity(b"k" * 32, "wa"), SenderIdentity(b"j" * 32, "wa")
    sender = one.sender_id("whatsapp:+966551234567")
    assert sender == one.sender_id("whatsapp:+966551234567")
    assert sender != other.sender_id("whatsapp:+966551234567")
    assert sender.startswith("wa-") and "966551234567" not in sender and len(sender) == 35


async def test_addresses_are_stored_encrypted_and_keys_rotate() -> None:
    sender = f"wa-{uuid.uuid4().hex}"
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    state = KeyValue(open_redis(REDIS_URL))
    before = load_keys(Settings(sender_id_key="s" * 32, address_encryption_key=old))
    await AddressBook(state, before.address_cipher).remember(sender, "whatsapp:+966551234567")
    raw = redis.Redis.from_url(REDIS_URL).get(f"amaan:addr:{sender}") or b""
    assert raw and b"966551234567" not in raw
    rotated = load_keys(Settings(sender_id_key="s" * 32, address_encryption_key=f"{new},{old}"))
    assert await AddressBook(state, rotated.address_cipher).lookup(sender) == "whatsapp:+966551234567"
    stranger = load_keys(Settings(sender_id_key="s" * 32, address_encryption_key=new))
    assert await AddressBook(state, stranger.address_cipher).lookup(sender) is None
    await state.close()


def test_dev_keys_are_generated_once_and_production_needs_real_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = load_keys(Settings(), run_dir=tmp_path)
    assert "channel.keys.generated_dev_key" in caplog.text
    assert (tmp_path / "sender_id.key").stat().st_mode & 0o077 == 0
    again = load_keys(Settings(), run_dir=tmp_path)
    assert first.sender_id_key == again.sender_id_key
    with pytest.raises(RuntimeError, match="production"):
        load_keys(Settings(environment="production"), run_dir=tmp_path)
    with pytest.raises(RuntimeError, match="ADDRESS_ENCRYPTION_KEY"):
        load_keys(Settings(sender_id_key="s" * 32, address_encryption_key="not-a-key"), run_dir=tmp_path)
    with pytest.raises(RuntimeError, match="SENDER_ID_KEY"):
        load_keys(Settings(sender_id_key="short", address_encryption_key=Fernet.generate_key().decode()))


# --- switching the channels on ---------------------------------------------------------------------


@pytest.fixture
def no_channel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in CHANNEL_ENV:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield


def test_channels_are_on_only_when_their_variables_are_set(
    no_channel_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import yaml

    paths = write_runtime_config(get_settings(), tmp_path, 5055)
    credentials = yaml.safe_load(paths["credentials"].read_text())
    assert "channels.telegram.TelegramInput" not in credentials
    assert "channels.whatsapp.WhatsAppInput" not in credentials

    for name, value in CHANNEL_ENV.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    paths = write_runtime_config(get_settings(), tmp_path, 5055)
    written = paths["credentials"].read_text()
    credentials = yaml.safe_load(written)
    assert credentials["channels.telegram.TelegramInput"] == {}
    assert credentials["channels.whatsapp.WhatsAppInput"] == {}
    assert CHANNEL_ENV["TELEGRAM_BOT_TOKEN"] not in written and CHANNEL_ENV["TWILIO_AUTH_TOKEN"] not in written


def test_settings_never_show_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CHANNEL_ENV.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    shown = repr(get_settings())
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "TWILIO_AUTH_TOKEN",
        "SENDER_ID_KEY",
        "ADDRESS_ENCRYPTION_KEY",
    ):
        assert CHANNEL_ENV[name] not in shown

"""Cleaning user text before Rasa sees it, and the guard against typed intent payloads."""

import pytest

from bot.inbound import prepare_text
from bot.offered import MemoryOfferedPayloads, payloads_in

LIMIT = 2000


@pytest.mark.parametrize("raw", ["", "   ", "\n\t \n", "\x00\x01\x02", "\u202e", None, 42, ["hi"], {"text": "hi"}])
def test_empty_or_not_text_is_refused_as_empty(raw: object) -> None:
    assert prepare_text(raw, LIMIT).problem == "empty"


def test_too_long_is_refused() -> None:
    assert prepare_text("a" * (LIMIT + 1), LIMIT).problem == "too_long"
    assert prepare_text("a" * LIMIT, LIMIT).ok


def test_control_characters_removed_newlines_kept() -> None:
    cleaned = prepare_text("hi\x00 there\x07\r\nsecond\u202eline", LIMIT)
    assert cleaned.text == "hi there\nsecondline"


@pytest.mark.parametrize(
    "typed",
    ["/report_abuse", '/disclose_harm{"danger_kind":"none"}', "  /restart", '/tell_audience{"audience":"parent"}'],
)
def test_typed_payload_becomes_plain_text(typed: str) -> None:
    cleaned = prepare_text(typed, LIMIT)
    assert cleaned.ok
    assert not cleaned.text.startswith("/")


def test_offered_button_payload_passes_unchanged() -> None:
    payload = '/tell_audience{"audience":"parent"}'
    assert prepare_text(payload, LIMIT, offered={payload}).text == payload
    # A different payload than the ones offered is still plain text.
    assert not prepare_text('/tell_audience{"audience":"child"}', LIMIT, offered={payload}).text.startswith("/")


def test_lone_slashes_are_empty() -> None:
    assert prepare_text("///", LIMIT).problem == "empty"


async def test_offered_store_remembers_last_buttons_per_sender() -> None:
    store = MemoryOfferedPayloads()
    replies = [
        {"text": "who?", "buttons": [{"title": "A child", "payload": "/a"}, {"title": "A teen", "payload": "/b"}]}
    ]
    await store.remember("u1", payloads_in(replies))
    assert await store.current("u1") == {"/a", "/b"}
    assert await store.current("u2") == set()
    await store.remember("u1", [])  # a reply without buttons keeps the last ones tappable
    assert await store.current("u1") == {"/a", "/b"}


async def test_offered_store_forgets_after_ttl_and_bounds_senders() -> None:
    store = MemoryOfferedPayloads(max_senders=2, ttl=-1)
    await store.remember("u1", ["/a"])
    assert await store.current("u1") == set()
    bounded = MemoryOfferedPayloads(max_senders=2)
    for sender in ("u1", "u2", "u3"):
        await bounded.remember(sender, ["/a"])
    assert await bounded.current("u1") == set()
    assert await bounded.current("u3") == {"/a"}

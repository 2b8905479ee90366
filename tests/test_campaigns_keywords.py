"""The campaign words the channels read before the NLU (``bot.campaigns.keywords``): what counts
as STOP, START, subscribing or a quiz, in both languages, and what must never be taken for one (a
question, a disclosure, Telegram's /start), since a rewritten message never reaches the danger net."""

from __future__ import annotations

import pytest

from bot.campaigns.keywords import as_payload, campaign_command


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("STOP", "stop"),
        ("stop", "stop"),
        ("Unsubscribe", "stop"),
        ("إيقاف", "stop"),
        ("ايقاف", "stop"),
        ("الغاء الاشتراك", "stop"),
        ("إلغاء الاشتراك", "stop"),
        ("توقف", "stop"),
        ("stop sending me tips", "stop"),
        ("no more tips please", "stop"),
        ("أوقف النصائح", "stop"),
        ("لا ترسل لي نصائح بعد الآن", "stop"),
        ("START", "start"),
        ("ابدأ", "start"),
        ("quiz", "quiz"),
        ("اختبار", "quiz"),
        ("start a quiz", "quiz"),
        ("test my knowledge", "quiz"),
        ("send me a tip every week", "subscribe"),
        ("subscribe me to the tips", "subscribe"),
        ("subscribe", "subscribe"),
        ("اشترك في النصائح", "subscribe"),
        ("أرسل لي نصيحة كل أسبوع", "subscribe"),
    ],
)
def test_campaign_words(text: str, command: str) -> None:
    assert campaign_command(text) == command
    assert as_payload(campaign_command(text)).startswith("/")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "stop, he keeps messaging me",
        "he keeps sending me messages, how do i make him stop",
        "tips to make him stop threatening me",
        "any tips on keeping my son safe on roblox?",
        "I want tips about privacy",
        "I have a quiz tomorrow",
        "ابي نصايح عن التنمر",
        "عندي اختبار بكرة وخايف",
        "قال لي توقف عن الكلام وإلا سينشر صوري",
        "/start",
        "/unsubscribe_tips",
        "",
    ],
)
def test_what_is_never_a_campaign_word(text: str) -> None:
    assert campaign_command(text) is None

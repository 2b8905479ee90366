"""Campaigns in conversation, against the real model and action server: subscribe, STOP and START
in both languages on REST, Telegram and WhatsApp (faked at their HTTP boundary), "delete my data",
STOP in the middle of a report, a quiz on REST and in the web widget, a poll answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
import redis

from bot.campaigns.addresses import WhatsAppAddresses, address_cipher
from bot.campaigns.content import CampaignLibrary
from bot.campaigns.delivery import Deliverer, Rates, poll_sent
from bot.campaigns.quiet import QuietHours
from bot.campaigns.senders import TelegramSender
from bot.campaigns.store import CampaignStore, Segment
from bot.settings import PROJECT_ROOT, get_settings
from tests.campaign_fakes import FakePlatforms
from tests.conftest import Bot, new_sender
from tests.test_telegram import Telegram, telegram  # noqa: F401 - the fixture
from tests.test_web_channel import widget
from tests.test_whatsapp import WhatsApp, whatsapp  # noqa: F401 - the fixture

pytestmark = pytest.mark.server

LIB = CampaignLibrary.load(PROJECT_ROOT / "data")
SERIES = {lang: LIB.series_for("parent") for lang in ("en", "ar")}


def reply(key: str, lang: str, audience: str = "teen") -> str:
    series = LIB.series_for(audience)
    return LIB.reply(key, lang, series=series.title[lang], every=LIB.every(series, lang))


def store_of(bot: Bot) -> CampaignStore:
    assert bot.run_dir is not None
    return CampaignStore.from_url(f"sqlite:///{Path(bot.run_dir) / 'cases.db'}")


@pytest.fixture(autouse=True)
def _same_database(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process channels' keyword check and the action server read the same subscriptions."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{Path(bot.run_dir or '.') / 'cases.db'}")
    get_settings.cache_clear()


def last(bot: Bot, sender: str, text: str) -> str:
    """The last reply's text (the first message of a conversation also gets the introduction)."""
    return str(bot.say(sender, text)[-1].get("text", ""))


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


# --- REST ----------------------------------------------------------------------------------------


def test_subscribe_stop_and_start_in_english(bot: Bot) -> None:
    sender, store = new_sender(), store_of(bot)
    assert last(bot, sender, "send me a tip every week") == reply("subscribed", "en")
    found = store.get(sender)
    assert found is not None and (found.channel, found.language, found.state) == ("rest", "en", "active")
    assert last(bot, sender, "STOP") == reply("stopped", "en")
    assert store.get(sender).state == "stopped"  # type: ignore[union-attr]
    assert "groom" in bot.text(sender, "what is grooming?").lower()  # help goes on
    assert store.get(sender).state == "stopped"  # type: ignore[union-attr] - an ordinary message does not re-subscribe
    assert last(bot, sender, "START") == reply("restarted", "en")
    assert store.get(sender).state == "active"  # type: ignore[union-attr]


def test_subscribe_stop_and_start_in_arabic_with_the_audience(bot: Bot) -> None:
    sender, store = new_sender(), store_of(bot)
    bot.say(sender, "السلام عليكم")
    bot.say(sender, '/tell_audience{"audience":"parent"}')
    assert last(bot, sender, "اشترك في النصائح") == reply("subscribed", "ar", "parent")
    found = store.get(sender)
    assert found is not None and (found.language, found.audience) == ("ar", "parent")
    for word in ("إيقاف", "ايقاف", "الغاء الاشتراك", "توقف"):
        store.start(sender, SERIES["ar"].every)
        assert last(bot, sender, word) == reply("stopped", "ar"), word
    assert last(bot, sender, "ابدأ") == reply("restarted", "ar", "parent")


def test_a_new_users_start_is_an_ordinary_message(bot: Bot) -> None:
    sender = new_sender()
    answer = bot.text(sender, "ابدأ")
    assert answer and reply("restarted", "ar") not in answer and reply("not_subscribed", "ar") not in answer
    assert store_of(bot).get(sender) is None


def test_stop_during_a_report_ends_the_tips_and_the_report_goes_on(bot: Bot) -> None:
    sender, store = new_sender(), store_of(bot)
    bot.say(sender, "subscribe me to the tips")
    question = bot.say(sender, "I want to report something")[-1]["text"]
    answer = bot.text(sender, "STOP")
    assert store.get(sender).state == "stopped"  # type: ignore[union-attr]
    assert bot.tracker(sender)["active_loop"].get("name") == "report_form"
    assert question in answer  # the report asks its question again
    assert bot.say(sender, "skip")  # and the report carries on


def test_delete_my_data_removes_the_subscription(bot: Bot) -> None:
    sender, store = new_sender(), store_of(bot)
    bot.say(sender, "subscribe me to the tips")
    assert store.get(sender) is not None
    bot.say(sender, "delete my data")
    bot.say(sender, "yes")
    assert store.get(sender) is None


def test_a_quiz_on_rest_with_an_explanation_after_each_answer_and_a_score(bot: Bot) -> None:
    sender = new_sender()
    quiz = next(iter(LIB.quizzes.values()))
    messages = bot.say(sender, "quiz")
    for n, question in enumerate(quiz.questions):
        asked = messages[-1]
        assert question["en"]["question"] in asked["text"]
        assert [b["title"] for b in asked["buttons"]] == question["en"]["choices"]
        chosen = asked["buttons"][question["answer"] - 1 if n else 0]["payload"]  # the first one wrong
        messages = bot.say(sender, chosen)
        said = texts(messages)
        assert question["en"]["explanation"] in said
        assert (LIB.reply("quiz_right", "en") in said) == bool(n or question["answer"] == 1)
    assert LIB.reply("quiz_score", "en", score=len(quiz.questions) - 1, count=len(quiz.questions)) in said


def test_a_quiz_in_arabic_starts_with_the_word(bot: Bot) -> None:
    quiz = next(iter(LIB.quizzes.values()))
    assert quiz.questions[0]["ar"]["question"] in bot.text(new_sender(), "اختبار")


async def test_a_quiz_in_the_web_widget(bot: Bot) -> None:
    quiz = next(iter(LIB.quizzes.values()))
    async with widget(bot.base_url) as w:
        await w.session()
        first = await w.say("quiz", lang="en")
        assert quiz.questions[0]["en"]["question"] in texts(first)
        button = first[-1]["buttons"][quiz.questions[0]["answer"] - 1]
        second = await w.say(button["payload"])
        assert LIB.reply("quiz_right", "en") in texts(second)
        assert quiz.questions[1]["en"]["question"] in texts(second)


# --- Telegram and WhatsApp ------------------------------------------------------------------------


async def test_telegram_subscribe_and_stop_in_arabic(telegram: Telegram, bot: Bot) -> None:  # noqa: F811
    user = telegram.user("ar")
    store = store_of(bot)
    assert texts(await user.say("أرسل لي نصيحة كل أسبوع")).endswith(reply("subscribed", "ar"))
    sender = user.sender_id  # tg-<keyed hash of the chat id>, as the connector names the chat
    assert sender != f"tg-{user.chat_id}" and str(user.chat_id) not in sender
    assert store.get(sender).channel == "telegram"  # type: ignore[union-attr]
    assert texts(await user.say("إيقاف")) == reply("stopped", "ar")
    assert store.get(sender).state == "stopped"  # type: ignore[union-attr]


async def test_telegram_subscriber_gets_a_broadcast_at_the_chat_the_connector_kept(
    telegram: Telegram,  # noqa: F811
    bot: Bot,
) -> None:
    """Both ends of the address book: the connector keeps the chat id (encrypted) when the user
    writes; the worker, with the same ADDRESS_ENCRYPTION_KEY, finds it from the hashed sender id."""
    user = telegram.user("en")
    store = store_of(bot)
    assert texts(await user.say("send me a tip every week")).endswith(reply("subscribed", "en"))
    fake = FakePlatforms().start()
    settings = get_settings()
    client = redis.Redis.from_url(settings.redis_url or "")
    sender = TelegramSender("123456:conversation-test", fake.url)
    deliverer = Deliverer(
        store,
        LIB,
        client,
        QuietHours.parse("", settings.campaign_timezone),
        Rates(telegram=200),
        sender,
        None,
        WhatsAppAddresses(client, address_cipher(settings)),
    )
    try:
        bid = store.create_broadcast("msg-back-to-school", Segment("telegram", "en"))
        store.add_deliveries(bid, [user.sender_id])
        broadcast, item = store.broadcast(bid), LIB.item("msg-back-to-school")
        assert broadcast is not None and item is not None
        state, _ = await asyncio.to_thread(deliverer.deliver, broadcast, item, user.sender_id)
        assert state == "sent"
        assert [r.body["text"] for r in fake.to(str(user.chat_id))] == [item.text["en"]]
    finally:
        sender.close()
        client.close()
        fake.stop()


async def test_telegram_poll_answer_counts_only(telegram: Telegram, bot: Bot) -> None:  # noqa: F811
    user = telegram.user("en")
    await user.say("hello")
    poll = LIB.polls["poll-talked-about-safety"]
    r = redis.Redis.from_url(get_settings().redis_url or "")
    r.set(f"amaan:camp:poll:{user.sender_id}", json.dumps({"id": poll.id, "choices": ["yes", "no", "unsure"]}))
    before = store_of(bot).poll_counts(poll.id).get("no", 0)
    assert texts(await user.say("2")) == LIB.reply("poll_thanks", "en")
    assert store_of(bot).poll_counts(poll.id)["no"] == before + 1
    assert r.get(f"amaan:camp:poll:{user.sender_id}") is None  # one answer per poll message


async def test_whatsapp_subscribe_stop_and_counselor_replies_still_go(whatsapp: WhatsApp, bot: Bot) -> None:  # noqa: F811
    user = whatsapp.user()
    store = store_of(bot)
    await user.say("hello")
    assert (await user.say("subscribe")) == [reply("subscribed", "en")]
    assert store.get(user.sender_id).channel == "whatsapp"  # type: ignore[union-attr]
    assert (await user.say("STOP")) == [reply("stopped", "en")]
    assert store.get(user.sender_id).state == "stopped"  # type: ignore[union-attr]
    assert await user.say("what is grooming?")  # still answered
    assert (await user.say("start")) == [reply("restarted", "en")]


async def test_whatsapp_a_number_answers_the_newest_list_poll_or_buttons(whatsapp: WhatsApp, bot: Bot) -> None:  # noqa: F811
    """On WhatsApp buttons are numbered lists too: "2" goes to whichever list the user saw last."""
    user = whatsapp.user()
    first = await user.say("hello")
    assert "3. " in first[-1]  # the audience list: before the poll, "2" would have meant a teen
    poll = LIB.polls["poll-talked-about-safety"]
    r = redis.Redis.from_url(get_settings().redis_url or "")
    poll_sent(r, user.sender_id, poll)  # what the worker does once the poll has gone out
    store = store_of(bot)
    before = store.poll_counts(poll.id).get("no", 0)
    assert await user.say("2") == [LIB.reply("poll_thanks", "en")]
    assert store.poll_counts(poll.id)["no"] == before + 1

    poll_sent(r, user.sender_id, poll)  # another poll, then the user starts a quiz: its list is newer
    quiz = next(iter(LIB.quizzes.values()))
    assert quiz.questions[0]["en"]["question"] in "\n".join(await user.say("quiz"))
    answered = "\n".join(await user.say("2"))
    assert LIB.reply("quiz_right", "en") in answered or quiz.questions[0]["en"]["explanation"] in answered
    assert store.poll_counts(poll.id)["no"] == before + 1  # not taken for the poll
    store.close()

"""The Telegram channel against the real model, action server, Rasa app and Redis; Telegram itself is
an offline ``BaseRequest`` that records what the bot sent. Updates are in Telegram's own shapes."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from bot.__main__ import TELEGRAM_ALLOWED_UPDATES, telegram_set_webhook
from bot.content import ContentLibrary
from bot.settings import PROJECT_ROOT, get_settings
from channels.outgoing import utf16_len
from channels.telegram import ALLOWED_UPDATES, TelegramInput
from tests.channel_app import (
    CHANNEL_ENV,
    REDIS_URL,
    TELEGRAM_API,
    TELEGRAM_SECRET,
    RecordingTelegram,
    Served,
    TelegramUser,
    serve,
    slot,
    telegram_sender,
    user_texts,
)

pytestmark = pytest.mark.server

LIB = ContentLibrary.load(PROJECT_ROOT / "data")


@dataclass
class Telegram:
    served: Served
    channel: TelegramInput
    recorder: RecordingTelegram
    agent: Any
    db: Any

    def user(self, language_code: str = "en") -> TelegramUser:
        return TelegramUser(self.served, self.channel, self.recorder, language_code)


@pytest.fixture
async def telegram(channel_env: None, agent: Any) -> Any:
    recorder = RecordingTelegram()
    channel = TelegramInput(request=recorder)
    async with serve(agent[0], [channel]) as served:
        yield Telegram(served, channel, recorder, agent[0], agent[1])


def texts(messages: list) -> str:
    return "\n".join(m["text"] for m in messages)


# --- whole conversations --------------------------------------------------------------------------


async def test_conversation_in_english_with_buttons(telegram: Telegram, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    user = telegram.user("en")
    first = await user.say("/start")
    assert "an automated assistant, not a person" in first[0]["text"]
    assert telegram.recorder.endpoints().index("sendChatAction") < telegram.recorder.endpoints().index("sendMessage")
    _, buttons = user.last_keyboard()
    assert [b["text"] for b in buttons] == [
        LIB.message(f"button_{a}", "en") for a in ("child", "teen", "parent", "educator")
    ]

    before = len(telegram.recorder.calls)
    await user.tap(LIB.message("button_parent", "en"))
    answered = [p for e, p, _ in telegram.recorder.calls[before:] if e == "answerCallbackQuery"]
    assert len(answered) == 1 and answered[0]["callback_query_id"]
    assert await slot(telegram.agent, user.sender_id, "audience") == "parent"

    advice = await user.say("my son plays online games with strangers, is that safe?")
    assert advice[0]["text"] == LIB.advice("gaming", "parent", "en")
    assert await slot(telegram.agent, user.sender_id, "language") == "en"

    # Message text stays out of the logs above debug level.
    loud = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "strangers" not in loud and TELEGRAM_SECRET not in caplog.text


async def test_conversation_in_arabic_with_buttons(telegram: Telegram) -> None:
    user = telegram.user("ar")
    first = await user.say("/start")
    assert "مساعد آلي ولست شخصاً" in first[0]["text"]
    await user.tap(LIB.message("button_teen", "ar"))
    assert await slot(telegram.agent, user.sender_id, "audience") == "teen"
    advice = await user.say("وش اسوي مع الابتزاز الالكتروني")
    assert advice[0]["text"] == LIB.advice("sextortion", "teen", "ar")
    assert await slot(telegram.agent, user.sender_id, "language") == "ar"


async def test_typed_payload_is_plain_text_unless_offered(telegram: Telegram) -> None:
    user = telegram.user("en")
    await user.say('/tell_audience{"audience":"educator"}')
    assert all(not t.startswith("/") for t in await user_texts(telegram.agent, user.sender_id))


# --- authentication ---------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", TELEGRAM_SECRET + "x", TELEGRAM_SECRET.upper()])
async def test_missing_or_wrong_secret_is_rejected(telegram: Telegram, secret: Any) -> None:
    user = telegram.user()
    reply = await user.post(user.message_update("hello"), secret=secret)
    assert reply.status_code == 403
    await telegram.channel.idle()
    assert telegram.recorder.sent(user.chat_id) == []
    assert await user_texts(telegram.agent, user.sender_id) == []


# --- delivery ------------------------------------------------------------------------------------


async def test_duplicate_delivery_is_answered_once(telegram: Telegram) -> None:
    user = telegram.user()
    update = user.message_update("hello")
    first = await user.send(update)
    again = await user.send(update)  # Telegram retrying the same update_id
    assert first and again == []
    assert await user_texts(telegram.agent, user.sender_id) == ["hello"]
    assert redis.Redis.from_url(REDIS_URL).exists(f"amaan:dedup:tg:upd:123456789:{update['update_id']}")


async def test_quick_messages_keep_their_order(telegram: Telegram) -> None:
    user = telegram.user()
    sent = ["hello", "I'm a mum", "is roblox safe?", "thanks"]
    for text in sent:  # each webhook answers at once; processing happens after
        assert (await user.post(user.message_update(text))).status_code == 200
    await telegram.channel.idle()
    assert await user_texts(telegram.agent, user.sender_id) == sent


async def test_flood_limit_is_waited_out(telegram: Telegram) -> None:
    user = telegram.user()
    telegram.recorder.flood_next = 1
    started = time.monotonic()
    replies = await user.say("hello")
    assert time.monotonic() - started >= 1.0
    attempts = [m["text"] for m in replies]  # every sendMessage call, the refused one included
    assert "an automated assistant" in attempts[0] and attempts[1] == attempts[0]
    assert len(attempts) == len(set(attempts)) + 1


async def test_replies_over_4096_characters_are_split_on_sentences(telegram: Telegram) -> None:
    user = telegram.user()
    await user.say("hello")
    sentences = [f"Sentence number {i} is about staying safe online. " for i in range(60)]
    sentences += [f"هذه الجملة رقم {i} عن الأمان على الإنترنت؟ " for i in range(60)]
    long_text = "".join(sentences) * 2
    output = telegram.channel.get_output_channel()
    assert output is not None
    before = len(telegram.recorder.sent(user.chat_id))
    await output.send_text_message(user.sender_id, long_text)
    parts = [m["text"] for m in telegram.recorder.sent(user.chat_id)[before:]]
    assert len(parts) >= 3
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert all(p.endswith((".", "؟")) for p in parts)
    assert " ".join(parts).split() == long_text.split()


# --- media, groups, and what is ignored --------------------------------------------------------------


MEDIA = {
    "photo": [{"file_id": "AgACAgQAAxkBAAI", "file_unique_id": "AQADq7", "width": 90, "height": 67, "file_size": 1500}],
    "video": {"file_id": "BAACAgQ", "file_unique_id": "AgADX", "width": 320, "height": 240, "duration": 3},
    "document": {
        "file_id": "BQACAgQ",
        "file_unique_id": "AgADY",
        "file_name": "chat.pdf",
        "mime_type": "application/pdf",
    },
    "sticker": {
        "file_id": "CAACAgI",
        "file_unique_id": "AgADZ",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    },
    "voice": {"file_id": "AwACAgQ", "file_unique_id": "AgADa", "duration": 2, "mime_type": "audio/ogg"},
}


@pytest.mark.parametrize("kind", sorted(MEDIA))
async def test_media_is_refused_and_never_downloaded(telegram: Telegram, kind: str) -> None:
    user = telegram.user("en")
    replies = await user.send(user.message_update(None, **{kind: MEDIA[kind]}))
    assert [r["text"] for r in replies] == [LIB.message("media_policy", "ar")]  # no words yet: default language
    assert "getFile" not in telegram.recorder.endpoints()
    assert not any("/file/bot" in url for _, _, url in telegram.recorder.calls)
    assert await user_texts(telegram.agent, user.sender_id) == []


async def test_a_caption_is_still_read_after_the_media_policy(telegram: Telegram) -> None:
    user = telegram.user("en")
    replies = await user.send(user.message_update(None, photo=MEDIA["photo"], caption="someone is blackmailing me"))
    assert replies[0]["text"] == LIB.message("media_policy", "en")
    assert "911" in texts(replies[1:])
    assert "getFile" not in telegram.recorder.endpoints()


async def test_edited_messages_are_ignored(telegram: Telegram) -> None:
    user = telegram.user()
    update = user.message_update("hello")
    edited = {"update_id": update["update_id"], "edited_message": {**update["message"], "edit_date": int(time.time())}}
    assert await user.send(edited) == []
    assert await user_texts(telegram.agent, user.sender_id) == []


async def test_group_chats_get_one_line_pointing_to_a_private_chat(telegram: Telegram) -> None:
    user = telegram.user()
    group = {"id": -(10**12) - user.chat_id, "title": "Class 6B", "type": "supergroup"}
    for text in ("hi bot", "@amaan_test_bot what is grooming"):
        update = user.message_update(text, chat=group)
        assert (await user.post(update)).status_code == 200
    await telegram.channel.idle()
    to_group = [p["text"] for e, p, _ in telegram.recorder.calls if e == "sendMessage" and p["chat_id"] == group["id"]]
    assert to_group == [LIB.message("private_chat_only", "en")]
    assert await user_texts(telegram.agent, telegram_sender(group["id"])) == []


# --- buttons ---------------------------------------------------------------------------------------


async def test_long_button_payloads_travel_as_short_keys(telegram: Telegram) -> None:
    user = telegram.user("en")
    await user.say("hello")
    long_payload = '/tell_audience{"audience":"parent","campaign":"' + "x" * 80 + '"}'
    output = telegram.channel.get_output_channel()
    assert output is not None
    await output.send_text_with_buttons(
        user.sender_id, "Who's chatting?", [{"title": "Parent", "payload": long_payload}]
    )
    _, buttons = user.last_keyboard()
    data = buttons[0]["callback_data"]
    assert len(data.encode()) <= 64 and data.startswith("k:")
    assert redis.Redis.from_url(REDIS_URL).get(f"amaan:tg:cb:{data[2:]}") == long_payload.encode()
    await user.tap("Parent")
    assert await slot(telegram.agent, user.sender_id, "audience") == "parent"


async def test_an_old_button_is_read_by_its_words(telegram: Telegram) -> None:
    user = telegram.user("en")
    await user.say("I'm a mum")
    old_tap = user.callback_update("Cyberbullying")  # a topic button from this first answer
    await user.say("what is sextortion?")  # the advice offers other buttons; that one is no longer offered
    await user.send(old_tap)
    assert (await user_texts(telegram.agent, user.sender_id))[-1] == "Cyberbullying"  # its words, not "/ask_..."
    assert await slot(telegram.agent, user.sender_id, "topic") == "cyberbullying"


# --- pushes ------------------------------------------------------------------------------------------


async def test_rasa_can_push_to_a_user_who_is_not_writing(telegram: Telegram) -> None:
    user = telegram.user("en")
    await user.say("hello")
    before = len(telegram.recorder.sent(user.chat_id))
    reply = await telegram.served.trigger_intent(user.sender_id, "request_human")
    assert reply.status_code == 200, reply.text
    pushed = telegram.recorder.sent(user.chat_id)[before:]
    assert pushed and "116111" in texts(pushed)


# --- bad requests ------------------------------------------------------------------------------------


async def test_bad_payloads_get_4xx_never_500(telegram: Telegram) -> None:
    user = telegram.user()
    json_headers = {"Content-Type": "application/json"}
    cases = [
        (dict(content=b"{not json", headers=json_headers), 400),
        (dict(content=b"[1, 2]", headers=json_headers), 400),
        (dict(content=b'{"message": {}}', headers=json_headers), 400),
        (dict(content=b'{"update_id": "7"}', headers=json_headers), 400),
        (dict(content=b"\xff\xfe", headers=json_headers), 400),
        (dict(content=b'{"update_id": 7}', headers={"Content-Type": "text/plain"}), 415),
        (dict(content=b'{"update_id": 7, "x": "' + b"a" * 300_000 + b'"}', headers=json_headers), 413),
    ]
    for kwargs, status in cases:
        reply = await user.post(None, **kwargs)
        assert reply.status_code == status, (kwargs["content"][:30], reply.text)


async def test_unknown_and_malformed_updates_are_acknowledged_and_ignored(telegram: Telegram) -> None:
    user = telegram.user()
    updates = [
        {"update_id": TelegramUser.next_update_id()},
        {"update_id": TelegramUser.next_update_id(), "my_chat_member": {"chat": user.chat()}},
        {"update_id": TelegramUser.next_update_id(), "poll": {"id": "1"}},
        {"update_id": TelegramUser.next_update_id(), "message": {"chat": user.chat(), "text": "no date"}},
        {"update_id": TelegramUser.next_update_id(), "message": "not an object"},
    ]
    for update in updates:
        reply = await user.post(update)
        assert reply.status_code == 200, update
    await telegram.channel.idle()
    assert telegram.recorder.sent(user.chat_id) == []


# --- operations --------------------------------------------------------------------------------------


async def test_the_bot_is_made_at_start_with_the_configured_api_and_shut_at_stop(channel_env: None, agent: Any) -> None:
    recorder = RecordingTelegram()
    channel = TelegramInput(request=recorder)
    assert channel.get_output_channel() is None
    async with serve(agent[0], [channel]):
        assert channel.get_output_channel() is not None
        assert recorder.calls[0][2] == f"{TELEGRAM_API}/bot{CHANNEL_ENV['TELEGRAM_BOT_TOKEN']}/getMe"
        assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING  # it would log the token
    assert channel.get_output_channel() is None


def test_set_webhook_registers_the_secret(channel_env: None, capsys: pytest.CaptureFixture) -> None:
    recorder = RecordingTelegram()
    assert telegram_set_webhook("https://amaan.example.org/webhooks/telegram/webhook", request=recorder) == 0
    (params,) = [p for e, p, _ in recorder.calls if e == "setWebhook"]
    assert params["url"] == "https://amaan.example.org/webhooks/telegram/webhook"
    assert params["secret_token"] == TELEGRAM_SECRET
    assert params["allowed_updates"] == list(ALLOWED_UPDATES) == TELEGRAM_ALLOWED_UPDATES
    assert "Webhook set" in capsys.readouterr().out
    assert telegram_set_webhook(None, request=recorder) == 0  # PUBLIC_BASE_URL + the path
    assert recorder.calls[-2][1]["url"] == "https://amaan.example.org/webhooks/telegram/webhook"
    assert telegram_set_webhook("http://insecure.example.org/hook", request=recorder) == 2


def test_telegram_needs_its_token_and_a_valid_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="TELEGRAM_BOT_TOKEN"):
        TelegramInput()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:x")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "has spaces")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        TelegramInput()

"""The WhatsApp channel against the real model, action server, Rasa app and Redis; Twilio itself is a
recording subclass of the SDK's async HTTP client. Inbound requests are Twilio's real form fields,
signed with the SDK's own ``RequestValidator`` against ``PUBLIC_BASE_URL``."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any, List

import pytest
import redis

from bot.campaigns.content import CampaignLibrary
from bot.content import ContentLibrary
from bot.settings import PROJECT_ROOT, get_settings
from channels.outgoing import utf16_len
from channels.whatsapp import WhatsAppInput
from tests.channel_app import (
    CHANNEL_ENV,
    PUBLIC_BASE_URL,
    REDIS_URL,
    TWILIO_API,
    TWILIO_FROM,
    TWILIO_SID,
    RecordingTwilioHttp,
    Served,
    WhatsAppUser,
    serve,
    slot,
    tracker_store_dump,
    user_texts,
)
from tests.conftest import LOG_DIR

pytestmark = pytest.mark.server

LIB = ContentLibrary.load(PROJECT_ROOT / "data")
CAMPAIGNS = CampaignLibrary.load(PROJECT_ROOT / "data")
AUDIENCE_TITLES = {
    lang: [LIB.message(f"button_{a}", lang) for a in ("child", "teen", "parent", "educator")] for lang in ("en", "ar")
}


@dataclass
class WhatsApp:
    served: Served
    channel: WhatsAppInput
    http: RecordingTwilioHttp
    agent: Any
    db: Any

    def user(self) -> WhatsAppUser:
        return WhatsAppUser(self.served, self.channel, self.http)


@pytest.fixture
async def whatsapp(channel_env: None, agent: Any) -> Any:
    made: List[RecordingTwilioHttp] = []

    def http_client() -> RecordingTwilioHttp:
        made.append(RecordingTwilioHttp())
        return made[-1]

    channel = WhatsAppInput(http_client=http_client)
    assert made == []  # nothing is opened before the server starts
    async with serve(agent[0], [channel]) as served:
        yield WhatsApp(served, channel, made[0], agent[0], agent[1])
    assert made[0].closed


# --- whole conversations --------------------------------------------------------------------------


async def test_conversation_in_english_with_numbered_buttons(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    first = await user.say("hello")
    assert "an automated assistant, not a person" in first[0]
    listing = first[-1]
    for number, title in enumerate(AUDIENCE_TITLES["en"], start=1):
        assert f"{number}. {title}" in listing
    assert listing.endswith(LIB.message("reply_with_number", "en"))

    await user.say("3")
    assert await slot(whatsapp.agent, user.sender_id, "audience") == "parent"
    advice = await user.say("my son plays online games with strangers, is that safe?")
    assert advice[0].startswith(LIB.advice("gaming", "parent", "en"))


async def test_conversation_in_arabic_with_numbered_buttons(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    first = await user.say("مرحبا")
    assert "مساعد آلي ولست شخصاً" in first[0]
    assert f"2. {AUDIENCE_TITLES['ar'][1]}" in first[-1]
    assert first[-1].endswith(LIB.message("reply_with_number", "ar"))

    await user.say("٢")  # Arabic-Indic digit
    assert await slot(whatsapp.agent, user.sender_id, "audience") == "teen"
    advice = await user.say("وش اسوي مع الابتزاز الالكتروني")
    assert advice[0].startswith(LIB.advice("sextortion", "teen", "ar"))


async def test_a_button_can_be_chosen_by_its_words(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    await user.say("السلام عليكم")
    await user.say(AUDIENCE_TITLES["ar"][3])
    assert (await user_texts(whatsapp.agent, user.sender_id))[-1] == '/tell_audience{"audience":"educator"}'
    assert await slot(whatsapp.agent, user.sender_id, "audience") == "educator"


async def test_typed_payload_is_plain_text_unless_offered(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    await user.say('/tell_audience{"audience":"educator"}')
    assert all(not t.startswith("/") for t in await user_texts(whatsapp.agent, user.sender_id))


# --- phone numbers -----------------------------------------------------------------------------------


async def test_no_phone_number_in_the_tracker_store_redis_or_logs(
    whatsapp: WhatsApp, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = whatsapp.user()
    await user.say("hello")
    await user.say("someone is blackmailing me")
    await user.send(
        user.form("", NumMedia="1", MediaUrl0="https://api.twilio.com/x/Media/ME1", MediaContentType0="image/jpeg")
    )
    await user.say("STOP")

    assert user.sender_id.startswith("wa-") and len(user.sender_id) == 35
    digits = user.number[1:]
    needles = [user.number, digits, digits[-9:], "Sara Test"]  # with and without +, the local part, ProfileName

    stored = tracker_store_dump(whatsapp.db)
    assert user.sender_id in stored and "blackmailing" in stored  # we are reading the right store
    assert not [n for n in needles if n in stored]

    r = redis.Redis.from_url(REDIS_URL)
    keys = [k for k in r.scan_iter("amaan:*") if user.sender_id.encode() in k]
    assert keys, "the encrypted address and the offered buttons are kept in Redis"
    for key in keys:
        value = r.get(key) or b""
        assert not [n for n in needles if n.encode() in value]

    assert not [n for n in needles if n in caplog.text]
    printed = "".join(capfd.readouterr())  # Rasa's own structlog lines go to stdout
    assert not [n for n in needles if n in printed]
    action_server_log = (LOG_DIR / "servers.log").read_text(errors="replace")  # what the actions saw
    assert not [n for n in needles if n in action_server_log]
    loud = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "blackmailing" not in loud


async def test_rasa_can_push_to_a_user_who_is_not_writing(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    await user.say("hello")
    before = len(whatsapp.http.requests)
    reply = await whatsapp.served.trigger_intent(user.sender_id, "request_human")
    assert reply.status_code == 200, reply.text
    pushed = whatsapp.http.requests[before:]
    assert pushed and all(r["data"]["To"] == user.address for r in pushed)  # decrypted from the address book
    assert "116111" in "\n".join(r["data"]["Body"] for r in pushed)


# --- authentication ---------------------------------------------------------------------------------


async def test_bad_or_missing_signature_is_rejected(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    form = user.form("hello")
    attempts = [
        dict(sign=False),
        dict(headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}),
        dict(token="another-accounts-token"),
        dict(signed_url=f"{whatsapp.served.url}/webhooks/whatsapp/webhook"),  # the URL the server sees
        dict(signed_url=f"{PUBLIC_BASE_URL}/webhooks/whatsapp/webhook?extra=1"),
    ]
    for kwargs in attempts:
        reply = await user.post(form, **kwargs)
        assert reply.status_code == 403, kwargs
    proper = await user.post(form)
    assert proper.status_code == 200  # the same form, properly signed, passes
    await whatsapp.channel.idle()
    assert len(await user_texts(whatsapp.agent, user.sender_id)) == 1


async def test_another_account_is_rejected(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    reply = await user.post(user.form("hello", AccountSid="AC" + "1" * 32))
    assert reply.status_code == 403


async def test_signed_status_callbacks_are_accepted(whatsapp: WhatsApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    user = whatsapp.user()
    await user.say("hello")
    assert whatsapp.http.requests[-1]["data"]["StatusCallback"] == f"{PUBLIC_BASE_URL}/webhooks/whatsapp/status"
    status = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "MessageStatus": "undelivered",
        "ErrorCode": "63016",
        "AccountSid": TWILIO_SID,
        "From": TWILIO_FROM,
        "To": user.address,
        "ApiVersion": "2010-04-01",
        "ChannelToAddress": user.number,
    }
    path = "/webhooks/whatsapp/status"
    assert (await user.post(status, path=path)).status_code == 200
    assert (await user.post(status, path=path, sign=False)).status_code == 403
    missing = {k: v for k, v in status.items() if k != "MessageStatus"}
    assert (await user.post(missing, path=path)).status_code == 400
    assert "error_code=63016" in caplog.text and user.number[1:] not in caplog.text


# --- delivery ------------------------------------------------------------------------------------


async def test_duplicate_delivery_is_answered_once(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    form = user.form("hello")
    token = {
        "I-Twilio-Idempotency-Token": str(uuid.uuid4())
    }  # the same on Twilio's retry (the signed MessageSid decides)
    first = await user.send(form, headers=token)
    again = await user.send(form, headers=token)
    assert first and again == []
    # Without the header, the MessageSid decides.
    other = user.form("thanks")
    await user.send(other, headers={"I-Twilio-Idempotency-Token": ""})
    assert await user.send(other, headers={"I-Twilio-Idempotency-Token": ""}) == []
    assert await user_texts(whatsapp.agent, user.sender_id) == ["hello", "thanks"]


async def test_quick_messages_keep_their_order(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    sent = ["hello", "I'm a mum", "is roblox safe?", "thanks"]
    for text in sent:  # the webhook answers at once; processing happens after
        assert (await user.post(user.form(text))).status_code == 200
    await whatsapp.channel.idle()
    assert await user_texts(whatsapp.agent, user.sender_id) == sent


async def test_media_is_refused_and_never_fetched(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    await user.say("hello")
    media_url = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages/MM{'b' * 32}/Media/ME{'c' * 32}"
    form = user.form("", NumMedia="1", MessageType="image", MediaUrl0=media_url, MediaContentType0="image/jpeg")
    replies = await user.send(form)
    assert replies == [LIB.message("media_policy", "en")]
    assert all(r["method"] == "POST" and r["url"].endswith("/Messages.json") for r in whatsapp.http.requests)
    assert media_url not in tracker_store_dump(whatsapp.db)
    assert await user_texts(whatsapp.agent, user.sender_id) == ["hello"]


async def test_a_caption_is_still_read_after_the_media_policy(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    form = user.form(
        "someone is blackmailing me",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/m/ME1",
        MediaContentType0="image/png",
    )
    replies = await user.send(form)
    assert replies[0] == LIB.message("media_policy", "en")
    assert "911" in "\n".join(replies[1:])


async def test_replies_over_1600_characters_are_split_on_sentences(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    await user.say("hello")
    long_text = "".join(f"هذه الجملة رقم {i} عن الأمان على الإنترنت. Sentence {i} is in English! " for i in range(60))
    output = whatsapp.channel.get_output_channel()
    assert output is not None
    before = len(whatsapp.http.messages_to(user.address))
    await output.send_text_message(user.sender_id, long_text)
    parts = whatsapp.http.messages_to(user.address)[before:]
    assert len(parts) >= 3
    assert all(utf16_len(p) <= 1600 for p in parts)
    assert all(p.endswith(("!", ".")) for p in parts)
    assert " ".join(parts).split() == long_text.split()


async def test_rate_limited_sends_are_retried(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    whatsapp.http.fail_next = [429]
    replies = await user.say("hello")
    assert "an automated assistant" in replies[0] and replies[0] == replies[1]  # refused once, then sent


async def test_replies_go_to_the_configured_api(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    await user.say("hello")
    assert {r["url"] for r in whatsapp.http.requests} == {
        f"{TWILIO_API}/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    }
    assert all(r["data"]["From"] == TWILIO_FROM for r in whatsapp.http.requests)


# --- STOP and START ----------------------------------------------------------------------------------


async def test_stop_and_start(whatsapp: WhatsApp) -> None:
    """STOP ends campaign messages only (docs/CAMPAIGNS.md): a counselor's messages still arrive."""
    user = whatsapp.user()
    await user.say("hello")
    assert await user.say("STOP") == [CAMPAIGNS.reply("not_subscribed", "en")]
    assert (await user_texts(whatsapp.agent, user.sender_id))[-1] == "/unsubscribe_tips"
    before = len(whatsapp.http.messages_to(user.address))
    assert (await whatsapp.served.trigger_intent(user.sender_id, "request_human")).status_code == 200
    assert len(whatsapp.http.messages_to(user.address)) > before  # pushed after STOP
    assert await user.say("what is grooming?")  # and the user's own messages are answered
    assert await user.say("start")  # nobody stopped: an ordinary message
    assert (await user_texts(whatsapp.agent, user.sender_id))[-1] == "start"


async def test_stop_in_arabic(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    assert (await user.say("إيقاف"))[-1] == CAMPAIGNS.reply("not_subscribed", "ar")
    assert await user_texts(whatsapp.agent, user.sender_id) == ["/unsubscribe_tips"]


# --- bad requests ------------------------------------------------------------------------------------


async def test_bad_payloads_get_4xx_never_500(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    url = f"{whatsapp.served.url}/webhooks/whatsapp/webhook"
    client = whatsapp.served.client
    assert (await client.post(url, json={"From": user.address, "Body": "hi"})).status_code == 415
    big = user.form("x" * 70_000)
    assert (await user.post(big)).status_code == 413
    missing = {k: v for k, v in user.form("hi").items() if k != "From"}
    assert (await user.post(missing)).status_code == 400
    no_sid = {k: v for k, v in user.form("hi").items() if k != "MessageSid"}
    assert (await user.post(no_sid)).status_code == 400
    binary = await client.post(
        url, content=b"\xff\xfe\xfd", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert binary.status_code == 400
    sms = user.form("hi", From="+15005550006")  # an SMS to the same number: acknowledged, ignored
    assert (await user.post(sms)).status_code == 200
    await whatsapp.channel.idle()
    assert whatsapp.http.requests == []


async def test_oversize_and_empty_messages_get_a_polite_reply(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    await user.say("hello")
    assert await user.say("a" * 1500 + " " + "b" * 1000) == [LIB.message("too_long", "en")]
    assert await user.say("   ") == [LIB.message("empty_message", "en")]


# --- operations --------------------------------------------------------------------------------------


def test_whatsapp_needs_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CHANNEL_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PUBLIC_BASE_URL")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
        WhatsAppInput()
    monkeypatch.setenv("PUBLIC_BASE_URL", PUBLIC_BASE_URL)
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "+14155238886")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="TWILIO_WHATSAPP_FROM"):
        WhatsAppInput()

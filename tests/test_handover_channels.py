"""The counselor hand-over on the Rasa server: the gate in every connector, delivery to the user's
own channel, and honest answers about who can talk now.

Two set-ups, both real: the ``bot`` session fixture (``rasa run`` and the action server as ``make
run`` starts them, its cases in ``.run/cases.db``) spoken to over REST; and a Rasa app served in
this process (``tests.channel_app.serve``) with every connector at once, the trained model, the
running action server, Redis, and a case database of the test's own (SQLite and PostgreSQL).
Telegram and Twilio are faked only at their HTTP boundary, with the libraries' own hooks.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Tuple

import httpx
import pytest
import requests
from sqlalchemy import text as sql

from bot.cases import CaseStore, CaseUpdate, Conversation, generate_key
from bot.cases.availability import CounselorHours, Presence
from bot.cases.crypto import CaseCipher
from bot.cases.desk import case_keys, database_url
from bot.cases.handover import Handovers
from bot.cases.store import engine_for
from bot.cases.triage import URGENT_KINDS
from bot.content import ContentLibrary
from bot.settings import PROJECT_ROOT, Settings, get_settings, handover_token
from channels.gate import close_stores
from channels.handover import HandoverInput
from channels.rest import RestInput
from channels.telegram import TelegramInput
from channels.web import WebInput
from channels.whatsapp import WhatsAppInput
from tests.channel_app import (
    CHANNEL_ENV,
    RecordingTelegram,
    RecordingTwilioHttp,
    Served,
    TelegramUser,
    WhatsAppUser,
    free_port,
    serve,
    user_texts,
)
from tests.conftest import API_TOKEN, Bot, new_sender
from tests.test_web_channel import widget

pytestmark = pytest.mark.server

LIB = ContentLibrary.load(PROJECT_ROOT / "data")
HOURS = CounselorHours.parse(Settings.counselor_hours, Settings.counselor_timezone)
TOKEN = "handover-test-" + uuid.uuid4().hex


def open_case(store: CaseStore, conversation: Conversation, language: str = "en", audience: str = "teen") -> str:
    update = CaseUpdate(
        origin="counselor_request", risk="high", language=language, audience=audience, counselor_requested=True
    )
    return store.record(conversation, update).case.reference


def held_case(store: CaseStore, conversation: Conversation, language: str = "en", audience: str = "teen") -> str:
    reference = open_case(store, conversation, language, audience)
    assert Handovers(store).claim(reference, "mona") is not None
    return reference


def case_texts(store: CaseStore, reference: str) -> List[Tuple[str, str]]:
    return [(m.author, m.text) for m in Handovers(store).messages(reference)]


# --- the servers `make run` starts, over REST -----------------------------------------------------


@pytest.fixture(scope="module")
def cases(bot: Bot) -> Iterator[CaseStore]:
    """The case database of the ``bot`` servers (their run directory's SQLite file and development key)."""
    settings = get_settings()
    store = CaseStore(engine_for(database_url(settings, bot.run_dir)), CaseCipher(case_keys(settings, bot.run_dir)))
    yield store
    store.close()


def deliver_over_http(
    bot: Bot, body: Any, token: Optional[str] = None, raw: Optional[bytes] = None
) -> requests.Response:
    token = token if token is not None else handover_token(get_settings(), bot.run_dir)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{bot.base_url}/webhooks/handover/deliver"
    if raw is not None:
        return requests.post(url, data=raw, headers=headers, timeout=30)
    return requests.post(url, json=body, headers=headers, timeout=30)


def events_of(bot: Bot, sender: str) -> List[Dict[str, Any]]:
    """Every event of the conversation, across sessions and restarts."""
    reply = requests.get(
        f"{bot.base_url}/conversations/{sender}/tracker",
        params={"token": API_TOKEN, "include_events": "ALL"},
        timeout=30,
    )
    return reply.json()["events"]


def test_a_held_conversation_gets_no_reply_even_to_restart(bot: Bot, cases: CaseStore) -> None:
    sender = new_sender()
    assert bot.say(sender, "hello"), "the bot answers before the hand-over"
    reference = held_case(cases, Conversation("rest", sender))
    bot_events_before = sum(e["event"] == "bot" for e in events_of(bot, sender))

    assert bot.say(sender, "he keeps messaging me zq-held-words") == []
    assert bot.say(sender, "/restart") == []
    assert bot.say(sender, "someone is threatening to leak my nudes") == []

    assert case_texts(cases, reference) == [
        ("user", "he keeps messaging me zq-held-words"),
        ("user", "restart"),  # typed payloads are words (bot.inbound); nothing restarts the bot
        ("user", "someone is threatening to leak my nudes"),
    ]
    events = events_of(bot, sender)
    said = [e for e in events if e["event"] == "user"][-3:]
    assert [e["text"] for e in said] == [text for _, text in case_texts(cases, reference)]
    assert all(e["metadata"]["handover"] == reference for e in said)
    assert said[-1]["parse_data"]["intent"]["name"], "understood by the NLU, for the history"
    assert sum(e["event"] == "bot" for e in events) == bot_events_before
    assert [e["event"] for e in events if e["event"] in ("restart", "session_started")] == ["session_started"]

    # The danger net still catches a disclosure made to the counselor: the case records it.
    case = cases.get(reference)
    assert case is not None and case.risk == "urgent"
    contents = cases.contents(reference) or {}
    assert [d["kind"] for d in contents["disclosures"]] and contents["disclosures"][-1]["kind"] in URGENT_KINDS
    assert contents["excerpts"][-1]["text"] == "someone is threatening to leak my nudes"

    Handovers(cases).release(reference)
    assert bot.say(sender, "hello"), "handed back: the bot answers again"
    assert case_texts(cases, reference)[-1] == ("user", "someone is threatening to leak my nudes")


def test_an_expired_session_does_not_end_the_hold(bot: Bot, cases: CaseStore) -> None:
    sender = new_sender()
    bot.say(sender, "hello")
    reference = held_case(cases, Conversation("rest", sender))
    # Two hours of silence (the domain's session expires after 60 minutes), without waiting.
    events = events_of(bot, sender)
    for event in events:
        event["timestamp"] -= 2 * 3600
    replaced = requests.put(
        f"{bot.base_url}/conversations/{sender}/tracker/events", params={"token": API_TOKEN}, json=events, timeout=30
    )
    assert replaced.status_code == 200, replaced.text
    sessions = sum(e["event"] == "session_started" for e in events_of(bot, sender))

    assert bot.say(sender, "are you still there zq-after-expiry") == []
    assert sum(e["event"] == "session_started" for e in events_of(bot, sender)) == sessions
    assert case_texts(cases, reference) == [("user", "are you still there zq-after-expiry")]

    Handovers(cases).release(reference, outcome="advised")
    assert bot.say(sender, "hello")


def test_delivery_answers_each_error_honestly(bot: Bot, cases: CaseStore) -> None:
    sender = new_sender()
    bot.say(sender, "hello")
    waiting = open_case(cases, Conversation("rest", sender))
    message = {"reference": waiting, "event": "message", "text": "Hello, I'm Mona.", "counselor": "mona"}

    assert deliver_over_http(bot, message, token="").status_code == 401
    assert deliver_over_http(bot, message, token="not-the-token-" + uuid.uuid4().hex).status_code == 401
    assert deliver_over_http(bot, None, raw=b"not json").status_code == 400
    assert deliver_over_http(bot, {"reference": waiting, "event": "wave"}).status_code == 400
    assert deliver_over_http(bot, {**message, "text": "  "}).status_code == 400
    assert deliver_over_http(bot, {**message, "counselor": None}).status_code == 400
    assert deliver_over_http(bot, {"reference": "ZZZZ9999", "event": "joined"}).status_code == 404
    assert deliver_over_http(bot, message).status_code == 409  # waiting, not held

    forgotten = new_sender()
    gone = held_case(cases, Conversation("rest", forgotten))
    cases.unlink(Conversation("rest", forgotten))  # "delete my data"
    assert deliver_over_http(bot, {**message, "reference": gone}).status_code == 404

    # Telegram is not switched on for these servers: nobody there to deliver it.
    elsewhere = held_case(cases, Conversation("telegram", "tg-4242"))
    failed = deliver_over_http(bot, {**message, "reference": elsewhere})
    assert failed.status_code == 502 and failed.json()["delivered"] is False

    # REST only answers requests: it cannot push, says so, and the tracker still has it.
    Handovers(cases).claim(waiting, "mona")
    rest = deliver_over_http(bot, message)
    assert rest.status_code == 200
    assert rest.json() == {"delivered": False, "reason": "channel cannot push"}
    last = events_of(bot, sender)[-1]
    assert (last["event"], last["text"], last["metadata"]) == ("bot", "Hello, I'm Mona.", {"counselor": "mona"})
    Handovers(cases).release(waiting, outcome="no_contact")


@pytest.mark.parametrize(
    ("lang", "hello", "person"), [("en", "hello", "can I talk to a real person"), ("ar", "مرحبا", "أبغى أكلم شخص")]
)
def test_talk_to_a_person_says_who_can_talk_now(bot: Bot, cases: CaseStore, lang: str, hello: str, person: str) -> None:
    presence = Presence(cases)
    for name in presence.online():
        presence.leave(name)
    alone = new_sender()
    bot.say(alone, hello)
    said = bot.text(alone, person)
    reference = cases.cases_of(Conversation("rest", alone))[-1].reference
    expected = LIB.message("request_human_offline", lang).replace("<reference>", reference)
    assert said == expected.replace("<hours>", HOURS.describe(lang))
    assert "116111" in said and "911" in said

    presence.touch("mona")
    try:
        helped = new_sender()
        bot.say(helped, hello)
        said = bot.text(helped, person)
    finally:
        presence.leave("mona")
    reference = cases.cases_of(Conversation("rest", helped))[-1].reference
    assert said == LIB.message("request_human_online", lang).replace("<reference>", reference)
    assert cases.contents(reference)["counselor_requested_at"]


# --- every connector in one Rasa app, in this process -----------------------------------------------


class ForbiddingTelegram(RecordingTelegram):
    """The Bot API as recorded, except that a user who blocked the bot answers 403."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: List[int] = []

    async def do_request(self, url: str, method: str, request_data: Any = None, *args: Any, **kwargs: Any) -> Any:
        params = dict(request_data.parameters) if request_data else {}
        if url.endswith("/sendMessage") and params.get("chat_id") in self.blocked:
            self.calls.append(("sendMessage", params, url))
            return 403, b'{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}'
        return await super().do_request(url, method, request_data, *args, **kwargs)


@dataclass
class Hub:
    served: Served
    agent: Any
    store: CaseStore
    web: WebInput
    telegram: TelegramInput
    whatsapp: WhatsAppInput
    recorder: ForbiddingTelegram
    twilio: RecordingTwilioHttp

    async def deliver(self, body: Dict[str, Any]) -> httpx.Response:
        return await self.served.client.post(
            f"{self.served.url}/webhooks/handover/deliver", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )

    async def bot_events(self, sender: str) -> List[Any]:
        tracker = await self.agent.tracker_store.retrieve_full_tracker(sender)
        return [e for e in tracker.events if getattr(e, "type_name", "") == "bot"]


@contextlib.asynccontextmanager
async def hub_app(agent: Any, monkeypatch: pytest.MonkeyPatch, env: Dict[str, str]) -> AsyncIterator[Hub]:
    for name, value in {**CHANNEL_ENV, "HANDOVER_TOKEN": TOKEN, **env}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    store = CaseStore.from_url(env["DATABASE_URL"], [env["CASE_ENCRYPTION_KEYS"]])
    recorder = ForbiddingTelegram()
    twilio: List[RecordingTwilioHttp] = []

    def http_client() -> RecordingTwilioHttp:
        twilio.append(RecordingTwilioHttp())
        return twilio[-1]

    web, telegram = WebInput(), TelegramInput(request=recorder)
    whatsapp = WhatsAppInput(http_client=http_client)
    try:
        async with serve(agent, [RestInput(), web, telegram, whatsapp, HandoverInput()]) as served:
            yield Hub(served, agent, store, web, telegram, whatsapp, recorder, twilio[0])
    finally:
        close_stores()
        store.close()


@pytest.fixture
async def hub(agent: Any, database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Hub]:
    env = {"DATABASE_URL": database_url, "CASE_ENCRYPTION_KEYS": generate_key()}
    async with hub_app(agent[0], monkeypatch, env) as made:
        made.store.migrate()
        yield made


async def test_web_widget_hand_over_from_join_to_hand_back(hub: Hub) -> None:
    async with widget(hub.served.url) as w:
        await w.session()
        sender = await hub.web.sessions.resolve(w.token or "")
        assert sender
        assert await w.say("مرحبا", lang="ar"), "the bot answers before the hand-over"
        reference = held_case(hub.store, Conversation("web", sender), language="ar", audience="child")

        before = len(w.received)
        assert (await hub.deliver({"reference": reference, "event": "joined"})).json() == {"delivered": True}
        shown = await pushed(w, before)
        assert shown["text"] == LIB.message("handover_joined", "ar", "child")

        assert await w.say("زق-محجوز لا أعرف ماذا أفعل") == []
        assert await w.say("/restart") == []
        assert case_texts(hub.store, reference) == [("user", "زق-محجوز لا أعرف ماذا أفعل"), ("user", "restart")]
        assert (await user_texts(hub.agent, sender))[-2:] == ["زق-محجوز لا أعرف ماذا أفعل", "restart"]

        reply = "أنا منى، مختصة. أنا هنا لمساعدتك."
        before = len(w.received)
        sent = await hub.deliver({"reference": reference, "event": "message", "text": reply, "counselor": "mona"})
        assert sent.status_code == 200 and sent.json() == {"delivered": True}
        shown = await pushed(w, before)
        assert (shown["text"], shown["from"]) == (reply, "counselor")
        seen, token = shown["id"], w.token

    # The widget is closed (a network drop): the counselor writes anyway.
    later = "هل ما زلت هنا؟"
    assert (
        await hub.deliver({"reference": reference, "event": "message", "text": later, "counselor": "mona"})
    ).json() == {"delivered": True}
    async with widget(hub.served.url) as back:
        resumed = await back.session(token=token, after=seen)
        assert resumed["resumed"] is True and [m["text"] for m in resumed["missed"]] == [later]

        Handovers(hub.store).release(reference)
        before = len(back.received)
        assert (await hub.deliver({"reference": reference, "event": "left"})).status_code == 200
        assert (await pushed(back, before))["text"] == LIB.message("handover_left", "ar", "child")
        answered = await back.say("مرحبا")
        assert answered and all("from" not in m for m in answered), "the bot answers again"

    counselor_said = [(e.text, e.metadata) for e in await hub.bot_events(sender) if e.metadata.get("counselor")]
    assert counselor_said == [(reply, {"counselor": "mona"}), (later, {"counselor": "mona"})]


async def pushed(w: Any, before: int) -> Dict[str, Any]:
    """The one message pushed to widget ``w`` after it had received ``before``."""
    received = await w.wait_for(before + 1)
    assert len(received) == before + 1, received[before:]
    return received[-1]


async def test_telegram_hand_over_is_silent_and_delivers_in_the_case_language(hub: Hub) -> None:
    user = TelegramUser(hub.served, hub.telegram, hub.recorder, "en")
    assert await user.say("/start")
    reference = held_case(hub.store, Conversation("telegram", user.sender_id), language="en", audience="teen")

    before = len(hub.recorder.calls)
    assert await user.say("zq-tg-held he wants my password") == []
    assert [e for e, _, _ in hub.recorder.calls[before:]] == [], "no reply and no typing from the bot"
    assert case_texts(hub.store, reference) == [("user", "zq-tg-held he wants my password")]

    assert (await hub.deliver({"reference": reference, "event": "joined"})).status_code == 200
    text = "Hi, I'm Mona, a counselor. You did the right thing telling us."
    assert (
        await hub.deliver({"reference": reference, "event": "message", "text": text, "counselor": "mona"})
    ).json() == {"delivered": True}
    assert [m["text"] for m in hub.recorder.sent(user.chat_id)[-2:]] == [
        LIB.message("handover_joined", "en", "teen"),
        text,
    ]
    assert [e.metadata for e in await hub.bot_events(user.sender_id)][-2:] == [
        {"handover": "joined"},
        {"counselor": "mona"},
    ]

    hub.recorder.blocked.append(user.chat_id)  # the user blocked the bot
    failed = await hub.deliver({"reference": reference, "event": "message", "text": "Are you ok?", "counselor": "mona"})
    assert failed.status_code == 502 and failed.json()["delivered"] is False
    assert "Are you ok?" not in [e.text for e in await hub.bot_events(user.sender_id)], "not delivered, not recorded"


async def test_whatsapp_hand_over_reaches_the_number_kept_encrypted(hub: Hub) -> None:
    user = WhatsAppUser(hub.served, hub.whatsapp, hub.twilio)
    assert await user.say("مرحبا")
    reference = held_case(hub.store, Conversation("whatsapp", user.sender_id), language="ar", audience="parent")
    assert await user.say("زق-واتساب ابني يتعرض للابتزاز") == []
    assert case_texts(hub.store, reference) == [("user", "زق-واتساب ابني يتعرض للابتزاز")]

    assert (await hub.deliver({"reference": reference, "event": "joined"})).json() == {"delivered": True}
    text = "أنا منى، مختصة. سأساعدك خطوة بخطوة."
    assert (
        await hub.deliver({"reference": reference, "event": "message", "text": text, "counselor": "mona"})
    ).json() == {"delivered": True}
    assert hub.twilio.messages_to(user.address)[-2:] == [LIB.message("handover_joined", "ar", "parent"), text]

    Handovers(hub.store).release(reference, outcome="advised")
    assert (await hub.deliver({"reference": reference, "event": "closed"})).status_code == 200
    closed = hub.twilio.messages_to(user.address)[-1]
    assert closed == LIB.message("handover_closed", "ar", "parent") and "116111" in closed
    assert (
        await hub.deliver({"reference": reference, "event": "message", "text": "x", "counselor": "mona"})
    ).status_code == 409
    assert await user.say("مرحبا"), "closed: the bot answers again"


async def test_a_message_the_held_case_cannot_take_goes_to_the_bot(hub: Hub) -> None:
    sender = new_sender()
    held_case(hub.store, Conversation("rest", sender))
    with hub.store.engine.begin() as conn:
        conn.execute(sql("DROP TABLE case_messages"))  # the hold is readable, nothing can be added
    reply = await hub.served.client.post(
        f"{hub.served.url}/webhooks/rest/webhook", json={"sender": sender, "message": "hello"}
    )
    assert reply.status_code == 200 and reply.json(), "the counselor would never see it: the bot answers"


async def test_when_the_case_database_is_down_the_bot_answers(
    agent: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/test"  # nothing listens there
    async with hub_app(
        agent[0], monkeypatch, {"DATABASE_URL": nowhere, "CASE_ENCRYPTION_KEYS": generate_key()}
    ) as down:
        sender = new_sender()
        reply = await down.served.client.post(
            f"{down.served.url}/webhooks/rest/webhook", json={"sender": sender, "message": "zq-failopen hello"}
        )
        assert reply.status_code == 200 and reply.json(), "a child never gets silence"
        assert (await down.deliver({"reference": "ACEF3467", "event": "joined"})).status_code == 503
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "handover.gate.unavailable" in logged
    assert "zq-failopen" not in logged


def test_make_run_switches_the_delivery_endpoint_on(tmp_path: Any) -> None:
    import yaml

    from bot.run import write_runtime_config

    paths = write_runtime_config(get_settings(), tmp_path, 5055)
    credentials = yaml.safe_load(paths["credentials"].read_text())
    assert "channels.handover.HandoverInput" in credentials
    assert credentials["channels.handover.HandoverInput"] == {}, "no secret in credentials.yml"

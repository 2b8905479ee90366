"""Custom actions run on a Tracker built from events, with a fresh CollectingDispatcher."""

from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.advice import ActionAnswerFollowup, ActionGiveAdvice
from actions.report import use_case_desk
from actions.safety import ActionDangerSupport, ActionMediaPolicy, ActionRequestHuman
from actions.session import ActionSessionStart
from bot.cases import CaseDesk, CaseStore, generate_key
from bot.content import ContentLibrary
from bot.settings import PROJECT_ROOT, get_settings

LIB = ContentLibrary.load(PROJECT_ROOT / "data")


@pytest.fixture(autouse=True)
def cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CaseStore]:
    """Actions that open cases write them into a database of this test's own (never ``.run/``)."""
    url, key = f"sqlite:///{tmp_path / 'cases.db'}", generate_key()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CASE_ENCRYPTION_KEYS", key)
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    use_case_desk(CaseDesk.from_settings(get_settings()))
    store = CaseStore.from_url(url, [key])
    yield store
    store.close()
    use_case_desk(None)
    get_settings.cache_clear()


def tracker(
    intent: str, text: str = "", slots: Optional[Dict[str, Any]] = None, entities: Optional[List[Dict[str, Any]]] = None
) -> Tracker:
    return Tracker(
        sender_id="t",
        slots=slots or {},
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run(action: Any, t: Tracker) -> tuple:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return dispatcher.messages, events


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("audience", ["child", "teen", "parent", "educator"])
async def test_advice_fits_audience_and_language(lang: str, audience: str) -> None:
    messages, events = await run(
        ActionGiveAdvice(), tracker("ask_sextortion", slots={"language": lang, "audience": audience})
    )
    assert messages[0]["text"] == LIB.advice("sextortion", audience, lang)
    assert SlotSet("topic", "sextortion") in events
    assert [b["payload"] for b in messages[0]["buttons"]][0] == "/followup_already_happened"


async def test_advice_without_audience_asks_who_is_chatting() -> None:
    messages, _ = await run(ActionGiveAdvice(), tracker("ask_gaming", slots={"language": "en"}))
    assert len(messages) == 2
    assert "who's chatting" in messages[1]["text"]
    assert {b["payload"] for b in messages[1]["buttons"]} == {
        '/tell_audience{"audience":"%s"}' % a for a in ("child", "teen", "parent", "educator")
    }


async def test_followup_answers_for_the_current_topic() -> None:
    slots = {"language": "en", "audience": "parent", "topic": "sextortion"}
    messages, _ = await run(ActionAnswerFollowup(), tracker("followup_already_happened", slots=slots))
    assert messages[0]["text"] == LIB.followup("sextortion", "already_happened", "parent", "en")
    assert "/followup_already_happened" not in [b["payload"] for b in messages[0]["buttons"]]


async def test_followup_without_topic_asks_which_topic() -> None:
    messages, _ = await run(ActionAnswerFollowup(), tracker("followup_more", slots={"language": "ar"}))
    assert messages[0]["text"] == LIB.message("followup_without_topic", "ar")
    assert len(messages[0]["buttons"]) == 10


@pytest.mark.parametrize(("lang", "reassurance"), [("en", "your fault"), ("ar", "ذنبك")])
async def test_danger_support_reassures_gives_numbers_and_offers_counselor(lang: str, reassurance: str) -> None:
    t = tracker(
        "disclose_harm",
        slots={"language": lang, "audience": "teen"},
        entities=[{"entity": "danger_kind", "value": "blackmail", "extractor": "DangerNet:net"}],
    )
    messages, events = await run(ActionDangerSupport(), t)
    assert "911" in messages[0]["text"] and "116111" in messages[0]["text"]
    assert reassurance in messages[0]["text"]
    assert [b["payload"] for b in messages[1]["buttons"]] == ["/request_human", "/deny"]
    escalation = next(e for e in events if e["name"] == "escalation")["value"]
    assert escalation["reason"] == "disclosure" and escalation["kind"] == "blackmail" and escalation["source"] == "net"


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("audience", ["child", "teen", "parent"])
async def test_abuse_gets_the_numbers_without_blackmail_advice(lang: str, audience: str) -> None:
    """A child hit at home is not told "don't pay"; a blackmailed one still is."""
    dont_pay = {"en": "pay", "ar": "تدفع"}[lang]

    async def first_reply(kind: str) -> str:
        entities = [{"entity": "danger_kind", "value": kind, "extractor": "DangerNet:net"}]
        t = tracker("disclose_harm", slots={"language": lang, "audience": audience}, entities=entities)
        messages, _ = await run(ActionDangerSupport(), t)
        return messages[0]["text"]

    abuse = await first_reply("abuse")
    assert "911" in abuse and "116111" in abuse and dont_pay not in abuse
    assert abuse == LIB.message("danger_support_abuse", lang, audience)
    if audience != "child":  # the child's general reply never spoke of paying
        assert dont_pay in await first_reply("blackmail")
    for kind in ("coercion", "meeting"):  # pressure and planned meetings: "don't meet", not "don't pay"
        grooming = await first_reply(kind)
        assert grooming == LIB.message("danger_support_grooming", lang, audience)
        assert "911" in grooming and "116111" in grooming and dont_pay not in grooming
        assert any(word in grooming for word in {"en": ["meet"], "ar": ["لقا", "مقابلت"]}[lang])


async def test_self_harm_gets_its_own_support() -> None:
    t = tracker("disclose_self_harm", slots={"language": "en", "audience": "child"})
    messages, events = await run(ActionDangerSupport(), t)
    assert messages[0]["text"] == LIB.message("self_harm_support", "en", "child")
    assert SlotSet("danger_kind", "self_harm") in events


async def test_request_human_records_the_request(cases: CaseStore) -> None:
    messages, events = await run(ActionRequestHuman(), tracker("request_human", slots={"language": "ar"}))
    assert "116111" in messages[0]["text"]
    assert next(e for e in events if e["name"] == "escalation")["value"]["reason"] == "counselor_requested"
    reference = next(e for e in events if e.get("name") == "case_reference")["value"]
    case = cases.get(reference)
    assert case is not None and case.language == "ar" and case.status == "received"


async def test_media_policy_in_language() -> None:
    messages, _ = await run(ActionMediaPolicy(), tracker("want_to_send_media", slots={"language": "ar"}))
    assert messages[0]["text"] == LIB.message("media_policy", "ar")


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [({"language": "en"}, "automated assistant"), ({"language": "ar"}, "مساعد آلي"), ({}, "automated assistant")],
)
async def test_session_start_says_it_is_a_bot(metadata: Dict[str, str], expected: str) -> None:
    t = tracker("session_start", slots={"session_started_metadata": metadata, "audience": "teen"})
    messages, events = await run(ActionSessionStart(), t)
    assert expected in messages[0]["text"]
    assert isinstance(events[0], dict) and events[0] == SessionStarted()
    assert SlotSet("audience", "teen") in events

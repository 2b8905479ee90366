"""The follow-up actions on a Tracker built from events, with a fresh CollectingDispatcher: what
they say and which events they return, without the model (the model's part is in
tests/test_followups.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.advice import ActionGiveAdvice
from actions.apps import ActionAppGuide
from actions.followups import ActionNotSure, ActionSafetyAnswer, ActionWhatAbout
from actions.next_steps import ActionNextSteps, disclosed_kind
from actions.report import use_case_desk
from bot.app_guides import AppGuides
from bot.cases import CaseDesk, generate_key
from bot.content import ContentLibrary
from bot.next_steps import NextSteps
from bot.settings import PROJECT_ROOT, get_settings

DATA = PROJECT_ROOT / "data"
LIB, STEPS, GUIDES = ContentLibrary.load(DATA), NextSteps.load(DATA), AppGuides.load(DATA)


@pytest.fixture(autouse=True)
def cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A counselor request writes its case into a database of this test's own (never ``.run/``)."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cases.db'}")
    monkeypatch.setenv("CASE_ENCRYPTION_KEYS", generate_key())
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    use_case_desk(CaseDesk.from_settings(get_settings()))
    yield
    use_case_desk(None)
    get_settings.cache_clear()


BLACKMAIL = {"reason": "disclosure", "kind": "blackmail", "at": "2026-12-06T03:00:00+00:00"}


def tracker(
    intent: str, text: str = "", slots: Optional[Dict[str, Any]] = None, events: Optional[List[Dict[str, Any]]] = None
) -> Tracker:
    slots = slots or {}
    history = events if events is not None else [{"event": "slot", "name": k, "value": v} for k, v in slots.items()]
    return Tracker(
        "t",
        slots,
        {"text": text, "intent": {"name": intent}, "entities": []},
        history,
        False,
        None,
        {},
        "action_listen",
    )


async def run(action: Any, t: Tracker) -> tuple:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return dispatcher.messages, events


@pytest.mark.parametrize(
    ("danger", "harm"),
    [("blackmail", "sextortion"), ("meeting", "grooming"), ("abuse", "abuse"), ("self_harm", "self_harm")],
)
def test_the_disclosed_harm_is_remembered(danger: str, harm: str) -> None:
    assert disclosed_kind(tracker("ask_next_steps", slots={"escalation": {**BLACKMAIL, "kind": danger}})) == harm
    assert disclosed_kind(tracker("ask_next_steps", slots={"danger_check": {"kind": danger}})) == harm
    assert disclosed_kind(tracker("ask_next_steps", slots={"danger_kind": danger})) is None  # nothing answered


def test_a_later_threat_does_not_turn_blackmail_into_another_harm() -> None:
    history = [
        {"event": "slot", "name": "escalation", "value": BLACKMAIL},
        {"event": "slot", "name": "escalation", "value": {**BLACKMAIL, "kind": "threat"}},
    ]
    assert (
        disclosed_kind(tracker("ask_next_steps", slots={"escalation": history[-1]["value"]}, events=history))
        == "sextortion"
    )


@pytest.mark.parametrize("lang", ["en", "ar"])
async def test_next_steps_answer_the_question_then_the_steps_then_a_counselor(lang: str) -> None:
    text = {"en": "I already paid him", "ar": "دفعت له خلاص"}[lang]
    t = tracker("followup_already_happened", text, {"escalation": BLACKMAIL, "audience": "teen", "language": lang})
    messages, events = await run(ActionNextSteps(), t)
    assert messages[0]["text"].startswith(STEPS.answer("paid", "teen", lang))
    assert messages[0]["text"].endswith(STEPS.steps("sextortion", "teen", lang))
    assert messages[0]["answer"] == "next_steps/sextortion/teen"
    assert messages[1]["text"] == STEPS.text("offer", lang)
    assert messages[1]["buttons"][0]["payload"] == "/request_human"
    assert SlotSet("asked_safe", False) in events


async def test_abuse_asks_whether_they_are_safe_and_no_calls_a_person() -> None:
    t = tracker(
        "ask_next_steps",
        "what now",
        {"escalation": {**BLACKMAIL, "kind": "abuse"}, "audience": "child", "language": "en"},
    )
    messages, events = await run(ActionNextSteps(), t)
    assert messages[1]["text"] == STEPS.text("ask_safe", "en", "child")
    assert [b["payload"] for b in messages[1]["buttons"]] == ["/affirm", "/deny", "/request_human"]
    assert SlotSet("asked_safe", True) in events
    typed_no = tracker("deny", "no", {"asked_safe": True, "language": "en", "escalation": BLACKMAIL})
    messages, events = await run(ActionSafetyAnswer(), typed_no)
    assert "911" in messages[0]["text"]
    assert SlotSet("safe_now", "no") in events
    assert any(e.get("name") == "escalation" and e["value"]["reason"] == "counselor_requested" for e in events)


async def test_yes_to_the_counselor_offer_asks_for_a_person() -> None:
    _, events = await run(ActionSafetyAnswer(), tracker("affirm", "yes", {"asked_safe": False, "language": "en"}))
    assert [e["value"]["reason"] for e in events if e.get("name") == "escalation"] == ["counselor_requested"]


async def test_delete_my_data_after_a_disclosure_still_asks_to_confirm() -> None:
    t = tracker("delete_my_data", "delete my data", {"escalation": BLACKMAIL})
    messages, events = await run(ActionNextSteps(), t)
    assert messages == [] and events == [FollowupAction("utter_confirm_delete_my_data")]
    messages, _ = await run(
        ActionNextSteps(), tracker("delete_my_data", "can you delete it", {"escalation": BLACKMAIL, "language": "en"})
    )
    assert STEPS.answer("remove", "teen", "en") in messages[0]["text"]


async def test_not_sure_after_a_disclosure_is_still_the_steps_and_otherwise_the_menu() -> None:
    messages, _ = await run(
        ActionNotSure(), tracker("nlu_fallback", "hmm ok", {"escalation": BLACKMAIL, "language": "en"})
    )
    assert messages[0]["answer"] == "next_steps/sextortion/teen"
    messages, _ = await run(ActionNotSure(), tracker("nlu_fallback", "zzz qqq", {"language": "en"}))
    assert [m["response"] for m in messages] == ["utter_not_sure"]


async def test_an_app_question_and_a_topic_question_naming_an_app() -> None:
    messages, events = await run(ActionAppGuide(), tracker("ask_app", "what age is snapchat for?", {"language": "en"}))
    assert GUIDES.section("snapchat", "age", "en") in messages[0]["text"]
    assert SlotSet("app", "snapchat") in events and SlotSet("app_ask", "age") in events
    t = tracker("ask_cyberbullying", "someone is bullying me on snap", {"language": "en", "audience": "teen"})
    messages, _ = await run(ActionGiveAdvice(), t)
    assert messages[0]["text"] == LIB.advice("cyberbullying", "teen", "en")
    assert GUIDES.section("snapchat", "report", "en") in messages[1]["text"]


async def test_and_on_another_app_keeps_what_was_asked() -> None:
    history = [
        {"event": "slot", "name": "app", "value": "tiktok"},
        {"event": "slot", "name": "app_ask", "value": "settings"},
    ]
    t = tracker(
        "followup_what_about",
        "طيب وبالنسبة ليوتيوب؟",
        {"app": "tiktok", "app_ask": "settings", "language": "ar"},
        history,
    )
    messages, _ = await run(ActionWhatAbout(), t)
    assert GUIDES.section("youtube", "settings", "ar") in messages[0]["text"]

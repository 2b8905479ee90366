"""Advice on a topic for the person asking, and answers to follow-up questions on it."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.apps import APP_GUIDE_TOPICS, app_in, say_app_answer, say_app_report
from actions.common import audience_buttons, audience_of, followup_buttons, library, reply_language, topic_buttons
from actions.next_steps import disclosed_kind, say_next_steps
from bot.analytics.moments import question_asked
from bot.app_guides import asked_about, child_age
from bot.content import FOLLOWUP_INTENTS, TOPIC_INTENTS
from bot.next_steps import asks_what_to_do

# Topics after whose advice the user is offered to file a confidential report.
REPORTABLE_TOPICS = frozenset({"grooming", "sextortion", "cyberbullying", "image_sharing", "reporting"})


class ActionGiveAdvice(Action):
    """Answers an ``ask_<topic>`` intent with that topic's advice for the audience."""

    def name(self) -> str:
        return "action_give_advice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        return give_advice(dispatcher, tracker, TOPIC_INTENTS.get(intent or "") or tracker.get_slot("topic"))


def give_advice(
    dispatcher: CollectingDispatcher, tracker: Tracker, topic: Optional[str], plain: bool = False
) -> List[EventType]:
    """``topic``'s advice for the person asking, with the follow-up buttons (or, when who is asking is
    not known yet, the question who it is); the topic menu when there is no such topic. ``plain``:
    the advice alone, without buttons or questions (after a check-in, whose yes/no stay the only
    buttons: WhatsApp numbers them)."""
    lang = reply_language(tracker)
    if topic not in library().topics:
        dispatcher.utter_message(
            text=library().message("followup_without_topic", lang), buttons=topic_buttons(lang), answer="menu"
        )
        return []
    said = tracker.latest_message.get("text") or ""
    declined = (tracker.latest_message.get("intent") or {}).get("name") == "deny"  # "no" to a check-in
    kind = None if declined else disclosed_kind(tracker)
    if kind and asks_what_to_do(said):
        # "How do I get the picture taken down?" after a disclosure: that harm's next steps.
        return say_next_steps(dispatcher, tracker, kind)
    # An app named in the question (actions/apps.py): its guide answers "parental controls on PUBG";
    # "bullied on snap" gets the advice and then how to block and report on Snapchat. After "no" to a
    # check-in, the question is the message the check-in asked about.
    app = app_in(_asked_before(tracker) if declined else said)
    explicit = asked_about(said, default="") if app else ""
    if app and (topic in APP_GUIDE_TOPICS or explicit in ("age", "settings")):
        ask = explicit or APP_GUIDE_TOPICS[topic]
        return [SlotSet("topic", topic), *say_app_answer(dispatcher, tracker, app, ask, child_age(said))]
    audience = audience_of(tracker)
    question_asked(topic, tracker.get_latest_input_channel(), lang, audience)
    text = library().advice(topic, audience, lang)
    buttons: List[Dict[str, str]] = []
    if audience and not plain:
        buttons = followup_buttons(lang, audience)
        if topic in REPORTABLE_TOPICS:  # "a button after advice" starts the confidential report
            buttons.append({"title": library().message("button_make_report", lang), "payload": "/request_report"})
    events: List[EventType] = [SlotSet("topic", topic)]
    if app:
        dispatcher.utter_message(text=text, answer=f"advice/{topic}")
        events += say_app_report(dispatcher, tracker, app, buttons)
    else:
        dispatcher.utter_message(text=text, buttons=buttons, answer=f"advice/{topic}")
    if not audience and not plain:
        # Advice first, then ask who is chatting so the next answer fits them.
        dispatcher.utter_message(
            text=library().message("ask_audience_after_advice", lang), buttons=audience_buttons(lang)
        )
    return events


def about_another_app(dispatcher: CollectingDispatcher, tracker: Tracker, app: str) -> List[EventType]:
    """ "And on Instagram?": the question asked about the last app, for this one; after a topic's
    advice (not an app topic), that advice with this app's reporting steps."""
    topic = tracker.get_slot("topic")
    if last_subject(tracker) == "topic" and topic in library().topics and topic not in APP_GUIDE_TOPICS:
        return give_advice(dispatcher, tracker, topic)
    text = tracker.latest_message.get("text") or ""
    ask = asked_about(text, default="") or tracker.get_slot("app_ask") or APP_GUIDE_TOPICS.get(str(topic), "safety")
    return say_app_answer(dispatcher, tracker, app, str(ask), child_age(text))


def last_subject(tracker: Tracker) -> Optional[str]:
    """What was answered last: "app", "topic" or "disclosure" (from the slots set most recently)."""
    for event in reversed(tracker.events):
        if event.get("event") != "slot":
            continue
        name = event.get("name")
        if name == "app":
            return "app"
        if name == "topic":
            return "topic"
        if name in ("escalation", "danger_check") and event.get("value"):
            return "disclosure"
    return None


def _asked_before(tracker: Tracker) -> str:
    """The user's message before this one (read from the conversation, never kept)."""
    said = [e.get("text") or "" for e in tracker.events if e.get("event") == "user"]
    return said[-2] if len(said) >= 2 else ""


class ActionAnswerFollowup(Action):
    """Answers "what if it already happened?", "how do I talk to my son?" for the current topic."""

    def name(self) -> str:
        return "action_answer_followup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        followup = FOLLOWUP_INTENTS.get(intent, "more")
        kind = disclosed_kind(tracker)
        if kind:  # "what if it already happened?" after a disclosure: that harm's next steps
            return say_next_steps(dispatcher, tracker, kind)
        app = app_in(tracker.latest_message.get("text") or "")
        if app:  # "and on Instagram?" read as "tell me more": the same subject on that app
            return about_another_app(dispatcher, tracker, app)
        topic = tracker.get_slot("topic")
        lang = reply_language(tracker)
        if topic not in library().topics:
            dispatcher.utter_message(
                text=library().message("followup_without_topic", lang), buttons=topic_buttons(lang), answer="menu"
            )
            return []
        audience = audience_of(tracker)
        remaining = [b for b in followup_buttons(lang, audience) if b["payload"] != f"/followup_{followup}"]
        dispatcher.utter_message(text=library().followup(topic, followup, audience, lang), buttons=remaining)
        return []

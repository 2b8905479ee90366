"""Follow-ups that keep the subject: "and on Instagram?", "what about for a 7-year-old?" answer the
app or topic being discussed for that app or age; and the model's "not sure" still answers in
context (the next steps after a disclosure, an app's guide when the message names an app).

Replies carry ``answer`` metadata ("app/<id>/<ask>", "advice/<topic>"...) that stays in the tracker.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.advice import about_another_app, give_advice, last_subject
from actions.apps import APP_GUIDE_TOPICS, app_in, guides, say_app_answer
from actions.common import audience_of, library, reply_language, topic_buttons
from actions.next_steps import disclosed_kind, next_steps, say_next_steps, user_texts
from actions.safety import ActionRequestHuman
from bot.app_guides import asked_about, child_age

__all__ = ["ActionNotSure", "ActionSafetyAnswer", "ActionWhatAbout"]

logger = logging.getLogger(__name__)


class ActionNotSure(Action):
    """The model is not sure what the message means: after a disclosure, still the next steps; a
    message naming an app, its guide; otherwise the honest "not sure" with the topics."""

    def name(self) -> str:
        return "action_not_sure"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        kind = disclosed_kind(tracker)
        if kind:
            prefix = next_steps().text("not_understood", reply_language(tracker))
            return say_next_steps(dispatcher, tracker, kind, prefix=prefix)
        text = tracker.latest_message.get("text") or ""
        app = app_in(text)
        if app and not asked_about(text, default="") and last_subject(tracker):
            return about_another_app(dispatcher, tracker, app)  # "and on Instagram?"
        if app:
            return say_app_answer(dispatcher, tracker, app, asked_about(text), child_age(text))
        dispatcher.utter_message(response="utter_not_sure")
        return []


class ActionWhatAbout(Action):
    """ "And on Instagram?", "what about for a 7-year-old?": the same subject for another app or age."""

    def name(self) -> str:
        return "action_what_about"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        app, age = app_in(text), child_age(text)
        subject = last_subject(tracker)
        topic = tracker.get_slot("topic")
        lang = reply_language(tracker)
        if app:
            if subject == "topic" and topic in library().topics and topic not in APP_GUIDE_TOPICS:
                return give_advice(dispatcher, tracker, topic)  # the advice, then this app's reporting
            ask = _asked_before(tracker) or str(
                tracker.get_slot("app_ask") or APP_GUIDE_TOPICS.get(str(topic), "safety")
            )
            return say_app_answer(dispatcher, tracker, app, ask if subject or _asked_before(tracker) else "safety", age)
        kind = disclosed_kind(tracker)
        if subject == "app" and tracker.get_slot("app") in guides().guides:
            ask = "age" if age is not None and tracker.get_slot("app_ask") == "report" else tracker.get_slot("app_ask")
            return say_app_answer(dispatcher, tracker, str(tracker.get_slot("app")), str(ask or "safety"), age)
        if kind and subject in (None, "disclosure"):
            return say_next_steps(dispatcher, tracker, kind)
        if topic in library().topics:
            if age is not None:
                # The same topic in the words for a child of that age.
                audience = "child" if age < 13 else "teen"
                dispatcher.utter_message(
                    text=library().advice(topic, audience, lang), answer=f"advice/{topic}/{audience}"
                )
                return []
            dispatcher.utter_message(
                text=library().followup(topic, "more", audience_of(tracker), lang), answer=f"followup/{topic}/more"
            )
            return []
        dispatcher.utter_message(
            text=library().message("followup_without_topic", lang), buttons=topic_buttons(lang), answer="menu"
        )
        return []


class ActionSafetyAnswer(Action):
    """The answer to "are you safe right now?" (buttons, or yes/no typed after the question); a yes
    or no after the counselor offer instead."""

    def name(self) -> str:
        return "action_safety_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        asked = bool(tracker.get_slot("asked_safe"))
        lang = reply_language(tracker)
        content = next_steps()
        if intent == "deny" and asked:  # "I'm not safe" (button or typed no)
            logger.warning("followup.not_safe_now kind=%s", disclosed_kind(tracker) or "none")
            dispatcher.utter_message(text=content.text("safe_no", lang), answer="safety/not_safe")
            # Straight on to a person, in this turn (a follow-up action would leave the rules lost).
            events: List[EventType] = [SlotSet("safe_now", "no"), SlotSet("asked_safe", False)]
            return events + await ActionRequestHuman().run(dispatcher, tracker, domain)
        if intent == "affirm" and asked:  # "I'm safe now"
            dispatcher.utter_message(
                text=content.text("safe_yes", lang),
                buttons=[{"title": content.button("counselor", lang), "payload": "/request_human"}],
                answer="safety/safe",
            )
            return [SlotSet("safe_now", "yes"), SlotSet("asked_safe", False)]
        if intent == "affirm":  # yes to "would you like to talk to a counselor?"
            return await ActionRequestHuman().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_danger_declined")
        return []


def _asked_before(tracker: Tracker) -> str:
    """What the user's previous message asked about an app ("how do I report someone on
    Instagram...?" before "and on TikTok?"), or "" when it named no app or asked nothing of one."""
    earlier = user_texts(tracker)[:-1]
    if not earlier or not app_in(earlier[-1]):
        return ""
    return asked_about(earlier[-1], default="")

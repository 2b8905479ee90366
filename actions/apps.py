"""App guides: "what age is Snapchat for?", "how do I turn on Family Pairing?", "how do I report on
Roblox?" answered from the app's own guide (``bot.app_guides``), and an app named inside a topic
question ("someone is bullying me on snap") adding that app's reporting steps to the advice.

Every reply carries ``answer`` metadata ("app/<id>/<ask>"), kept in the tracker only, never sent:
the follow-up measurement (``bot.evaluation.followups``) reads it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import reply_language
from bot.app_guides import AppGuides, asked_about, child_age, guided_app_in
from bot.apps import AppLexicon
from bot.settings import get_settings

__all__ = [
    "ActionAppGuide",
    "APP_GUIDE_TOPICS",
    "app_in",
    "guides",
    "say_app_answer",
    "say_app_report",
]

# Topics whose question about an app is answered by the app's guide instead of the general advice,
# and what they ask when the message does not say: "parental controls on PUBG" is its settings.
APP_GUIDE_TOPICS = {
    "gaming": "safety",
    "parental_controls": "settings",
    "privacy": "settings",
    "screen_habits": "settings",
    "reporting": "report",
}


def guides() -> AppGuides:
    return AppGuides.load(get_settings().data_dir)


def app_in(text: str) -> Optional[str]:
    """The first app the message names that has a guide."""
    return guided_app_in(text)


def app_name(app: str, lang: str) -> str:
    found = AppLexicon.load().get(app)
    return found.name(lang) if found else app


def say_app_answer(
    dispatcher: CollectingDispatcher, tracker: Tracker, app: str, ask: str, age: Optional[int] = None
) -> List[EventType]:
    """The guide's answer, and the slots that let "and on Instagram?" or "what about for a 7-year-old?"
    follow it."""
    lang = reply_language(tracker)
    text = guides().answer(app, ask, lang, app_name(app, lang), age)
    dispatcher.utter_message(text=text, answer=f"app/{app}/{ask}")
    return [SlotSet("app", app), SlotSet("app_ask", ask)]


def say_app_report(
    dispatcher: CollectingDispatcher, tracker: Tracker, app: str, buttons: Optional[List[Dict[str, str]]] = None
) -> List[EventType]:
    """After a topic's advice: how to block and report on the app the question named (with the
    advice's buttons)."""
    lang = reply_language(tracker)
    lib = guides()
    heading = str(lib.messages["report_with_topic"][lang]).replace("<app>", app_name(app, lang))
    dispatcher.utter_message(
        text=f"{heading}\n{lib.section(app, 'report', lang)}", buttons=buttons or [], answer=f"app/{app}/report"
    )
    return [SlotSet("app", app), SlotSet("app_ask", "report")]


class ActionAppGuide(Action):
    """An app question from the guide of the app the message (or the conversation) names (for an
    ``ask_app`` intent: see data/nlu_candidates/README.md)."""

    def name(self) -> str:
        return "action_app_guide"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        app = app_in(text) or tracker.get_slot("app")
        if app not in guides().guides:
            lang = reply_language(tracker)
            dispatcher.utter_message(text=str(guides().messages["which_app"][lang]), answer="app/unknown")
            return []
        return say_app_answer(dispatcher, tracker, str(app), asked_about(text), child_age(text))

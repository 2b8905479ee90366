"""First contact: say plainly that this is an automated assistant, in the user's language."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import library
from bot.settings import get_settings

# Only what the next session needs; the topic and any escalation stay with the old session.
CARRIED_SLOTS = ("language", "audience")


class ActionSessionStart(Action):
    """Starts each session with the disclosure that this is a bot, and what it can do.

    The channel puts the first message's language in the session metadata, so the disclosure
    comes in that language; without one it is sent in both.
    """

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        metadata = tracker.get_slot("session_started_metadata") or {}
        carried = {k: tracker.get_slot(k) for k in CARRIED_SLOTS if tracker.get_slot(k) is not None}
        language = metadata.get("language") if metadata.get("language") in ("ar", "en") else carried.get("language")
        events: List[EventType] = [SessionStarted()]
        events += [SlotSet(k, v) for k, v in carried.items()]
        if language:
            dispatcher.utter_message(text=library().message("intro", language))
        else:
            language = get_settings().default_language
            dispatcher.utter_message(text=library().message("intro_bilingual", language))
        events.append(SlotSet("language", language))
        events.append(ActionExecuted("action_listen"))
        return events

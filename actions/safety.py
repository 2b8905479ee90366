"""The danger safety net's reply, the media policy, reporting and asking for a person.

A disclosure is answered at once with reassurance and the helplines, then an offer to talk to a
counselor. The ``escalation`` slot records it (kind, source, time, never the text) for the
reporting flow and the counselor console to act on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import audience_of, library, reply_language

logger = logging.getLogger(__name__)


def _danger_entity(tracker: Tracker) -> Optional[Dict[str, Any]]:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "danger_kind":
            return entity
    return None


def _escalation(reason: str, **details: Any) -> Dict[str, Any]:
    return {"reason": reason, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **details}


class ActionDangerSupport(Action):
    """Reassurance, emergency and helpline numbers, and an offer of a counselor."""

    def name(self) -> str:
        return "action_danger_support"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        entity = _danger_entity(tracker) or {}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        kind = (
            entity.get("value")
            or tracker.get_slot("danger_kind")
            or ("self_harm" if intent == "disclose_self_harm" else "unspecified")
        )
        source = str(entity.get("extractor") or "classifier").replace("DangerNet:", "")
        lang = reply_language(tracker)
        audience = audience_of(tracker)
        lib = library()
        key = "self_harm_support" if kind == "self_harm" else "danger_support"
        dispatcher.utter_message(text=lib.message(key, lang, audience))
        dispatcher.utter_message(
            text=lib.message("counselor_offer", lang),
            buttons=[
                {"title": lib.message("button_talk_counselor", lang), "payload": "/request_human"},
                {"title": lib.message("button_not_now", lang), "payload": "/deny"},
            ],
        )
        logger.warning(
            "safety.disclosure kind=%s source=%s language=%s audience=%s", kind, source, lang, audience or "unknown"
        )
        return [
            SlotSet("danger_kind", kind),
            SlotSet("escalation", _escalation("disclosure", kind=kind, source=source, status="counselor_offered")),
        ]


class ActionRequestHuman(Action):
    """The user asked for a person: record it, and say honestly who can talk right now."""

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        lang = reply_language(tracker)
        dispatcher.utter_message(text=library().message("request_human", lang, audience_of(tracker)))
        previous = tracker.get_slot("escalation") or {}
        logger.warning("safety.counselor_requested after=%s", previous.get("reason", "none"))
        return [
            SlotSet("escalation", _escalation("counselor_requested", kind=previous.get("kind"), status="requested"))
        ]


class ActionReportOptions(Action):
    """Where to report, on the platform and to the authorities."""

    def name(self) -> str:
        return "action_report_options"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        dispatcher.utter_message(
            text=library().message("report_options", reply_language(tracker), audience_of(tracker))
        )
        return []


class ActionMediaPolicy(Action):
    """Never take images: explain why, and where to report an image instead."""

    def name(self) -> str:
        return "action_media_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        dispatcher.utter_message(text=library().message("media_policy", reply_language(tracker), audience_of(tracker)))
        return []

"""The check-in: the answer to a message that may disclose harm but may just as well be an ordinary
question (``bot.nlu.danger``'s "uncertain" tier: a classifier alone, or a lexicon hit in a general
question, a story from the news or a joke).

The helplines come first, as for any disclosure, then one question with two buttons: is something
like this happening to you or someone you know? No case is opened, so a parent's everyday
question puts nothing in the counselors' queue. "Yes" (or a second possible disclosure straight
after) is a disclosure: ``ActionDangerSupport`` gives the crisis reply and opens an urgent case,
marked as opened by a confirmed check-in. When the message also asked about a topic and the
classifier is reasonably sure which (``ANSWER_WITH_CHECK_IN``), the topic's advice follows the
check-in at once (with an app's guide or reporting steps when the message names one), without
buttons, so a parent's question is answered whatever they click; "no" then offers the topics
instead of the same advice again. Otherwise "no" answers what the message asked. The
``danger_check`` slot holds the open check-in: the kind and what was asked, never the text.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.advice import give_advice
from actions.cases import escalation
from actions.common import audience_of, library, reply_language, topic_buttons
from actions.next_steps import disclosed_kind, say_next_steps
from bot.analytics.moments import check_in
from bot.content import TOPIC_INTENTS
from bot.safety.net import ANSWER_WITH_CHECK_IN

__all__ = ["ActionDangerCheckIn", "ActionCheckInDeclined", "open_check_in"]

logger = logging.getLogger(__name__)


def open_check_in(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The check-in this conversation is answering, if any."""
    check = tracker.get_slot("danger_check")
    return check if isinstance(check, dict) else None


class ActionDangerCheckIn(Action):
    """The helplines, and "is something like this happening to you or someone you know?"."""

    def name(self) -> str:
        return "action_danger_check_in"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        reading = tracker.latest_message.get("danger") or {}
        answered = disclosed_kind(tracker, include_check_in=False)
        if answered:
            # They have already told us something is happening (the crisis reply, a case): not "is
            # something like this happening?" again, but that harm's next steps and a counselor.
            logger.warning("safety.check_in.after_disclosure kind=%s", reading.get("kind") or "unspecified")
            return say_next_steps(dispatcher, tracker, answered, may_ask_safe=False)
        lang, audience = reply_language(tracker), audience_of(tracker)
        lib = library()
        dispatcher.utter_message(
            text=lib.message("danger_check_in", lang, audience),
            buttons=[
                {"title": lib.message("button_check_in_yes", lang), "payload": "/affirm"},
                {"title": lib.message("button_check_in_no", lang), "payload": "/deny"},
            ],
        )
        kind, source = reading.get("kind") or "unspecified", reading.get("source") or "model"
        logger.warning(
            "safety.check_in kind=%s source=%s language=%s audience=%s", kind, source, lang, audience or "unknown"
        )
        check_in("asked")
        asked = reading.get("asked")
        topic = TOPIC_INTENTS.get(str(asked or ""))
        answers_now = topic in lib.topics and float(reading.get("asked_confidence") or 0.0) >= ANSWER_WITH_CHECK_IN
        if answers_now:
            # As "no" would answer it (an app named: its guide, or the advice and its reporting
            # steps), in plain text: the check-in's yes/no stay the only buttons (WhatsApp numbers them).
            give_advice(dispatcher, tracker, topic, plain=True)
        check = escalation("check_in", kind=kind, source=source, asked=asked, answered=answers_now)
        return [SlotSet("danger_check", check)]


class ActionCheckInDeclined(Action):
    """Nothing is happening: answer the topic the message asked about, or offer the topics."""

    def name(self) -> str:
        return "action_check_in_declined"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        check = open_check_in(tracker)
        if check is None and disclosed_kind(tracker, include_check_in=False):
            dispatcher.utter_message(response="utter_danger_declined")  # "no" to the counselor after next steps
            return []
        check = check or {}
        logger.info("safety.check_in.declined kind=%s", check.get("kind", "unknown"))
        check_in("declined")
        events: List[EventType] = [SlotSet("danger_check", None)]
        topic = TOPIC_INTENTS.get(str(check.get("asked") or ""))
        if topic and not check.get("answered"):
            return events + give_advice(dispatcher, tracker, topic)
        lang = reply_language(tracker)
        dispatcher.utter_message(text=library().message("check_in_declined", lang), buttons=topic_buttons(lang))
        return events

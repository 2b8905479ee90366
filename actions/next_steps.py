"""What to do next after a disclosure: the conversation remembers what was disclosed
(``danger_kind``, the open check-in or the ``escalation`` slot), who is writing (``audience``) and
whether they said they are safe (``safe_now``). "What do I do now?", "should I tell my parents?",
"I already paid", "can you delete it" then get the answer to that question and the next steps for
that harm, in that audience's words (``bot.next_steps``), then either "are you safe right now?"
(when it matters) or the offer of a counselor; never the topic menu.

Replies carry ``answer`` metadata ("next_steps/<kind>/<audience>") that stays in the tracker, for
the follow-up measurement (``bot.evaluation.followups``); never message text.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import audience_of, library, reply_language, topic_buttons
from bot.next_steps import TOPIC_HARMS, NextSteps, about_this_chat, questions_in, refine_kind, step_audience
from bot.next_steps import disclosed_kind as find_disclosed_kind
from bot.settings import get_settings

__all__ = ["ActionNextSteps", "disclosed_kind", "next_steps", "say_next_steps", "user_texts"]

logger = logging.getLogger(__name__)


def next_steps() -> NextSteps:
    return NextSteps.load(get_settings().data_dir)


def disclosed_kind(tracker: Tracker, include_check_in: bool = True) -> Optional[str]:
    """The harm this conversation disclosed, or None (``bot.next_steps.disclosed_kind``)."""
    escalations = [e.get("value") for e in tracker.events if e.get("event") == "slot" and e.get("name") == "escalation"]
    check = tracker.get_slot("danger_check") if include_check_in else None  # an open check-in
    kind = find_disclosed_kind(escalations, check, tracker.get_slot("danger_kind"), tracker.get_slot("escalation"))
    return refine_kind(kind, user_texts(tracker)[:-1])  # the messages before this one


def user_texts(tracker: Tracker) -> List[str]:
    """What the user typed in this conversation (not buttons), to read the harm again."""
    return [
        str(e.get("text"))
        for e in tracker.events
        if e.get("event") == "user" and e.get("text") and not str(e.get("text")).startswith("/")
    ]


def say_next_steps(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    kind: str,
    prefix: Optional[str] = None,
    may_ask_safe: bool = True,
) -> List[EventType]:
    """The answer to what the message asked, the kind's steps, then "are you safe right now?" (when
    it matters and ``may_ask_safe``) or the counselor offer."""
    lang, audience = reply_language(tracker), audience_of(tracker)
    content = next_steps()
    questions = questions_in(tracker.latest_message.get("text") or "")
    parts = [prefix] if prefix else []
    parts += [content.answer(q, audience, lang) for q in questions]
    parts.append(content.steps(kind, audience, lang))
    dispatcher.utter_message(text="\n\n".join(parts), answer=f"next_steps/{kind}/{step_audience(audience)}")
    counselor = {"title": content.button("counselor", lang), "payload": "/request_human"}
    ask_safe = (
        may_ask_safe
        and (content.ask_safe(kind) or {"deadline", "scared"} & set(questions))
        and tracker.get_slot("safe_now") != "yes"
    )
    if ask_safe:
        dispatcher.utter_message(
            text=content.text("ask_safe", lang, audience),
            buttons=[
                {"title": content.button("safe", lang), "payload": "/affirm"},
                {"title": content.button("not_safe", lang), "payload": "/deny"},
                counselor,
            ],
        )
    else:
        dispatcher.utter_message(
            text=content.text("offer", lang),
            buttons=[counselor, {"title": content.button("not_now", lang), "payload": "/deny"}],
        )
    logger.info("followup.next_steps kind=%s questions=%s asked_safe=%s", kind, ",".join(questions), bool(ask_safe))
    return [SlotSet("asked_safe", bool(ask_safe))]


class ActionNextSteps(Action):
    """ "What do I do now?" and the questions that follow a disclosure."""

    def name(self) -> str:
        return "action_next_steps"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = tracker.latest_message.get("text") or ""
        if intent == "delete_my_data" and about_this_chat(text):
            return [FollowupAction("utter_confirm_delete_my_data")]
        topic = tracker.get_slot("topic")
        kind = disclosed_kind(tracker) or TOPIC_HARMS.get(str(topic))
        if kind:
            return say_next_steps(dispatcher, tracker, kind)
        lang = reply_language(tracker)
        if topic in library().topics:
            # Nothing disclosed: "what should I do?" about the topic being discussed.
            text = library().followup(topic, "already_happened", audience_of(tracker), lang)
            dispatcher.utter_message(text=text, answer=f"followup/{topic}/already_happened")
            return []
        content = next_steps()
        dispatcher.utter_message(
            text=content.text("no_disclosure", lang),
            buttons=[{"title": content.button("counselor", lang), "payload": "/request_human"}, *topic_buttons(lang)],
            answer="next_steps/none",
        )
        return []

"""The danger safety net's reply, the media policy, and asking for a person.

A disclosure is answered at once with reassurance and the helplines, then an offer to talk to a
counselor; so is "yes" to a check-in (``actions.check_in``), as a disclosure confirmed. It also
opens a case for the counselors on its own (urgent for abuse, threats, coercion, blackmail and
self-harm), or adds to the conversation's open case, even if the user never
files a report. The ``escalation`` slot records it (kind, source, time, reference; never the text).
"talk to a person" escalates straight away: a case in the counselors' queue, with whatever the
report form had gathered. Both say honestly who can talk now (``bot.cases.availability``): a
counselor is online within their hours and will join this chat, or nobody is, and the user gets
the helplines and the counselors' hours; the case is in the queue either way.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.apps import app_in, say_app_report
from actions.cases import case_desk, escalation, off_loop, record_case
from actions.check_in import open_check_in
from actions.common import audience_of, fill, library, reply_language
from actions.next_steps import disclosed_kind, say_next_steps
from actions.report.answers import REPORT_FORM, answers_from_disclosure, report_answers, report_risk, reset_report
from bot.analytics.moments import check_in, disclosure_made
from bot.app_guides import asked_about
from bot.cases import CaseStoreError, CaseUpdate, triage
from bot.cases.availability import Availability
from bot.next_steps import harm_kind, support_message
from bot.safety import DISCLOSURE_INTENTS, read_disclosure
from bot.settings import get_settings

logger = logging.getLogger(__name__)


async def counselor_availability() -> Availability:
    """Whether a counselor can join now; nobody is promised when the case database cannot say."""
    hours = get_settings().hours
    try:
        return await off_loop(Availability.now, case_desk().store, hours)
    except CaseStoreError:
        return Availability(hours.open_at(), ())


def _hours(lang: str) -> str:
    return get_settings().hours.describe(lang)


def _disclosed_words(tracker: Tracker, confirmed: bool) -> Optional[str]:
    """The user's own words for the case (kept encrypted): the message itself, or, when a check-in
    was confirmed, the message the check-in asked about and the answer."""
    said = [e.get("text") or "" for e in tracker.events if e.get("event") == "user"]
    if confirmed and len(said) >= 2:
        return f"{said[-2]}\n{said[-1]}"
    return tracker.latest_message.get("text") or None


class ActionDangerSupport(Action):
    """Reassurance, emergency and helpline numbers, and an offer of a counselor."""

    def name(self) -> str:
        return "action_danger_support"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        # "Yes" to a check-in (or a second possible disclosure after it) confirms the disclosure.
        check = open_check_in(tracker) if intent not in DISCLOSURE_INTENTS else None
        confirmed = check is not None
        if check is not None:
            again = tracker.latest_message.get("danger") or {}
            read = {"kind": again.get("kind") or check.get("kind") or "unspecified", "source": "check_in"}
        else:
            read = read_disclosure(
                intent, tracker.latest_message.get("entities") or [], tracker.get_slot("danger_kind")
            ) or {"kind": "unspecified", "source": "classifier"}
        kind, source = read["kind"], read["source"]
        repeat_of = disclosed_kind(tracker) if not confirmed else None
        if repeat_of and (harm_kind(kind) == "self_harm" or repeat_of == "general"):
            repeat_of = harm_kind(kind)
        lang = reply_language(tracker)
        audience = audience_of(tracker)
        lib = library()
        key = support_message(kind)
        # The helplines first; the case is written after, within a time limit (actions.cases).
        dispatcher.utter_message(text=lib.message(key, lang, audience))
        logger.warning(
            "safety.disclosure kind=%s source=%s language=%s audience=%s", kind, source, lang, audience or "unknown"
        )
        words = _disclosed_words(tracker, confirmed)
        disclosure_made(kind, words)  # the kind and the apps named; never the words
        if confirmed:
            check_in("confirmed")
        update = CaseUpdate(
            origin="check_in" if confirmed else "disclosure",
            risk=triage(disclosure_kinds=[kind]),
            language=lang,
            audience=audience,
            disclosure={"kind": kind, "source": source},
            excerpt=words,
        )
        try:
            reference: Optional[str] = (await record_case(tracker, update)).case.reference
        except CaseStoreError:
            reference = None  # the helplines are out; no word about a case that was not written
        events: List[EventType] = [SlotSet("danger_kind", kind), SlotSet("danger_check", None)]
        if tracker.active_loop.get("name") == REPORT_FORM:
            # Mid-report: no offer to answer, the form goes on (and keeps a typed answer).
            key = "danger_support_in_report" if reference else "danger_support_in_report_unsaved"
            dispatcher.utter_message(text=fill(lib.message(key, lang), reference=reference or ""))
            events += answers_from_disclosure(tracker, kind)
            status = "in_report"
        elif repeat_of:
            # Already disclosed in this conversation: after the helplines, that harm's next steps and
            # the counselor offer (actions/next_steps.py), whose typed yes / no the rules answer.
            events += say_next_steps(dispatcher, tracker, repeat_of, may_ask_safe=False)
            status = "next_steps"
        else:
            if (await counselor_availability()).counselor_available:
                offer = lib.message("counselor_offer", lang)
            else:
                offer = fill(lib.message("counselor_offer_unavailable", lang), hours=_hours(lang))
            if reference:
                offer = f"{fill(lib.message('danger_case_opened', lang), reference=reference)}\n{offer}"
            dispatcher.utter_message(
                text=offer,
                buttons=[
                    {"title": lib.message("button_talk_counselor", lang), "payload": "/request_human"},
                    {"title": lib.message("button_not_now", lang), "payload": "/deny"},
                ],
            )
            status = "counselor_offered"
            events += _app_report_asked(dispatcher, tracker)
        state = escalation("disclosure", kind=kind, source=source, status=status, reference=reference)
        events.append(SlotSet("escalation", state))
        if reference:
            events.append(SlotSet("case_reference", reference))
        return events


class ActionRequestHuman(Action):
    """The user asked for a person: escalate straight away (a case in the counselors' queue, with
    what the report form had gathered, if it was open), and say honestly who can talk right now."""

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        lang = reply_language(tracker)
        audience = audience_of(tracker)
        previous = tracker.get_slot("escalation") or {}
        # Answers of a report interrupted by "talk to a person" (the rule has just closed the form).
        answers = report_answers(tracker)
        update = CaseUpdate(
            origin="counselor_request",
            risk=report_risk(tracker),
            language=lang,
            audience=audience,
            answers=answers,
            counselor_requested=True,
        )
        try:
            reference: Optional[str] = (await record_case(tracker, update)).case.reference
        except CaseStoreError:
            reference = None
        available = await counselor_availability()
        if not reference:
            key = "request_human"  # no case could be written: the helplines, and no promise
        elif available.counselor_available:
            key = "request_human_online"
        elif not available.in_hours:
            key = "request_human_after_hours"
        else:
            key = "request_human_offline"
        text = fill(library().message(key, lang, audience), reference=reference or "", hours=_hours(lang))
        dispatcher.utter_message(text=text)
        logger.warning(
            "safety.counselor_requested after=%s case=%s answer=%s",
            previous.get("reason", "none"),
            bool(reference),
            key,
        )
        state = escalation("counselor_requested", kind=previous.get("kind"), status="requested", reference=reference)
        events: List[EventType] = [SlotSet("escalation", state)]
        if reference:
            events.append(SlotSet("case_reference", reference))
        if answers:  # they are in the case now; a new report starts empty
            events += reset_report()
        return events


class ActionMediaPolicy(Action):
    """Never take images: explain why, and where to report an image instead."""

    def name(self) -> str:
        return "action_media_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        dispatcher.utter_message(text=library().message("media_policy", reply_language(tracker), audience_of(tracker)))
        return []


def _app_report_asked(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """ "Someone on a Minecraft server says creepy things, how do I report them?": after the help,
    how to report on that app, as asked."""
    text = str(tracker.latest_message.get("text") or "")
    app = app_in(text)
    if not app or asked_about(text, default="") != "report":
        return []
    return say_app_report(dispatcher, tracker, app)

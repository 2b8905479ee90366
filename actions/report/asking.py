"""The report form's questions that need more than a response in domain.yml: starting a report,
the contact question (which first marks the case urgent when someone is in danger now), and the
summary with submit / change / cancel."""

from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cases import escalation, record_case
from actions.common import audience_of, library, reply_language, say
from actions.report.answers import SKIPPED, report_update, reset_report
from bot.cases import CaseStoreError
from bot.cases import answers as parse

__all__ = ["ActionStartReport", "ActionAskReportContact", "ActionAskReportConfirm"]


class ActionStartReport(Action):
    """Starts a report afresh: says how it works, and empties any earlier answers."""

    def name(self) -> str:
        return "action_start_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        say(dispatcher, tracker, "report_intro")
        # The questions' wording (domain.yml conditions on it, and on the language).
        voice = "child" if audience_of(tracker) == "child" else "grown"
        return [*reset_report(), SlotSet("report_voice", voice)]


class ActionAskReportContact(Action):
    """Asks about contact; first, if someone is in danger now, marks the case urgent (committed)."""

    def name(self) -> str:
        return "action_ask_report_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        events: List[EventType] = []
        previous = tracker.get_slot("escalation") or {}
        already = (
            isinstance(previous, dict)
            and previous.get("reason") == "immediate_danger"
            and previous.get("reference") == tracker.get_slot("case_reference")
        )
        if tracker.get_slot("report_danger_now") == "yes" and not already:
            try:
                recorded = await record_case(tracker, report_update(tracker, "urgent_answer", "urgent"))
            except CaseStoreError:
                say(dispatcher, tracker, "report_urgent_failed")
            else:
                reference = recorded.case.reference
                say(dispatcher, tracker, "report_urgent_flagged", reference=reference)
                events += [
                    SlotSet("case_reference", reference),
                    SlotSet("escalation", {**escalation("immediate_danger"), "reference": reference}),
                ]
        dispatcher.utter_message(response="utter_ask_report_contact")
        return events


class ActionAskReportConfirm(Action):
    """The summary of the answers, and submit / change / cancel."""

    def name(self) -> str:
        return "action_ask_report_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = reply_language(tracker)
        lib = library()

        def value(key: str) -> str:
            return lib.message(f"report_value_{key}", lang)

        def shown(slot: str, known: tuple, suffix: str = "") -> str:
            answer = tracker.get_slot(slot)
            if answer in (None, SKIPPED):
                return value("skipped")
            return value(f"{answer}{suffix}") if answer in known else str(answer)

        harm = shown("report_harm", parse.HARMS)
        if tracker.get_slot("report_harm") == "other":
            harm = value("other_harm")
        if tracker.get_slot("report_harm_text"):
            harm += f": «{tracker.get_slot('report_harm_text')}»"
        contact = shown("report_contact", parse.CONTACTS)
        if tracker.get_slot("report_contact") == "phone" and tracker.get_slot("report_phone") not in (None, SKIPPED):
            contact = f"{contact} {tracker.get_slot('report_phone')}"
        rows = [
            ("reporter", shown("report_reporter", parse.REPORTERS)),
            ("harm", harm),
            ("where", shown("report_where", ())),
            ("when", shown("report_when", parse.WHENS)),
            ("danger_now", shown("report_danger_now", ("yes", "no"))),
            ("contact", contact),
        ]
        lines = [lib.message("report_summary_title", lang)]
        lines += [f"• {lib.message(f'report_label_{key}', lang)}: {text}" for key, text in rows]
        lines.append(lib.message("report_summary_question", lang))
        dispatcher.utter_message(
            text="\n".join(lines),
            buttons=[
                {"title": lib.message("button_report_submit", lang), "payload": "/affirm"},
                {"title": lib.message("button_report_change", lang), "payload": '/inform{"report_confirm":"change"}'},
                {"title": lib.message("button_report_cancel", lang), "payload": "/cancel"},
            ],
        )
        return []

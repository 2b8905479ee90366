"""The end of a report: submitting it (the user hears it was sent only after the case is
committed) or cancelling it (nothing from it is sent)."""

from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cases import record_case
from actions.common import audience_of, fill, library, reply_language, say
from actions.report.answers import leave_form, report_risk, report_update, reset_report
from bot.cases import CaseStoreError

__all__ = ["ActionSubmitReport", "ActionCancelReport"]


class ActionSubmitReport(Action):
    """Commits the report, then (only then) gives the reference, what happens next and the
    official channels; if the store fails, says so and gives the helplines instead."""

    def name(self) -> str:
        return "action_submit_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            recorded = await record_case(tracker, report_update(tracker, "report", report_risk(tracker)))
        except CaseStoreError:
            say(dispatcher, tracker, "report_store_failed")
            return reset_report()
        reference = recorded.case.reference
        contact = tracker.get_slot("report_contact")
        contact = contact if contact in ("chat", "phone") else "none"
        lang, audience = reply_language(tracker), audience_of(tracker)
        submitted = fill(library().message("report_submitted", lang, audience), reference=reference)
        dispatcher.utter_message(text=f"{submitted}\n{library().message(f'report_contact_{contact}', lang)}")
        say(dispatcher, tracker, "report_official_channels")
        return [*reset_report(), SlotSet("case_reference", reference)]


class ActionCancelReport(Action):
    """Leaves the form; nothing from it is sent."""

    def name(self) -> str:
        return "action_cancel_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        say(dispatcher, tracker, "report_cancelled")
        return leave_form(tracker)

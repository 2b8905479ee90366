"""A report's status (received / with a counselor / closed), only for references this
conversation filed: whoever knows a reference learns nothing about another conversation's case."""

from __future__ import annotations

import re
from typing import List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cases import case_desk, conversation_of, off_loop
from actions.common import fill, library, reply_language
from actions.report.answers import language_before_this_message
from bot.cases import CaseMeta, CaseStoreError
from bot.cases.reference import find_references
from bot.language import detect_language

__all__ = ["ActionReportStatus"]


class ActionReportStatus(Action):
    """received / with a counselor / closed, for references this conversation filed; nothing else."""

    def name(self) -> str:
        return "action_report_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        desk = case_desk()
        conversation = conversation_of(tracker)
        text = tracker.latest_message.get("text") or ""
        references = find_references(text)
        # A reference's digits read as Arabizi ("status K7P3XM94"): the language is the one of the
        # words around it, else the conversation's before this message.
        lang = (
            detect_language(re.sub(r"\S*\d\S*", " ", text))
            or language_before_this_message(tracker)
            or reply_language(tracker)
        )
        events: List[EventType] = [SlotSet("language", lang)] if lang != tracker.get_slot("language") else []
        found: List[Optional[CaseMeta]] = []
        try:
            if references:
                found = [await off_loop(desk.case_in_conversation, ref, conversation) for ref in references]
            else:
                found = list((await off_loop(desk.cases_of, conversation))[-3:])
        except CaseStoreError:
            dispatcher.utter_message(text=library().message("report_status_failed", lang))
            return events
        lines = [
            fill(library().message(f"report_status_{case.status}", lang), reference=case.reference)
            for case in found
            if case is not None
        ]
        if references and len(lines) < len(references):
            lines.append(library().message("report_status_not_found", lang))
        if not lines:
            lines.append(library().message("report_status_none", lang))
        dispatcher.utter_message(text="\n".join(lines))
        return events

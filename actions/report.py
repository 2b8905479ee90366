"""The confidential report: the form and its validation, submitting, cancelling, a report's
status, "delete my data", and the helpers the safety actions use to open or add to a case.

The form (``report_form`` in domain.yml) asks who is reporting, what kind of harm, where, when,
whether anyone is in danger now, and whether a counselor may make contact (and, only with consent,
on which phone number); then it shows a summary with submit / change / cancel. Every question can
be skipped. ``ValidateReportForm`` only computes slot values (and says why an answer was not
taken); everything that writes a case happens in the actions after it, through ``bot.cases``.
The user is told a report was sent only after the case is committed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, TypeVar

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import audience_of, library, reply_language
from bot.cases import FORGET_ACTION, CaseDesk, CaseMeta, CaseStoreError, CaseUpdate, Conversation, Recorded, triage
from bot.cases import answers as parse
from bot.cases.reference import find_references
from bot.language import detect_language
from bot.settings import get_settings

__all__ = [
    "ValidateReportForm",
    "ActionStartReport",
    "ActionAskReportContact",
    "ActionAskReportConfirm",
    "ActionSubmitReport",
    "ActionCancelReport",
    "ActionReportStatus",
    "ActionDeleteMyData",
    "case_desk",
    "record_case",
    "conversation_of",
    "report_answers",
    "report_risk",
    "answers_from_disclosure",
    "reset_report",
    "fill",
    "REPORT_FORM",
]

logger = logging.getLogger(__name__)

REPORT_FORM = "report_form"
SKIPPED = "skipped"
# Slots the form fills, and the ones it uses on the way; all reset when a report starts or ends.
REPORT_SLOTS = (
    "report_reporter",
    "report_harm",
    "report_harm_text",
    "report_where",
    "report_when",
    "report_danger_now",
    "report_contact",
    "report_phone",
    "report_confirm",
    "report_change",
)
# The form's questions in order, as in domain.yml (used if the domain was not sent; a test checks).
FORM_SLOTS = (
    "report_reporter",
    "report_harm",
    "report_where",
    "report_when",
    "report_danger_now",
    "report_contact",
    "report_phone",
    "report_confirm",
    "report_change",
)
# How long a case may take to write before the user is told it could not be (seconds).
STORE_TIMEOUT = 5.0
# Intents a short answer to a fixed-choice question can be mistaken for (see ``ValidateReportForm``).
_MISTAKABLE_INTENTS = frozenset({"help", "bot_challenge", "switch_language"})
# A disclosure typed as the answer to "what kind of harm?" answers it.
_KIND_TO_HARM = {"blackmail": "blackmail", "meeting": "grooming"}

T = TypeVar("T")
_desk: Optional[CaseDesk] = None


# --- cases: shared with actions/safety.py ---------------------------------------------------------


def case_desk() -> CaseDesk:
    """The process's case desk, built from settings on first use."""
    global _desk
    if _desk is None:
        _desk = CaseDesk.from_settings(get_settings())
    return _desk


def use_case_desk(desk: Optional[CaseDesk]) -> None:
    """Replace the process's case desk (tests); None builds it again from settings."""
    global _desk
    _desk = desk


async def _off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking case-store call in a thread, within ``STORE_TIMEOUT``; raises ``CaseStoreError``."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout=STORE_TIMEOUT)
    except asyncio.TimeoutError:
        logger.error("cases.store.timeout")
        raise CaseStoreError("case store timed out") from None


def conversation_of(tracker: Tracker) -> Conversation:
    return Conversation(tracker.get_latest_input_channel() or "unknown", tracker.sender_id)


async def record_case(tracker: Tracker, update: CaseUpdate) -> Recorded:
    """Commit ``update`` to this conversation's open case (or a new one). Raises ``CaseStoreError``."""
    desk = case_desk()
    return await _off_loop(desk.record, conversation_of(tracker), update, tracker.get_slot("case_reference"))


def fill(text: str, **values: str) -> str:
    """Put values into a message's ``<name>`` markers (helpline placeholders are already rendered)."""
    for name, value in values.items():
        text = text.replace(f"<{name}>", value)
    return text


def report_answers(tracker: Tracker) -> Dict[str, str]:
    """The form's answers so far, by question (kept only inside the encrypted case)."""
    found: Dict[str, str] = {}
    for slot in REPORT_SLOTS:
        value = tracker.get_slot(slot)
        if value is not None and slot not in ("report_confirm", "report_change"):
            found[slot[len("report_") :]] = str(value)
    return found


def _disclosure_kinds(tracker: Tracker) -> List[str]:
    escalation = tracker.get_slot("escalation") or {}
    kind = escalation.get("kind") if isinstance(escalation, dict) else None
    return [kind] if kind else []


def report_risk(tracker: Tracker) -> str:
    """The risk of what this conversation has told so far (``bot.cases.triage``)."""
    return triage(
        danger_now=tracker.get_slot("report_danger_now"),
        disclosure_kinds=_disclosure_kinds(tracker),
        harm=tracker.get_slot("report_harm"),
        when=tracker.get_slot("report_when"),
    )


def answers_from_disclosure(tracker: Tracker, kind: str) -> List[EventType]:
    """A disclosure typed as the answer to the form's question is that answer, so the form moves on."""
    text = tracker.latest_message.get("text") or ""
    requested = tracker.get_slot("requested_slot")
    if requested == "report_where" and parse.free_text(text):
        return [SlotSet("report_where", parse.free_text(text))]
    if requested == "report_harm":
        return [
            SlotSet("report_harm", _KIND_TO_HARM.get(kind, "other")),
            SlotSet("report_harm_text", parse.free_text(text)),
        ]
    if requested == "report_danger_now":
        return [SlotSet("report_danger_now", "yes")]
    return []


def reset_report() -> List[EventType]:
    return [SlotSet(slot, None) for slot in REPORT_SLOTS]


def _leave_form(tracker: Tracker) -> List[EventType]:
    if tracker.active_loop.get("name") != REPORT_FORM:
        return reset_report()
    return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_report()]


def _say(dispatcher: CollectingDispatcher, tracker: Tracker, key: str, **values: str) -> None:
    text = library().message(key, reply_language(tracker), audience_of(tracker))
    dispatcher.utter_message(text=fill(text, **values))


# --- the form -----------------------------------------------------------------------------------


def _language_before_this_message(tracker: Tracker) -> Optional[str]:
    """The reply language as it was before the latest message changed it."""
    events = tracker.events
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=None)
    if last_user is None:
        return None
    for event in reversed(events[:last_user]):
        if event.get("event") == "slot" and event.get("name") == "language":
            return event.get("value")
    return None


class ValidateReportForm(FormValidationAction):
    """Turns each answer into a value, or asks again with a hint. Computes slots only."""

    def name(self) -> str:
        return "validate_report_form"

    async def required_slots(
        self, domain_slots: List[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[str]:
        # The phone number is asked only after consenting to a call; "which answer?" only after "change".
        slots = list(domain_slots or FORM_SLOTS)
        if tracker.slots.get("report_contact") != "phone":
            slots = [s for s in slots if s != "report_phone"]
        if tracker.slots.get("report_confirm") != "change":
            slots = [s for s in slots if s != "report_change"]
        return slots

    # --- answers the classifier mistook for a question to the bot -------------------------------
    # A short answer can look like "help" to the classifier ("هنا" — "here" — to "how may I be
    # contacted?"), and the domain's mappings never take a control intent's text as an answer. For
    # the questions with a fixed set of answers, an answer that reads clearly as one of them is
    # taken anyway when the intent was one of these harmless ones (never cancel, a disclosure,
    # "talk to a person" or "delete my data": those keep their meaning).

    @staticmethod
    def _answer_despite_intent(slot: str, tracker: Tracker, reader: Callable[[str], Optional[str]]) -> Dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot:
            return {}
        if (tracker.latest_message.get("intent") or {}).get("name") not in _MISTAKABLE_INTENTS:
            return {}
        read = reader(tracker.latest_message.get("text") or "")
        return {slot: read} if read else {}

    @staticmethod
    def _settled(slot: str, value: Any, allowed: tuple) -> Optional[Dict[str, Any]]:
        """Nothing yet, a skip (button or typed) or a button's own value: taken as it is. None when
        the answer still has to be read."""
        if value is None or value == SKIPPED or value in allowed:
            return {slot: value}
        if parse.is_skip(str(value)):
            return {slot: SKIPPED}
        return None

    @staticmethod
    def _hint(dispatcher: CollectingDispatcher, tracker: Tracker, key: str) -> None:
        _say(dispatcher, tracker, key)

    def _choice(
        self,
        slot: str,
        value: Any,
        allowed: tuple,
        reader: Callable[[str], Optional[str]],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> Dict[str, Any]:
        settled = self._settled(slot, value, allowed)
        if settled is not None:
            return settled
        read = reader(str(value))
        if read:
            return {slot: read}
        self._hint(dispatcher, tracker, "report_invalid_choice")
        return {slot: None}

    def validate_report_reporter(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return self._choice("report_reporter", value, parse.REPORTERS, parse.parse_reporter, dispatcher, tracker)

    def validate_report_harm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        settled = self._settled("report_harm", value, parse.HARMS)
        if settled is not None:
            return settled
        words = parse.free_text(str(value))
        kind = parse.parse_harm(str(value))
        if kind:
            return {"report_harm": kind, "report_harm_text": words}
        if words and len(words.split()) >= 2:  # told in their own words: "other", and keep the words
            return {"report_harm": "other", "report_harm_text": words}
        self._hint(dispatcher, tracker, "report_invalid_choice")
        return {"report_harm": None}

    def validate_report_where(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        settled = self._settled("report_where", value, ())
        if settled is not None:
            return settled
        words = parse.free_text(str(value))
        if not words:
            self._hint(dispatcher, tracker, "report_invalid_text")
            return {"report_where": None}
        found: Dict[str, Any] = {"report_where": words}
        # Usernames and links are Latin even in Arabic: they do not switch the reply language.
        before = _language_before_this_message(tracker)
        if before and before != tracker.get_slot("language"):
            found["language"] = before
        return found

    def validate_report_when(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        settled = self._settled("report_when", value, parse.WHENS)
        if settled is not None:
            return settled
        read = parse.parse_when(str(value))
        if read:
            return {"report_when": read}
        words = parse.free_text(str(value))
        if words and len(words) <= 100 and (len(words.split()) >= 2 or any(c.isdigit() for c in words)):
            return {"report_when": words}  # "on Eid", "15/3": their words
        self._hint(dispatcher, tracker, "report_invalid_choice")
        return {"report_when": None}

    def validate_report_danger_now(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        settled = self._settled("report_danger_now", value, ("no",))
        if settled is not None:
            return settled
        answer = value if value == "yes" else parse.parse_yes_no(str(value))
        if answer is None:
            self._hint(dispatcher, tracker, "report_invalid_yes_no")
            return {"report_danger_now": None}
        if answer == "yes":
            # 911 at once; the case is marked urgent by action_ask_report_contact, right after.
            _say(dispatcher, tracker, "report_danger_now_yes")
        return {"report_danger_now": answer}

    def validate_report_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        # A number typed before the consent question is not kept: it is asked again, with consent.
        found = self._choice("report_contact", value, parse.CONTACTS, parse.parse_contact, dispatcher, tracker)
        found["report_phone"] = None
        return found

    def validate_report_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        if value is None:
            return {"report_phone": None}
        if value == SKIPPED or parse.is_skip(str(value)):  # no number after all: answers come in this chat
            return {"report_phone": SKIPPED, "report_contact": "chat"}
        number = parse.normalize_phone(str(value))
        if number is None:
            self._hint(dispatcher, tracker, "report_invalid_phone")
        return {"report_phone": number}

    def validate_report_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        if value in (None, "submit", "change"):
            return {"report_confirm": value}
        read = parse.parse_confirm(str(value))
        if read is None:
            self._hint(dispatcher, tracker, "report_invalid_confirm")
        return {"report_confirm": read}

    def validate_report_change(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        if value is None:
            return {"report_change": None}
        question = parse.parse_question(str(value))
        if question is None:
            self._hint(dispatcher, tracker, "report_invalid_choice")
            return {"report_change": None}
        # Empty the answer: the form asks that question again, then shows the summary again.
        found: Dict[str, Any] = {"report_change": None, "report_confirm": None, question: None}
        if question == "report_contact":
            found["report_phone"] = None
        if question == "report_harm":
            found["report_harm_text"] = None
        return found


# ``extract_<slot>`` for each fixed-choice question (rasa-sdk calls them by name).
_READERS: Dict[str, Callable[[str], Optional[str]]] = {
    "report_reporter": parse.parse_reporter,
    "report_harm": parse.parse_harm,
    "report_when": parse.parse_when,
    "report_danger_now": parse.parse_yes_no,
    "report_contact": parse.parse_contact,
}


def _extractor(slot: str, reader: Callable[[str], Optional[str]]) -> Callable[..., Any]:
    async def extract(
        self: ValidateReportForm, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return self._answer_despite_intent(slot, tracker, reader)

    return extract


for _slot, _reader in _READERS.items():
    setattr(ValidateReportForm, f"extract_{_slot}", _extractor(_slot, _reader))


class ActionStartReport(Action):
    """Starts a report afresh: says how it works, and empties any earlier answers."""

    def name(self) -> str:
        return "action_start_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        _say(dispatcher, tracker, "report_intro")
        # The questions' wording (domain.yml conditions on it, and on the language).
        voice = "child" if audience_of(tracker) == "child" else "grown"
        return [*reset_report(), SlotSet("report_voice", voice)]


class ActionAskReportContact(Action):
    """Asks about contact; first, if someone is in danger now, marks the case urgent (committed)."""

    def name(self) -> str:
        return "action_ask_report_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        events: List[EventType] = []
        escalation = tracker.get_slot("escalation") or {}
        already = (
            isinstance(escalation, dict)
            and escalation.get("reason") == "immediate_danger"
            and escalation.get("reference") == tracker.get_slot("case_reference")
        )
        if tracker.get_slot("report_danger_now") == "yes" and not already:
            update = CaseUpdate(
                origin="urgent_answer",
                risk="urgent",
                language=reply_language(tracker),
                audience=audience_of(tracker),
                answers=report_answers(tracker),
            )
            try:
                recorded = await record_case(tracker, update)
            except CaseStoreError:
                _say(dispatcher, tracker, "report_urgent_failed")
            else:
                reference = recorded.case.reference
                _say(dispatcher, tracker, "report_urgent_flagged", reference=reference)
                events += [
                    SlotSet("case_reference", reference),
                    SlotSet("escalation", {**_escalation("immediate_danger"), "reference": reference}),
                ]
        dispatcher.utter_message(response="utter_ask_report_contact")
        return events


def _escalation(reason: str) -> Dict[str, Any]:
    return {"reason": reason, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


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


class ActionSubmitReport(Action):
    """Commits the report, then (only then) gives the reference, what happens next and the
    official channels; if the store fails, says so and gives the helplines instead."""

    def name(self) -> str:
        return "action_submit_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        update = CaseUpdate(
            origin="report",
            risk=report_risk(tracker),
            language=reply_language(tracker),
            audience=audience_of(tracker),
            answers=report_answers(tracker),
        )
        try:
            recorded = await record_case(tracker, update)
        except CaseStoreError:
            _say(dispatcher, tracker, "report_store_failed")
            return reset_report()
        reference = recorded.case.reference
        contact = tracker.get_slot("report_contact")
        contact = contact if contact in ("chat", "phone") else "none"
        lang, audience = reply_language(tracker), audience_of(tracker)
        submitted = fill(library().message("report_submitted", lang, audience), reference=reference)
        dispatcher.utter_message(text=f"{submitted}\n{library().message(f'report_contact_{contact}', lang)}")
        _say(dispatcher, tracker, "report_official_channels")
        return [*reset_report(), SlotSet("case_reference", reference)]


class ActionCancelReport(Action):
    """Leaves the form; nothing from it is sent."""

    def name(self) -> str:
        return "action_cancel_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        _say(dispatcher, tracker, "report_cancelled")
        return _leave_form(tracker)


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
            or _language_before_this_message(tracker)
            or reply_language(tracker)
        )
        events: List[EventType] = [SlotSet("language", lang)] if lang != tracker.get_slot("language") else []
        found: List[Optional[CaseMeta]] = []
        try:
            if references:
                found = [await _off_loop(desk.case_in_conversation, ref, conversation) for ref in references]
            else:
                found = list((await _off_loop(desk.cases_of, conversation))[-3:])
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


class ActionDeleteMyData(Action):
    """Unlinks this conversation from its cases; the conversation store then forgets the
    conversation (``bot.cases.conversations``, triggered by this action's name)."""

    def name(self) -> str:
        return FORGET_ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            unlinked = await _off_loop(case_desk().unlink, conversation_of(tracker))
        except CaseStoreError:
            _say(dispatcher, tracker, "delete_partial")
        else:
            logger.info("cases.conversation.unlinked count=%d", len(unlinked))
            _say(dispatcher, tracker, "delete_done")
        forget = ("case_reference", "escalation", "danger_kind", "topic", "audience")
        return [*reset_report(), *(SlotSet(slot, None) for slot in forget)]

"""The report form's validation: each answer becomes a slot value, or the question is asked again
with a hint. Computes slots only; writing a case happens in the actions after it
(``actions.report.submission``).

Every question can be skipped. For the questions with a fixed set of answers an ``extract_<slot>``
method reads an answer the classifier mistook for a question to the bot (see
``ValidateReportForm._answer_despite_intent``).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import say
from actions.report.answers import FORM_SLOTS, SKIPPED, language_before_this_message
from bot.cases import answers as parse

__all__ = ["ValidateReportForm"]

# Intents a short answer to a fixed-choice question can be mistaken for (see ``ValidateReportForm``).
_MISTAKABLE_INTENTS = frozenset({"help", "bot_challenge", "switch_language"})


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
        say(dispatcher, tracker, key)

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
        before = language_before_this_message(tracker)
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
            say(dispatcher, tracker, "report_danger_now_yes")
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

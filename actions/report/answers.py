"""The report form's state: its slots, the answers gathered so far, their risk, and leaving it.

Used by the form's own actions and by the safety actions (a disclosure or "talk to a person" in the
middle of a report takes the answers gathered so far into the case)."""

from __future__ import annotations

from typing import Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet

from actions.common import audience_of, reply_language
from bot.cases import CaseUpdate, triage
from bot.cases import answers as parse

__all__ = [
    "REPORT_FORM",
    "SKIPPED",
    "REPORT_SLOTS",
    "FORM_SLOTS",
    "report_answers",
    "report_risk",
    "report_update",
    "answers_from_disclosure",
    "reset_report",
    "leave_form",
    "language_before_this_message",
]

REPORT_FORM = "report_form"
SKIPPED = "skipped"
# The form's questions in order, as in domain.yml (used if the domain was not sent; a test checks).
FORM_SLOTS = (*parse.QUESTIONS, "report_phone", "report_confirm", "report_change")
# Slots the form fills, and the ones it uses on the way; all reset when a report starts or ends.
REPORT_SLOTS = (*FORM_SLOTS, "report_harm_text")
# A disclosure typed as the answer to "what kind of harm?" answers it.
_KIND_TO_HARM = {"blackmail": "blackmail", "meeting": "grooming", "images": "images"}


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


def report_update(tracker: Tracker, origin: str, risk: str) -> CaseUpdate:
    """What this report adds to its case: the answers so far, in the user's language and audience."""
    return CaseUpdate(
        origin=origin,
        risk=risk,
        language=reply_language(tracker),
        audience=audience_of(tracker),
        answers=report_answers(tracker),
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


def leave_form(tracker: Tracker) -> List[EventType]:
    if tracker.active_loop.get("name") != REPORT_FORM:
        return reset_report()
    return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_report()]


def language_before_this_message(tracker: Tracker) -> Optional[str]:
    """The reply language as it was before the latest message changed it."""
    events = tracker.events
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=None)
    if last_user is None:
        return None
    for event in reversed(events[:last_user]):
        if event.get("event") == "slot" and event.get("name") == "language":
            return event.get("value")
    return None

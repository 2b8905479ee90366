"""Which action answers a message in the context of the conversation, where the intent alone cannot
say: "what do I do now?", "should I tell my parents?", "I'm scared", "can you delete it" after a
disclosure (that harm's next steps, whatever the classifier made of the words); "yes" / "no" to
"are you safe right now?"; "and on Instagram?" / "what about for a 7-year-old?" (the same subject
for another app or age).

Pure functions of the intent, the text and a few slots, so they are tested without a model; the
dialogue policy ``bot.followup_policy.FollowupPolicy`` applies them. Nothing here reads or keeps
more of a message than the words it matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from bot.app_guides import asked_about, child_age
from bot.apps import AppLexicon, apps_named
from bot.language import normalize_for_matching
from bot.next_steps import about_this_chat, asks_what_now, asks_what_to_do

__all__ = ["ANSWERS", "Context", "NEVER", "is_what_about", "route"]

NEXT_STEPS = "action_next_steps"
WHAT_ABOUT = "action_what_about"
SAFETY_ANSWER = "action_safety_answer"
ANSWERS = frozenset({NEXT_STEPS, WHAT_ABOUT, SAFETY_ANSWER})

# Intents that always keep their own rules: a new disclosure (the crisis reply), asking for a
# person, a report, cancelling, changing language, the campaign keywords and the quiz / poll
# buttons, greetings. The follow-up never takes these.
NEVER = frozenset(
    {
        "disclose_harm",
        "disclose_self_harm",
        "request_report",
        "cancel",
        "check_report_status",
        "switch_language",
        "want_to_send_media",
        "subscribe_tips",
        "unsubscribe_tips",
        "resubscribe_tips",
        "start_quiz",
        "quiz_answer",
        "poll_answer",
    }
)
# Without a disclosure, "what do I do now?" is taken only from what the model could not place.
_UNPLACED = frozenset({"nlu_fallback", "out_of_scope", "help"})

# The words around an app or an age in "and on Instagram?", "what about for a 7-year-old?",
# "طيب وبالنسبة ليوتيوب؟" (normalized: lower case, Arabic letters unified, ة → ه).
_FILLER_WORDS = (
    "and what about how on in for with a an the my our kid kids child children son daughter boy girl year years "
    "old yo y o then ok okay so too also same one thing it there "
    "و طيب طب بالنسبة وبالنسبة وش ايش شو شنو عن وعن ماذا وماذا على وعلى في وفي ل لل ولو لو الطفل طفل للطفل لطفل "
    "ولد بنت ولدي بنتي عمره عمرها سنة سنوات سنين نفس الشي الشيء ايضا أيضاً كمان بعد هو هي"
)
_FILLER = frozenset(normalize_for_matching(_FILLER_WORDS).split())
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

# A question about the situation, after a disclosure ("should I block him?", "is it my fault",
# "أرسل له ولا لا", "أقول للأخصائية؟"): whatever intent the classifier gave it, the answer is the
# harm's next steps (normalized text).
_SITUATION = re.compile(
    r"[?؟]|\b(should (i|we)|do (i|we)|can (i|we)|could (i|we)|will (i|we|he|she|they)|would (i|he|she|that|it)|am i|is (it|that|this)"
    r"|what if|how (do|can|should) (i|we)|do i have to|does (that|it)|will (that|it)|is he|are they|was it)\b"
    r"|\b[وف]?(هل|اقدر|نقدر|ينفع|يصير|لازم|المفروض|اقول|نقول|اكلم|نكلم|ابلغ|نبلغ|ارسل|اسكت|اتصل|اصارح|اخبر|بيعاقبوني"
    r"|يعاقبوني|ولا لا|او لا|ولا اسكت|agdar|a2dar|y9eer|ynfa3|lazem|ablagh|a2ol|agool|wala la)\b"
)
# The situation told before: "him", "it", "that" ("should I block him?").
_REFERS = re.compile(r"\b(him|her|them|he|she|they|it|this|that|hes|shes|theyll|hell)\b")
# Asking for a person, in words (not "should I tell the school counselor?").
_A_PERSON = re.compile(
    r"\b(talk|speak|chat) (to|with) (a |an |someone|somebody|a real|real|person|human|counsel\w*|agent)"
    r"|\b(real person|human being)\b|مختص|شخص حقيقي|انسان حقيقي|(ابي|ابغي|اريد|بدي|عايز) (اكلم|احكي مع|اتكلم مع) (احد|حد|حدا|شخص|مختص)"
)


@dataclass(frozen=True)
class Context:
    """What the conversation holds that the routing needs: the harm disclosed (None if none),
    whether "are you safe right now?" is waiting for its answer, and an active form."""

    disclosed: Optional[str] = None
    asked_safe: bool = False
    active_loop: Optional[str] = None


def is_what_about(text: str) -> bool:
    """ "And on Instagram?", "what about for a 7-year-old?": only an app or an age, and the words
    around them; nothing that could say something else (a disclosure, a new question)."""
    normalized = normalize_for_matching(text)
    stripped = AppLexicon.load().strip(normalized)
    has_app = stripped != normalized
    has_age = child_age(text) is not None
    if not (has_app or has_age):
        return False
    words = _WORD.findall(stripped)
    return len(words) <= 8 and all(word in _FILLER for word in words)


def route(intent: Optional[str], text: str, context: Context, confidence: float = 1.0) -> Optional[str]:
    """The action that answers this message in its context, or None to leave it to the rules."""
    if context.active_loop or intent in NEVER:
        return None
    button = text.startswith("/")
    if intent in ("affirm", "deny") and context.asked_safe and (button or _short_answer(text)):
        return SAFETY_ANSWER  # "are you safe right now?" was asked: typed or the buttons
    if button:
        return None  # other buttons mean what they say
    if is_what_about(text):
        return WHAT_ABOUT
    if context.disclosed:
        if intent == "delete_my_data" and about_this_chat(text):
            return None  # "delete my data": the confirmation, as anywhere
        if intent == "request_human" and (confidence >= 0.7 or _A_PERSON.search(normalize_for_matching(text))):
            return None
        if apps_named(text) and asked_about(text, default=""):
            return None  # "how do I report him on Snapchat?": that app's answer
        if asks_what_to_do(text):
            return NEXT_STEPS
        normalized = normalize_for_matching(text)
        if not _SITUATION.search(normalized):
            return None
        if intent and intent.startswith("ask_") and confidence >= 0.8 and not _REFERS.search(normalized):
            return None  # a new question of its own ("how do I make my account private?")
        return NEXT_STEPS
    if intent in _UNPLACED and asks_what_now(text):
        return NEXT_STEPS  # "what do I do now?" with nothing disclosed: asked what happened
    return None


def _short_answer(text: str) -> bool:
    """ "yes", "no i'm not", "اي", "لا مو بأمان": an answer, not a question of its own."""
    return "?" not in text and "؟" not in text and len(text.split()) <= 4

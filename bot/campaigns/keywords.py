"""STOP, START and "quiz" as whole messages, recognised without the model.

A child who writes STOP must be unsubscribed whatever the classifier makes of one word, so every
channel asks ``campaign_command`` before the NLU and turns a match into the intent's payload
(``as_payload``). Only the whole message counts: "stop, he keeps messaging me" is not a command and
goes to the NLU (and its danger net) as usual. A message that starts with "/" (Telegram's
``/start``, a payload) is never a keyword. STOP words are Twilio's defaults (less END and QUIT, which
children use to end a chat) plus the Arabic ones;
START only re-subscribes someone who stopped (the channels check), so a new user's "ابدأ" is an
ordinary message.
"""

from __future__ import annotations

from typing import Literal, Optional

from bot.language import normalize_for_matching

__all__ = ["Command", "campaign_command", "as_payload", "STOP_WORDS", "START_WORDS", "QUIZ_WORDS"]

Command = Literal["stop", "start", "quiz"]

STOP_WORDS = frozenset(
    normalize_for_matching(w)
    for w in (
        "stop",
        "stopall",
        "unsubscribe",
        "cancel tips",
        "optout",
        "opt out",
        "إيقاف",
        "ايقاف",
        "الغاء الاشتراك",
        "إلغاء الاشتراك",
        "توقف",
        "وقف",
        "ستوب",
    )
)
START_WORDS = frozenset(
    normalize_for_matching(w) for w in ("start", "unstop", "resume", "ابدأ", "ابدا", "بدء", "استئناف")
)
QUIZ_WORDS = frozenset(normalize_for_matching(w) for w in ("quiz", "اختبار", "اختبرني", "مسابقة"))

_PAYLOADS = {"stop": "/unsubscribe_tips", "start": "/resubscribe_tips", "quiz": "/start_quiz"}


def campaign_command(text: Optional[str]) -> Optional[Command]:
    """ "stop", "start" or "quiz" when the whole message is one of those words, else None."""
    if not text or len(text) > 40 or text.lstrip().startswith("/"):
        return None
    word = normalize_for_matching(text)
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in QUIZ_WORDS:
        return "quiz"
    return None


def as_payload(command: Command) -> str:
    """The intent payload the channel hands to Rasa instead of the word."""
    return _PAYLOADS[command]

"""STOP, START, subscribing and "quiz", recognised without the model.

A child who writes STOP must be unsubscribed whatever the classifier makes of one word, so every
channel asks ``campaign_command`` before the NLU and turns a match into the intent's payload
(``as_payload``). The campaign intents are not trained at all: taught to DIET, "stop sending me
tips" and "اختبار" pulled real disclosures and exam questions their way (``make eval`` lost two
disclosures), so they are read here, narrowly:

* STOP, START and the quiz words count only as the whole message: "stop, he keeps messaging me" is
  not a command and goes to the NLU (and its danger net) as usual;
* subscribing and stopping in words ("send me a tip every week", "اشترك في النصائح", "stop the
  tips") only in a few fixed shapes of the whole message (``_SUBSCRIBE``, ``_UNSUBSCRIBE``);
* a few fixed phrases start the quiz ("start a quiz", "ابدأ الاختبار"). A message that starts with "/" (Telegram's
``/start``, a payload) is never a keyword. STOP words are Twilio's defaults (less END and QUIT, which
children use to end a chat) plus the Arabic ones;
START only re-subscribes someone who stopped (the channels check), so a new user's "ابدأ" is an
ordinary message.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

from bot.language import normalize_for_matching

__all__ = ["Command", "campaign_command", "as_payload", "STOP_WORDS", "START_WORDS", "QUIZ_WORDS"]

Command = Literal["stop", "start", "quiz", "subscribe"]

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
QUIZ_WORDS = frozenset(
    normalize_for_matching(w)
    for w in (
        "quiz",
        "start a quiz",
        "start the quiz",
        "quiz me",
        "take the quiz",
        "play the quiz",
        "safety quiz",
        "test my knowledge",
        "اختبار",
        "اختبرني",
        "مسابقة",
        "ابدأ الاختبار",
        "ابدأ اختبار",
        "اختبار الأمان",
    )
)
SUBSCRIBE_WORDS = frozenset(normalize_for_matching(w) for w in ("subscribe", "sign me up", "اشترك", "اشتراك"))

# Asking for the tips, or for no more of them, in words: whole (normalized) messages of these
# shapes only, so that a question ("any tips on roblox?") or a disclosure ("tips to make him stop")
# is never read as one.
_PLEASE = r"(?:please |pls |plz )?"
_END = r"(?: please| pls| plz| thanks)?"
_TIPS_EN = (
    r"(?:(?:the |my |your |a |one )?(?:weekly |safety |online safety )*(?:tips?|campaign messages|weekly messages))"
)
_SUBSCRIBE = [
    re.compile(p)
    for p in (
        rf"^{_PLEASE}(?:subscribe|sign)(?: me)?(?: up)?(?: to| for)? {_TIPS_EN}{_END}$",
        rf"^{_PLEASE}(?:i want |i d like |i would like )?(?:to get |to receive )?(?:send me )?{_TIPS_EN} (?:every|each|once a) week{_END}$",
        rf"^{_PLEASE}(?:i want |i d like )?weekly (?:safety )?tips{_END}$",
        rf"^{_PLEASE}send me {_TIPS_EN} (?:every|each|once a) week{_END}$",
        r"^(?:اشترك|اشتركني|سجلني|ابي اشترك|ابغى اشترك|اريد الاشتراك)(?: في| ب| بال| فى)? ?(?:ال)?(?:نصايح|نصيحه)(?: الاسبوعيه)?$",
        r"^(?:ارسل|ارسلي|ابي|ابغى|اريد)(?: لي)? (?:نصيحه|نصايح) (?:كل|في كل) اسبوع$",
    )
]
_UNSUBSCRIBE = [
    re.compile(p)
    for p in (
        rf"^{_PLEASE}(?:stop|cancel|end|pause)(?: sending(?: me)?)? {_TIPS_EN}{_END}$",
        rf"^{_PLEASE}unsubscribe(?: me)?(?: from {_TIPS_EN})?{_END}$",
        rf"^{_PLEASE}(?:cancel|end) (?:my |the )?subscription{_END}$",
        rf"^no more {_TIPS_EN}{_END}$",
        r"^(?:اوقف|وقف|الغا|الغي|بدون)(?: لي)? (?:ال)?(?:نصايح|اشتراك|اشتراكي|الاشتراك)(?: في)?(?: ال)?(?:نصايح)?(?: الاسبوعيه)?$",
        r"^لا (?:ترسل|ترسلي|تبعث)(?: لي)? (?:ال)?نصايح(?: بعد الان| بعد اليوم)?$",
    )
]

_PAYLOADS = {
    "stop": "/unsubscribe_tips",
    "start": "/resubscribe_tips",
    "quiz": "/start_quiz",
    "subscribe": "/subscribe_tips",
}


def campaign_command(text: Optional[str]) -> Optional[Command]:
    """ "stop", "start" or "quiz" when the whole message is one of those words, else None."""
    if not text or len(text) > 80 or text.lstrip().startswith("/"):
        return None
    word = normalize_for_matching(text)
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in QUIZ_WORDS:
        return "quiz"
    if word in SUBSCRIBE_WORDS or any(p.match(word) for p in _SUBSCRIBE):
        return "subscribe"
    if any(p.match(word) for p in _UNSUBSCRIBE):
        return "stop"
    return None


def as_payload(command: Command) -> str:
    """The intent payload the channel hands to Rasa instead of the word."""
    return _PAYLOADS[command]

"""Reading typed answers to the report form's questions, in Arabic or English.

Buttons give exact values; these functions read what people type instead ("it's my daughter",
"امس", "on snap, his user is x_y"). Each returns a canonical value or None when the answer does not
fit, so that the form asks again with a hint instead of accepting it silently.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from bot.language import normalize_arabic, normalize_for_matching

__all__ = [
    "REPORTERS",
    "HARMS",
    "WHENS",
    "CONTACTS",
    "QUESTIONS",
    "is_skip",
    "parse_reporter",
    "parse_harm",
    "parse_when",
    "parse_yes_no",
    "parse_contact",
    "parse_confirm",
    "parse_question",
    "normalize_phone",
    "free_text",
    "MAX_ANSWER_CHARS",
]

REPORTERS = ("self", "parent", "other")
HARMS = ("blackmail", "grooming", "cyberbullying", "images", "other")
WHENS = ("today", "this_week", "earlier", "ongoing")
CONTACTS = ("chat", "phone", "none")
# The questions a user can go back to, by the slot that holds the answer.
QUESTIONS = (
    "report_reporter",
    "report_harm",
    "report_where",
    "report_when",
    "report_danger_now",
    "report_contact",
)
MAX_ANSWER_CHARS = 500
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]", re.UNICODE)


def _compile(table: Dict[str, List[str]]) -> List[Tuple[str, re.Pattern[str]]]:
    return [(value, re.compile(normalize_arabic("|".join(words)))) for value, words in table.items()]


# Order matters: the first value whose pattern matches wins ("I'm his mum" is a parent, not "me").
_REPORTER = _compile(
    {
        "parent": [
            r"\b(my|our) (son|daughter|child|kid|kids|children|boy|girl)\b",
            r"\b(mum|mom|mother|dad|father|parent|guardian)\b",
            r"\b(ولدي|بنتي|ابني|طفلي|طفلتي|عيالي|اولادي|بناتي|ولي امر|ولي الامر|امه|امها|ابوه|ابوها|والده|والدته|ام|اب)\b",
        ],
        "other": [
            r"\b(friend|brother|sister|cousin|student|pupil|classmate|teacher|neighbou?r|someone|somebody|another|else|other)\b",
            r"\b(صديق|صديقي|صديقتي|صاحبي|صاحبتي|اخوي|اخوي|اختي|اخو|اخت|ولد عمي|بنت عمي|طالب|طالبه|طالبتي|طلابي|معلم|معلمه|جاري|جارتي|شخص ثاني|احد ثاني|واحد ثاني|غيري|زميل|زميلتي)\b",
        ],
        "self": [
            r"\b(me|myself|i|im|mine|my self)\b",
            r"\b(انا|لي|عني|نفسي|حصل لي|صار لي|معي)\b",
        ],
    }
)
_HARM = _compile(
    {
        "blackmail": [
            r"blackmail|sextort|extort|threat|threaten|leak|expose|pay him|money or",
            r"ابتز|يبتز|مبتز|تهديد|يهدد|يهددني|يفضح|بيفضح|فضيحه|ينشر صوري|بينشر",
        ],
        "grooming": [
            r"groom|stranger|adult|older (man|guy|person)|old man|grown up|wants? to meet|meet up|meet me",
            r"غريب|غرباء|استدراج|يستدرج|رجال كبير|رجل كبير|شخص كبير|يبي يقابل|يبغى يقابل|يقابلني|يشوفني|يطلب يقابل",
        ],
        "images": [
            r"photo|pic|picture|image|nude|video|selfie|naked",
            r"صور|صوره|صورتي|صوري|فيديو|مقطع|مقاطع|عاري",
        ],
        "cyberbullying": [
            r"bull(y|ied|ies|ying)|mean|insult|harass|mock|hate|rumou?r|exclud|laugh at",
            r"تنمر|يتنمر|يتنمرون|يسبني|يسبون|يستهزي|يستهزئ|مضايق|يضايق|يشتم|شتم|اشاعه|اشاعات",
        ],
        "other": [r"\b(other|something else|else|none of (these|them))\b", r"\b(شي ثاني|شي اخر|غير كذا|اخرى|ثاني)\b"],
    }
)
_WHEN = _compile(
    {
        "ongoing": [
            r"still|ongoing|keeps|every day|all the time|continu|right now|going on",
            r"للحين|مستمر|مستمره|ما زال|مازال|لا يزال|لسه|كل يوم|دايم|الحين يصير",
        ],
        "today": [
            r"\b(today|this morning|tonight|this evening|an hour ago|hours ago|just now|now)\b",
            r"اليوم|الصبح|الليله|قبل شوي|قبل ساعه|قبل ساعات|الحين",
        ],
        "this_week": [
            r"yesterday|this week|few days|days ago|couple of days|last night|(two|2|three|3) days",
            r"امس|البارح|هالاسبوع|هذا الاسبوع|قبل يومين|قبل كم يوم|قبل ايام|من يومين",
        ],
        "earlier": [
            r"last (week|month|year)|weeks? ago|months? ago|years? ago|long time|a while|ages ago|last summer",
            r"الاسبوع الماضي|الشهر الماضي|قبل شهر|قبل اسبوع|قبل اسابيع|قبل شهور|من زمان|من فتره|السنه الماضيه|قبل سنه",
        ],
    }
)
_UNSURE = re.compile(
    normalize_arabic(
        r"\b(not sure|unsure|don ?t know|do not know|idk|maybe|no idea|مدري|ما ادري|ما اعرف|يمكن|مو متاكد|مش متاكد)\b"
    )
)
_YES = re.compile(
    normalize_arabic(r"\b(yes|yeah|yep|yup|y|yes someone is|he is|she is|ايه|ايوه|ايوا|اي|نعم|اكيد|صح|بلى)\b")
)
_NO = re.compile(
    normalize_arabic(r"\b(no|nope|nah|nobody|no one|noone|not now|لا|لاء|لأ|ما في|مافي|محد|ولا احد|لا احد)\b")
)
_CONTACT = _compile(
    {
        "chat": [
            r"\b(here|this chat|chat|in chat|message|messages|text me|dm)\b",
            r"هنا|بالشات|الشات|المحادثه|محادثه|رسايل|رساله|بالرسايل",
        ],
        "phone": [r"\b(phone|call|ring|number|mobile)\b", r"اتصال|اتصل|اتصلو|جوال|جوالي|رقم|تلفون|هاتف|مكالمه"],
        "none": [
            r"\b(no|nope|don ?t|do not|nobody|no one|no thanks|not)\b",
            r"^لا\b|ما ابي|ما ابغى|لا تتواصل|لا احد|بدون|محد|لا شكرا",
        ],
    }
)
_CONFIRM = _compile(
    {
        "change": [
            r"\b(change|edit|fix|modify|correct|wrong|go back)\b",
            r"غير|غيّر|عدل|تعديل|تغيير|ابي اغير|ابغى اغير|ارجع",
        ],
        "submit": [
            r"\b(submit|send|send it|yes|yeah|ok|okay|confirm|go ahead|sure|correct|right)\b",
            r"ارسل|ارسله|ارسال|نعم|ايه|اي|تمام|اعتمد|اكيد|صح|موافق|ارفع",
        ],
    }
)
_QUESTION = _compile(
    {
        "report_reporter": [r"\b(who|reporter|reporting)\b", r"\bمن\b|المبلغ|مين"],
        "report_harm": [r"\b(kind|type|harm|what happened)\b", r"نوع|وش صار|ايش صار"],
        "report_where": [
            r"\b(where|app|site|website|place|username|link|account)\b",
            r"وين|مكان|المكان|تطبيق|موقع|رابط|حساب",
        ],
        "report_when": [r"\b(when|time|date|day)\b", r"متى|وقت|الوقت|تاريخ|يوم"],
        "report_danger_now": [r"danger|safe", r"خطر|امان"],
        "report_contact": [r"\b(contact|phone|call|number|reach)\b", r"تواصل|رقم|اتصال|جوال"],
    }
)


def _first(table: List[Tuple[str, re.Pattern[str]]], text: str) -> Optional[str]:
    normalized = normalize_for_matching(text)
    for value, pattern in table:
        if pattern.search(normalized):
            return value
    return None


_SKIP = re.compile(
    normalize_arabic(
        r"^(please )?(skip|skip (it|this|that)|next|pass|i ?ll pass|move on|i don ?t know|i dont know|idk|no idea|"
        r"dunno|not sure|i m not sure|i can ?t remember|i don ?t remember|rather not|prefer not to say|"
        r"تخطي|تخطى|التالي|مدري|ما ادري|ما اعرف|ما بعرف|مش عارف|ما اتذكر|مو متاكد|مو متاكده|ما ابي اجاوب)( please)?$"
    )
)


def is_skip(text: str) -> bool:
    """True for "skip", "I don't know", "مدري"... typed as a whole answer."""
    return bool(_SKIP.match(normalize_for_matching(text)))


def free_text(text: str) -> Optional[str]:
    """``text`` as an answer in the user's own words: trimmed, with letters or digits, not too long."""
    cleaned = " ".join((text or "").split())
    if not cleaned or not _LETTER_OR_DIGIT.search(cleaned) or len(cleaned) > MAX_ANSWER_CHARS:
        return None
    return cleaned


def parse_reporter(text: str) -> Optional[str]:
    """self / parent / other, from "it's me", "my daughter", "صاحبي"..."""
    return _first(_REPORTER, text)


def parse_harm(text: str) -> Optional[str]:
    """blackmail / grooming / images / cyberbullying / other."""
    return _first(_HARM, text)


def parse_when(text: str) -> Optional[str]:
    """ongoing / today / this_week / earlier."""
    return _first(_WHEN, text)


def parse_yes_no(text: str) -> Optional[str]:
    """yes / no (no wins when both appear: "no, not anymore")."""
    normalized = normalize_for_matching(text)
    if _UNSURE.search(normalized):
        return None
    if _NO.search(normalized):
        return "no"
    if _YES.search(normalized):
        return "yes"
    return None


def parse_contact(text: str) -> Optional[str]:
    """chat / phone / none (digits typed here mean "phone"; the number itself is asked again)."""
    if sum(c.isdigit() for c in (text or "").translate(_DIGITS)) >= 7:
        return "phone"
    return _first(_CONTACT, text)


def parse_confirm(text: str) -> Optional[str]:
    """submit / change."""
    if _UNSURE.search(normalize_for_matching(text)):
        return None
    return _first(_CONFIRM, text)


def parse_question(text: str) -> Optional[str]:
    """Which question the user wants to change, as its slot name."""
    if text in QUESTIONS:
        return text
    return _first(_QUESTION, text)


def normalize_phone(text: str) -> Optional[str]:
    """A phone number as digits with an optional leading +, or None if it is not one (7-15 digits)."""
    raw = (text or "").translate(_DIGITS).strip()
    if not re.fullmatch(r"\+?[\d\s\-().]{7,24}", raw):
        return None
    digits = re.sub(r"\D", "", raw)
    if not 7 <= len(digits) <= 15:
        return None
    return ("+" if raw.startswith("+") else "") + digits

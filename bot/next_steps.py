"""What to do next after a disclosure, read from ``data/content/next_steps.yml``.

The danger net names what was disclosed in its own words (``blackmail``, ``coercion``...); the
follow-ups speak of the harm a person lives through: sextortion, grooming, abuse by someone,
self-harm, or ``general`` when the kind is not known. ``questions_in`` reads which of the usual
questions a message asks ("should I tell my parents", "I already paid", "can you delete it"), so the
answer to it comes before the kind's steps. Only ids are ever kept, never the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import yaml

from bot.content import AUDIENCES, LANGUAGES
from bot.helplines import HelplineDirectory, UnknownPlaceholder
from bot.language import normalize_for_matching

__all__ = [
    "HARM_KINDS",
    "TOPIC_HARMS",
    "QUESTIONS",
    "NextSteps",
    "about_this_chat",
    "asks_what_now",
    "asks_what_to_do",
    "disclosed_kind",
    "harm_kind",
    "questions_in",
    "refine_kind",
    "step_audience",
    "support_message",
]

# The danger net's kinds (bot.safety.DANGER_KINDS) as the harm the next steps are written for.
_FROM_DANGER = {
    "blackmail": "sextortion",
    "images": "sextortion",
    "coercion": "grooming",
    "meeting": "grooming",
    "abuse": "abuse",
    "threat": "abuse",
    "self_harm": "self_harm",
}
HARM_KINDS = ("sextortion", "grooming", "abuse", "self_harm", "bullying", "general")
# Topics whose "what do I do now?" is a harm's next steps although nothing was disclosed to the net.
TOPIC_HARMS = {"cyberbullying": "bullying"}

# The usual questions after a disclosure, in the order their answers are given, with the words
# that ask them (regexes over bot.language.normalize_for_matching: Arabic letters unified, ة → ه).
QUESTIONS: Tuple[Tuple[str, str], ...] = (
    (
        "paid",
        r"\b(i (already )?paid|already paid|i sent (him|her|them) (the )?(money|cash)|i gave (him|her|them) (the )?money)\b"
        r"|\b[وف]?(دفعت|دفعتله|حولت له|حولت لها|حولتله|ارسلت له فلوس|عطيته فلوس|اعطيته فلوس|ندفع|ادفع له|ادفعله)",
    ),
    (
        "deadline",
        r"\b(tonight|tomorrow|deadline|countdown|\d+ (hours?|hrs?|minutes?|mins?))\b"
        r"|\b[وف]?(الليله|بكره|بكرا|باجر|مهله|خلال ساعه|ساعات|الحين بينشر|اليوم بينشر)",
    ),
    (
        "remove",
        r"\b(delete|deleted|remove|removed|take (it|them|the \w+) down|taken down|get rid of|unpost)\b"
        r"|\b[وف]?(تحذف|يحذف|احذف|حذف|تنحذف|تمسح|امسح|تشيل|اشيل|انزل الصوره|تنزل الصوره|ازاله)",
    ),
    (
        "trouble",
        r"\b(trouble|my fault|jail|prison|arrest\w*|punish\w*|blame)\b"
        r"|\b[وف]?(مشكله|ذنبي|غلطان|غلطانه|غلطتي|اتعاقب|يعاقبوني|سجن|يسجن|بيسجنوني|تمسكني|يمسكوني|عقاب)",
    ),
    (
        "tell_adult",
        r"\b(tell (my|a|an|someone|somebody|anyone)|who (should|do|can) i tell|my (parents|mum|mom|dad|mother|father) (find|know|will)|parents be (mad|angry))\b"
        r"|\b[وف]?(اقول ل|اعلم|اخبر|اهلي|امي|ابوي|والدي|والدتي|يدرون|دروا|معلمتي|معلمي)",
    ),
    (
        "scared",
        r"\b(scared|afraid|frightened|terrified|panick?\w*|anxious|worried|freaking out)\b"
        r"|\b[وف]?(خايف|خايفه|خائف|خائفه|مرعوب|مرعوبه|اخاف|قلقان|قلقانه|خوفي)",
    ),
)
_QUESTION_PATTERNS = [(key, re.compile(pattern)) for key, pattern in QUESTIONS]
# "What do I do now?" in any words: no answer of its own, the steps are the answer.
_WHAT_NOW = re.compile(
    r"\bwhat (do|should|can|shall|must) (i|we) do\b|\bwhat now\b|\bwhat (happens|should happen) (now|next)\b|\bnext steps?\b"
    r"|\b[وف]?(وش|ايش|شو|ماذا|ماذا يجب ان|وش المفروض|ايش المفروض|شنو) ?(اسوي|نسوي|اعمل|نعمل|افعل|نفعل|اسويه|الحل)\b"
    r"|\bكيف (اتصرف|نتصرف)\b|\bالخطوه (الجايه|التاليه)\b"
    r"|\b(then what|and now|so now|now what)\b|^\W*(طيب|طب|اوكي|ok|okay|so|and)? ?و?(هلق|هلا|هلء|الحين|دلوقتي|بعدين|now)\W*$"
)


def harm_kind(danger_kind: Optional[str]) -> str:
    """The harm the next steps are written for, from the danger net's kind."""
    return _FROM_DANGER.get(danger_kind or "", "general")


def support_message(danger_kind: str) -> str:
    """The key of the first reply to a disclosure (data/content/messages.yml): self-harm's own, abuse
    and threats' own (no blackmail advice such as "don't pay" to a child hurt at home), grooming's
    (coercion and meetings: "you never have to do what they ask", "don't meet"), or the general one
    for blackmail, images and the rest. The action and the action-server-down fallback share it."""
    if danger_kind == "self_harm":
        return "self_harm_support"
    harm = harm_kind(danger_kind)
    if harm == "abuse":
        return "danger_support_abuse"
    return "danger_support_grooming" if harm == "grooming" else "danger_support"


def disclosed_kind(
    escalations: Iterable[Any], danger_check: Any, danger_kind: Optional[str], escalation: Any
) -> Optional[str]:
    """The harm a conversation disclosed (``HARM_KINDS``), or None when nothing was: from the values
    the ``escalation`` slot took (``escalations``, oldest first), a check-in still open
    (``danger_check``, pass None to leave it out) and the current ``escalation`` slot. Self-harm
    wins; otherwise the first specific harm ("he says he'll post it tonight" after blackmail is
    still blackmail, though the net reads it as a threat). Shared by the actions and the policy."""
    found: List[str] = []
    for value in escalations:
        if isinstance(value, dict) and value.get("reason") == "disclosure":
            found.append(harm_kind(str(value.get("kind") or "")))
    if isinstance(danger_check, dict):
        found.append(harm_kind(str(danger_check.get("kind") or danger_kind or "")))
    if not found and isinstance(escalation, dict) and escalation.get("kind"):
        found.append(harm_kind(str(escalation["kind"])))  # a counselor asked for after a disclosure
    if not found:
        return None
    if "self_harm" in found:
        return "self_harm"
    return next((kind for kind in found if kind != "general"), "general")


# Words that tell which harm a conversation is about when the net only said "something" (a check-in)
# or named a neighbouring kind: read from the user's earlier messages in this session, never kept.
_FAMILY = re.compile(
    r"\b(uncle|aunt|cousin|step ?(dad|father|mom|mum|mother|brother)|my (dad|father|mom|mum|mother|brother|sister)"
    r"|grand(pa|father|ma)|coach|teacher|neighbou?r|driver|maid|nanny)\b"
    r"|\b[وف]?(عمي|خالي|ابوي|ابويه|امي|اخوي|اخي|اختي|جدي|ولد عمي|ولد خالي|ابن عمي|ابن خالي|زوج امي|المدرس|الاستاذ"
    r"|المعلم|المدرب|السواق|جارنا|الجيران|khali|3ami|3ammi|abooy|abouy|baba)\b"
)
_BODY = re.compile(
    r"\b(touch\w*|made me do|make me do|hits?|hitting|beats?|beating|hurts? me|rape\w*|kiss\w*)\b"
    r"|\b[وف]?(ي|ت|بي|قاعد ي)?(لمس|ضرب|بوس|عنف|تحرش|غتصب)\w*|سوا فيني|يسوي فيني|ylmsni|ydrbni"
)
_BULLYING = re.compile(
    r"\b(bull(y|ies|ied|ying)|make fun|making fun|made fun|call(s|ing)? (me|him|her) names|mean (stuff|things|messages|comments)"
    r"|hate (msgs|messages|comments)|fake (account|profile)|pretending to be me|memes? (about|of|calling) me|laugh(ing|s)? at me"
    r"|roast\w*|excluded?|kicked (me|him|her) out)\b"
    r"|\b[وف]?(يتنمر|يتنمرون|تنمر|يتطنزون|يتطنز|يتمسخرون|يتريقو|بيتريقوا|يضحكون علي|يضحكو علي|عم يضحكو|يسبوني|يسبني|يشتموني"
    r"|يسموني|يسمونه|اسامي|اكونت فيك|حساب وهمي|حساب مزيف|باسمي|مسيئه|مسييه|يصفونني|يفضحني|تفضحني)|y6arshoon|ysboni|ytnamar|yetnamar"
)
_SEXTORTION = re.compile(
    r"\b(blackmail\w*|extort\w*|pay (him|her|them|up|or)|leak|unless|or else|post (them|it|my)|send more"
    r"|put (it|them|my \w+) (on|online|up)|share (it|them)|send (it|them) to)\b"
    r"|\b[وف]?(يبتز|ابتزاز|يهدد|يهددني|بيهددني|فلوس|ادفع|دفعت|مدفعتش|بينشر|ينشر|ينشره|ينشرها|الا سينشرونها|وإلا)"
    r"|ybtz|flous|flos|bynashir"
)
_GROOMING = re.compile(
    r"\b(secret|what (i m|im|i am) wearing|mature for|keep (it|this|our \w+) (between us|secret)|gifts?|robux|skins|v ?bucks"
    r"|add (him|her) on|meet (up|me|him))\b"
    r"|\b[وف]?(سر|سرا|سكنات|روبوكس|شدات|هدايا|يضيفه|يضيفها|اضيفه|يقابل|نتقابل)"
)


_SELF_HARM = re.compile(
    r"\b(cuts|cutting|scars|self harm\w*|hurt(ing)? (my|her|him)self|pills|overdose|kill (my|her|him)self|suicid\w*)\b"
    r"|\b[وف]?(جروح|جرح|يجرح|تجرح|اجرح|حبوب|انتحار|ينتحر|تنتحر|اذيه نفسها|تؤذي نفسها|يؤذي نفسه)"
)


def refine_kind(kind: Optional[str], earlier: Iterable[str]) -> Optional[str]:
    """The harm, read again with the user's earlier messages: abuse when someone the child knows
    touched or hit them (the net may call it coercion, i.e. grooming); bullying when the messages
    speak of it and not of a threat or payment; and a harm named for a check-in that only said
    "something". ``kind`` None stays None unless the messages speak of bullying."""
    text = normalize_for_matching(" ".join(earlier))
    if not text.strip():
        return kind
    if kind in ("grooming", "general") and _FAMILY.search(text) and _BODY.search(text):
        return "abuse"
    if kind in (None, "general", "sextortion") and _BULLYING.search(text) and not _SEXTORTION.search(text):
        return "bullying"
    if kind == "general" and _SELF_HARM.search(text):
        return "self_harm"
    if kind in ("general", "abuse") and _SEXTORTION.search(text) and not (_FAMILY.search(text) and _BODY.search(text)):
        return "sextortion"  # "he threatens to post it unless I pay": the net's threat, lived as blackmail
    if kind == "general" and _GROOMING.search(text):
        return "grooming"
    return kind


_THIS_CHAT = re.compile(
    r"\b(my (data|info|information|messages|history)|this (chat|conversation)|our (chat|conversation)|forget me)\b"
    r"|بياناتي|المحادثه|محادثتي|رسايلي|رسائلي|الشات"
)


def about_this_chat(text: str) -> bool:
    """ "Delete my data / this chat" rather than "delete the picture"."""
    return bool(_THIS_CHAT.search(normalize_for_matching(text)))


def questions_in(text: str) -> List[str]:
    """Which of the usual questions the message asks, in answering order (at most two)."""
    normalized = normalize_for_matching(text)
    return [key for key, pattern in _QUESTION_PATTERNS if pattern.search(normalized)][:2]


def asks_what_to_do(text: str) -> bool:
    """Whether the message asks what to do now, in whatever words ("what should I do", "وش أسوي")."""
    return bool(_WHAT_NOW.search(normalize_for_matching(text)) or questions_in(text))


def asks_what_now(text: str) -> bool:
    """Only "what do I do now?" ("what should I do", "وش أسوي"), none of the particular questions."""
    return bool(_WHAT_NOW.search(normalize_for_matching(text)))


def step_audience(audience: Optional[str]) -> str:
    """child | teen | adult: whose words the steps are written in (a teen's when nobody said)."""
    if audience in ("parent", "educator"):
        return "adult"
    return audience if audience in ("child", "teen") else "teen"


@dataclass(frozen=True)
class HarmSteps:
    kind: str
    ask_safe: bool
    steps: Mapping[str, Mapping[str, str]]
    sources: List[str]


class NextSteps:
    """The next-steps content, rendered in a language for an audience."""

    def __init__(self, raw: Dict[str, Any], helplines: HelplineDirectory):
        self.kinds = {
            key: HarmSteps(key, bool(entry.get("ask_safe")), entry.get("steps") or {}, list(entry.get("sources") or []))
            for key, entry in (raw.get("kinds") or {}).items()
        }
        self.raw = raw
        self.helplines = helplines

    @classmethod
    def load(cls, data_dir: Path) -> NextSteps:
        return _load(str(data_dir))

    def steps(self, kind: str, audience: Optional[str], lang: str) -> str:
        entry = self.kinds.get(kind) or self.kinds["general"]
        who = step_audience(audience)
        texts = entry.steps.get(who) or entry.steps.get("young" if who != "adult" else "adult") or {}
        return self._render(texts[lang], lang)

    def answer(self, question: str, audience: Optional[str], lang: str) -> str:
        variants = self.raw["answers"][question]
        group = "adult" if step_audience(audience) == "adult" else "young"
        return self._render((variants.get(group) or variants["all"])[lang], lang)

    def text(self, key: str, lang: str, audience: Optional[str] = None) -> str:
        """A fixed text (``offer``, ``safe_yes``...), or per young/adult (``ask_safe``), or a button."""
        entry = self.raw[key]
        if lang not in entry:
            entry = entry["adult" if step_audience(audience) == "adult" else "young"]
        return self._render(entry[lang], lang)

    def button(self, key: str, lang: str) -> str:
        return str(self.raw["buttons"][key][lang])

    def ask_safe(self, kind: str) -> bool:
        entry = self.kinds.get(kind)
        return bool(entry and entry.ask_safe)

    def _render(self, text: str, lang: str) -> str:
        return self.helplines.render(str(text).strip(), lang)

    def problems(self) -> List[str]:
        """Missing kinds, audiences, languages, sources or answers; unknown placeholders."""
        found: List[str] = []
        for kind in HARM_KINDS:
            entry = self.kinds.get(kind)
            if entry is None:
                found.append(f"next_steps {kind}: missing")
                continue
            if not entry.sources:
                found.append(f"next_steps {kind}: no sources")
            for audience in AUDIENCES:
                for lang in LANGUAGES:
                    found += self._check(f"next_steps.{kind}.{step_audience(audience)}.{lang}", kind, audience, lang)
        for question, _ in QUESTIONS:
            for audience in ("teen", "parent"):
                for lang in LANGUAGES:
                    try:
                        if not self.answer(question, audience, lang):
                            found.append(f"next_steps answer {question}.{lang}: empty")
                    except (KeyError, TypeError):
                        found.append(f"next_steps answer {question} for {audience}.{lang}: missing")
                    except UnknownPlaceholder as e:
                        found.append(f"next_steps answer {question}.{lang}: unknown placeholder {e}")
        for key in ("offer", "safe_yes", "safe_no", "not_understood", "no_disclosure", "ask_safe"):
            for lang in LANGUAGES:
                try:
                    self.text(key, lang, "teen")
                    self.text(key, lang, "parent")
                except (KeyError, TypeError):
                    found.append(f"next_steps {key}.{lang}: missing")
        return found

    def _check(self, where: str, kind: str, audience: str, lang: str) -> List[str]:
        try:
            return [] if self.steps(kind, audience, lang) else [f"{where}: empty"]
        except (KeyError, TypeError):
            return [f"{where}: missing"]
        except UnknownPlaceholder as e:
            return [f"{where}: unknown placeholder {e}"]


@lru_cache(maxsize=4)
def _load(data_dir: str) -> NextSteps:
    root = Path(data_dir)
    with open(root / "content" / "next_steps.yml", encoding="utf-8") as f:
        raw = yaml.safe_load(f) or {}
    return NextSteps(raw, HelplineDirectory.from_file(root / "helplines.yml"))

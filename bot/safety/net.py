"""A lexicon and pattern net for disclosures of harm, kept in data for both languages.

The net is a pure function over normalized text: ``DangerNet.load().assess(text)``. It has two layers:

* ``patterns``: regular expressions searched in the normalized text (see
  ``bot.language.normalize_for_matching``), one list per language and kind;
* ``phrases``: short phrases matched against windows of the same number of words, allowing one
  typo for phrases of 5-9 letters and two from 10 letters on ("blakmailing me", "يبتزنى");
* ``idioms``: figures of speech blanked out before matching ("dying of boredom", "مت من الضحك"),
  so that they raise no alarm while a real disclosure elsewhere in the same message still does;
* ``guards``: named regex fragments that several rules share, written ``{{name}}`` in a rule;
* ``close_people`` and ``harm_signs``: family and known adults, and a wide list of signs of harm;
  a message that names the first and holds none of the second is ``only_someone_close``;
* ``softeners``: framings that make a hit uncertain rather than clear (a general or hypothetical
  question, a school project, a story from the news, a joke): ``is_softened``. The NLU component
  answers those with a check-in instead of the crisis reply.

Recall beats precision: every language's lexicon is tried on every message, because people mix
scripts. The NLU component ``bot.nlu.danger.DangerNetClassifier`` combines the net with the intent
classifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml
from rapidfuzz.distance import Levenshtein

from bot.language import is_arabizi, normalize_arabic, normalize_for_matching

__all__ = [
    "DangerAssessment",
    "DangerNet",
    "DANGER_KINDS",
    "DISCLOSURE_INTENTS",
    "POSSIBLE_DISCLOSURE",
    "DEFAULT_LEXICON",
    "ANSWER_WITH_CHECK_IN",
    "read_disclosure",
]

DANGER_KINDS = ("self_harm", "abuse", "threat", "coercion", "blackmail", "images", "meeting")
# The intents that mean "harm disclosed"; the kind decides which.
DISCLOSURE_INTENTS = ("disclose_harm", "disclose_self_harm")
# The intent of a message the classifier alone reads as a possible disclosure (``bot.nlu.danger``):
# a check-in with the helplines, and a case only if the user says something is happening.
POSSIBLE_DISCLOSURE = "possible_disclosure"
# DIET's confidence in the topic a possible disclosure also asks about from which the check-in
# answers that topic at once (``actions/check_in.py``; ``make eval`` counts those answers); chosen
# on the development sets (README, "check-in"): below it the topic is left for "no". Kept here, with
# no Rasa import, so that the action server does not load Rasa's NLU and TensorFlow to read it.
ANSWER_WITH_CHECK_IN = 0.3
DEFAULT_LEXICON = Path(__file__).resolve().parents[2] / "data" / "safety" / "danger.yml"
# Laughing emoji: normalization turns emoji into spaces, so they are looked for in the raw text.
_LAUGHING = re.compile("[\U0001f602\U0001f923\U0001f606\U0001f639]")
# Very long messages are fuzzy-matched on their first and last this many words: linear, not free.
_FUZZY_MAX_WORDS = 400


@dataclass(frozen=True)
class DangerAssessment:
    """What the net found: the kind of harm and the rule that matched (for audits and tests)."""

    kind: str
    rule: str

    @property
    def intent(self) -> str:
        return "disclose_self_harm" if self.kind == "self_harm" else "disclose_harm"


@dataclass(frozen=True)
class _Phrase:
    kind: str
    text: str
    words: int
    max_edits: int


class DangerNet:
    """Finds disclosures of abuse, threats, coercion, blackmail, meetings and self-harm."""

    def __init__(
        self,
        patterns: List[Tuple[str, str, re.Pattern[str]]],
        phrases: List[_Phrase],
        idioms: Optional[List[re.Pattern[str]]] = None,
        softeners: Optional[List[re.Pattern[str]]] = None,
        firsthand: Optional[List[re.Pattern[str]]] = None,
        close_people: Optional[List[re.Pattern[str]]] = None,
        harm_signs: Optional[List[re.Pattern[str]]] = None,
    ):
        self._patterns = patterns
        self._phrases = phrases
        self._idioms = idioms or []
        self._softeners = softeners or []
        self._firsthand = firsthand or []
        self._close_people = close_people or []
        self._harm_signs = harm_signs or []

    @classmethod
    def from_dict(cls, data: Dict) -> DangerNet:
        """Build the net from the lexicon's parsed YAML (see ``data/safety/danger.yml``)."""
        patterns: List[Tuple[str, str, re.Pattern[str]]] = []
        phrases: List[_Phrase] = []
        guards = {str(name): str(text) for name, text in (data.get("guards") or {}).items()}
        for lang, kinds in (data.get("patterns") or {}).items():
            for kind, items in (kinds or {}).items():
                _check_kind(kind)
                for i, pattern in enumerate(items or []):
                    # Patterns are written against normalized text, so normalize their Arabic too.
                    compiled = re.compile(_normalize_pattern(_with_guards(pattern, guards)))
                    patterns.append((kind, f"pattern:{lang}:{kind}:{i}", compiled))
        for kinds in (data.get("phrases") or {}).values():
            for kind, items in (kinds or {}).items():
                _check_kind(kind)
                for phrase in items or []:
                    text = normalize_for_matching(phrase)
                    letters = len(text.replace(" ", ""))
                    edits = 0 if letters < 5 else 1 if letters < 10 else 2
                    phrases.append(_Phrase(kind, text, len(text.split()), edits))

        def regexes(section: str) -> List[re.Pattern[str]]:
            by_language = (data.get(section) or {}).values()
            return [
                re.compile(_normalize_pattern(_with_guards(p, guards))) for items in by_language for p in items or []
            ]

        return cls(
            patterns,
            phrases,
            regexes("idioms"),
            regexes("softeners"),
            regexes("firsthand"),
            regexes("close_people"),
            regexes("harm_signs"),
        )

    @classmethod
    def load(cls, path: Path = DEFAULT_LEXICON) -> DangerNet:
        """The net built from a lexicon file (cached per path)."""
        return _load_cached(str(path))

    def has_idiom(self, text: str) -> bool:
        """True when the text holds a figure of speech from the lexicon ("dying of boredom")."""
        normalized = normalize_for_matching(text)
        return any(idiom.search(normalized) for idiom in self._idioms)

    def is_softened(self, text: str) -> bool:
        """True when the message is framed as a general question, a story or a joke (``softeners``,
        or a laughing emoji), unless the writer says it is about them ("asking for me actually",
        ``firsthand``)."""
        return self._framed(text, laughing=True)

    def is_hedged(self, text: str) -> bool:
        """True when the words frame the message as a general question or a hypothetical ("asking
        for a friend", "لو حد..."): ``is_softened`` without the laughing emoji, which mark a joke, not
        a hedge (``bot.nlu.danger.decide`` asks earlier for a check-in only in a hedged message)."""
        return self._framed(text, laughing=False)

    def _framed(self, text: str, laughing: bool) -> bool:
        normalized = normalize_for_matching(text)
        if any(said.search(normalized) for said in self._firsthand):
            return False
        if laughing and _LAUGHING.search(text):
            return True
        return any(softener.search(normalized) for softener in self._softeners)

    def only_someone_close(self, text: str) -> bool:
        """True when the text names family or a known adult ("my uncle", "مرت عمي") and holds no
        sign of harm from the lexicon's wide ``harm_signs`` list: everyday family talk, which the
        classifiers alone must not turn into a crisis reply (``bot.nlu.danger.decide``)."""
        if is_arabizi(text):
            return False  # no list covers Arabic in Latin letters: the classifiers decide
        normalized = normalize_for_matching(text)
        if not any(person.search(normalized) for person in self._close_people):
            return False
        return not any(sign.search(normalized) for sign in self._harm_signs)

    def assess(self, text: str) -> Optional[DangerAssessment]:
        """The first disclosure found in ``text``, or None."""
        normalized = normalize_for_matching(text)
        for idiom in self._idioms:
            normalized = idiom.sub(" ", normalized)
        if not normalized.strip():
            return None
        for kind, rule, pattern in self._patterns:
            if pattern.search(normalized):
                return DangerAssessment(kind, rule)
        words = normalized.split()
        if len(words) > 2 * _FUZZY_MAX_WORDS:  # the start and the end of a very long message
            words = words[:_FUZZY_MAX_WORDS] + words[-_FUZZY_MAX_WORDS:]
        windows: Dict[int, List[str]] = {}
        for phrase in self._phrases:
            if phrase.words not in windows:
                n = phrase.words
                windows[n] = [" ".join(words[i : i + n]) for i in range(max(0, len(words) - n + 1))]
            for window in windows[phrase.words]:
                if abs(len(window) - len(phrase.text)) > phrase.max_edits:
                    continue
                if Levenshtein.distance(window, phrase.text, score_cutoff=phrase.max_edits) <= phrase.max_edits:
                    return DangerAssessment(phrase.kind, f"phrase:{phrase.kind}:{phrase.text}")
        return None


def read_disclosure(
    intent: Optional[str], entities: Iterable[Dict[str, Any]], remembered_kind: Optional[str] = None
) -> Optional[Dict[str, str]]:
    """``{"kind", "source"}`` of the disclosure the NLU read in a message, or None.

    The ``danger_kind`` entity the danger component sets names both (its extractor is
    ``DangerNet:net`` or ``DangerNet:model``); without it, ``remembered_kind`` (the conversation's
    last kind) or the classifier's disclosure intent decides, with the source "classifier"."""
    for entity in entities:
        if entity.get("entity") == "danger_kind" and entity.get("value"):
            return {
                "kind": str(entity["value"]),
                "source": str(entity.get("extractor") or "classifier").replace("DangerNet:", ""),
            }
    if remembered_kind:
        return {"kind": remembered_kind, "source": "classifier"}
    if intent in DISCLOSURE_INTENTS:
        return {"kind": "self_harm" if intent == "disclose_self_harm" else "unspecified", "source": "classifier"}
    return None


def _check_kind(kind: str) -> None:
    if kind not in DANGER_KINDS:
        raise ValueError(f"unknown danger kind {kind!r}; expected one of {DANGER_KINDS}")


_GUARD_REFERENCE = re.compile(r"\{\{(\w+)\}\}")


def _with_guards(pattern: str, guards: Dict[str, str]) -> str:
    """``pattern`` with each ``{{name}}`` replaced by the named guard's text."""

    def guard(match: re.Match[str]) -> str:
        if match.group(1) not in guards:
            raise ValueError(f"unknown guard {{{{{match.group(1)}}}}} in {pattern[:60]!r}; known: {sorted(guards)}")
        return guards[match.group(1)]

    return _GUARD_REFERENCE.sub(guard, pattern)


def _normalize_pattern(pattern: str) -> str:
    """Apply the Arabic letter unification to a regex's Arabic letters (patterns are written in
    lower case; lower-casing here would turn ``\\S`` into ``\\s``)."""
    return normalize_arabic(pattern)


@lru_cache(maxsize=4)
def _load_cached(path: str) -> DangerNet:
    with open(path, encoding="utf-8") as f:
        return DangerNet.from_dict(yaml.safe_load(f) or {})

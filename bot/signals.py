"""Who is chatting and which language to answer in, read from lexicons in ``data/lexicons/``.

"I'm a mum", "أنا معلمة" or "عمري ١١" must work the first time in both languages, so these come
from patterns rather than from trained entities. Used by the NLU component
``bot.nlu.signals.SignalExtractor`` and by channels that need a language before the model runs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from bot.language import detect_language, normalize_arabic, normalize_for_matching
from bot.settings import get_settings

__all__ = ["Signals", "read_signals"]

CHILD_MAX_AGE = 12
TEEN_MAX_AGE = 17


class Signals:
    """Lexicon-based readers for audience and explicit language requests."""

    def __init__(
        self,
        audience: Dict[str, List[re.Pattern[str]]],
        ages: List[re.Pattern[str]],
        language: Dict[str, List[re.Pattern[str]]],
    ):
        self._audience = audience
        self._ages = ages
        self._language = language

    @classmethod
    def load(cls, lexicon_dir: Path) -> Signals:
        return _load(str(lexicon_dir))

    def audience(self, text: str) -> Optional[str]:
        """child / teen / parent / educator, from a self-description or a stated age."""
        normalized = normalize_for_matching(text)
        for audience, patterns in self._audience.items():
            if any(p.search(normalized) for p in patterns):
                return audience
        for pattern in self._ages:
            match = pattern.search(normalized)
            if match:
                age = int(match.group("age"))
                if 3 <= age <= CHILD_MAX_AGE:
                    return "child"
                if CHILD_MAX_AGE < age <= TEEN_MAX_AGE:
                    return "teen"
        return None

    def requested_language(self, text: str) -> Optional[str]:
        """ "English please" / "عربي": the language asked for, if the message asks for one."""
        normalized = normalize_for_matching(text)
        for language, patterns in self._language.items():
            if any(p.search(normalized) for p in patterns):
                return language
        return None

    def language(self, text: str) -> Optional[str]:
        """The language to reply in: the one asked for, else the one the message is written in."""
        return self.requested_language(text) or detect_language(text)


def read_signals(text: str, lexicon_dir: Optional[Path] = None) -> Tuple[Optional[str], Optional[str]]:
    """(language, audience) of a message; for channels and tests that work without the model."""
    signals = Signals.load(lexicon_dir or get_settings().data_dir / "lexicons")
    return signals.language(text), signals.audience(text)


def _compile(patterns: List[str]) -> List[re.Pattern[str]]:
    return [re.compile(normalize_arabic(p)) for p in patterns]


@lru_cache(maxsize=4)
def _load(lexicon_dir: str) -> Signals:
    root = Path(lexicon_dir)
    with open(root / "audience.yml", encoding="utf-8") as f:
        audience_raw = yaml.safe_load(f)
    with open(root / "language.yml", encoding="utf-8") as f:
        language_raw = yaml.safe_load(f)
    audience = {
        who: _compile([p for lang in ("en", "ar") for p in (by_lang.get(lang) or [])])
        for who, by_lang in audience_raw["audience"].items()
    }
    ages = _compile(audience_raw.get("age") or [])
    language = {lang: _compile(patterns) for lang, patterns in language_raw["requests"].items()}
    return Signals(audience, ages, language)

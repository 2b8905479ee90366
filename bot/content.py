"""Reply texts kept in data: advice per topic and audience, and the fixed messages that cite helplines.

Texts live in ``data/content/topics/<topic>.yml`` and ``data/content/messages.yml`` so that content
editors change words without touching code; every "{emergency}"-style placeholder is filled from the
helpline directory when a text is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from bot.helplines import HelplineDirectory, UnknownPlaceholder

__all__ = [
    "AUDIENCES",
    "LANGUAGES",
    "TOPICS",
    "TOPIC_INTENTS",
    "FOLLOWUP_INTENTS",
    "ContentLibrary",
]

AUDIENCES = ("child", "teen", "parent", "educator")
LANGUAGES = ("ar", "en")
TOPICS = (
    "grooming",
    "sextortion",
    "cyberbullying",
    "image_sharing",
    "privacy",
    "gaming",
    "parental_controls",
    "reporting",
    "digital_citizenship",
    "screen_habits",
)
TOPIC_INTENTS = {f"ask_{topic}": topic for topic in TOPICS}
FOLLOWUP_INTENTS = {
    "followup_already_happened": "already_happened",
    "followup_talk_to_child": "talk_to_child",
    "followup_warning_signs": "warning_signs",
    "followup_more": "more",
}
# Who a reply is written for when the user has not said: frank but not graphic, like a teen's.
FALLBACK_AUDIENCE = "teen"


@dataclass(frozen=True)
class Topic:
    key: str
    title: Mapping[str, str]
    advice: Mapping[str, Mapping[str, str]]
    followups: Mapping[str, Mapping[str, Mapping[str, str]]]
    sources: List[str]


class ContentLibrary:
    """All reply texts, rendered in a language for an audience."""

    def __init__(self, topics: Dict[str, Topic], messages: Dict[str, Any], helplines: HelplineDirectory):
        self.topics = topics
        self.messages = messages
        self.helplines = helplines

    @classmethod
    def load(cls, data_dir: Path) -> ContentLibrary:
        """The library for a data folder (cached per folder)."""
        return _load(str(data_dir))

    def title(self, topic: str, lang: str) -> str:
        return self.topics[topic].title[lang]

    def advice(self, topic: str, audience: Optional[str], lang: str) -> str:
        texts = self.topics[topic].advice
        return self._render(texts[_audience(audience)][lang], lang)

    def followup(self, topic: str, followup: str, audience: Optional[str], lang: str) -> str:
        variants = self.topics[topic].followups[followup]
        chosen = variants.get(_audience(audience)) or variants["all"]
        return self._render(chosen[lang], lang)

    def message(self, key: str, lang: str, audience: Optional[str] = None) -> str:
        """A fixed message: ``{en, ar}``, or per audience with an optional ``all`` entry."""
        entry = self.messages[key]
        if lang not in entry:
            who = _audience(audience)
            group = "adult" if who in ("parent", "educator") else "young"
            entry = next(entry[c] for c in (who, group, "all") if c in entry)
        return self._render(entry[lang], lang)

    def _render(self, text: str, lang: str) -> str:
        return self.helplines.render(text.strip(), lang)

    def problems(self) -> List[str]:
        """Everything wrong with the content: missing topics, audiences, languages, placeholders."""
        found: List[str] = []
        for topic in TOPICS:
            if topic not in self.topics:
                found.append(f"topic {topic}: file missing")
                continue
            t = self.topics[topic]
            for lang in LANGUAGES:
                if not t.title.get(lang):
                    found.append(f"topic {topic}: title.{lang} missing")
            if not t.sources:
                found.append(f"topic {topic}: no sources")
            for audience in AUDIENCES:
                for lang in LANGUAGES:
                    text = (t.advice.get(audience) or {}).get(lang)
                    found += self._check_text(f"{topic}.advice.{audience}.{lang}", text, lang)
            for followup in FOLLOWUP_INTENTS.values():
                variants = t.followups.get(followup) or {}
                if "all" not in variants and not all(a in variants for a in AUDIENCES):
                    found.append(f"topic {topic}: followup {followup} lacks 'all' or some audience")
                for who, texts in variants.items():
                    for lang in LANGUAGES:
                        found += self._check_text(
                            f"{topic}.followups.{followup}.{who}.{lang}", (texts or {}).get(lang), lang
                        )
        for key, entry in self.messages.items():
            groups = [entry] if "en" in entry or "ar" in entry else list(entry.values())
            for group in groups:
                for lang in LANGUAGES:
                    found += self._check_text(f"messages.{key}.{lang}", group.get(lang), lang)
        return found

    def _check_text(self, where: str, text: Optional[str], lang: str) -> List[str]:
        if not text or not text.strip():
            return [f"{where}: missing"]
        try:
            self._render(text, lang)
        except UnknownPlaceholder as e:
            return [f"{where}: unknown placeholder {e}"]
        return []


def _audience(audience: Optional[str]) -> str:
    return audience if audience in AUDIENCES else FALLBACK_AUDIENCE


@lru_cache(maxsize=4)
def _load(data_dir: str) -> ContentLibrary:
    root = Path(data_dir)
    topics: Dict[str, Topic] = {}
    for path in sorted((root / "content" / "topics").glob("*.yml")):
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
        key = raw.get("topic") or path.stem
        topics[key] = Topic(
            key=key,
            title=raw.get("title") or {},
            advice=raw.get("advice") or {},
            followups=raw.get("followups") or {},
            sources=list(raw.get("sources") or []),
        )
    with open(root / "content" / "messages.yml", encoding="utf-8") as f:
        messages = yaml.safe_load(f) or {}
    helplines = HelplineDirectory.from_file(root / "helplines.yml")
    return ContentLibrary(topics, messages, helplines)

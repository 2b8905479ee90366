"""``CampaignLibrary``: what ``data/campaigns/`` holds, and what ``python -m bot check-content``
checks in it.

* ``tips/<audience>.yml`` — a series per audience, each tip in both languages with its sources;
  a subscriber gets the series of their audience (``teen`` when unknown) in their language.
* ``broadcasts.yml`` — messages a supervisor may send, with the WhatsApp template (Content API
  ``content_sid``, ``variables``) used outside the 24-hour window.
* ``quizzes/*.yml`` — 3 to 5 questions, 2 to 4 choices, an explanation after each.
* ``polls/*.yml`` — one question, 2 to 5 choices; only counts are kept.
* ``messages.yml`` — what the bot says about all this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from bot.content import AUDIENCES, FALLBACK_AUDIENCE, LANGUAGES

__all__ = ["CampaignLibrary", "Item", "Quiz", "Poll", "Series"]

_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class Item:
    """Something a broadcast can carry: a message, one tip, a quiz's invitation or a poll."""

    id: str
    kind: str  # message | tip | quiz | poll
    text: Dict[str, str]
    sources: List[str] = field(default_factory=list)
    template: Optional[Dict[str, Any]] = None  # {"content_sid": "HX…", "variables": {...}}
    choices: List[Dict[str, str]] = field(default_factory=list)  # a poll's {id, en, ar}


@dataclass(frozen=True)
class Series:
    audience: str
    title: Dict[str, str]
    every: timedelta
    tips: List[Item]


@dataclass(frozen=True)
class Quiz:
    id: str
    title: Dict[str, str]
    questions: List[Dict[str, Any]]  # {"en": {question, choices, explanation}, "ar": {...}, "answer": n (1-based)}
    sources: List[str]


@dataclass(frozen=True)
class Poll:
    id: str
    question: Dict[str, str]
    choices: List[Dict[str, str]]


def _read(path: Path) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


class CampaignLibrary:
    def __init__(
        self,
        series: Dict[str, Series],
        messages: Dict[str, Item],
        quizzes: Dict[str, Quiz],
        polls: Dict[str, Poll],
        replies: Dict[str, Dict[str, str]],
    ):
        self.series = series
        self.messages = messages
        self.quizzes = quizzes
        self.polls = polls
        self.replies = replies

    @classmethod
    def load(cls, data_dir: Path) -> CampaignLibrary:
        return _load(str(data_dir))

    # --- lookups -----------------------------------------------------------------------------

    def series_for(self, audience: Optional[str]) -> Series:
        return self.series.get(audience or "") or self.series[FALLBACK_AUDIENCE]

    def reply(self, key: str, lang: str, **values: Any) -> str:
        text = self.replies[key][lang if lang in LANGUAGES else "ar"]
        for name, value in values.items():
            text = text.replace("{%s}" % name, str(value))
        return text.strip()

    def every(self, series: Series, lang: str) -> str:
        days = series.every.days
        return self.reply("every_week", lang) if days == 7 else self.reply("every_days", lang, days=days)

    def items(self) -> List[Item]:
        """Everything a broadcast can carry, in a stable order."""
        found = list(self.messages.values())
        for series in self.series.values():
            found += series.tips
        for quiz in self.quizzes.values():
            found.append(Item(quiz.id, "quiz", {lang: quiz.title[lang] for lang in LANGUAGES}, quiz.sources))
        for poll in self.polls.values():
            found.append(Item(poll.id, "poll", dict(poll.question), choices=poll.choices))
        return found

    def item(self, item_id: str) -> Optional[Item]:
        return next((i for i in self.items() if i.id == item_id), None)

    # --- checks ------------------------------------------------------------------------------

    def problems(self) -> List[str]:
        found: List[str] = []
        for audience in AUDIENCES:
            series = self.series.get(audience)
            if series is None:
                found.append(f"campaigns: tips/{audience}.yml missing")
                continue
            if not series.tips:
                found.append(f"campaigns: tips/{audience}.yml has no tips")
            for tip in series.tips:
                found += _texts(f"campaigns.tips.{tip.id}", tip.text)
                if not tip.sources:
                    found.append(f"campaigns.tips.{tip.id}: no sources")
        for item in self.messages.values():
            found += _texts(f"campaigns.messages.{item.id}", item.text)
            if not item.sources:
                found.append(f"campaigns.messages.{item.id}: no sources")
            sid = (item.template or {}).get("content_sid")
            if item.template is not None and not _CONTENT_SID.match(str(sid or "")):
                found.append(f"campaigns.messages.{item.id}: whatsapp_template.content_sid must be HX + 32 hex digits")
        for quiz in self.quizzes.values():
            if not 3 <= len(quiz.questions) <= 5:
                found.append(f"campaigns.quizzes.{quiz.id}: needs 3 to 5 questions")
            for n, q in enumerate(quiz.questions, 1):
                where = f"campaigns.quizzes.{quiz.id}.{n}"
                lengths = set()
                for lang in LANGUAGES:
                    part = q.get(lang) or {}
                    for key in ("question", "explanation"):
                        if not str(part.get(key) or "").strip():
                            found.append(f"{where}.{lang}.{key}: missing")
                    lengths.add(len(part.get("choices") or []))
                if len(lengths) != 1 or not 2 <= lengths.pop() <= 4:
                    found.append(f"{where}: 2 to 4 choices, as many in both languages")
                elif not 1 <= int(q.get("answer") or 0) <= len((q.get("en") or {}).get("choices") or []):
                    found.append(f"{where}: answer must be the number of a choice")
            if not quiz.sources:
                found.append(f"campaigns.quizzes.{quiz.id}: no sources")
        for poll in self.polls.values():
            found += _texts(f"campaigns.polls.{poll.id}", poll.question)
            if not 2 <= len(poll.choices) <= 5:
                found.append(f"campaigns.polls.{poll.id}: needs 2 to 5 choices")
            for choice in poll.choices:
                found += _texts(f"campaigns.polls.{poll.id}.{choice.get('id')}", choice)
        ids = [i.id for i in self.items()]
        found += [f"campaigns: id {i} used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
        for key, texts in self.replies.items():
            found += _texts(f"campaigns.replies.{key}", texts)
        return found


def _texts(where: str, texts: Dict[str, Any]) -> List[str]:
    """A problem for each language whose text is missing or blank."""
    return [f"{where}.{lang}: missing" for lang in LANGUAGES if not str(texts.get(lang) or "").strip()]


@lru_cache(maxsize=4)
def _load(data_dir: str) -> CampaignLibrary:
    root = Path(data_dir) / "campaigns"
    series: Dict[str, Series] = {}
    for path in sorted((root / "tips").glob("*.yml")):
        raw = _read(path)
        audience = raw.get("series") or path.stem
        tips = [
            Item(
                str(t["id"]), "tip", {lang: str(t.get(lang) or "") for lang in LANGUAGES}, list(t.get("sources") or [])
            )
            for t in raw.get("tips") or []
        ]
        every = timedelta(days=int(raw.get("every_days") or 7))
        series[audience] = Series(audience, raw.get("title") or {}, every, tips)
    broadcasts = _read(root / "broadcasts.yml") if (root / "broadcasts.yml").exists() else {}
    messages = {
        str(m["id"]): Item(
            str(m["id"]),
            "message",
            {lang: str(m.get(lang) or "") for lang in LANGUAGES},
            list(m.get("sources") or []),
            m.get("whatsapp_template"),
        )
        for m in broadcasts.get("messages") or []
    }
    quizzes: Dict[str, Quiz] = {}
    for path in sorted((root / "quizzes").glob("*.yml")):
        raw = _read(path)
        quizzes[str(raw["id"])] = Quiz(
            str(raw["id"]), raw.get("title") or {}, list(raw.get("questions") or []), list(raw.get("sources") or [])
        )
    polls: Dict[str, Poll] = {}
    for path in sorted((root / "polls").glob("*.yml")):
        raw = _read(path)
        choices = [{k: str(v) for k, v in c.items()} for c in raw.get("choices") or []]
        polls[str(raw["id"])] = Poll(str(raw["id"]), raw.get("question") or {}, choices)
    replies = _read(root / "messages.yml")
    return CampaignLibrary(series, messages, quizzes, polls, replies)

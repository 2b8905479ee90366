"""Apps and platforms named in a message ("someone on snap", "ولدي يلعب روبلوكس"), read from
``data/lexicons/apps.yml``.

A lexicon rather than a trained entity, like the audience: a new app is a few lines of YAML, and
the same reading serves the app guides and the anonymous counters (only the app's id is ever kept,
never the message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from bot.language import normalize_arabic, normalize_for_matching
from bot.settings import get_settings

__all__ = ["App", "AppLexicon", "apps_named"]


@dataclass(frozen=True)
class App:
    id: str
    names: Dict[str, str]  # language -> how replies write the app's name

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]


class AppLexicon:
    """The apps of ``apps.yml`` and the patterns that find them in a message."""

    def __init__(self, apps: List[Tuple[App, List[re.Pattern[str]]]]):
        self._apps = apps

    @classmethod
    def load(cls, lexicon_dir: Optional[Path] = None) -> AppLexicon:
        return _load(str(lexicon_dir or get_settings().data_dir / "lexicons"))

    @property
    def apps(self) -> List[App]:
        return [app for app, _ in self._apps]

    def get(self, app_id: str) -> Optional[App]:
        return next((app for app in self.apps if app.id == app_id), None)

    def named_in(self, text: str) -> List[str]:
        """Ids of the apps the message names, in the order they appear, each once."""
        normalized = normalize_for_matching(text)
        found: List[Tuple[int, str]] = []
        taken: List[Tuple[int, int]] = []
        for app, patterns in self._apps:
            for pattern in patterns:
                for match in pattern.finditer(normalized):
                    span = match.span()
                    if any(span[0] < end and start < span[1] for start, end in taken):
                        continue
                    taken.append(span)
                    found.append((span[0], app.id))
        ordered: List[str] = []
        for _, app_id in sorted(found):
            if app_id not in ordered:
                ordered.append(app_id)
        return ordered

    def strip(self, normalized: str) -> str:
        """The normalized text with every app name taken out (a space in its place)."""
        for _, patterns in self._apps:
            for pattern in patterns:
                normalized = pattern.sub(" ", normalized)
        return normalized


def apps_named(text: str) -> List[str]:
    """Ids of the apps a message names, with the project's lexicon."""
    return AppLexicon.load().named_in(text)


@lru_cache(maxsize=4)
def _load(lexicon_dir: str) -> AppLexicon:
    with open(Path(lexicon_dir) / "apps.yml", encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    apps = [
        (
            App(app_id, dict(entry["name"])),
            [re.compile(p) for p in entry.get("en") or []] + [_arabic(n) for n in entry.get("ar") or []],
        )
        for app_id, entry in raw["apps"].items()
    ]
    return AppLexicon(apps)


def _arabic(name: str) -> re.Pattern[str]:
    """An Arabic name with the article and attached particles allowed before it ("بالسناب",
    "ليوتيوب", "وللتيك توك", "عالانستا"), and its inner spaces optional."""
    words = [re.escape(w) for w in normalize_arabic(name).split()]
    return re.compile(r"(?<![\w])(?:و?[بلفكع]?(?:ال|ل)?)" + " ?".join(words) + r"(?![\w])")

"""The helpline directory: every reply that cites a number reads it from ``data/helplines.yml``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Mapping

import yaml

__all__ = ["Helpline", "HelplineDirectory", "UnknownPlaceholder"]

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class UnknownPlaceholder(KeyError):
    """A text names a helpline the directory does not have."""


@dataclass(frozen=True)
class Helpline:
    key: str
    name: Mapping[str, str]
    use: Mapping[str, str]
    number: str = ""
    app: Mapping[str, str] | None = None
    hours: Mapping[str, str] | None = None

    def short(self, lang: str) -> str:
        """What "{key}" renders to: the number, or the app's name."""
        return self.number or (self.app or self.name)[lang]

    def line(self, lang: str) -> str:
        """One line of the full list: "• 911: Unified emergency number (24/7), if anyone..."."""
        hours = f" ({self.hours[lang]})" if self.hours else ""
        head = f"{self.number}: {self.name[lang]}" if self.number else self.name[lang]
        return f"• {head}{hours}، {self.use[lang]}" if lang == "ar" else f"• {head}{hours}, {self.use[lang]}"


class HelplineDirectory:
    """Helplines by key, and the rendering of "{key}" placeholders in reply texts."""

    def __init__(self, helplines: Dict[str, Helpline], order: List[str], country: str):
        self._helplines = helplines
        self.order = order
        self.country = country

    @classmethod
    def from_file(cls, path: Path) -> HelplineDirectory:
        return _load(str(path))

    def __getitem__(self, key: str) -> Helpline:
        return self._helplines[key]

    def keys(self) -> List[str]:
        return list(self._helplines)

    def block(self, lang: str) -> str:
        """All helplines, one per line, in the directory's order."""
        return "\n".join(self._helplines[k].line(lang) for k in self.order)

    def render(self, text: str, lang: str) -> str:
        """Replace "{emergency}"-style placeholders; "{helplines}" becomes the whole list."""

        def sub(match: re.Match[str]) -> str:
            key = match.group(1)
            if key == "helplines":
                return self.block(lang)
            if key not in self._helplines:
                raise UnknownPlaceholder(key)
            return self._helplines[key].short(lang)

        return _PLACEHOLDER.sub(sub, text)

    def placeholders(self, text: str) -> List[str]:
        return _PLACEHOLDER.findall(text)


@lru_cache(maxsize=4)
def _load(path: str) -> HelplineDirectory:
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    helplines = {
        key: Helpline(
            key=key,
            name=entry["name"],
            use=entry["use"],
            number=str(entry.get("number", "")),
            app=entry.get("app"),
            hours=entry.get("hours"),
        )
        for key, entry in raw["helplines"].items()
    }
    order = raw.get("order") or list(helplines)
    missing = [k for k in order if k not in helplines]
    if missing:
        raise ValueError(f"helplines order names unknown entries: {missing}")
    return HelplineDirectory(helplines, order, raw.get("country", ""))

"""App guides: what parents and children ask about one app, from ``data/content/apps/<app>.yml``.

Each guide holds the app's minimum age in its own terms and its store rating (``age``), its main
risks (``risks``), its safety settings step by step (``settings``) and how to report on it
(``report``), in both languages, with its ``sources`` and the date it was ``last_checked``
(settings change: ``check-content`` warns when a guide is over a year old). The app is read from
the message by ``bot.apps``; ``asked_about`` reads what is asked about it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import yaml

from bot.apps import AppLexicon
from bot.content import LANGUAGES
from bot.helplines import HelplineDirectory
from bot.language import normalize_for_matching
from bot.settings import get_settings

__all__ = ["ASKS", "SECTIONS", "AppGuide", "AppGuides", "asked_about", "child_age", "guided_app_in", "STALE_AFTER_DAYS"]

SECTIONS = ("age", "risks", "settings", "report")
# What a question asks about an app; "safety" (is it safe?) is the age, the risks and a pointer.
ASKS = ("age", "settings", "report", "safety")
STALE_AFTER_DAYS = 365

# Words that ask each thing (normalized text: lower case, Arabic letters unified, ة → ه), tried in
# this order: "how do I report on X" is about reporting, "age limit" about the age.
_ASK_PATTERNS = (
    (
        "report",
        r"\b(report\w*|block\w*|flag)\b|\b[وف]?(ابلغ|يبلغ|تبلغ|بلاغ|البلاغ|الابلاغ|احظر|حظر|بلك|ابلك|اسوي بلوك|بلوك)",
    ),
    (
        "age",
        r"\b(what age|how old|minimum age|age (limit|rating|restriction|requirement)s?|old enough|rated|pegi|esrb"
        r"|too (young|old)|young for|age appropriate|under (1[0-8]|[5-9])s?)\b"
        r"|\b[وف]?(العمر|عمر|سن|السن|التصنيف العمري|تصنيفه|الحد العمري|كم عمر|لاي عمر|من كم سنه|من عمر كم"
        r"|مناسب لعمر|يناسب عمر|صغير على|صغيره على|صغير عليه|صغيره عليه|مسموح لعمر)\b"
        r"|\b(el |al )?(3umr|3omr|3mr|3umur)\b",
    ),
    (
        "settings",
        r"\b(settings?|controls?|set ?up|turn (on|off)|switch (on|off)|family (pairing|center|centre|link|settings)|supervis\w*|restrict\w*|lock|limit\w*|private|privacy|pin|make (it|\w+) safe)\b"
        r"|\b(stop (strangers|people|anyone|randoms|them) \w*|who can (message|add|contact|dm|see|find)|dms? (only )?from|only (gets|get|friends)"
        r"|strangers (from )?(adding|messaging|contacting))"
        r"|\b[وف]?(اعدادات|الاعدادات|رقابه|الرقابه|تحكم|التحكم|اقفل|اقفال|افعل|تفعيل|اضبط|ضبط|الاقتران|مركز العائله|الاشراف|اشراف|خاص|الخصوصيه|خصوصيه|احدد|امنع|تمنع|يمنع|حدود"
        r"|برايفت|بريفت|الغرباء|غريب يبعتلي|اسكر|بسكر|سكر الشات|اقفل الشات)",
    ),
)
# "Is it safe?", said outright: the overview (age, risks), whatever topic the classifier read.
_SAFETY = re.compile(
    r"\b(is (it|\w+) (actually |really |even )?safe|safe for|how safe|dangerous|bad for (kids|children|teens))\b"
    r"|\b[وف]?(امن|آمن|خطير|خطر على)\b"
)
_ASKS = [(ask, re.compile(pattern)) for ask, pattern in _ASK_PATTERNS]
_CHILD_AGE = re.compile(
    r"\b(?P<age>\d{1,2}) ?(years? old|yrs? old|y o|yo|year)\b|\b(aged?|عمره|عمرها|عمر|(son|daughter|kid|child|boy|girl) is) (?P<age2>\d{1,2})\b"
    r"|\b(?P<age3>\d{1,2}) (سنه|سنوات|سنين)\b"
)


def asked_about(text: str, default: str = "safety") -> str:
    """age | settings | report | safety: what a message asks about an app (a child's age named and
    nothing else asked: whether it suits that age)."""
    normalized = normalize_for_matching(text)
    for ask, pattern in _ASKS:
        if pattern.search(normalized):
            return ask
    if child_age(text) is not None:
        return "age"  # "is Roblox OK for my 7 year old?": whether it suits that age
    if _SAFETY.search(normalized):
        return "safety"
    return default


def child_age(text: str) -> Optional[int]:
    """The age of the child the message is about ("my 8 year old", "عمره ٩"), if it gives one."""
    match = _CHILD_AGE.search(normalize_for_matching(text))
    if not match:
        return None
    value = match.group("age") or match.group("age2") or match.group("age3")
    age = int(value)
    return age if 0 < age < 19 else None


@dataclass(frozen=True)
class AppGuide:
    app: str
    min_age: int
    last_checked: Optional[dt.date]
    sources: List[str]
    sections: Mapping[str, Mapping[str, str]]


class AppGuides:
    """The reviewed guides of ``data/content/apps/``, rendered in a language."""

    def __init__(self, guides: Dict[str, AppGuide], messages: Dict[str, Dict[str, str]], helplines: HelplineDirectory):
        self.guides = guides
        self.messages = messages
        self.helplines = helplines

    @classmethod
    def load(cls, data_dir: Path) -> AppGuides:
        return _load(str(data_dir))

    def section(self, app: str, section: str, lang: str) -> str:
        return self.helplines.render(str(self.guides[app].sections[section][lang]).strip(), lang)

    def answer(self, app: str, ask: str, lang: str, name: str, age: Optional[int] = None) -> str:
        """The guide's answer to ``ask``: the section asked for, the age note for a child below the
        app's minimum age, and where it comes from."""
        guide = self.guides[app]
        if ask == "safety":
            parts = [self.section(app, "age", lang), self.section(app, "risks", lang), self._text("more", lang, name)]
        elif ask == "age" and age is not None:
            parts = [self.section(app, "age", lang), self.section(app, "risks", lang)]  # for that child
        elif ask == "age":
            parts = [self.section(app, "age", lang)]
        else:
            parts = [self.section(app, ask, lang)]
        if age is not None and ask in ("age", "safety") and age < guide.min_age:
            parts.insert(
                1, self._text("under_age", lang, name).replace("<age>", str(age)).replace("<min>", str(guide.min_age))
            )
        checked = guide.last_checked.isoformat() if guide.last_checked else "?"
        parts.append(self._text("checked", lang, name).replace("<date>", checked))
        return "\n\n".join(parts)

    def _text(self, key: str, lang: str, name: str) -> str:
        return str(self.messages[key][lang]).strip().replace("<app>", name)

    def problems(self, apps: List[str], today: Optional[dt.date] = None) -> List[str]:
        """Apps of the lexicon without a guide; guides missing a section, a language or sources."""
        found: List[str] = []
        for app in apps:
            guide = self.guides.get(app)
            if guide is None:
                found.append(f"app guide {app}: file missing (data/content/apps/{app}.yml)")
                continue
            if not guide.sources:
                found.append(f"app guide {app}: no sources")
            if guide.last_checked is None:
                found.append(f"app guide {app}: no last_checked date")
            for section in SECTIONS:
                for lang in LANGUAGES:
                    if not str((guide.sections.get(section) or {}).get(lang) or "").strip():
                        found.append(f"app guide {app}: {section}.{lang} missing")
        for key in ("more", "under_age", "checked", "which_app"):
            for lang in LANGUAGES:
                if not (self.messages.get(key) or {}).get(lang):
                    found.append(f"app guide messages: {key}.{lang} missing")
        return found

    def stale(self, today: Optional[dt.date] = None) -> List[str]:
        """Warnings: guides last checked more than a year ago (settings change)."""
        today = today or dt.date.today()
        return [
            f"app guide {g.app}: last checked {g.last_checked.isoformat()}, over a year ago: check it against its sources"
            for g in self.guides.values()
            if g.last_checked and (today - g.last_checked).days > STALE_AFTER_DAYS
        ]


def guided_app_in(text: str, data_dir: Optional[Path] = None) -> Optional[str]:
    """The first app ``text`` names that has a guide (its reporting steps can be offered)."""
    available = AppGuides.load(data_dir or get_settings().data_dir).guides
    return next((app for app in AppLexicon.load().named_in(text) if app in available), None)


def _date(value: object) -> Optional[dt.date]:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


@lru_cache(maxsize=4)
def _load(data_dir: str) -> AppGuides:
    root = Path(data_dir) / "content" / "apps"
    guides: Dict[str, AppGuide] = {}
    messages: Dict[str, Dict[str, str]] = {}
    for path in sorted(root.glob("*.yml")):
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f) or {}
        if path.stem == "_messages":
            messages = raw
            continue
        app = str(raw.get("app") or path.stem)
        guides[app] = AppGuide(
            app=app,
            min_age=int(raw.get("min_age") or 0),
            last_checked=_date(raw.get("last_checked")),
            sources=list(raw.get("sources") or []),
            sections={s: raw.get(s) or {} for s in SECTIONS},
        )
    return AppGuides(guides, messages, HelplineDirectory.from_file(Path(data_dir) / "helplines.yml"))

"""The counted moments the actions report, each one line at its call site."""

from __future__ import annotations

from typing import Optional

from bot.analytics import count

__all__ = ["question_asked", "disclosure_made", "check_in"]


def question_asked(topic: str, channel: Optional[str], language: Optional[str], audience: Optional[str]) -> None:
    count("questions", topic=topic, channel=channel, language=language, audience=audience)


def disclosure_made(kind: str, words: Optional[str]) -> None:
    """A disclosure by kind and, separately, each app or platform its words name (read by the apps
    lexicon, ``bot.apps``; only the app's id is counted, the words are not kept)."""
    count("disclosures", kind=kind)
    if words:
        from bot.apps import apps_named

        for app in apps_named(words):
            count("disclosure_apps", app=app)


def check_in(stage: str) -> None:
    """``asked``, ``confirmed`` or ``declined``."""
    count("check_ins", stage=stage)

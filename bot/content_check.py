"""``python -m bot check-content``: everything wrong with the reply content, and what to look at.

Problems (the command fails): the topics and fixed messages (``bot.content``), the next steps after a
disclosure (``bot.next_steps``), and an app guide for every app of the lexicon (``bot.app_guides``).
Warnings (the command passes): app guides last checked over a year ago, since apps change their
settings.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import List, Optional, Tuple

from bot.app_guides import AppGuides
from bot.apps import AppLexicon
from bot.content import ContentLibrary
from bot.next_steps import NextSteps

__all__ = ["check_content"]


def check_content(data_dir: Path, today: Optional[dt.date] = None) -> Tuple[List[str], List[str]]:
    """(problems, warnings) in the content of a data folder."""
    problems = ContentLibrary.load(data_dir).problems()
    problems += NextSteps.load(data_dir).problems()
    guides = AppGuides.load(data_dir)
    apps = [app.id for app in AppLexicon.load(data_dir / "lexicons").apps]
    problems += guides.problems(apps)
    return problems, guides.stale(today)

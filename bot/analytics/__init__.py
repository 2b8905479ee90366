"""Anonymous analytics for the safety center: daily counters, never text, ids or references.

Where something happens, the code calls ``count(metric, **dims)`` (``metrics.METRICS`` lists what
may be counted and by what); ``Counts`` buffers in memory and writes daily aggregates to the case
database in the background. ``report`` reads them back for the console, with small counts
suppressed (``suppression``). docs/ANALYTICS.md tells the whole story.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Optional

from bot.analytics.counts import Counts
from bot.analytics.metrics import METRICS, register

__all__ = ["Counts", "METRICS", "register", "count", "seen", "counts_for", "default_counts", "use_counts"]

logger = logging.getLogger(__name__)

_by_url: Dict[str, Counts] = {}
_default: Optional[Counts] = None
_lock = threading.Lock()


def counts_for(url: str) -> Counts:
    """The process's ``Counts`` for a database URL (one buffer and thread per database)."""
    from bot.cases.schema import engine_for  # late: bot.cases counts through this package
    from bot.settings import get_settings

    with _lock:
        if url not in _by_url:
            settings = get_settings()
            _by_url[url] = Counts(
                engine_for(url), flush_seconds=settings.analytics_flush_seconds, enabled=settings.analytics_enabled
            )
        return _by_url[url]


def default_counts() -> Counts:
    """The ``Counts`` of this deployment's case database (``DATABASE_URL`` or ``.run/cases.db``),
    looked up again when the settings change (tests point each at a database of its own)."""
    if _default is not None:
        return _default
    from bot.cases.desk import database_url
    from bot.settings import get_settings

    return counts_for(database_url(get_settings()))


def use_counts(counts: Optional[Counts]) -> None:
    """Replace the process's default counts (tests); None builds them again from settings."""
    global _default
    _default = counts


def count(metric: str, n: int = 1, **dims: Any) -> None:
    """Count one moment in this deployment's database. Never raises: counting must not break a
    reply (a wrong metric or dimension is a bug, logged)."""
    try:
        default_counts().count(metric, n, **dims)
    except Exception as error:  # noqa: BLE001 - a counter must never cost a child a reply
        logger.error("analytics.count.failed metric=%s error=%s", metric, type(error).__name__)


def seen(user_key: str) -> None:
    """One user active this week (the distinct-users sketch); never raises."""
    try:
        default_counts().seen(user_key)
    except Exception as error:  # noqa: BLE001 - as above
        logger.error("analytics.seen.failed error=%s", type(error).__name__)

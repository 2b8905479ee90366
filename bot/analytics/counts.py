"""``Counts``: daily counters, incremented in memory and written to the database in the background.

``count(metric, **dims)`` costs a dictionary update under a lock: a reply never waits for the
database. A daemon thread flushes the buffer every ``flush_seconds`` (``ANALYTICS_FLUSH_SECONDS``,
default 5) with one upsert per counter (``value = value + n``, so any number of processes can count
into the same rows), and once more when the process exits. If the database is down, the buffer is
kept and tried again; past ``MAX_PENDING`` distinct counters the newest are dropped (and logged), so
a long outage cannot eat the process's memory.

The weekly distinct-users sketch (``sketch.WeeklyUsers``) is flushed by the same thread.
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import date, datetime
from typing import Any, Callable, Dict, Optional, Tuple

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.analytics.metrics import dims_key
from bot.analytics.schema import COUNTS, migrate_analytics
from bot.analytics.sketch import WeeklyUsers, utcnow

__all__ = ["Counts", "MAX_PENDING"]

logger = logging.getLogger(__name__)

MAX_PENDING = 20000
Key = Tuple[date, str, str]


def upsert(
    engine: Engine, table: Any, values: Dict[str, Any], index: Tuple[str, ...], set_: Callable[[Any], Dict[str, Any]]
) -> Any:
    """``INSERT ... ON CONFLICT (index) DO UPDATE SET ...`` for PostgreSQL and SQLite."""
    module = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = module.insert(table).values(**values)
    return statement.on_conflict_do_update(index_elements=list(index), set_=set_(statement.excluded))


class Counts:
    """Buffered daily counters over one database engine."""

    def __init__(
        self,
        engine: Engine,
        flush_seconds: float = 5.0,
        enabled: bool = True,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.engine = engine
        self.flush_seconds = flush_seconds
        self.enabled = enabled
        self._clock = clock
        self._pending: Dict[Key, int] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._migrated = False
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._at_exit = False
        self.users = WeeklyUsers(engine, clock=clock)

    @classmethod
    def for_engine(cls, engine: Engine, clock: Callable[[], datetime] = utcnow) -> Counts:
        """Counts over ``engine`` with this deployment's settings (``ANALYTICS_*``)."""
        from bot.settings import get_settings

        settings = get_settings()
        return cls(engine, settings.analytics_flush_seconds, settings.analytics_enabled, clock)

    # --- counting (any thread, never blocks on the database) ----------------------------------

    def count(self, metric: str, n: int = 1, day: Optional[date] = None, **dims: Optional[object]) -> None:
        """Add ``n`` to ``metric`` on ``day`` (today, UTC) for these dimensions."""
        if not self.enabled:
            return
        key = (day or self._clock().date(), metric, dims_key(metric, dims))
        with self._lock:
            if key not in self._pending and len(self._pending) >= MAX_PENDING:
                logger.warning("analytics.buffer.full metric=%s", metric)
                return
            self._pending[key] = self._pending.get(key, 0) + n
        self._ensure_thread()

    def seen(self, user_key: str) -> None:
        """One user active this week (for the distinct-users estimate); the key is hashed with the
        week's salt in memory and never stored."""
        if self.enabled:
            self.users.add(user_key)
            self._ensure_thread()

    # --- writing ------------------------------------------------------------------------------

    def flush(self) -> int:
        """Write what is buffered; returns how many counters were written. Keeps them on failure."""
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending and not self.users.pending:
                return 0
            try:
                self._migrate()
                with self.engine.begin() as conn:
                    for (day, metric, dims), n in sorted(pending.items()):
                        conn.execute(
                            upsert(
                                self.engine,
                                COUNTS,
                                {"day": day, "metric": metric, "dims": dims, "value": n},
                                ("day", "metric", "dims"),
                                lambda excluded: {"value": COUNTS.c.value + excluded.value},
                            )
                        )
                self.users.flush()
            except (SQLAlchemyError, OSError) as error:
                logger.error("analytics.flush.failed error=%s", type(error).__name__)
                with self._lock:
                    for key, n in pending.items():
                        self._pending[key] = self._pending.get(key, 0) + n
                return 0
            return len(pending)

    def _migrate(self) -> None:
        if not self._migrated:
            migrate_analytics(self.engine)
            self._migrated = True

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="analytics-flush", daemon=True)
                    self._thread.start()
                    if not self._at_exit:
                        atexit.register(self.close)
                        self._at_exit = True

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception as error:  # noqa: BLE001 - the thread must outlive any one failure
                logger.error("analytics.flush.failed error=%s", type(error).__name__)

    def close(self) -> None:
        """Stop the background thread and write what is left."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._stop = threading.Event()  # counting after close starts a new thread
        self.flush()

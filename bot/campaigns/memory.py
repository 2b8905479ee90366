"""``ReturnFreedMemory``: a campaign worker process gives the memory it freed back to the system, so
that its resident size stays flat over a broadcast instead of climbing with every batch.

Why it climbs: Python hands every object over 512 bytes (SQL rows and statements, HTTP bodies, JSON)
to glibc's ``malloc``, which gives each thread that allocates at once an arena of its own (up to 8
per core: 16 here for 8 worker threads) and keeps what is freed inside them for later, returning only
the free top of an arena. A batch of 100 recipients leaves its freed blocks scattered between live
ones in whichever arenas its thread used; the next batch, on another thread, grows another arena.
``bench/campaigns.py`` and ``bench/campaign_memory.py`` measured it (docs/CAMPAIGNS.md, "Figures").

What this middleware does, in each worker process and nowhere else (the CLI, the console and the
servers import the broker too, but only a worker emits these hooks):

* as the process boots, before its worker threads start, ``mallopt(M_ARENA_MAX, 2)``: threads share
  two arenas (they hold the GIL in turn anyway), so freed memory is found again by the next batch;
* after a message (a job done, failed or skipped), at most every ``every`` seconds (5),
  ``malloc_trim(0)``: the free pages inside the arenas, not only at their top, go back to the system
  (``madvise(MADV_DONTNEED)``; a few milliseconds, by one thread at a time).

Elsewhere than glibc (musl, macOS) neither function exists and the middleware does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from typing import Any, Callable, Optional

from dramatiq.middleware import Middleware

__all__ = ["ReturnFreedMemory", "glibc"]

logger = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h


def glibc() -> Optional[Any]:
    """The C library when it is glibc (it has ``mallopt`` and ``malloc_trim``), else None."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt, malloc_trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    malloc_trim.argtypes, malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return libc


class ReturnFreedMemory(Middleware):
    """Two malloc arenas per worker process, and ``malloc_trim(0)`` after messages, at most every
    ``every`` seconds. ``trims`` and ``released`` (trims that gave pages back) say what it did."""

    def __init__(
        self,
        every: float = 5.0,
        arena_max: int = 2,
        libc: Optional[Any] = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.every = every
        self.arena_max = arena_max
        self.libc = libc if libc is not None else glibc()
        self.clock = clock
        self.arenas_limited = False
        self.trims = 0
        self.released = 0
        self._last: Optional[float] = None
        self._lock = threading.Lock()

    def after_process_boot(self, broker: Any) -> None:
        # Before the worker threads exist: glibc fixes its arena limit when a thread first needs one.
        if self.libc is not None and self.arena_max > 0:
            self.arenas_limited = bool(self.libc.mallopt(M_ARENA_MAX, self.arena_max))
        logger.info("campaigns.memory arena_max=%s limited=%s", self.arena_max, self.arenas_limited)

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self.trim()  # what importing Rasa's and SQLAlchemy's modules left behind

    def after_process_message(
        self, broker: Any, message: Any, *, result: Optional[Any] = None, exception: Optional[BaseException] = None
    ) -> None:
        self.trim_if_due()

    def after_skip_message(self, broker: Any, message: Any) -> None:
        self.trim_if_due()

    def trim_if_due(self) -> bool:
        """``trim`` unless one ran less than ``every`` seconds ago (or runs now, in another thread)."""
        now = self.clock()
        if self._last is not None and now - self._last < self.every:
            return False
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self._last is not None and now - self._last < self.every:
                return False
            self._last = now
        finally:
            self._lock.release()
        return self.trim()

    def trim(self) -> bool:
        """``malloc_trim(0)`` now; True when it gave memory back to the system."""
        if self.libc is None:
            return False
        released = bool(self.libc.malloc_trim(0))
        self.trims += 1
        self.released += released
        return released

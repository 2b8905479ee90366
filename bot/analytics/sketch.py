"""Approximately how many different people used Amaan in a week, without keeping who.

Method: a HyperLogLog sketch per ISO week (1024 registers, standard error about 3%), fed with the
sender id hashed by BLAKE2b keyed with a random salt of that week. Why this and not counting
sessions: sessions count the same child many times (a session ends after an hour of silence) and
say nothing about reach; a sketch counts distinct people, and what it stores (1024 small numbers)
cannot be turned back into anyone. Why a weekly salt: while the week runs, the salt sits in the
database so that every process hashes alike; once the week is over the salt is deleted, and from
then on nobody, even with the database and a suspect's sender id, can tell whether that person is
in the sketch. Sketches of different weeks use different salts and cannot be linked either.

Registers are kept in memory and written with ``rank = max(rank, new)``, so any number of
processes can feed the same week's sketch (HyperLogLog sketches merge by register maximum).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Dict, List, Set, Tuple

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.analytics.schema import SALTS, SKETCH

__all__ = ["WeeklyUsers", "estimate", "week_of", "utcnow", "PRECISION"]

PRECISION = 10
REGISTERS = 1 << PRECISION
MAX_UNSALTED = 50000


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def week_of(day: date) -> date:
    """The Monday that starts ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def _register_and_rank(salt: bytes, user_key: str) -> Tuple[int, int]:
    value = int.from_bytes(hashlib.blake2b(user_key.encode("utf-8"), key=salt, digest_size=8).digest(), "big")
    register = value & (REGISTERS - 1)
    rest = value >> PRECISION
    rank = (64 - PRECISION) - rest.bit_length() + 1
    return register, rank


def estimate(ranks: Dict[int, int]) -> float:
    """HyperLogLog's estimate (with linear counting for small numbers) from {register: rank}."""
    m = REGISTERS
    alpha = 0.7213 / (1 + 1.079 / m)
    total = sum(2.0 ** -ranks.get(i, 0) for i in range(m))
    raw = alpha * m * m / total
    zeros = m - sum(1 for r in ranks.values() if r > 0)
    if raw <= 2.5 * m and zeros:
        return m * math.log(m / zeros)
    return raw


class WeeklyUsers:
    """The sketch for the current week, buffered in memory; ``Counts`` flushes it."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self._clock = clock
        self._salts: Dict[date, bytes] = {}
        self._pending: Dict[Tuple[date, int], int] = {}
        self._unsalted: Set[Tuple[date, str]] = set()
        self._lock = threading.Lock()

    @property
    def pending(self) -> bool:
        return bool(self._pending or self._unsalted)

    def add(self, user_key: str) -> None:
        """Never touches the database: until the flush thread has fetched this week's salt, the
        key waits in memory (at most ``MAX_UNSALTED``) and is hashed at the next flush."""
        week = week_of(self._clock().date())
        salt = self._salts.get(week)
        with self._lock:
            if salt is None:
                if len(self._unsalted) < MAX_UNSALTED:
                    self._unsalted.add((week, user_key))
                return
            self._note(week, *_register_and_rank(salt, user_key))

    def _note(self, week: date, register: int, rank: int) -> None:
        if self._pending.get((week, register), 0) < rank:
            self._pending[(week, register)] = rank

    def flush(self) -> None:
        with self._lock:
            unsalted, self._unsalted = self._unsalted, set()
        for week in sorted({week for week, _ in unsalted}):
            salt = self._salts.get(week) or self._salt(week)
            with self._lock:
                for _, user_key in (item for item in unsalted if item[0] == week):
                    self._note(week, *_register_and_rank(salt, user_key))
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        module = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        greatest = func.greatest if self.engine.dialect.name == "postgresql" else func.max
        try:
            with self.engine.begin() as conn:
                for (week, register), rank in sorted(pending.items()):
                    statement = module.insert(SKETCH).values(week=week, register=register, rank=rank)
                    conn.execute(
                        statement.on_conflict_do_update(
                            index_elements=["week", "register"],
                            set_={"rank": greatest(SKETCH.c.rank, statement.excluded.rank)},
                        )
                    )
        except Exception:
            with self._lock:
                for key, rank in pending.items():
                    self._pending[key] = max(rank, self._pending.get(key, 0))
            raise

    def _salt(self, week: date) -> bytes:
        """This week's salt: the one in the database, or a new one; older salts are deleted."""
        from bot.analytics.schema import migrate_analytics

        migrate_analytics(self.engine)
        module = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        with self.engine.begin() as conn:
            conn.execute(delete(SALTS).where(SALTS.c.week < week))
            insert = module.insert(SALTS).values(week=week, salt=secrets.token_hex(32))
            conn.execute(insert.on_conflict_do_nothing(index_elements=["week"]))
            salt = bytes.fromhex(conn.execute(select(SALTS.c.salt).where(SALTS.c.week == week)).scalar_one())
        self._salts[week] = salt
        for old in [w for w in self._salts if w < week]:
            del self._salts[old]
        return salt


def weekly_estimates(conn: Connection, start: date, end: date) -> List[Tuple[date, float]]:
    """(week, estimated distinct users) for the weeks that start between ``start`` and ``end``."""
    rows = conn.execute(
        select(SKETCH.c.week, SKETCH.c.register, SKETCH.c.rank).where(
            SKETCH.c.week >= week_of(start), SKETCH.c.week <= end
        )
    ).all()
    weeks: Dict[date, Dict[int, int]] = {}
    for week, register, rank in rows:
        weeks.setdefault(week, {})[register] = rank
    return [(week, estimate(ranks)) for week, ranks in sorted(weeks.items())]

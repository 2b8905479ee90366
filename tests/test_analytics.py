"""The counters themselves, on real SQLite and PostgreSQL: daily upserts from several processes,
nothing but codes in a row, counting that never waits for the database, the weekly distinct-users
sketch and its salt, and small-count suppression that no total gives away."""

from __future__ import annotations

import itertools
import random
import time
from datetime import date, datetime, timedelta, timezone
from typing import Dict, List, Sequence

import pytest
from sqlalchemy import select

from bot.analytics import Counts
from bot.analytics.metrics import bucket_bounds, dims_key, response_bucket
from bot.analytics.report import Query, build
from bot.analytics.schema import COUNTS, SALTS, SKETCH, migrate_analytics
from bot.analytics.suppression import HIDDEN, SMALL, THRESHOLD, percentage, suppress
from bot.cases.schema import engine_for

DAY = date(2026, 11, 29)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 8, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def rows(engine) -> Dict[tuple, int]:  # type: ignore[no-untyped-def]
    migrate_analytics(engine)
    with engine.connect() as conn:
        return {(r.day, r.metric, r.dims): r.value for r in conn.execute(select(COUNTS))}


def test_counts_from_several_processes_add_up_in_one_row_per_day_and_dimensions(database_url: str) -> None:
    engine = engine_for(database_url)
    first, second = Counts(engine, flush_seconds=60), Counts(engine, flush_seconds=60)
    for _ in range(3):
        first.count("questions", topic="grooming", channel="telegram", language="ar", audience="parent")
    second.count("questions", topic="grooming", channel="telegram", language="ar", audience="parent")
    second.count("questions", topic="grooming", channel="telegram", language="ar", audience="parent", day=DAY)
    assert rows(engine) == {}  # nothing written until a flush: a reply never waits for it
    assert first.flush() == 1 and second.flush() == 2
    first.count("questions", topic="grooming", channel="telegram", language="ar", audience="parent")
    first.close()
    second.close()
    today = datetime.now(timezone.utc).date()
    key = "topic=grooming;channel=telegram;language=ar;audience=parent"
    assert rows(engine) == {(today, "questions", key): 5, (DAY, "questions", key): 1}
    engine.dispose()


def test_only_known_metrics_and_short_codes_are_kept() -> None:
    with pytest.raises(ValueError):
        dims_key("questions_typed", {"topic": "grooming"})
    with pytest.raises(ValueError):
        dims_key("disclosures", {"kind": "abuse", "channel": "telegram"})  # a disclosure by one thing only
    typed = dims_key("questions", {"topic": "my uncle sends me photos", "channel": "Telegram", "language": None})
    assert typed == "topic=other;channel=telegram;language=unknown;audience=unknown"


def test_counting_does_not_wait_for_a_database_that_is_down_and_keeps_the_counts() -> None:
    engine = engine_for("postgresql://postgres@127.0.0.1:1/nothing")  # nobody listens there
    counts = Counts(engine, flush_seconds=3600)
    started = time.perf_counter()
    for _ in range(1000):
        counts.count("fallbacks", channel="web", language="en")
    assert time.perf_counter() - started < 1.0  # a thousand counts, no database round trip
    assert counts.flush() == 0  # failed, logged, kept for the next try
    assert counts._pending and sum(counts._pending.values()) == 1000
    counts._pending.clear()  # nothing left for the flush at exit
    engine.dispose()


def test_a_disabled_counter_counts_nothing(database_url: str) -> None:
    engine = engine_for(database_url)
    counts = Counts(engine, enabled=False)
    counts.count("fallbacks", channel="web", language="en")
    counts.seen("web:someone")
    assert counts.flush() == 0
    engine.dispose()


def test_weekly_users_are_estimated_from_a_salted_sketch_that_keeps_no_id(database_url: str) -> None:
    engine = engine_for(database_url)
    clock = Clock()
    a, b = Counts(engine, flush_seconds=60, clock=clock), Counts(engine, flush_seconds=60, clock=clock)
    people = [f"telegram:user-{i}" for i in range(600)]
    for i, person in enumerate(people * 3):  # everyone comes back, to either process
        (a if i % 2 else b).seen(person)
    a.flush()
    b.flush()
    report = build(engine, Query(DAY - timedelta(days=6), DAY))
    (week,) = report.table("weekly_users").rows
    assert week.key == "2026-11-23"
    assert abs(week.cell.value - 600) < 60  # HyperLogLog, 1024 registers: about 3% error
    with engine.connect() as conn:
        stored = [tuple(map(str, r)) for r in conn.execute(select(SKETCH))]
        salts = conn.execute(select(SALTS.c.week)).scalars().all()
    assert stored and not any("user" in value for row in stored for value in row)
    assert salts == [date(2026, 11, 23)]
    # A week later the old salt is deleted: nobody can test an id against last week's sketch.
    clock.now += timedelta(days=7)
    a.seen("telegram:user-1")
    a.flush()
    with engine.connect() as conn:
        assert conn.execute(select(SALTS.c.week)).scalars().all() == [date(2026, 11, 30)]
    engine.dispose()


def test_first_response_buckets_make_5_minutes_and_an_hour_exact() -> None:
    assert response_bucket(299) == response_bucket(300) == "le_300"
    assert response_bucket(301) == "le_600"
    assert response_bucket(3600) == "le_3600" and response_bucket(3601) == "le_14400"
    assert response_bucket(10**6) == "gt_86400"
    assert bucket_bounds("le_300") == (120.0, 300.0) and bucket_bounds("le_60") == (0.0, 60.0)


# --- suppression -----------------------------------------------------------------------------------


def _candidates(shown: Sequence[str], total: str, limit: int) -> List[tuple]:
    """Every table of counts (each up to ``limit``) a reader cannot tell from this one: "<10" is
    1 to 9, "—" is at least 10 (every count under 10 shows as "<10"), a shown total is the sum.
    Found by brute force, independently of the interval reasoning ``suppress`` uses."""
    options = [
        range(1, THRESHOLD) if s == SMALL else range(THRESHOLD, limit + 1) if s == HIDDEN else [int(s)] for s in shown
    ]
    return [v for v in itertools.product(*options) if not total.isdigit() or sum(v) == int(total)]


@pytest.mark.parametrize("seed", range(40))
def test_no_hidden_count_can_be_worked_out_from_the_total_and_the_other_cells(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.choice([0, 1, 2, 3, 5, 9, 10, 11, 12, 14, 20]) for _ in range(rng.randint(2, 4))]
    cells, total = suppress(values)
    shown = [c.shown for c in cells]
    for value, s in zip(values, shown, strict=False):
        assert s == (str(value) if s.isdigit() else s)
        assert not (0 < value < THRESHOLD and s.isdigit())  # no small count is ever shown
    # Every hidden cell must keep at least two possible values.
    possible = _candidates(shown, total.shown, limit=max(values) + 12)
    assert tuple(values) in possible
    for i, s in enumerate(shown):
        if not s.isdigit():
            assert len({p[i] for p in possible}) > 1, (values, shown, total.shown)


def test_the_classic_leaks_are_closed() -> None:
    cells, total = suppress([50, 3, 20])  # 73 - 50 - 20 would give the 3
    assert [c.shown for c in cells] == ["50", SMALL, HIDDEN] and total.shown == "73"
    cells, total = suppress([1, 1, 40])  # two hidden cells summing to 2 would both be 1
    assert [c.shown for c in cells] == [SMALL, SMALL, HIDDEN]
    cells, total = suppress([9, 9, 0])  # 18 over two cells of at most 9: both 9; hide the total
    assert total.shown == HIDDEN
    cells, total = suppress([4, 3])
    assert total.shown == SMALL


def test_percentages_need_at_least_ten_behind_them() -> None:
    cells, total = suppress([12, 8])
    assert percentage(cells[0], total) is None  # 8 is hidden, so the total is not enough alone
    shown, base = suppress([12, 30])
    assert percentage(shown[0], base) == 29
    few, small_total = suppress([0, 9])
    assert percentage(few[0], small_total) is None

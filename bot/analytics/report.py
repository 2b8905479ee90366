"""What the console's analytics page and its CSV show: the counters of a date range, filtered by
channel, language and age group, grouped into tables, each with small counts suppressed.

The page and the CSV are both drawn from ``build(...)``'s ``Report``: they cannot disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.analytics.metrics import FILTERS, METRICS, bucket_bounds, parse_dims
from bot.analytics.schema import COUNTS, migrate_analytics
from bot.analytics.sketch import weekly_estimates
from bot.analytics.suppression import Cell, cell, percentage, suppress

__all__ = ["Query", "Row", "Table", "Report", "build", "load"]

Counted = Dict[str, List[Tuple[date, Dict[str, str], int]]]


@dataclass(frozen=True)
class Query:
    start: date
    end: date  # inclusive
    channel: Optional[str] = None
    language: Optional[str] = None
    audience: Optional[str] = None

    @property
    def filters(self) -> Dict[str, str]:
        return {name: value for name in FILTERS if (value := getattr(self, name))}

    @property
    def by_month(self) -> bool:
        return (self.end - self.start).days > 62


@dataclass(frozen=True)
class Row:
    key: str  # the code (a channel, a topic, a day), as exported
    cell: Cell
    percent: Optional[int] = None


@dataclass
class Table:
    id: str
    dimension: str  # what the rows are: "day", "channel", "topic", ...
    rows: List[Row]
    total: Optional[Cell] = None
    chart: str = "bars"  # bars | columns (a time line) | none
    unfiltered: Tuple[str, ...] = ()  # filters this table cannot honour (shown as a note)
    facts: List[Tuple[str, str]] = field(default_factory=list)  # (name, shown value), e.g. median


@dataclass
class Report:
    query: Query
    tables: List[Table]

    def table(self, table_id: str) -> Table:
        return next(t for t in self.tables if t.id == table_id)


def load(engine: Engine, query: Query) -> Counted:
    """Every counter in the range: {metric: [(day, dims, value)]}."""
    migrate_analytics(engine)
    stmt = select(COUNTS.c.day, COUNTS.c.metric, COUNTS.c.dims, COUNTS.c.value).where(
        COUNTS.c.day >= query.start, COUNTS.c.day <= query.end
    )
    found: Counted = defaultdict(list)
    with engine.connect() as conn:
        for day, metric, dims, value in conn.execute(stmt):
            found[metric].append((day, parse_dims(dims), int(value)))
    return found


def _filtered(
    rows: Iterable[Tuple[date, Dict[str, str], int]], metric: str, query: Query
) -> List[Tuple[date, Dict[str, str], int]]:
    usable = {k: v for k, v in query.filters.items() if k in METRICS[metric]}
    return [(day, dims, n) for day, dims, n in rows if all(dims.get(k) == v for k, v in usable.items())]


def _unfiltered(metric: str, query: Query) -> Tuple[str, ...]:
    return tuple(name for name in query.filters if name not in METRICS[metric])


def _sums(rows: Iterable[Tuple[date, Dict[str, str], int]], dimension: str) -> Dict[str, int]:
    sums: Dict[str, int] = defaultdict(int)
    for _, dims, n in rows:
        sums[dims.get(dimension, "unknown")] += n
    return sums


def _breakdown(
    table_id: str, counted: Counted, metric: str, dimension: str, query: Query, order: Iterable[str] = ()
) -> Table:
    sums = _sums(_filtered(counted.get(metric, []), metric, query), dimension)
    keys = [k for k in order if k in sums] + sorted((k for k in sums if k not in order), key=lambda k: (-sums[k], k))
    cells, total = suppress([sums[k] for k in keys])
    rows = [Row(k, c) for k, c in zip(keys, cells, strict=False)]
    return Table(table_id, dimension, rows, total, "bars", _unfiltered(metric, query))


def _periods(query: Query) -> List[date]:
    if not query.by_month:
        return [query.start + timedelta(days=i) for i in range((query.end - query.start).days + 1)]
    months, month = [], query.start.replace(day=1)
    while month <= query.end:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _over_time(counted: Counted, query: Query) -> Table:
    sums: Dict[date, int] = defaultdict(int)
    for day, _, n in _filtered(counted.get("conversations_started", []), "conversations_started", query):
        sums[day.replace(day=1) if query.by_month else day] += n
    periods = _periods(query)
    cells, total = suppress([sums.get(p, 0) for p in periods])
    key = "%Y-%m" if query.by_month else "%Y-%m-%d"
    rows = [Row(p.strftime(key), c) for p, c in zip(periods, cells, strict=False)]
    return Table("conversations_over_time", "month" if query.by_month else "day", rows, total, "columns")


def _weekly_users(engine: Engine, query: Query) -> Table:
    with engine.connect() as conn:
        weeks = weekly_estimates(conn, query.start, query.end)
    rows = [Row(week.isoformat(), cell(int(round(n)))) for week, n in weeks]
    return Table("weekly_users", "week", rows, None, "bars", tuple(query.filters))


def _check_ins(counted: Counted, query: Query) -> Table:
    sums = _sums(counted.get("check_ins", []), "stage")
    asked, confirmed, declined = (cell(sums.get(k, 0)) for k in ("asked", "confirmed", "declined"))
    rows = [Row("asked", asked), Row("confirmed", confirmed, percentage(confirmed, asked)), Row("declined", declined)]
    return Table("check_ins", "stage", rows, None, "bars", tuple(query.filters))


def _first_response(counted: Counted, query: Query) -> Table:
    """Median and 90th percentile (estimated within the buckets), the share of urgent cases answered
    within 5 minutes and within an hour (exact: those are bucket bounds)."""
    rows = counted.get("first_response", [])
    buckets: Dict[str, int] = defaultdict(int)
    urgent: Dict[str, int] = defaultdict(int)
    for _, dims, n in rows:
        buckets[dims["bucket"]] += n
        if dims.get("risk") == "urgent":
            urgent[dims["bucket"]] += n
    answered, urgent_answered = cell(sum(buckets.values())), cell(sum(urgent.values()))

    def within(limit: int) -> Cell:
        return cell(sum(n for b, n in urgent.items() if bucket_bounds(b)[1] <= limit))

    facts: List[Tuple[str, str]] = []
    if not answered.hidden and answered.value:
        facts += [("median", _quantile(buckets, 0.5)), ("p90", _quantile(buckets, 0.9))]
    else:
        facts += [("median", "—"), ("p90", "—")]
    for name, limit in (("urgent_within_5_min", 300), ("urgent_within_1_hour", 3600)):
        share = percentage(within(limit), urgent_answered)
        facts.append((name, "—" if share is None else f"{share}%"))
    table_rows = [Row("answered", answered), Row("urgent_answered", urgent_answered)]
    return Table("first_response", "measure", table_rows, None, "none", tuple(query.filters), facts)


def _quantile(buckets: Mapping[str, int], q: float) -> str:
    """The q-quantile of the delays, interpolated within its bucket, as "12 min" / "3 h"."""
    ordered = sorted(buckets.items(), key=lambda item: bucket_bounds(item[0])[1])
    total = sum(buckets.values())
    target, seen = q * total, 0
    for bucket, n in ordered:
        low, high = bucket_bounds(bucket)
        if seen + n >= target:
            seconds = low + (high - low) * ((target - seen) / n if n else 0)
            return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"
        seen += n
    return "—"


_MESSAGE_STATES = ("sent", "delivered", "failed", "skipped", "opted_out")


def build(engine: Engine, query: Query) -> Report:
    counted = load(engine, query)
    tables = [
        _over_time(counted, query),
        _breakdown("conversations_by_channel", counted, "conversations_started", "channel", query),
        _breakdown("conversations_by_language", counted, "conversations_started", "language", query, ("ar", "en")),
        _breakdown("conversations_by_audience", counted, "conversations_started", "audience", query),
        _weekly_users(engine, query),
        _breakdown("questions_by_topic", counted, "questions", "topic", query),
        _breakdown("fallbacks_by_language", counted, "fallbacks", "language", query, ("ar", "en")),
        _breakdown("disclosures_by_kind", counted, "disclosures", "kind", query),
        _breakdown("disclosures_by_app", counted, "disclosure_apps", "app", query),
        _check_ins(counted, query),
        _breakdown("cases_by_risk", counted, "cases_opened", "risk", query, ("urgent", "high", "normal")),
        _breakdown("cases_by_origin", counted, "cases_opened", "origin", query),
        _breakdown("cases_claimed", counted, "cases_claimed", "risk", query, ("urgent", "high", "normal")),
        _breakdown("cases_closed", counted, "cases_closed", "outcome", query),
        _first_response(counted, query),
        _breakdown("campaign_subscriptions", counted, "campaign_subscriptions", "audience", query),
        _breakdown("campaign_stops", counted, "campaign_stops", "reason", query, ("user", "blocked", "twilio_stop")),
        _breakdown("campaign_messages", counted, "campaign_messages", "state", query, _MESSAGE_STATES),
        _breakdown("quiz_completions", counted, "quiz_completions", "language", query, ("ar", "en")),
    ]
    return Report(query, tables)

"""The analytics page, ``/console/analytics``, and its CSV, ``/console/analytics.csv``: supervisors
only (a counselor gets 403), every view and every export audited.

Both are drawn from the same ``bot.analytics.report.Report`` (small counts already suppressed), so
the CSV holds exactly what the page shows: the codes (``telegram``, ``grooming``) where the page
shows words, and the same "<10" and "—".
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Dict, List, Optional

from aiohttp import web

from bot.analytics.report import Query, Report, Table, build
from bot.apps import AppLexicon
from bot.console.analytics_words import WORDS, words
from bot.console.charts import bar_chart, column_chart
from bot.console.i18n import STRINGS, direction
from bot.console.render import console_of, db, render
from bot.console.security import client_ip, supervisor_only
from bot.content import AUDIENCES, ContentLibrary

__all__ = ["routes", "parse_query", "BadQuery", "csv_text"]

routes = web.RouteTableDef()

RANGES = ("7d", "30d", "12m", "custom")
LANGUAGES = ("ar", "en")
MAX_DAYS = 400
_CODE = re.compile(r"^[a-z0-9_.-]{1,32}$")
# Where a table's row codes get their words: the console's own labels, or this page's.
_PREFIXES = {"risk": ("risk_", STRINGS), "origin": ("opened_by_", STRINGS), "outcome": ("outcome_", STRINGS)}


class BadQuery(ValueError):
    """The page's parameters make no sense (400)."""


def _months_back(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, 1)


def parse_query(params: Dict[str, str], today: date) -> Query:
    span = params.get("range") or "30d"
    if span not in RANGES:
        raise BadQuery("range")
    if span == "7d":
        start, end = today - timedelta(days=6), today
    elif span == "30d":
        start, end = today - timedelta(days=29), today
    elif span == "12m":
        start, end = _months_back(today, 11), today
    else:
        try:
            start, end = date.fromisoformat(params.get("from", "")), date.fromisoformat(params.get("to", ""))
        except ValueError:
            raise BadQuery("dates") from None
        if end < start or (end - start).days > MAX_DAYS:
            raise BadQuery("dates")
    filters: Dict[str, Optional[str]] = {}
    for name, allowed in (("channel", None), ("language", LANGUAGES), ("audience", (*AUDIENCES, "unknown"))):
        value = (params.get(name) or "").strip().lower() or None
        if value is not None and not (_CODE.match(value) and (allowed is None or value in allowed)):
            raise BadQuery(name)
        filters[name] = value
    return Query(start, end, **filters)


def labeller(table: Table, lang: str) -> Callable[[str], str]:
    """Words for a table's row codes in ``lang`` (the code itself when there are none)."""
    t = words(lang)
    if table.dimension == "topic":
        library = ContentLibrary.load(_data_dir())
        return lambda key: library.title(key, lang) if key in library.topics else key
    if table.dimension == "app":
        apps = AppLexicon.load()
        return lambda key: app.name(lang) if (app := apps.get(key)) else t("value_other")
    if table.dimension in _PREFIXES:
        prefix, source = _PREFIXES[table.dimension]
        return lambda key: t(prefix + key) if prefix + key in source else key
    return lambda key: t("value_" + key) if "value_" + key in WORDS else key


def _data_dir() -> Path:
    from bot.settings import get_settings

    return get_settings().data_dir


def _detail(query: Query) -> str:
    parts = [f"range={query.start.isoformat()}..{query.end.isoformat()}"]
    parts += [f"{name}={value}" for name, value in query.filters.items()]
    return " ".join(parts)


def csv_text(report: Report) -> str:
    """The report as CSV: one line per shown cell, total and fact, the page's marks included."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "dimension", "key", "count", "percent"])
    q = report.query
    writer.writerow(["query", "range", f"{q.start.isoformat()}..{q.end.isoformat()}", "", ""])
    for name in ("channel", "language", "audience"):
        writer.writerow(["query", name, getattr(q, name) or "all", "", ""])
    for table in report.tables:
        for row in table.rows:
            writer.writerow(
                [table.id, table.dimension, row.key, row.cell.shown, "" if row.percent is None else row.percent]
            )
        if table.total is not None:
            writer.writerow([table.id, table.dimension, "total", table.total.shown, ""])
        for name, value in table.facts:
            writer.writerow([table.id, "fact", name, value, ""])
    return out.getvalue()


def _params(request: web.Request) -> Dict[str, str]:
    return {k: request.query.get(k, "") for k in ("range", "from", "to", "channel", "language", "audience")}


async def _report(request: web.Request, action: str) -> Report:
    console = console_of(request)
    query = parse_query(_params(request), console.config.clock().date())
    user = request["user"]
    await db(request, console.audit.record, user.username, action, None, _detail(query), client_ip(request))
    return await db(request, build, console.store.engine, query)


@routes.get("/console/analytics")
@supervisor_only
async def analytics_page(request: web.Request) -> web.Response:
    lang = request["lang"]
    try:
        report = await _report(request, "view_analytics")
    except BadQuery:
        return await render(request, "analytics.html", status=400, w=words(lang), error="bad_range", sections=[],
                            params=_params(request), query_string="")  # fmt: skip
    rtl = direction(lang) == "rtl"
    t = words(lang)
    sections: List[Dict[str, object]] = []
    for table in report.tables:
        label = labeller(table, lang)
        title = t("table_" + table.id)
        chart = None
        if table.chart == "bars":
            chart = bar_chart(table, title, label, rtl)
        elif table.chart == "columns":
            chart = column_chart(table, title, label, rtl)
        heading = t("dim_" + table.dimension if "dim_" + table.dimension in WORDS else table.dimension)
        sections.append({"table": table, "title": title, "chart": chart, "label": label, "heading": heading})
    return await render(request, "analytics.html", w=t, error=None, sections=sections, report=report,
                        params=_params(request), query_string=request.query_string)  # fmt: skip


@routes.get("/console/analytics.csv")
@supervisor_only
async def analytics_csv(request: web.Request) -> web.Response:
    try:
        report = await _report(request, "export_analytics")
    except BadQuery as error:
        raise web.HTTPBadRequest(text=f"bad parameter: {error}") from None
    name = f"amaan-analytics-{report.query.start.isoformat()}-{report.query.end.isoformat()}.csv"
    return web.Response(
        text=csv_text(report),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

"""The analytics page and its CSV as supervisors and counselors meet them, on real SQLite and
PostgreSQL: supervisors only, every view and export audited, small counts hidden, the CSV equal to
the page, both languages, filters; and the case counters (opened, claimed, closed, first answer)
moved by what counselors really do in the console."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from html import unescape
from typing import Set, Tuple

from bot.analytics.report import Query, build
from tests import console_kit
from tests.console_kit import Kit

delivery = console_kit.delivery
kit = console_kit.kit

TODAY = date(2026, 11, 29)  # the kit's clock
_SECTION = re.compile(r'data-testid="analytics-table" data-table="([a-z_]+)"')
_CELL = re.compile(r'data-key="([^"]*)" data-count="([^"]*)"')


def page_cells(html: str) -> Set[Tuple[str, str, str]]:
    """(table, key, shown) for every row, total and fact the page shows."""
    found = set()
    parts = _SECTION.split(html)
    for table, chunk in zip(parts[1::2], parts[2::2], strict=False):
        found.update((table, unescape(key), unescape(shown)) for key, shown in _CELL.findall(chunk))
    return found


def csv_cells(text: str) -> Set[Tuple[str, str, str]]:
    return {(r["table"], r["key"], r["count"]) for r in csv.DictReader(io.StringIO(text)) if r["table"] != "query"}


def seed(kit: Kit) -> None:
    counts = kit.console.store.counts
    for day_offset, n in ((0, 12), (1, 3), (2, 25)):
        day = TODAY - timedelta(days=day_offset)
        counts.count("conversations_started", n, day=day, channel="telegram", language="ar", audience="teen")
    counts.count("conversations_started", 2, day=TODAY, channel="web", language="en", audience="parent")
    counts.count("questions", 30, channel="telegram", language="ar", audience="teen", topic="grooming")
    counts.count("questions", 3, channel="web", language="en", audience="parent", topic="gaming")
    counts.count("questions", 15, channel="telegram", language="ar", audience="teen", topic="privacy")
    counts.count("disclosures", 11, kind="blackmail")
    counts.count("disclosures", 2, kind="self_harm")
    counts.count("disclosure_apps", 12, app="snapchat")
    counts.count("check_ins", 20, stage="asked")
    counts.count("check_ins", 10, stage="confirmed")
    counts.flush()


async def test_supervisors_only_and_every_view_and_export_is_audited(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    boss = await kit.signed_in("boss", "supervisor")
    assert (await mona.get("/console/analytics")).status == 403
    assert (await mona.get("/console/analytics.csv")).status == 403
    anonymous = await kit.browser()
    assert (await anonymous.get("/console/analytics")).status == 303  # to the sign-in page
    assert (await anonymous.get("/console/analytics.csv")).status == 303
    assert (await boss.get("/console/analytics?range=7d&channel=telegram")).status == 200
    assert (await boss.get("/console/analytics.csv?range=30d")).status == 200
    logged = [(e.actor, e.action, e.detail) for e in kit.console.audit.entries()]
    assert ("boss", "view_analytics", "range=2026-11-23..2026-11-29 channel=telegram") in logged
    assert ("boss", "export_analytics", "range=2026-10-31..2026-11-29") in logged
    assert not [e for e in logged if e[0] == "mona" and "analytics" in e[1]]


async def test_small_counts_are_hidden_and_the_csv_holds_exactly_what_the_page_shows(kit: Kit) -> None:
    seed(kit)
    boss = await kit.signed_in("boss", "supervisor")
    for query in ("range=7d", "range=30d&language=ar", "range=custom&from=2026-11-01&to=2026-11-29&audience=teen"):
        page = await boss.get(f"/console/analytics?{query}")
        html = await page.text()
        exported = await boss.get(f"/console/analytics.csv?{query}")
        assert exported.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in exported.headers["Content-Disposition"]
        shown = page_cells(html)
        assert shown and shown == csv_cells(await exported.text())
    shown = page_cells(await (await boss.get("/console/analytics?range=7d")).text())
    # 3 gaming questions: "<10"; and the smallest other topic hidden with it, else 48 - 30 - 15 = 3.
    assert ("questions_by_topic", "gaming", "<10") in shown
    assert ("questions_by_topic", "privacy", "—") in shown
    assert ("questions_by_topic", "grooming", "30") in shown and ("questions_by_topic", "total", "48") in shown
    # Per day: 12 today (plus 2 from the web), 3 yesterday, 25 the day before; 14 hides with the 3.
    assert ("conversations_over_time", "2026-11-28", "<10") in shown
    assert ("conversations_over_time", "2026-11-29", "—") in shown
    assert ("conversations_over_time", "2026-11-27", "25") in shown
    assert ("conversations_over_time", "total", "42") in shown
    assert ("disclosures_by_kind", "self_harm", "<10") in shown
    assert ("disclosures_by_kind", "blackmail", "—") in shown and ("disclosures_by_kind", "total", "13") in shown
    assert ("disclosures_by_app", "snapchat", "12") in shown
    assert ("check_ins", "confirmed", "10") in shown
    # No number from 1 to 9 anywhere.
    assert not [c for c in shown if c[2].isdigit() and 0 < int(c[2]) < 10]


async def test_filters_narrow_what_can_be_filtered_and_say_what_cannot(kit: Kit) -> None:
    seed(kit)
    boss = await kit.signed_in("boss", "supervisor")
    html = await (await boss.get("/console/analytics?range=7d&channel=web")).text()
    shown = page_cells(html)
    assert ("conversations_by_channel", "web", "<10") in shown
    assert not [c for c in shown if c[0] == "conversations_by_channel" and c[1] == "telegram"]
    # Disclosures are never filtered (one dimension at a time), and the page says so.
    assert ("disclosures_by_kind", "total", "13") in shown
    assert "Disclosures are only ever shown by one thing at a time" in html or "تُعرض الإفصاحات" in html


async def test_bad_parameters_get_a_clear_400(kit: Kit) -> None:
    boss = await kit.signed_in("boss", "supervisor")
    for query in (
        "range=forever",
        "range=custom&from=2026-11-29&to=2026-11-01",
        "range=custom&from=2024-01-01&to=2026-11-01",
        "range=custom&from=yesterday&to=2026-11-01",
        "language=fr",
        "channel=%3Cscript%3E",
    ):
        page = await boss.get(f"/console/analytics?{query}")
        assert page.status == 400, query
        assert 'id="analytics-error"' in await page.text()
        assert (await boss.get(f"/console/analytics.csv?{query}")).status == 400


async def test_both_languages_with_charts_that_need_no_script(kit: Kit) -> None:
    seed(kit)
    boss = await kit.signed_in("boss", "supervisor")
    arabic = await (await boss.get("/console/analytics?range=7d")).text()
    assert '<html lang="ar" dir="rtl">' in arabic and "الإحصاءات" in arabic
    await boss.post("/console/language", {"lang": "en", "next": "/console/analytics"})
    page = await boss.get("/console/analytics?range=7d")
    english = await page.text()
    assert '<html lang="en" dir="ltr">' in english and "Questions by topic" in english
    assert english.count('role="img"') >= 10 and english.count("<script") == 1  # console.js only
    assert "style=" not in english  # the CSP refuses inline styles: colours are SVG attributes
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "Grooming" in english or "grooming" in english.lower()


async def test_case_counters_follow_what_counselors_do(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    urgent = kit.new_case(risk="urgent", sender="web-child-urgent")
    slow = kit.new_case(risk="high", sender="web-child-slow")
    kit.clock.advance(minutes=4)
    assert (await mona.post(f"/console/cases/{urgent}/claim")).status == 303
    assert (
        await mona.post(f"/console/cases/{urgent}/message", {"text": "I am here. You did the right thing."})
    ).status == 303
    assert (await mona.post(f"/console/cases/{urgent}/message", {"text": "Are you safe now?"})).status == 303
    kit.clock.advance(minutes=20)  # within the 30 minutes a session may stay idle
    assert (await mona.post(f"/console/cases/{slow}/claim")).status == 303
    assert (await mona.post(f"/console/cases/{slow}/message", {"text": "Hello"})).status == 303
    assert (await mona.post(f"/console/cases/{urgent}/close", {"outcome": "referred_helpline"})).status == 303
    kit.console.store.counts.flush()
    report = build(kit.console.store.engine, Query(TODAY, TODAY))
    raw = {t.id: {r.key: r.cell.value for r in t.rows} for t in report.tables}
    assert raw["cases_by_risk"] == {"urgent": 1, "high": 1}
    assert raw["cases_by_origin"] == {"report": 2}
    assert raw["cases_claimed"] == {"urgent": 1, "high": 1}
    assert raw["cases_closed"] == {"referred_helpline": 1}
    # One first answer each (the second message of a case is not a first answer).
    assert raw["first_response"] == {"answered": 2, "urgent_answered": 1}
    from sqlalchemy import select

    from bot.analytics.schema import COUNTS

    with kit.console.store.engine.connect() as conn:
        stored = {(r.metric, r.dims): r.value for r in conn.execute(select(COUNTS))}
    assert stored[("first_response", "risk=urgent;bucket=le_300")] == 1
    assert stored[("first_response", "risk=high;bucket=le_1800")] == 1
    # Nothing in any row is a reference or a sender or what anyone wrote.
    flat = " ".join(f"{m} {d}" for m, d in stored).lower()
    for secret in (urgent, slow, "web-child", "safe", "right thing"):
        assert secret.lower() not in flat
    # Fewer than 10 answered: no median, no share (the page says why).
    assert dict(report.table("first_response").facts)["median"] == "—"


def test_every_word_of_the_page_exists_in_both_languages() -> None:
    from bot.console.analytics_words import WORDS
    from bot.console.i18n import STRINGS
    from bot.console.render import HERE

    assert all(set(entry) == {"ar", "en"} and all(entry.values()) for entry in WORDS.values())
    template = (HERE / "templates" / "analytics.html").read_text(encoding="utf-8")
    used = set(re.findall(r'\bw\("([a-z_0-9]+)"\)', template)) | set(re.findall(r'\bt\("([a-z_0-9]+)"\)', template))
    assert used and used <= set(WORDS) | set(STRINGS)
    for table_id in ("conversations_over_time", "questions_by_topic", "first_response", "weekly_users"):
        assert f"table_{table_id}" in WORDS

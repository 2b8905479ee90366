"""The analytics page in a real browser (Debian's Chromium through Playwright), in Arabic and in
English: it renders under the console's CSP with no script of its own and nothing from elsewhere,
passes axe-core without a serious or critical violation, lays the charts out right to left in
Arabic, and is photographed for the README (docs/screenshots/console-analytics-*.png)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator, List
from urllib.parse import urlparse

import pytest

from bot.analytics import Counts
from bot.cases import generate_key
from bot.cases.schema import engine_for
from bot.settings import PROJECT_ROOT
from tests.conftest import LOG_DIR, free_port
from tests.console_kit import PASSWORD
from tests.test_widget_browser import AXE, SCREENSHOTS


def seed(database_url: str, today: date) -> None:
    """Thirty days of a plausible campaign, with a few small counts the page must hide."""
    rng = random.Random(12)
    engine = engine_for(database_url)
    counts = Counts(engine, flush_seconds=3600)
    for back in range(30):
        day = today - timedelta(days=back)
        for channel, language, audience, mean in (
            ("whatsapp", "ar", "parent", 30),
            ("telegram", "ar", "teen", 18),
            ("web", "en", "parent", 9),
            ("web", "ar", "child", 6),
        ):
            n = max(0, int(rng.gauss(mean, mean / 3)))
            counts.count("conversations_started", n, day=day, channel=channel, language=language, audience=audience)
    for topic, n in (("grooming", 140), ("sextortion", 95), ("gaming", 80), ("privacy", 60), ("screen_habits", 4)):
        counts.count("questions", n, day=today, topic=topic, channel="whatsapp", language="ar", audience="parent")
    counts.count("fallbacks", 41, day=today, channel="whatsapp", language="ar")
    counts.count("fallbacks", 17, day=today, channel="web", language="en")
    for kind, n in (("blackmail", 23), ("abuse", 14), ("self_harm", 11), ("meeting", 3)):
        counts.count("disclosures", n, day=today, kind=kind)
    for app, n in (("snapchat", 12), ("tiktok", 10), ("roblox", 2)):
        counts.count("disclosure_apps", n, day=today, app=app)
    counts.count("check_ins", 40, day=today, stage="asked")
    counts.count("check_ins", 16, day=today, stage="confirmed")
    counts.count("check_ins", 24, day=today, stage="declined")
    for risk, origin, n in (("urgent", "disclosure", 31), ("high", "report", 22), ("normal", "counselor_request", 12)):
        counts.count("cases_opened", n, day=today, risk=risk, origin=origin)
        counts.count("cases_claimed", n - 2, day=today, risk=risk)
    counts.count("cases_closed", 40, day=today, outcome="advised")
    counts.count("cases_closed", 12, day=today, outcome="referred_helpline")
    for risk, bucket, n in (
        ("urgent", "le_60", 12),
        ("urgent", "le_300", 9),
        ("urgent", "le_1800", 6),
        ("high", "le_3600", 20),
    ):
        counts.count("first_response", n, day=today, risk=risk, bucket=bucket)
    for i in range(420):
        counts.seen(f"whatsapp:person-{i}")
    counts.close()
    engine.dispose()


@pytest.fixture(scope="module")
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from bot.run import stop, wait_until_up

    run_dir = tmp_path_factory.mktemp("analytics-browser")
    database_url = f"sqlite:///{run_dir / 'cases.db'}"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CASE_ENCRYPTION_KEYS": generate_key(),
        "CONSOLE_SECRET_KEY": generate_key(),
        "DEFAULT_LANGUAGE": "ar",
    }
    made = subprocess.run(
        [sys.executable, "-m", "bot", "counselors", "add", "lead", "--role", "supervisor", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        env=env,
        cwd=PROJECT_ROOT,
    )
    assert made.returncode == 0, made.stderr
    seed(database_url, date.today())  # the console counts days by the UTC clock
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / "analytics-browser-console.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "console", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            assert wait_until_up(f"http://localhost:{port}/console/health", [process], 60)
            yield f"http://localhost:{port}/console"
        finally:
            stop([process])


def serious(page: Any) -> List[str]:
    page.evaluate(AXE.read_text())  # evaluated by the browser's debugger: no CSP relaxation needed
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_the_analytics_page_in_both_languages(console_url: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ar")
    page = context.new_page()
    urls: List[str] = []
    problems: List[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    try:
        page.goto(f"{console_url}/login")
        page.fill("input[name=username]", "lead")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.click("#nav-analytics")
        page.wait_for_selector("#section-questions_by_topic")
        assert page.get_attribute("html", "dir") == "rtl"
        assert page.locator("svg.chart").count() >= 10
        # Right to left: a bar chart's labels sit on the right of its bars.
        bar = page.locator("#chart-questions_by_topic rect").first.bounding_box()
        label = page.locator("#chart-questions_by_topic text").first.bounding_box()
        assert label["x"] > bar["x"]
        row = page.locator("#section-questions_by_topic tr[data-key=screen_habits]")
        assert row.get_attribute("data-count") == "<10"
        assert serious(page) == []
        page.screenshot(path=str(SCREENSHOTS / "console-analytics-ar.png"), full_page=True)

        page.click("#language-switch")
        page.wait_for_selector("html[lang=en]")
        page.select_option("#range", "7d")
        page.select_option("#filter-channel", "whatsapp")
        page.click("#analytics-show")
        page.wait_for_selector("#analytics-period")
        assert "channel=whatsapp" in page.url
        bar = page.locator("#chart-questions_by_topic rect").first.bounding_box()
        label = page.locator("#chart-questions_by_topic text").first.bounding_box()
        assert label["x"] < bar["x"]
        assert serious(page) == []
        page.screenshot(path=str(SCREENSHOTS / "console-analytics-en.png"), full_page=True)
        with page.expect_download() as download:
            page.click("#analytics-csv")
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert text.startswith("table,dimension,key,count,percent") and "questions_by_topic,topic,grooming,140" in text
    finally:
        context.close()
    assert {urlparse(u).hostname for u in urls} <= {"localhost", "127.0.0.1"}
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p]

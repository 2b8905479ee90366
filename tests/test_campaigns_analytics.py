"""Campaign counters on the console's analytics page, on SQLite and PostgreSQL, counted where things
happen: subscriptions, stops (the user's word, a Telegram block), each campaign message's outcome;
shown with the same small-count suppression as the rest of the page. Telegram faked at its HTTP
boundary, Redis real."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.analytics.counts import Counts
from bot.analytics.report import Query, load
from bot.campaigns.delivery import Rates
from bot.campaigns.store import CampaignStore, Segment
from tests import console_kit
from tests.campaign_fakes import FakePlatforms
from tests.console_kit import Kit
from tests.test_analytics_console import csv_cells, page_cells
from tests.test_campaigns_delivery import LIB, Setup

delivery = console_kit.delivery
kit = console_kit.kit


async def test_subscriptions_stops_and_messages_are_counted_and_shown(kit: Kit) -> None:
    fake = FakePlatforms().start()
    store = CampaignStore.from_url(kit.console.config.database_url)
    store.counts = Counts(store.engine, flush_seconds=60, clock=kit.clock)  # the page's day
    setup = Setup(store, fake, Rates(telegram=500, telegram_chat=100, whatsapp=500))

    def campaign() -> None:
        parents = [setup.telegram_subscriber("en", "parent") for _ in range(14)]
        for sender in parents[:2]:
            assert store.stop(sender)  # STOP
        fake.blocked.add(int(setup.chat(parents[2])))  # this one blocked the bot
        setup.send("msg-back-to-school", Segment("telegram"), repeat=2)  # a job run twice counts once
        store.counts.count("quiz_completions", channel="telegram", language="en")
        store.counts.flush()

    try:
        await asyncio.to_thread(campaign)
    finally:
        setup.close()
        store.close()
        fake.stop()
    assert len(fake.sent()) == 11

    boss = await kit.signed_in("boss", "supervisor")
    page = await boss.get("/console/analytics")
    assert page.status == 200
    html = await page.text()
    assert "الاشتراكات في الحملة حسب الفئة" in html and "الاختبارات المكتملة حسب اللغة" in html  # Arabic first
    shown = page_cells(html)
    assert ("campaign_subscriptions", "parent", "14") in shown
    # 11 sent and 1 stopped (blocked): the 1 shows as "<10", so 11 is hidden too, or the total
    # (12) would give the 1 away.
    assert {("campaign_messages", "sent", "—"), ("campaign_messages", "total", "12")} <= shown
    stops = {(key, count) for table, key, count in shown if table == "campaign_stops"}
    assert stops and all(count in ("<10", "—") for _, count in stops)  # 2 and 1: never shown as such
    assert ("campaign_messages", "opted_out", "<10") in shown  # the one who had blocked the bot
    assert ("quiz_completions", "en", "<10") in shown
    exported = await (await boss.get("/console/analytics.csv")).text()
    assert {c for c in shown if c[0].startswith(("campaign_", "quiz_"))} <= csv_cells(exported)
    # Filtered to WhatsApp, the Telegram messages are not there.
    filtered = page_cells(await (await boss.get("/console/analytics?channel=whatsapp")).text())
    assert not [c for c in filtered if c[0] == "campaign_messages" and c[2] not in ("0", "—")]


async def test_a_finished_quiz_is_counted_without_its_score(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from actions.campaigns import ActionQuizAnswer
    from bot.campaigns.store import campaign_store, close_campaign_stores
    from bot.settings import get_settings
    from tests.test_actions import run, tracker

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cases.db'}")
    get_settings.cache_clear()
    quiz = next(iter(LIB.quizzes.values()))
    last = len(quiz.questions) - 1
    slots = {"language": "ar", "quiz_state": f"{quiz.id}:{last}:2"}
    answer = [{"entity": "quiz_choice", "value": str(quiz.questions[last]["answer"])}]
    try:
        messages, _ = await run(ActionQuizAnswer(), tracker("quiz_answer", "1", slots, answer))
        assert LIB.reply("quiz_score", "ar", score=3, count=len(quiz.questions)) in messages[-1]["text"]
        store = campaign_store(get_settings())
        store.counts.flush()
        today = datetime.now(timezone.utc).date()
        counted = load(store.engine, Query(today - timedelta(days=1), today + timedelta(days=1)))
        assert [(d, n) for _, d, n in counted["quiz_completions"]] == [({"channel": "unknown", "language": "ar"}, 1)]
    finally:
        close_campaign_stores()
        get_settings.cache_clear()

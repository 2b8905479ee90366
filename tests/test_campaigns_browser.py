"""The Campaigns page in Debian's Chromium: a supervisor launches a poll to the Arabic speakers on
Telegram and watches its progress and its results change on the page, without reloading it; writes
a message in both languages, previews it per channel and schedules it for tomorrow morning (one
language alone is refused politely); a counselor is refused. The console runs
in this process on a real SQLite database and real Redis; Telegram is faked at its HTTP boundary."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator, Tuple
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from bot.campaigns.addresses import address_cipher
from bot.campaigns.store import CampaignStore
from bot.console.app import create_app
from bot.console.config import Console
from bot.console.security import CONSOLE
from bot.settings import get_settings
from tests.campaign_fakes import FakePlatforms, telegram_users
from tests.conftest import free_port
from tests.console_kit import PASSWORD, Clock, config_for
from tests.services import redis_url

REDIS_URL = redis_url(11)  # the tests' Redis (tests/services.py), database 11
WAIT = 15_000


@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tuple[str, Console, FakePlatforms]]:
    fake = FakePlatforms().start()
    database_url = f"sqlite:///{tmp_path / 'cases.db'}"
    for name, value in {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "TELEGRAM_BOT_TOKEN": "123456:browser-test",
        "TELEGRAM_API_BASE_URL": fake.url,
        "CAMPAIGN_QUIET_HOURS": "",
        "CAMPAIGN_TELEGRAM_RATE": "200",
        "ADDRESS_ENCRYPTION_KEY": Fernet.generate_key().decode(),  # never the development key in .run/
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    from bot.campaigns import worker

    monkeypatch.setattr(worker, "_DELIVERER", None)
    app = create_app(config_for(database_url, "http://127.0.0.1:9", Clock(), redis_url=REDIS_URL))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = web.AppRunner(app)
    port = free_port()

    async def up() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    asyncio.run_coroutine_threadsafe(up(), loop).result(30)
    try:
        yield f"http://127.0.0.1:{port}/console", app[CONSOLE], fake
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        fake.stop()


def sign_in(browser: Any, url: str, username: str) -> Any:
    page = browser.new_context(locale="en").new_page()
    page.goto(url)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_selector("#signed-in-as", timeout=WAIT)
    return page


def test_a_supervisor_launches_a_poll_and_a_counselor_is_refused(
    console: Tuple[str, Console, FakePlatforms], browser: Any
) -> None:
    from bot.campaigns import worker

    url, app_console, fake = console
    app_console.accounts.add("boss", "supervisor", PASSWORD)
    app_console.accounts.add("mona", "counselor", PASSWORD)
    store = CampaignStore.from_url(app_console.config.database_url)
    chats = [uuid.uuid4().int % 10**12 for _ in range(3)]
    # As the Telegram connector leaves them: hashed sender ids, the chat ids in its encrypted address book.
    senders = telegram_users(REDIS_URL, address_cipher(get_settings()), chats)
    for n, sender in enumerate(senders):
        store.subscribe(sender, "telegram", "ar" if n < 2 else "en", "teen", "Asia/Riyadh", timedelta(days=7))

    mona = sign_in(browser, url, "mona")
    assert mona.locator("#nav-campaigns").count() == 0
    assert mona.goto(f"{url}/campaigns").status == 403

    boss = sign_in(browser, url, "boss")
    boss.click("#nav-campaigns")
    boss.wait_for_selector("#launch", timeout=WAIT)
    assert "teen/ar" in boss.inner_text("#series")
    boss.select_option("#launch-item", "poll-talked-about-safety")
    boss.select_option("#launch-channel", "telegram")
    boss.select_option("#launch-language", "ar")
    boss.click("#launch-send")
    row = boss.wait_for_selector("[data-testid=broadcast]", timeout=WAIT)
    broadcast_id = row.get_attribute("data-id") or ""
    assert "poll-talked-about-safety" in row.inner_text()

    assert row.query_selector('[data-state="sent"]').inner_text() == "sent 0"  # type: ignore[union-attr]
    boss.evaluate("window.stillThisPage = true")  # gone if the page reloads

    # The worker's jobs, run here; two Arabic-speaking teens answer.
    worker.fan_out(broadcast_id)
    worker.send_batch(broadcast_id, senders)
    assert sorted(int(r.to) for r in fake.sent()) == sorted(chats[:2])
    for choice in ("yes", "no"):
        store.vote("poll-talked-about-safety", choice)

    done = boss.wait_for_selector(f'[data-id="{broadcast_id}"][data-status="done"]', timeout=WAIT)
    boss.wait_for_function(
        """id => {
            const row = document.querySelector(`[data-id="${id}"]`);
            return row.querySelector('[data-state="sent"]').textContent === "sent 2"
                && row.querySelector('[data-choice="yes"]').textContent === "yes 1";
        }""",
        arg=broadcast_id,
        timeout=WAIT,
    )
    assert done.query_selector('[data-choice="no"]').inner_text() == "no 1"  # type: ignore[union-attr]
    assert boss.evaluate("window.stillThisPage") is True  # live, not reloaded
    store.vote("poll-talked-about-safety", "yes")
    boss.wait_for_function(
        """id => document.querySelector(`[data-id="${id}"] [data-choice="yes"]`).textContent === "yes 2" """,
        arg=broadcast_id,
        timeout=WAIT,
    )

    # A message written on the page: both languages, previewed per channel, scheduled.
    tomorrow = (datetime.now(ZoneInfo("Asia/Riyadh")) + timedelta(days=1)).strftime("%Y-%m-%dT08:00")
    boss.select_option("#launch-item", "text")
    assert boss.is_visible("#written")
    boss.fill("#text-ar", "تذكير: تحدثوا مع أطفالكم عن الأمان على الإنترنت")
    assert boss.inner_text('[data-preview="telegram-ar"]') == "تذكير: تحدثوا مع أطفالكم عن الأمان على الإنترنت"
    assert boss.inner_text('[data-preview="whatsapp-ar"]') == boss.inner_text('[data-preview="telegram-ar"]')
    boss.fill("#launch-at", tomorrow)
    with boss.expect_navigation():
        boss.click("#launch-send")
    assert "both Arabic and English" in boss.inner_text("body")  # English missing: refused, politely
    boss.go_back()
    boss.wait_for_selector("#launch", timeout=WAIT)
    boss.select_option("#launch-item", "text")
    boss.fill("#text-ar", "تذكير: تحدثوا مع أطفالكم عن الأمان على الإنترنت")
    boss.fill("#text-en", "A reminder: talk with your children about staying safe online")
    assert boss.inner_text('[data-preview="whatsapp-en"]').startswith("A reminder")
    boss.fill("#launch-at", tomorrow)
    boss.click("#launch-send")
    boss.wait_for_selector('[data-testid=broadcast][data-status="scheduled"]', timeout=WAIT)
    scheduled = store.broadcasts()[0]
    assert scheduled.status == "scheduled" and scheduled.texts["en"].startswith("A reminder")
    assert scheduled.send_at.astimezone(ZoneInfo("Asia/Riyadh")).strftime("%Y-%m-%dT%H:%M") == tomorrow

    actions = [e.action for e in app_console.audit.entries(actor="boss")]
    assert actions.count("campaign_send") == 2 and "view_campaigns" in actions
    assert any("at=" in (e.detail or "") for e in app_console.audit.entries(actor="boss"))
    store.close()

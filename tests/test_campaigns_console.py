"""The console's Campaigns page on SQLite and PostgreSQL: supervisors only (a counselor gets 403 on
every door), every action audited, a poll launched to a segment, its progress and its results as
counts; Telegram faked at its HTTP boundary, Redis real."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import AsyncIterator, Iterator
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet

from bot.campaigns.addresses import address_cipher
from bot.campaigns.store import CampaignStore
from bot.console.app import create_app
from bot.console.security import CONSOLE
from bot.settings import get_settings
from tests import console_kit
from tests.campaign_fakes import FakePlatforms, telegram_users
from tests.console_kit import Clock, DeliveryStandIn, Kit, config_for, settle
from tests.services import redis_url

REDIS_URL = redis_url(11)  # the tests' Redis (tests/services.py), database 11
delivery = console_kit.delivery


@pytest.fixture
def fake() -> Iterator[FakePlatforms]:
    f = FakePlatforms().start()
    yield f
    f.stop()


@pytest.fixture
async def kit(
    database_url: str, delivery: DeliveryStandIn, fake: FakePlatforms, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Kit]:
    # The worker's functions run in this process, on the console's database and the fake Telegram.
    for name, value in {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "TELEGRAM_BOT_TOKEN": "123456:console-test",
        "TELEGRAM_API_BASE_URL": fake.url,
        "CAMPAIGN_QUIET_HOURS": "",
        "CAMPAIGN_TELEGRAM_RATE": "200",
        "ADDRESS_ENCRYPTION_KEY": Fernet.generate_key().decode(),  # never the development key in .run/
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    from bot.campaigns import worker

    monkeypatch.setattr(worker, "_DELIVERER", None)
    app = create_app(config_for(database_url, delivery.url, Clock(), redis_url=REDIS_URL))
    server = TestServer(app)
    await server.start_server()
    made = Kit(server, app[CONSOLE], Clock(), delivery)
    yield made
    for browser in made.browsers:
        await browser.client.session.close()
    await server.close()
    await settle()
    if worker._DELIVERER is not None:
        worker._DELIVERER.telegram.close()  # type: ignore[union-attr]
        worker._DELIVERER.store.close()


def audited(kit: Kit) -> list:
    return [(e.actor, e.action, e.detail) for e in kit.console.audit.entries()][::-1]


async def test_counselors_are_refused_every_campaign_door(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    assert (await mona.get("/console/campaigns")).status == 403
    assert (await mona.post("/console/campaigns", {"item": "msg-back-to-school"})).status == 403
    assert (await mona.post("/console/campaigns/bsomething/pause")).status == 403
    assert (await mona.get("/console/campaigns/progress")).status == 403
    assert "Campaigns" not in await (await mona.get("/console")).text()


async def test_a_supervisor_launches_a_poll_and_watches_progress_and_results(kit: Kit, fake: FakePlatforms) -> None:
    from bot.campaigns import worker

    store = CampaignStore.from_url(kit.console.config.database_url)
    chats = [uuid.uuid4().int % 10**12 for _ in range(3)]
    # As the Telegram connector leaves them: hashed sender ids, the chat ids in its encrypted address book.
    senders = telegram_users(REDIS_URL, address_cipher(get_settings()), chats)
    for n, sender in enumerate(senders):
        store.subscribe(sender, "telegram", "ar" if n < 2 else "en", "teen", "Asia/Riyadh", timedelta(days=7))
    boss = await kit.signed_in("boss", "supervisor")
    page = await boss.get("/console/campaigns")
    assert page.status == 200
    body = await page.text()
    assert "teen/ar" in body and "poll-talked-about-safety" in body
    launched = await boss.post(
        "/console/campaigns", {"item": "poll-talked-about-safety", "channel": "telegram", "language": "ar"}
    )
    assert launched.status == 303
    overview = await (await boss.client.get("/console/campaigns", headers={"Accept": "application/json"})).json()
    broadcast = overview["broadcasts"][0]
    assert broadcast["item"] == "poll-talked-about-safety" and broadcast["segment"]["language"] == "ar"

    worker.fan_out(broadcast["id"])  # what the worker does with the job, here in the test's process
    worker.send_batch(broadcast["id"], senders[:2])
    assert sorted(int(r.to) for r in fake.sent()) == sorted(chats[:2])  # the Arabic segment only
    for choice in ("yes", "yes", "no"):
        store.vote("poll-talked-about-safety", choice)
    overview = await (await boss.client.get("/console/campaigns", headers={"Accept": "application/json"})).json()
    shown = next(b for b in overview["broadcasts"] if b["id"] == broadcast["id"])
    assert (shown["status"], shown["progress"]["sent"], shown["progress"]["total"]) == ("done", 2, 2)
    assert shown["poll"]["yes"] >= 2 and shown["poll"]["no"] >= 1
    page = await (await boss.get("/console/campaigns")).text()
    assert f'data-id="{broadcast["id"]}" data-status="done"' in page

    assert (await boss.post(f"/console/campaigns/{broadcast['id']}/pause")).status == 409  # done already
    assert (await boss.post("/console/campaigns", {"item": "nothing-like-this"})).status == 400
    actions = [(a, d) for who, a, d in audited(kit) if who == "boss"]
    assert ("campaign_send", "item=poll-talked-about-safety channel=telegram language=ar") in actions
    assert ("campaign_pause", f"broadcast={broadcast['id']}") in actions
    assert [a for a, _ in actions].count("view_campaigns") >= 3
    store.close()


async def test_a_written_message_needs_both_languages_and_a_time_ahead(kit: Kit) -> None:
    boss = await kit.signed_in("boss", "supervisor")
    ar, en = "تذكير: تحدثوا مع أطفالكم", "A reminder: talk with your children"
    tomorrow = (datetime.now(ZoneInfo("Asia/Riyadh")) + timedelta(days=1)).strftime("%Y-%m-%dT08:00")
    refused = {
        "Arabic only": {"item": "text", "text_ar": ar, "text_en": "  "},
        "too long": {"item": "text", "text_ar": ar, "text_en": "x" * 1001},
        "in the past": {"item": "text", "text_ar": ar, "text_en": en, "send_at": "2020-01-01T08:00"},
        "not a time": {"item": "text", "text_ar": ar, "text_en": en, "send_at": "tomorrow"},
        "next year": {"item": "text", "text_ar": ar, "text_en": en, "send_at": "2099-01-01T08:00"},
    }
    for case, form in refused.items():
        answer = await boss.post("/console/campaigns", form)
        assert answer.status == 400, case
        assert "both Arabic and English" in await answer.text() or "Give a time" in await answer.text(), case
    launched = await boss.post(
        "/console/campaigns", {"item": "text", "text_ar": ar, "text_en": en, "send_at": tomorrow}
    )
    assert launched.status == 303
    progress = await (await boss.client.get("/console/campaigns/progress")).json()
    [shown] = progress["broadcasts"]
    assert (shown["item"], shown["status"]) == ("text", "scheduled")
    assert datetime.fromisoformat(shown["send_at"]).astimezone(ZoneInfo("Asia/Riyadh")).strftime("%Y-%m-%dT%H:%M") == (
        tomorrow
    )
    store = CampaignStore.from_url(kit.console.config.database_url)
    assert store.broadcast(shown["id"]).texts == {"ar": ar, "en": en}  # type: ignore[union-attr]
    store.close()
    [(action, detail)] = [(a, d) for who, a, d in audited(kit) if who == "boss" and a == "campaign_send"]
    assert detail.startswith("item=text at=")

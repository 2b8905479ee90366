"""The campaign worker as ``make run`` starts it (``python -m dramatiq bot.campaigns.worker``), on
real Redis and on SQLite and PostgreSQL, sending to Telegram and Twilio faked at their HTTP
boundary; the broadcast is launched with the command line, as a script would.

The story, on each platform: parents subscribed; a supervisor sends a message to them; the worker
is killed with ``kill -9`` in the middle, with requests on the wire (the fake holds them without an
answer, so the kill lands where a lost or doubled message would come from); started again, it
finishes, and every parent has received exactly one copy, counted from what the fake platform
received. On WhatsApp half the held requests never reached Twilio (the worker asks Twilio and sends
those again); on Telegram they all did (the Bot API cannot be asked: see ``bot.campaigns.delivery``
for the microseconds where it could go wrong)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from typing import Dict, Iterator, List, Tuple

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.campaigns.addresses import address_cipher
from bot.campaigns.models import Delivery
from bot.campaigns.store import CampaignStore
from bot.settings import PROJECT_ROOT, get_settings
from tests.campaign_fakes import FakePlatforms, telegram_users, whatsapp_users
from tests.conftest import wait_for
from tests.services import redis_url

REDIS_URL = redis_url(11)  # the tests' Redis (tests/services.py), database 11
FROM = "whatsapp:+14155238886"


@pytest.fixture(autouse=True)
def _address_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's ADDRESS_ENCRYPTION_KEY (inherited by ``worker_env``), never the development one in .run/."""
    monkeypatch.setenv("ADDRESS_ENCRYPTION_KEY", Fernet.generate_key().decode())


@pytest.fixture
def fake() -> Iterator[FakePlatforms]:
    f = FakePlatforms().start()
    yield f
    f.stop()


def worker_env(database_url: str, fake: FakePlatforms) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TELEGRAM_", "CAMPAIGN_"))}
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        REDIS_URL=REDIS_URL,
        DATABASE_URL=database_url,
        TELEGRAM_BOT_TOKEN="123456:campaign-test",
        TELEGRAM_API_BASE_URL=fake.url,
        CAMPAIGN_TELEGRAM_RATE="40",
        CAMPAIGN_QUIET_HOURS="",
        CAMPAIGN_HEARTBEAT_MS="1500",
    )
    return env


def cli(env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "campaigns", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_worker(env: Dict[str, str]) -> subprocess.Popen:
    # Its own session, so that kill -9 reaches Dramatiq's worker processes as well as their parent.
    return subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "bot.campaigns.worker", "--processes", "1", "--threads", "4"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_with_requests_on_the_wire(env: Dict[str, str], fake: FakePlatforms, broadcast_id: str) -> None:
    """Start a worker; once both batches' threads wait on a held request, ``kill -9`` it; let the
    platform go; start a worker again and wait until the broadcast is done."""
    worker = start_worker(env)
    try:
        assert wait_for(lambda: fake.held >= 2, timeout=60), f"nothing held: {len(fake.sent())} sent"
        time.sleep(0.3)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        fake.release()
        worker = start_worker(env)

        def done() -> bool:
            status = cli(env, "status", broadcast_id, "--json")
            return status.returncode == 0 and json.loads(status.stdout)["status"] == "done"

        assert wait_for(done, timeout=90), cli(env, "status", broadcast_id, "--json").stdout
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=20)


def outcomes(store: CampaignStore, broadcast_id: str) -> Dict[str, Tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(Delivery.sender_id, Delivery.state, Delivery.reason).where(Delivery.broadcast_id == broadcast_id)
        )
        return {row.sender_id: (row.state, row.reason) for row in rows}


def test_a_worker_killed_mid_broadcast_leaves_every_telegram_parent_one_copy(
    database_url: str, fake: FakePlatforms
) -> None:
    env = worker_env(database_url, fake)
    store = CampaignStore.from_url(database_url)
    # As the Telegram connector leaves them: hashed sender ids, chat ids in the encrypted address book.
    chats: List[int] = [uuid.uuid4().int % 10**12 for _ in range(121)]
    senders = telegram_users(REDIS_URL, address_cipher(get_settings()), chats)
    chats, teen = chats[:120], senders.pop()
    for sender in senders:
        store.subscribe(sender, "telegram", "en", "parent", "Asia/Riyadh", timedelta(days=7))
    store.subscribe(teen, "telegram", "en", "teen", "Asia/Riyadh", timedelta(days=7))

    sent = cli(env, "send", "msg-back-to-school", "--channel", "telegram", "--audience", "parent")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("Broadcast: ")
    broadcast_id = sent.stdout.split()[-1]
    fake.hold(after=30)
    kill_with_requests_on_the_wire(env, fake, broadcast_id)

    copies = {sender: len(fake.to(str(chat))) for sender, chat in zip(senders, chats, strict=False)}
    assert copies == {sender: 1 for sender in senders}  # every parent once: nobody twice, nobody missed
    assert len(fake.sent()) == 120  # and nobody outside the segment
    # The requests the killed worker had on the wire were counted sent, not sent again.
    assert ("sent", "unconfirmed") in outcomes(store, broadcast_id).values()
    status = json.loads(cli(env, "status", broadcast_id, "--json").stdout)
    assert (status["sent"], status["total"], status["failed"]) == (120, 120, 0)
    store.close()


def test_a_worker_killed_mid_broadcast_leaves_every_whatsapp_parent_one_copy(
    database_url: str, fake: FakePlatforms
) -> None:
    env = worker_env(database_url, fake)
    env.update(
        TWILIO_ACCOUNT_SID="AC" + "7" * 32,
        TWILIO_AUTH_TOKEN="campaign-test-token",
        TWILIO_WHATSAPP_FROM=FROM,
        TWILIO_API_BASE_URL=fake.url,
        CAMPAIGN_WHATSAPP_RATE="40",
    )
    store = CampaignStore.from_url(database_url)
    cipher = address_cipher(get_settings())
    numbers = [f"whatsapp:+9665{uuid.uuid4().int % 10**8:08d}" for _ in range(150)]
    # Half wrote within 24 hours (free text), half did not (the approved template).
    senders = whatsapp_users(REDIS_URL, cipher, numbers[:75], in_window=True)
    senders += whatsapp_users(REDIS_URL, cipher, numbers[75:], in_window=False)
    for sender in senders:
        store.subscribe(sender, "whatsapp", "ar", "parent", "Asia/Riyadh", timedelta(days=7))

    sent = cli(env, "send", "msg-back-to-school", "--channel", "whatsapp", "--audience", "parent")
    assert sent.returncode == 0, sent.stderr
    broadcast_id = sent.stdout.split()[-1]
    fake.hold(after=40, lose_every_other=True)
    kill_with_requests_on_the_wire(env, fake, broadcast_id)

    copies = {number: len(fake.to(number)) for number in numbers}
    assert copies == {number: 1 for number in numbers}  # every parent once: nobody twice, nobody missed
    found = outcomes(store, broadcast_id).values()
    assert ("sent", "reconciled") in found  # Twilio had it: not sent again
    status = json.loads(cli(env, "status", broadcast_id, "--json").stdout)
    assert (status["sent"], status["total"], status["failed"]) == (150, 150, 0)
    store.close()


def test_the_command_line_lists_and_refuses_politely(database_url: str, fake: FakePlatforms) -> None:
    env = worker_env(database_url, fake)
    listed = cli(env, "list")
    assert listed.returncode == 0
    ids = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    assert {"msg-back-to-school", "teen-1", "quiz-digital-citizenship", "poll-talked-about-safety"} <= set(ids)
    unknown = cli(env, "send", "no-such-message")
    assert unknown.returncode == 2 and "campaigns list" in unknown.stderr
    assert cli(env, "status", "bnothing", "--json").returncode == 2
    assert cli(env, "send", "msg-back-to-school", "--channel", "sms").returncode == 2

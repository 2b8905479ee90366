"""``ReturnFreedMemory`` (``bot.campaigns.memory``): in a real campaign worker, started as ``make run``
starts it, on real Redis, its threads share two malloc arenas (a plain process's threads take one
each) and the memory a job freed between live blocks goes back to the system after a later job;
``malloc_trim`` runs at most every 5 seconds, however many jobs end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import redis
from cryptography.fernet import Fernet
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from bot.campaigns.memory import M_ARENA_MAX, ReturnFreedMemory, glibc
from bot.campaigns.worker import NAMESPACE, QUEUE
from bot.settings import PROJECT_ROOT
from tests.services import redis_url

REDIS_URL = redis_url(12)  # the tests' Redis (tests/services.py), database 12: this file's own
ACTOR = "memory_probe"  # tests/campaign_memory_probe.py's actor, loaded in the worker only


class FakeLibc:
    def __init__(self) -> None:
        self.calls: List[Any] = []

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append(("mallopt", option, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


def test_malloc_trim_runs_after_messages_at_most_every_5_seconds() -> None:
    now = [100.0]
    libc = FakeLibc()
    middleware = ReturnFreedMemory(libc=libc, clock=lambda: now[0])
    middleware.after_process_boot(broker=None)
    assert libc.calls == [("mallopt", M_ARENA_MAX, 2)] and middleware.arenas_limited
    trimmed_at = []
    for tenth in range(0, 121, 5):  # a message ends every half second for 12 s, some skipped
        now[0] = 100.0 + tenth / 10
        before = len(libc.calls)
        if tenth % 15:
            middleware.after_process_message(None, None, result=None)
        else:
            middleware.after_skip_message(None, None)
        if len(libc.calls) > before:
            trimmed_at.append(tenth / 10)
    assert trimmed_at == [0.0, 5.0, 10.0]
    assert libc.calls[1:] == [("malloc_trim", 0)] * 3
    assert (middleware.trims, middleware.released) == (3, 3)


def test_without_glibc_it_does_nothing() -> None:
    middleware = ReturnFreedMemory()
    middleware.libc = None
    middleware.after_process_boot(broker=None)
    middleware.after_process_message(None, None, result=None)
    assert (middleware.arenas_limited, middleware.trims) == (False, 0)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[redis.Redis]:
    """A campaign worker with the probe loaded, one thread (jobs one after the other); Redis."""
    if glibc() is None:
        pytest.skip("not glibc")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TELEGRAM_", "CAMPAIGN_"))}
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        REDIS_URL=REDIS_URL,
        DATABASE_URL=f"sqlite:///{tmp_path / 'cases.db'}",
        ADDRESS_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        CAMPAIGN_QUIET_HOURS="",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "bot.campaigns.worker", "tests.campaign_memory_probe",
         "--processes", "1", "--threads", "1"],
        env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        for pattern in ("amaan-campaigns*", "amaan:camp:*", "amaan-test-memory:*"):
            for key in client.scan_iter(pattern):
                client.delete(key)
        client.close()


def ask(client: redis.Redis, step: str, timeout: int = 120) -> Dict[str, Any]:
    """Send the probe ``step`` through the broker and wait for the worker's answer."""
    answer_to = f"amaan-test-memory:{uuid.uuid4().hex}"
    broker = RedisBroker(url=REDIS_URL, namespace=NAMESPACE)
    try:
        broker.declare_queue(QUEUE)
        broker.enqueue(Message(queue_name=QUEUE, actor_name=ACTOR, args=(step, answer_to), kwargs={}, options={}))
    finally:
        broker.close()
    found: Optional[Any] = client.blpop([answer_to], timeout=timeout)
    assert found is not None, f"no answer to {step}"
    return dict(json.loads(found[1]))


def test_a_real_worker_shares_two_arenas_and_gives_freed_memory_back(worker: redis.Redis) -> None:
    # A plain Python process: 8 threads allocating at once make an arena each.
    plain = subprocess.run(
        [sys.executable, "-c", "from tests.campaign_memory_probe import arenas_after_threads as a; print(a())"],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, cwd=PROJECT_ROOT, capture_output=True, text=True,
        check=True, timeout=120,
    )  # fmt: skip
    assert int(plain.stdout) > 2

    first = ask(worker, "arenas")
    assert first["middleware"]["installed"] and first["middleware"]["arenas_limited"], first
    assert first["arenas"] <= 2, first  # the same 8 threads, in the worker

    made = ask(worker, "fragment")
    mib = 1024
    assert made["rss_full_kib"] - made["rss_before_kib"] > 80 * mib, made
    # Freeing 15 blocks in 16 gave nothing back by itself: they lie between live ones.
    assert made["rss_freed_kib"] > made["rss_full_kib"] - 8 * mib, made
    # Once 5 s have passed since the last trim, the next job's end trims; the one after sees it.
    time.sleep(5.5)
    ask(worker, "noop")
    after = ask(worker, "noop")
    assert after["pid"] == made["pid"]
    assert after["middleware"]["trims"] > made["middleware"]["trims"], (made, after)
    assert after["rss_kib"] < made["rss_freed_kib"] - 60 * mib, (made, after)

"""The conversation lock shared by several Rasa servers (bot/locks.py), against real Redis.

Three "servers" here are three lock store instances, each with its own Redis connection and its own
thread and event loop, taking the three messages of one user that arrive within a few milliseconds.
The end-to-end version, with three real Rasa servers, is in tests/test_cluster.py.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, List, Tuple

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore, RedisLockStore
from redis.crc import key_slot

from bot.locks import LIVENESS, AtomicRedisLockStore
from tests.services import redis_address, redis_url

DB = 13  # this file's Redis database; keys carry a random prefix and are deleted after


def _atomic() -> AtomicRedisLockStore:
    host, port = redis_address()
    return AtomicRedisLockStore(host=host, port=port, db=DB, key_prefix="amaantest")


def _rasa() -> RedisLockStore:
    host, port = redis_address()
    return RedisLockStore(host=host, port=port, db=DB, key_prefix="amaantest")


def burst(make_store: Any, rounds: int, hold: float = 0.002) -> Tuple[int, List[List[Tuple[int, int]]], int]:
    """``rounds`` rounds of one message per server for a fresh user each round, released together.

    Returns the most messages of one user ever processed at once, per round the (ticket, server)
    pairs in the order they were processed, and how many messages failed to get the lock in 10 s.
    """
    client = redis.Redis.from_url(redis_url(DB))
    run = uuid.uuid4().hex[:10]
    stores = [make_store() for _ in range(3)]
    start = threading.Barrier(3)
    inside = {"now": 0, "most": 0, "failed": 0}
    guard = threading.Lock()
    served: List[List[Tuple[int, int]]] = [[] for _ in range(rounds)]

    async def message(store: LockStore, server: int, user: str, index: int) -> None:
        async with store.lock(user, lock_lifetime=30, wait_time_in_seconds=0.005) as lock:
            with guard:
                inside["now"] += 1
                inside["most"] = max(inside["most"], inside["now"])
                served[index].append((lock.now_serving or 0, server))
            await asyncio.sleep(hold)  # "processing": long enough for a second message to slip in
            with guard:
                inside["now"] -= 1

    def server(number: int) -> None:
        loop = asyncio.new_event_loop()
        try:
            for index in range(rounds):
                start.wait(timeout=30)
                try:
                    # Rasa's own store can leave a waiter spinning for good: a bounded wait counts it as lost.
                    loop.run_until_complete(
                        asyncio.wait_for(message(stores[number], number, f"user-{run}-{index}", index), timeout=10)
                    )
                except (LockError, asyncio.TimeoutError):
                    with guard:
                        inside["failed"] += 1
        finally:
            loop.close()

    threads = [threading.Thread(target=server, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for key in client.scan_iter(match=f"amaantest:*user-{run}-*"):
        client.delete(key)
    return inside["most"], served, inside["failed"]


def test_three_servers_never_process_two_messages_of_one_user_at_once() -> None:
    most, served, failed = burst(_atomic, rounds=200)
    assert most == 1 and failed == 0
    for order in served:
        assert len(order) == 3  # no message lost
        tickets = [ticket for ticket, _ in order]
        assert tickets == sorted(tickets) and len(set(tickets)) == 3  # served in ticket order


def test_rasas_own_redis_lock_store_lets_two_messages_through_at_once() -> None:
    """Why bot/locks.py exists (Rasa #9213): with the same burst, Rasa's read-modify-write tickets
    let two messages of one user be processed at once. If Rasa ever fixes it, this test says so."""
    most, served, failed = burst(_rasa, rounds=50)
    duplicates = sum(1 for order in served if len({ticket for ticket, _ in order}) < len(order))
    assert most > 1 or duplicates > 0 or failed > 0


async def test_a_ticket_whose_server_died_expires_and_the_next_message_is_served() -> None:
    store = _atomic()
    user = f"user-{uuid.uuid4().hex[:10]}"
    dead = store.issue_ticket(user, lock_lifetime=0.3)  # taken by a server that was then killed
    began = time.monotonic()
    async with store.lock(user, lock_lifetime=5):
        waited = time.monotonic() - began
        assert store.is_someone_waiting(user)
    assert 0.2 < waited < 3
    assert dead >= 1 and not store.is_someone_waiting(user)


async def test_a_message_waiting_longer_than_its_lifetime_gets_a_lock_error() -> None:
    store = _atomic()
    user = f"user-{uuid.uuid4().hex[:10]}"

    async def second_message() -> None:  # another request: its own task
        async with store.lock(user, lock_lifetime=0.2):
            pass  # pragma: no cover - never reached

    async with store.lock(user, lock_lifetime=5):
        with pytest.raises(LockError):
            await asyncio.create_task(second_message())
    store.delete_lock(user)
    assert store.get_lock(user) is None


async def test_inside_its_lock_a_message_asking_again_has_it_and_another_message_waits() -> None:
    """The channel takes the lock on arrival; Rasa's ``handle_message`` asks for it again inside."""
    store = _atomic()
    user = f"user-{uuid.uuid4().hex[:10]}"
    order: List[str] = []

    async def second_message() -> None:
        async with store.lock(user):
            order.append("second")

    async with store.lock(user) as outer:
        other = asyncio.create_task(second_message())  # arrives while the first is processed
        async with store.lock(user) as inner:  # Rasa's lock, same message: no second ticket
            assert inner.now_serving == outer.now_serving
            await asyncio.sleep(0.1)
            order.append("first")
        assert not other.done()
    await asyncio.wait_for(other, 5)
    assert order == ["first", "second"]
    assert not store.is_someone_waiting(user)


def test_the_keys_of_one_conversation_share_a_redis_cluster_slot() -> None:
    store = _atomic()
    for user in ["user-1", "tg-123456", "web-{odd}id", "رسالة"]:
        counter, queue, tickets = store._keys(user)
        names = [counter, queue, tickets + "1", tickets + "250"]
        assert len({key_slot(name.encode()) for name in names}) == 1, names
    assert key_slot(store._keys("user-1")[0].encode()) != key_slot(store._keys("user-2")[0].encode())


HOLDER = """
import sys, time, asyncio
from bot.locks import AtomicRedisLockStore
store = AtomicRedisLockStore(host=sys.argv[1], port=int(sys.argv[2]), db=int(sys.argv[3]), key_prefix="amaantest")
async def main():
    async with store.lock(sys.argv[4], lock_lifetime=60):
        print("holding", flush=True)
        await asyncio.sleep(600)  # a message processed when the server is killed
asyncio.run(main())
"""


def test_a_killed_servers_lock_is_free_again_within_seconds_not_its_lifetime() -> None:
    host, port = redis_address()
    user = f"user-{uuid.uuid4().hex[:10]}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, host, str(port), str(DB), user], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        time.sleep(LIVENESS + 1)  # alive: its heartbeat keeps the ticket past the liveness
        store = _atomic()
        assert store.get_lock(user) is not None  # its ticket is still there
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        killed = time.monotonic()

        async def retry() -> float:
            async with store.lock(user, lock_lifetime=60):
                return time.monotonic() - killed

        waited = asyncio.run(retry())
    finally:
        holder.kill()
        holder.wait()
    print(f"lock of a killed server free after {waited:.2f} s (liveness {LIVENESS} s, lifetime 60 s)")
    assert waited < LIVENESS + 1


async def test_a_live_server_keeps_its_lock_longer_than_the_liveness() -> None:
    holder, other = _atomic(), _atomic()
    holder.liveness = other.liveness = 0.4
    user = f"user-{uuid.uuid4().hex[:10]}"
    began = time.monotonic()

    async def second_message() -> float:
        async with other.lock(user, lock_lifetime=10):
            return time.monotonic() - began

    async with holder.lock(user, lock_lifetime=10):
        waiting = asyncio.create_task(second_message())
        await asyncio.sleep(1.5)  # processing: well past 0.4 s, renewed by the heartbeat thread
        assert not waiting.done()
    assert await asyncio.wait_for(waiting, 5) >= 1.5
    holder.close()
    other.close()


def test_rasa_builds_it_from_endpoints_yml(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``bot.run`` writes when REDIS_URL is set is what the Rasa server loads."""
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "t" * 40)  # endpoints.yml names it; bot.run sets it
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import read_endpoint_config

    from bot.run import write_runtime_config
    from bot.settings import Settings

    paths = write_runtime_config(Settings(redis_url=redis_url(0)), tmp_path, 5055)
    config = read_endpoint_config(str(paths["endpoints"]), "lock_store")
    store = LockStore.create(config)
    assert isinstance(store, AtomicRedisLockStore)
    assert store.red.ping() and store.prefix == "amaan:lock2:"

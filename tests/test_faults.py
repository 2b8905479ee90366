"""Faults: a process that dies is started again (bot/supervise.py), a killed Rasa server costs at
most the messages in flight on it, and a disclosure never depends on the action server
(bot/action_fallback.py). Real processes: the cluster of tests/conftest.py, HAProxy in front."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List

import pytest
import requests

from bot.content import ContentLibrary
from bot.run import wait_until_up
from bot.settings import get_settings
from bot.supervise import Restartable, supervise
from tests.conftest import RunningCluster, new_sender, wait_for

LIB = ContentLibrary.load(get_settings().data_dir)
# Users chatting while a Rasa server is killed. The issue asks for 100; on this 2-core machine a
# run with 100 takes minutes on top of the suite, so `make test` runs 40 and the full figure is
# `KILL_USERS=100 .venv/bin/pytest tests/test_faults.py -k killed` (same assertions).
KILL_USERS = int(os.environ.get("KILL_USERS", "40"))


def _texts(replies: List[Dict[str, Any]]) -> List[str]:
    return [m.get("text") or "" for m in replies]


def _say(url: str, sender: str, text: str) -> requests.Response:
    return requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120)


def _log_since(log: Path, offset: int) -> List[str]:
    """The lines HAProxy wrote to its log after ``offset`` (bytes)."""
    with log.open("rb") as lines:
        lines.seek(offset)
        return lines.read().decode("utf-8", "replace").splitlines()


# --- the supervisor ---------------------------------------------------------------------------------


def test_a_process_that_dies_is_started_again_with_a_line_saying_so(capfd: pytest.CaptureFixture) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    processes: List[subprocess.Popen] = [Restartable("worker", sleeper, 4242), Restartable("other", sleeper)]
    first, other = processes[0].pid, processes[1].pid
    stop = threading.Event()
    thread = threading.Thread(target=supervise, args=(processes,), kwargs={"keep_going": lambda: not stop.is_set()})
    thread.start()
    try:
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: processes[0].pid != first and processes[0].poll() is None, timeout=15)
        assert processes[1].pid == other  # the others were left alone
        err = capfd.readouterr().err
        assert f"supervisor.exited role=worker port=4242 pid={first} exit=-9" in err
        assert f"supervisor.restarted role=worker port=4242 pid={processes[0].pid} restarts=1" in err
    finally:
        stop.set()
        thread.join(timeout=5)
        for process in processes:
            process.kill()
            process.wait()


# --- the action server down ---------------------------------------------------------------------------


@pytest.mark.server
def test_with_every_action_server_down_a_disclosure_still_gets_the_helplines(cluster: RunningCluster) -> None:
    cluster.paused.set()  # hold restarts: the action servers stay down for this test
    try:
        for process in cluster.of("actions"):
            process.kill()
            process.wait()
        english, arabic, question = new_sender(), new_sender(), new_sender()
        reply = _say(cluster.url, english, "someone is blackmailing me with my photos")
        assert reply.status_code == 200
        assert LIB.message("danger_support", "en") in _texts(reply.json())
        reply = _say(cluster.url, arabic, "واحد يهددني ينشر صوري")
        assert reply.status_code == 200
        assert LIB.message("danger_support", "ar") in _texts(reply.json())
        reply = _say(cluster.url, question, "how can I keep my account private?")
        assert reply.status_code == 200
        assert _texts(reply.json()) == [LIB.message("try_again_shortly", "en")]  # honest, and only once
    finally:
        cluster.paused.clear()
    # the supervisor starts them again (new processes in the cluster's list)
    assert wait_for(lambda: all(p.poll() is None and p.restarts >= 1 for p in cluster.of("actions")), timeout=60)
    assert all(wait_until_up(f"http://localhost:{p.port}/health", [], 120) for p in cluster.of("actions"))

    # back to normal once HAProxy's health checks see the new action servers (rise 2, one a second;
    # longer on a loaded machine): the advice comes from the action server again
    def advised() -> bool:
        reply = _say(cluster.url, new_sender(), "how can I keep my account private?")
        return reply.status_code == 200 and LIB.message("try_again_shortly", "en") not in _texts(reply.json())

    assert wait_for(advised, timeout=120)


# --- a Rasa server killed under load ------------------------------------------------------------------


@pytest.mark.server
def test_a_rasa_server_killed_mid_conversation_loses_nothing_after_a_retry(cluster: RunningCluster) -> None:
    users = [new_sender() for _ in range(KILL_USERS)]
    opening = {user: ("مرحبا" if i % 2 else "hello") for i, user in enumerate(users)}
    with ThreadPoolExecutor(max_workers=10) as pool:
        assert all(r.status_code == 200 for r in pool.map(lambda u: _say(cluster.url, u, opening[u]), users))
    languages = {user: (cluster.tracker(user).get("slots") or {}).get("language") for user in users}
    victim = cluster.of("rasa")[0]
    server = cluster.cluster.haproxy_name(victim)  # "rasa0" in HAProxy's log
    log = cluster.cluster.haproxy_log
    logged_before = log.stat().st_size  # HAProxy's log of this test starts here
    failures: List[int] = []
    retries: List[float] = []  # how long each retry took (s)
    answered: List[str] = []
    lock = threading.Lock()

    def chat(user: str) -> None:
        for _turn in range(4):
            text = "شكرا" if opening[user] == "مرحبا" else "thank you"
            reply = _say(cluster.url, user, text)
            if reply.status_code != 200:  # in flight on the killed server: the user tries again
                with lock:
                    failures.append(reply.status_code)
                began = time.monotonic()
                reply = _say(cluster.url, user, text)
                with lock:
                    retries.append(time.monotonic() - began)
            assert reply.status_code == 200, reply.text
            assert any(_texts(reply.json()))
            with lock:
                answered.append(user)
                if len(answered) == KILL_USERS:  # a quarter of the way: kill -9 one server mid-load
                    os.kill(victim.pid, signal.SIGKILL)

    concurrent = max(6, KILL_USERS // 2)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrent) as pool:
        list(pool.map(chat, users))
    print(
        f"kill -9 under {concurrent} concurrent users ({KILL_USERS} in all): {len(failures)} failed, "
        f"all retried; {4 * KILL_USERS} messages in {time.monotonic() - started:.0f} s; "
        f"longest retry {max(retries, default=0):.1f} s"
    )
    assert len(failures) <= concurrent  # at most what was in flight on the killed server
    # HAProxy took the killed server out of the rotation (and every retry above, sent after a
    # failure, was answered by another server). A process killed with kill -9 still accepts
    # connections while the kernel tears it down: without observe layer7 / on-error mark-down
    # (scripts/haproxy.cfg.template) HAProxy kept sending it requests, retries included (502).
    down = [line for line in _log_since(log, logged_before) if f"Server rasa/{server} is DOWN" in line]
    print("HAProxy: " + (down[0].split(" ", 1)[-1] if down else f"never marked {server} down"))
    assert down, f"HAProxy never marked the killed server ({server}) down"
    # A retry waits for the killed server's lock ticket to expire: seconds (bot.locks.LIVENESS), not
    # the 60 s lifetime it took before; the rest is the two servers left catching up with the load.
    assert max(retries, default=0) < 30
    for user in users:
        tracker = cluster.tracker(user)
        assert (tracker.get("slots") or {}).get("language") == languages[user]  # the language stayed
        said = [e.get("text") for e in tracker["events"] if e.get("event") == "user"]
        assert said.count(said[-1]) >= 4  # every turn is in the conversation
    # the supervisor started it again, and HAProxy sends it work once it answers
    restarted = wait_for(
        lambda: next((p for p in cluster.of("rasa") if p.port == victim.port and p.pid != victim.pid), None), 30
    )
    assert restarted is not None
    assert wait_until_up(f"http://localhost:{victim.port}/webhooks/rest/", [], 600)
    # and back in the rotation once its health checks pass (rise 2, one a second)
    back = f"Server rasa/{server} is UP"
    assert wait_for(lambda: any(back in line for line in _log_since(log, logged_before)), timeout=60)

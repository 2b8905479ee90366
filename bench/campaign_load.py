"""What ``bench/campaigns.py`` measures beside the broadcast: the workers' memory, sampled every
second, and live chat over the REST channel of a running Rasa server (a few users, each sending
its next message a moment after the last answer, as people do), timed per message."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import aiohttp

__all__ = ["ChatLoad", "MemorySampler", "p95_ms", "quarters"]


def rss_kib(pgid: int) -> int:
    """Resident memory of every process in the process group ``pgid`` (a Dramatiq parent and its workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, ProcessLookupError):
            continue
    return total


class MemorySampler:
    """(monotonic time, KiB) of a process group, every ``every`` seconds, in a thread of its own."""

    def __init__(self, pgid: int, every: float = 1.0):
        self.pgid = pgid
        self.every = every
        self.samples: List[Tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            kib = rss_kib(self.pgid)
            if kib:
                self.samples.append((time.monotonic(), kib))

    def between(self, start: float, end: float) -> List[int]:
        return [kib for at, kib in self.samples if start <= at <= end]


def quarters(samples: Sequence[int]) -> Dict[str, Any]:
    """Mean MiB of each quarter of ``samples`` (``quarters_mib``), the first and the last again, and
    last / first ("flat" near 1)."""
    if len(samples) < 4:
        return {"samples": len(samples)}
    bounds = [round(len(samples) * k / 4) for k in range(5)]
    each = [statistics.mean(samples[bounds[k] : bounds[k + 1]]) / 1024 for k in range(4)]
    first, last = each[0], each[-1]
    return {
        "samples": len(samples),
        "quarters_mib": [round(q, 1) for q in each],
        "first_quarter_mib": round(first, 1),
        "last_quarter_mib": round(last, 1),
        "last_over_first": round(last / first, 3),
        "peak_mib": round(max(samples) / 1024, 1),
    }


def p95_ms(latencies: Sequence[float]) -> float:
    ordered = sorted(latencies)
    return round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1) if ordered else 0.0


class ChatLoad:
    """``users`` simulated people talking to the REST channel at ``url`` until ``stop()``; each
    waits ``think`` seconds after an answer before the next message. They run in a process of their
    own (``_Users`` there): in this one the fake platform's threads, answering 200 requests a second
    under the same GIL, would delay the clock that times the answers."""

    def __init__(self, url: str, messages: Sequence[str], users: int = 4, think: float = 1.0):
        self.latencies: List[float] = []
        self._args = [url, str(users), str(think), json.dumps(list(messages))]
        self._process: Optional[subprocess.Popen] = None

    def start(self) -> ChatLoad:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.campaign_load", *self._args],
            cwd=Path(__file__).resolve().parents[1], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        return self

    def stop(self) -> Dict[str, float]:
        assert self._process is not None
        out, _ = self._process.communicate("", timeout=300)  # end of input: the users stop
        result = json.loads(out)
        self.latencies = result.pop("latencies")
        return result


class _Users:
    """The simulated users themselves, in the chat load's own process."""

    def __init__(self, url: str, messages: Sequence[str], users: int = 4, think: float = 1.0):
        self.url = url
        self.messages = list(messages)
        self.users = users
        self.think = think
        self.latencies: List[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> _Users:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=180)
        return {
            "messages": len(self.latencies),
            "errors": self.errors,
            "p50_ms": round(1000 * statistics.median(self.latencies), 1) if self.latencies else 0.0,
            "p95_ms": p95_ms(self.latencies),
            "latencies": self.latencies,
        }

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self._user(session, n) for n in range(self.users)))

    async def _user(self, session: aiohttp.ClientSession, n: int) -> None:
        sender = f"bench-chat-{n}-{time.time_ns()}"
        turn = 0
        while not self._stop.is_set():
            text = self.messages[(n + turn * 7) % len(self.messages)]
            turn += 1
            started = time.perf_counter()
            try:
                async with session.post(self.url, json={"sender": sender, "message": text}) as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            self.latencies.append(time.perf_counter() - started)
            self.errors += 0 if ok else 1
            await asyncio.sleep(self.think)


if __name__ == "__main__":
    # python -m bench.campaign_load URL USERS THINK MESSAGES_JSON: chat until stdin ends, print the result.
    users = _Users(sys.argv[1], json.loads(sys.argv[4]), int(sys.argv[2]), float(sys.argv[3])).start()
    sys.stdin.read()
    print(json.dumps(users.stop()))

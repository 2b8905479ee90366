"""``make bench``: Amaan against a ``rasa init`` default bot under the same REST load, in one run.

For each bot: training time, boot time (process start to the first answered message), peak RSS of
its server processes (Rasa server plus, for Amaan, the action server), and latency and throughput
for N concurrent users each holding a conversation of T turns (mixed Arabic and English). Prints a
markdown table with Amaan/baseline ratios and writes it to ``bench/results.md`` (and ``.json``).

Then the cost of the anonymous counters (docs/ANALYTICS.md): Amaan again with counting on and off
(``ANALYTICS_ENABLED``), same model, same load, in the order off, on, on, off (repeated
``--counting-rounds`` times) so that a machine that warms up or gets busier favours neither; the
throughputs of each side are averaged and their ratio reported (``bench/counting.md``).

Usage: python bench/run.py [--users 50] [--turns 10] [--counting-rounds 1] [--counting-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.model import rasa_env, train_command  # noqa: E402
from bot.run import start, stop  # noqa: E402

BASELINE_DIR = Path.home() / ".cache" / "amaan" / "baseline"
MESSAGES = [
    "hello",
    "هلا",
    "I'm a mum",
    "أنا معلمة",
    "how do I keep my son safe on roblox",
    "كيف احمي حسابي من الاختراق",
    "what is sextortion",
    "وش يعني ابتزاز",
    "tell me more",
    "كيف اتكلم مع ولدي عن الموضوع",
    "how much screen time is too much",
    "ابغى ابلغ عن حساب",
    "someone is blackmailing me",
    "شكرا",
    "thanks",
    "is it safe to share my location",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PeakRss:
    """Samples the summed RSS of process trees every 100 ms; ``peak`` in MB."""

    def __init__(self, pids: List[int]):
        self.pids = pids
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> List[int]:
        found, frontier = [], list(self.pids)
        while frontier:
            pid = frontier.pop()
            found.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                    frontier += [int(c) for c in children]
            except OSError:
                pass
        return found

    def _rss(self) -> float:
        total = 0
        for pid in self._tree():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.1)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(cmd: List[str], cwd: Path) -> float:
    started = time.monotonic()
    subprocess.run(cmd, cwd=cwd, env=rasa_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def baseline_model(out: Path) -> tuple[Path, float]:
    """A ``rasa init`` default bot (project created once), fully trained now: (model, seconds)."""
    if not (BASELINE_DIR / "config.yml").exists():
        shutil.rmtree(BASELINE_DIR, ignore_errors=True)
        BASELINE_DIR.mkdir(parents=True)
        init = [sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(BASELINE_DIR)]
        subprocess.run(init, cwd=BASELINE_DIR, env=rasa_env(), check=True, stdout=subprocess.DEVNULL)
    train = [sys.executable, "-m", "rasa", "train", "--force", "--out", str(out), "--fixed-model-name", "baseline"]
    return out / "baseline.tar.gz", timed(train, BASELINE_DIR)


def amaan_model(out: Path) -> tuple[Path, float]:
    """Amaan's model, fully trained now (Rasa's component cache skipped): (model, seconds)."""
    target = out / "amaan.tar.gz"
    return target, timed(train_command(ROOT, target, full=True), ROOT)


async def first_reply(url: str, deadline: float) -> None:
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(url, json={"sender": "boot", "message": "hello"}) as r:
                    if r.status == 200 and await r.json():
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
    raise RuntimeError(f"no reply from {url}")


async def load(url: str, users: int, turns: int) -> Dict[str, float]:
    latencies: List[float] = []
    errors = 0
    rng = random.Random(7)
    connector = aiohttp.TCPConnector(limit=users)
    timeout = aiohttp.ClientTimeout(total=120)

    async def conversation(session: aiohttp.ClientSession, user: int) -> None:
        nonlocal errors
        sender = f"bench-{user}-{rng.random():.6f}"
        for turn in range(turns):
            text = MESSAGES[(user + turn * 7) % len(MESSAGES)]
            started = time.perf_counter()
            try:
                async with session.post(url, json={"sender": sender, "message": text}) as r:
                    await r.read()
                    ok = r.status == 200
            except aiohttp.ClientError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += 0 if ok else 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(session, u) for u in range(users)))
        wall = time.perf_counter() - started
    latencies.sort()
    return {
        "messages": len(latencies),
        "errors": errors,
        "throughput": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
    }


def measure(
    name: str, processes: List[subprocess.Popen], url: str, users: int, turns: int, started: float
) -> Dict[str, float]:
    with PeakRss([p.pid for p in processes]) as rss:
        asyncio.run(first_reply(url, time.monotonic() + 600))
        boot = time.monotonic() - started
        result = asyncio.run(load(url, users, turns))
    result.update({"boot_s": boot, "peak_rss_mb": rss.peak})
    print(f"{name}: {json.dumps({k: round(v, 2) for k, v in result.items()})}", flush=True)
    return result


def run_baseline(users: int, turns: int, out: Path) -> Dict[str, float]:
    model, training = baseline_model(out)
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rasa", "run", "--model", str(model), "--port", str(port)],
        cwd=BASELINE_DIR,
        env=rasa_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        result = measure("baseline", [proc], f"http://localhost:{port}/webhooks/rest/webhook", users, turns, started)
    finally:
        stop([proc])
    result["training_s"] = training
    return result


def run_amaan(users: int, turns: int, out: Path) -> Dict[str, float]:
    model, training = amaan_model(out)
    port, actions_port = free_port(), free_port()
    started = time.monotonic()
    with open(os.devnull, "w") as devnull:
        processes = start(port, actions_port, model, output=devnull)
        try:
            result = measure(
                "amaan", processes, f"http://localhost:{port}/webhooks/rest/webhook", users, turns, started
            )
        finally:
            stop(processes)
    result["training_s"] = training
    return result


ROWS = [
    ("training_s", "Training time (s)", "{:.0f}", "lower"),
    ("boot_s", "Boot to first reply (s)", "{:.1f}", "lower"),
    ("peak_rss_mb", "Peak RSS of server processes (MB)", "{:.0f}", "lower"),
    ("throughput", "Throughput (messages/s)", "{:.1f}", "higher"),
    ("p50_ms", "Latency p50 (ms)", "{:.0f}", "lower"),
    ("p95_ms", "Latency p95 (ms)", "{:.0f}", "lower"),
    ("errors", "Failed requests", "{:.0f}", "lower"),
]


def table(amaan: Dict[str, float], base: Dict[str, float], users: int, turns: int) -> str:
    lines = [
        f"Load: {users} concurrent users x {turns} turns over REST, mixed Arabic and English, same machine, same run.",
        "",
        "| Measure | Amaan | `rasa init` baseline | Amaan / baseline |",
        "|---|---|---|---|",
    ]
    for key, label, fmt, _ in ROWS:
        ratio = f"{amaan[key] / base[key]:.2f}" if base.get(key) else "—"  # nothing to compare with
        lines.append(f"| {label} | {fmt.format(amaan[key])} | {fmt.format(base[key])} | {ratio} |")
    return "\n".join(lines)


def run_counting(model: Path, counting: bool, users: int, turns: int, run_dir: Path) -> Dict[str, float]:
    """Amaan with its counters on or off, its cases and counters in ``run_dir``."""
    os.environ["ANALYTICS_ENABLED"] = "1" if counting else "0"
    port, actions_port = free_port(), free_port()
    started = time.monotonic()
    try:
        with open(os.devnull, "w") as devnull:
            processes = start(port, actions_port, model, output=devnull, run_dir=run_dir)
            try:
                url = f"http://localhost:{port}/webhooks/rest/webhook"
                return measure(f"counting {'on' if counting else 'off'}", processes, url, users, turns, started)
            finally:
                stop(processes)
    finally:
        os.environ.pop("ANALYTICS_ENABLED", None)


def counting_cost(model: Path, users: int, turns: int, rounds: int, tmp: Path) -> Dict[str, object]:
    """Throughput with and without counting, alternating off, on, on, off."""
    runs: Dict[str, List[Dict[str, float]]] = {"on": [], "off": []}
    for i in range(rounds):
        for counting in (False, True, True, False):
            run_dir = tmp / f"counting-{i}-{len(runs['on']) + len(runs['off'])}"
            runs["on" if counting else "off"].append(run_counting(model, counting, users, turns, run_dir))
    mean = {side: statistics.mean(r["throughput"] for r in results) for side, results in runs.items()}
    p95 = {side: statistics.mean(r["p95_ms"] for r in results) for side, results in runs.items()}
    return {
        "runs": runs,
        "throughput": mean,
        "p95_ms": p95,
        "ratio": mean["on"] / mean["off"],
        "in_process": counting_in_process(),
    }


def counting_in_process(repeat: int = 20000) -> Dict[str, float]:
    """Microseconds that counting adds to one message on the Rasa server (the conversation store's
    ``observe_turn``: a session start, a fallback, the weekly sketch) and to an action (one
    ``count``), measured in this process against an in-memory buffer."""
    from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.analytics import Counts
    from bot.analytics.turns import observe_turn
    from bot.cases.schema import engine_for

    counts = Counts(engine_for("sqlite://"), flush_seconds=3600)
    trackers = []
    for i in range(repeat):
        events = [
            ActionExecuted("action_session_start"),
            SessionStarted(),
            ActionExecuted("action_listen"),
            UserUttered("hello", {"name": "nlu_fallback"}, input_channel="rest", timestamp=1000.0 + i),
            ActionExecuted("utter_not_sure"),
            ActionExecuted("action_listen"),
        ]
        trackers.append(DialogueStateTracker.from_events(f"bench-{i}", events))
    for tracker in trackers[:1000]:  # warm up (and those turns are then remembered, so skipped below)
        observe_turn(tracker, counts)
    trackers = trackers[1000:]
    started = time.perf_counter()
    for tracker in trackers:
        observe_turn(tracker, counts)
    turn_us = 1e6 * (time.perf_counter() - started) / len(trackers)
    started = time.perf_counter()
    for _ in range(repeat):
        counts.count("questions", topic="grooming", channel="telegram", language="ar", audience="teen")
    count_us = 1e6 * (time.perf_counter() - started) / repeat
    counts.enabled = False
    return {"turn_us": turn_us, "count_us": count_us}


def counting_table(cost: Dict[str, object], users: int, turns: int) -> str:
    runs: Dict[str, List[Dict[str, float]]] = cost["runs"]  # type: ignore[assignment]
    throughput: Dict[str, float] = cost["throughput"]  # type: ignore[assignment]
    p95: Dict[str, float] = cost["p95_ms"]  # type: ignore[assignment]
    micro: Dict[str, float] = cost["in_process"]  # type: ignore[assignment]
    served_us = 1e6 / throughput["off"]
    return "\n".join(
        [
            f"Counting cost: {users} users x {turns} turns, Amaan with counters off and on, "
            f"{len(runs['on'])} runs each in the order off, on, on, off; same machine, same run.",
            "",
            "| Measure | Counting off | Counting on | On / off |",
            "|---|---|---|---|",
            f"| Throughput (messages/s) | {throughput['off']:.1f} | {throughput['on']:.1f} | {cost['ratio']:.3f} |",
            f"| Latency p95 (ms) | {p95['off']:.0f} | {p95['on']:.0f} | {p95['on'] / p95['off']:.3f} |",
            "| Each run's throughput | "
            + ", ".join(f"{r['throughput']:.1f}" for r in runs["off"])
            + " | "
            + ", ".join(f"{r['throughput']:.1f}" for r in runs["on"])
            + " | — |",
            "",
            f"In process: counting adds {micro['turn_us']:.0f} µs to a message on the Rasa server (session start, "
            f"fallback, weekly sketch) and {micro['count_us']:.1f} µs to a counted action, that is "
            f"{100 * micro['turn_us'] / served_us:.2f}% of the {served_us / 1000:.0f} ms of server time per message "
            "measured above with counting off (1 / throughput).",
        ]
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--counting-rounds", type=int, default=1, help="rounds of off, on, on, off")
    parser.add_argument("--counting-only", action="store_true", help="only the counting cost, with the cached model")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.counting_only:
            from bot.model import ensure_model

            model = ensure_model()
        else:
            base = run_baseline(args.users, args.turns, Path(tmp))
            amaan = run_amaan(args.users, args.turns, Path(tmp))
            report = table(amaan, base, args.users, args.turns)
            print("\n" + report)
            (ROOT / "bench" / "results.md").write_text(report + "\n")
            (ROOT / "bench" / "results.json").write_text(
                json.dumps({"amaan": amaan, "baseline": base, "users": args.users, "turns": args.turns}, indent=2)
            )
            model = Path(tmp) / "amaan.tar.gz"
        cost = counting_cost(model, args.users, args.turns, args.counting_rounds, Path(tmp))
    counting = counting_table(cost, args.users, args.turns)
    print("\n" + counting)
    (ROOT / "bench" / "counting.md").write_text(counting + "\n")
    (ROOT / "bench" / "counting.json").write_text(
        json.dumps({**cost, "users": args.users, "turns": args.turns}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

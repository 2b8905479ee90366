"""The campaign workers' memory over broadcasts, before and after ``ReturnFreedMemory``
(``bot.campaigns.memory``), in one run (not part of ``make test``).

N Telegram subscribers as ``bench/campaigns.py`` leaves them, Telegram faked at its HTTP boundary,
no Rasa server. Each round starts a fresh Dramatiq worker (``--processes`` × ``--threads``), either
as it was before (``bench.campaign_worker_as_before``: the middleware taken off) or as it is now
(``bot.campaigns.worker``), in the order ``--order`` gives (default before, after, after, before, so
that a machine getting busier or quieter favours neither), and sends ``--broadcasts`` broadcasts
one after the other to every subscriber. The RSS of every process of the worker (the Dramatiq parent
and its worker processes) is sampled every ``--every`` seconds; for each broadcast,
``worker_memory`` gives the mean of each quarter of it (``quarters_mib``), the last quarter over the
first, and the peak; each round also gives its memory at rest before the first broadcast and after
the last. Duplicates and losses are counted at the fake Telegram, as in ``bench/campaigns.py``.

Usage: python bench/campaign_memory.py [--subscribers 4000] [--rate 200] [--processes 2]
[--threads 8] [--broadcasts 2] [--order before,after,after,before] [--every 0.5]
[--database-url URL (default: a new SQLite file)] [--redis-url redis://127.0.0.1:6379/11].
The Redis database is the bench's own: its campaign and address keys are deleted first.
Writes bench/campaign-memory-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from bench.campaign_load import MemorySampler  # noqa: E402
from bench.campaigns import broadcast, clean_redis, prepare, run_header, start_worker, stop_worker  # noqa: E402
from tests.campaign_fakes import FakePlatforms  # noqa: E402

MODULES = {"before": "bench.campaign_worker_as_before", "after": "bot.campaigns.worker"}


def mib(samples: List[int]) -> Optional[float]:
    return round(statistics.mean(samples) / 1024, 1) if samples else None


def one_round(
    variant: str, env: Dict[str, str], fake: FakePlatforms, chats: List[int], args: argparse.Namespace
) -> Dict[str, Any]:
    worker = start_worker(env, args, MODULES[variant])
    try:
        with MemorySampler(worker.pid, every=args.every) as memory:
            booted = time.monotonic()
            time.sleep(args.rest)  # the worker boots and settles
            rest_before = memory.between(time.monotonic() - args.rest / 2, time.monotonic())
            broadcasts = [broadcast(env, fake, chats, args.rate, memory) for _ in range(args.broadcasts)]
            settled = time.monotonic()
            time.sleep(args.rest)
            rest_after = memory.between(settled + args.rest / 2, time.monotonic())
            whole = memory.between(booted, time.monotonic())
    finally:
        stop_worker(worker)
    return {
        "variant": variant,
        "worker_module": MODULES[variant],
        "rest_before_mib": mib(rest_before),
        "broadcasts": broadcasts,
        "rest_after_mib": mib(rest_after),
        "peak_mib": round(max(whole) / 1024, 1) if whole else None,
    }


def summary(rounds: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Per variant and broadcast (1st, 2nd...): last quarter over first, each round's and the mean."""
    out: Dict[str, Any] = {}
    for variant in MODULES:
        mine = [r for r in rounds if r["variant"] == variant]
        if not mine:
            continue
        per: Dict[str, Any] = {}
        for k in range(len(mine[0]["broadcasts"])):
            memory = [r["broadcasts"][k]["worker_memory"] for r in mine]
            ratios = [m["last_over_first"] for m in memory if "last_over_first" in m]
            per[f"broadcast_{k + 1}"] = {
                "first_to_last_quarter_mib": [[m.get("first_quarter_mib"), m.get("last_quarter_mib")] for m in memory],
                "last_over_first": ratios,
                "mean_last_over_first": round(statistics.mean(ratios), 3) if ratios else None,
            }
        per["rest_after_mib"] = [r["rest_after_mib"] for r in mine]
        per["duplicates"] = sum(b["duplicates"] for r in mine for b in r["broadcasts"])
        per["losses"] = sum(b["losses"] for r in mine for b in r["broadcasts"])
        out[variant] = per
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--broadcasts", type=int, default=2)
    parser.add_argument("--order", default="before,after,after,before")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between memory samples")
    parser.add_argument("--rest", type=float, default=6.0, help="seconds at rest before and after the broadcasts")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args(argv)
    order = [v.strip() for v in args.order.split(",") if v.strip()]
    if not order or any(v not in MODULES for v in order):
        parser.error(f"--order: a comma-separated list of {', '.join(MODULES)}")
    key = Fernet.generate_key().decode()
    os.environ.update(REDIS_URL=args.redis_url, ADDRESS_ENCRYPTION_KEY=key)
    results: Dict[str, Any] = {
        **run_header("bench/campaign_memory.py", args, argv),
        "order": order,
        "memory": "RSS of every process of the worker (Dramatiq's parent and its worker processes), summed",
    }
    fake = FakePlatforms(nice=10).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env, chats = prepare(args, fake, tmp, key, results)
            results["rounds"] = [one_round(variant, env, fake, chats, args) for variant in order]
    finally:
        fake.stop()
        clean_redis(args.redis_url)
    results["load_average_after"] = os.getloadavg()
    results["summary"] = summary(results["rounds"])
    out = ROOT / "bench" / "campaign-memory-results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The broadcast benchmark (not part of ``make test``): N subscribers on Telegram, a broadcast
launched with ``python -m bot campaigns send``, Dramatiq workers as ``make run`` starts them, and
Telegram faked at its HTTP boundary (``tests/campaign_fakes``: a real HTTP server).

Reports, in one run: the time the broadcast took against the floor the configured rate sets
(N / rate), duplicates and losses (every chat must have exactly one copy), the workers' memory
(resident set of every worker process, sampled each second: first and last sample), and the highest
rate the workers sustain on this machine (a second broadcast with the pace set far above it);
then what 100,000 subscribers would take at the real platforms' limits.

Usage: python bench/campaigns.py [--subscribers 20000] [--rate 200] [--processes 2] [--threads 8]
Writes bench/campaigns-results.json. Not measured here yet: the REST p95 of live chat during a
broadcast against its value without one (docs/CAMPAIGNS.md, "Not done yet").
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.campaigns.models import Subscriber  # noqa: E402
from bot.campaigns.store import CampaignStore  # noqa: E402
from bot.cases.models import utcnow  # noqa: E402
from tests.campaign_fakes import FakePlatforms  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/11"


def rss_kib(pgid: int) -> int:
    """Resident memory of every process in the worker's process group."""
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


def subscribe(store: CampaignStore, count: int) -> List[int]:
    chats = [10**12 + uuid.uuid4().int % 10**12 for _ in range(count)]
    now = utcnow()
    rows = [
        dict(sender_id=f"tg-{c}", channel="telegram", language="ar", audience="parent", timezone="Asia/Riyadh",
             state="active", subscribed_at=now, changed_at=now, tips_sent=0, next_tip_at=now + timedelta(days=7))
        for c in chats
    ]  # fmt: skip
    store.migrate()
    with store.engine.begin() as conn:
        conn.execute(Subscriber.__table__.insert(), rows)
    return chats


def broadcast(env: Dict[str, str], fake: FakePlatforms, chats: List[int], args: argparse.Namespace) -> Dict[str, float]:
    fake.requests.clear()
    sent = subprocess.run(
        [sys.executable, "-m", "bot", "campaigns", "send", "msg-back-to-school", "--channel", "telegram"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    broadcast_id = sent.stdout.split()[-1]
    worker = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "bot.campaigns.worker", "--processes", str(args.processes),
         "--threads", str(args.threads)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    memory: List[int] = []
    deadline = time.monotonic() + len(chats) / float(env["CAMPAIGN_TELEGRAM_RATE"]) * 3 + 120
    try:
        while len(fake.sent()) < len(chats) and time.monotonic() < deadline:
            time.sleep(1)
            memory.append(rss_kib(worker.pid))
        time.sleep(2)  # anything late or doubled arrives now
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    received = fake.sent()
    copies: Dict[str, int] = {}
    for r in received:
        copies[r.to] = copies.get(r.to, 0) + 1
    times = sorted(r.at for r in received)
    took = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "broadcast": broadcast_id,
        "recipients": len(chats),
        "seconds": round(took, 2),
        "messages_per_second": round(len(times) / took, 1) if took else 0.0,
        "duplicates": sum(n - 1 for n in copies.values() if n > 1),
        "losses": len([c for c in chats if str(c) not in copies]),
        "worker_rss_mib_first": round(memory[1 if len(memory) > 1 else 0] / 1024, 1) if memory else 0.0,
        "worker_rss_mib_last": round(memory[-1] / 1024, 1) if memory else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    fake = FakePlatforms().start()
    results: Dict[str, object] = {"subscribers": args.subscribers, "rate": args.rate}
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TELEGRAM_", "CAMPAIGN_"))}
        env.update(
            PYTHONPATH=str(ROOT), REDIS_URL=REDIS_URL, DATABASE_URL=database_url,
            TELEGRAM_BOT_TOKEN="123456:bench", TELEGRAM_API_BASE_URL=fake.url,
            CAMPAIGN_TELEGRAM_RATE=str(args.rate), CAMPAIGN_QUIET_HOURS="",
        )  # fmt: skip
        store = CampaignStore.from_url(database_url)
        chats = subscribe(store, args.subscribers)
        paced = broadcast(env, fake, chats, args)
        floor = args.subscribers / args.rate
        paced["floor_seconds"] = round(floor, 1)
        paced["over_floor"] = round(paced["seconds"] / floor, 3) if floor else 0.0
        results["paced"] = paced
        # The highest rate: the same broadcast (to new subscribers) with the pace out of the way.
        with store.engine.begin() as conn:
            conn.execute(Subscriber.__table__.delete())
        chats = subscribe(store, args.subscribers)
        env["CAMPAIGN_TELEGRAM_RATE"] = "100000"
        results["unpaced"] = broadcast(env, fake, chats, args)
        store.close()
    fake.stop()
    results["at_real_limits_100k"] = {
        "telegram_25_per_s_minutes": round(100_000 / 25 / 60, 1),
        "whatsapp_10_per_s_per_sender_hours": round(100_000 / 10 / 3600, 2),
    }
    out = ROOT / "bench" / "campaigns-results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

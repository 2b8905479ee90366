"""The broadcast benchmark (not part of ``make test``): N Telegram subscribers (left as the connector
leaves them: hashed sender ids, chat ids in the encrypted address book), broadcasts launched with
``python -m bot campaigns send``, a Dramatiq worker kept running for the whole run, Telegram faked
at its HTTP boundary (``tests/campaign_fakes``: a real HTTP server), and the Rasa and action
servers as ``make run`` starts them, with a few users chatting over the REST channel.

In one run, alternating so that a machine getting busier favours neither side: live chat alone,
a paced broadcast with the chat, another paced broadcast with the chat, live chat alone. Reported:
for each broadcast, the time from the launch to the last message against the floor its rate sets
(N / rate), duplicates and losses (every chat must have exactly one copy), the workers' memory
(every worker process, sampled each second: the mean of each quarter, the last against the first); the REST p95 of
live chat with a broadcast against without one; then, the pace set far above anything reachable,
the highest rate the workers sustain here; and what 100,000 subscribers take at the real limits.

Usage: python bench/campaigns.py [--subscribers 20000] [--rate 200] [--processes 2] [--threads 8]
[--database-url URL (default: a new SQLite file)] [--redis-url redis://127.0.0.1:6379/11]
[--chat-users 4] [--chat-seconds 60] [--no-chat] [--highest-only]. The Redis database is the bench's own: its
campaign and address keys are deleted first. Writes bench/campaigns-results.json.
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
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet, MultiFernet  # noqa: E402

from bench.campaign_load import ChatLoad, MemorySampler, p95_ms, quarters  # noqa: E402
from bot.campaigns.models import Delivery, Subscriber  # noqa: E402
from bot.campaigns.store import CampaignStore  # noqa: E402
from bot.cases.models import utcnow  # noqa: E402
from tests.campaign_fakes import FakePlatforms, telegram_users  # noqa: E402

UNPACED = 100_000.0  # messages/s: far above what the workers reach, so the pace never waits


def subscribe(store: CampaignStore, redis_url: str, cipher: MultiFernet, count: int) -> List[int]:
    chats = [10**12 + uuid.uuid4().int % 10**12 for _ in range(count)]
    senders = telegram_users(redis_url, cipher, chats)
    now = utcnow()
    rows = [
        dict(sender_id=s, channel="telegram", language="ar", audience="parent", timezone="Asia/Riyadh",
             state="active", subscribed_at=now, changed_at=now, tips_sent=0, next_tip_at=now + timedelta(days=7))
        for s in senders
    ]  # fmt: skip
    store.migrate()
    with store.engine.begin() as conn:
        conn.execute(Delivery.__table__.delete())
        conn.execute(Subscriber.__table__.delete())
        conn.execute(Subscriber.__table__.insert(), rows)
    return chats


def clean_redis(redis_url: str) -> None:
    import redis

    with redis.Redis.from_url(redis_url) as client:
        for pattern in ("amaan:camp:*", "amaan:addr:*", "amaan-campaigns*"):
            keys = list(client.scan_iter(pattern, count=1000))
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])


def prepare(
    args: argparse.Namespace, fake: FakePlatforms, tmp: str, key: str, results: Dict[str, Any]
) -> Tuple[Dict[str, str], List[int]]:
    """The database (``--database-url`` or a new SQLite file in ``tmp``), the workers' environment
    (Telegram faked at ``fake``, paced at ``--rate``, no quiet hours) and ``--subscribers`` Telegram
    subscribers in a clean Redis database: the environment and the subscribers' chat ids."""
    database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
    os.environ["DATABASE_URL"] = database_url
    results["database"] = database_url.split(":", 1)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TELEGRAM_", "CAMPAIGN_"))}
    env.update(
        PYTHONPATH=str(ROOT), TELEGRAM_BOT_TOKEN="123456:bench", TELEGRAM_API_BASE_URL=fake.url,
        CAMPAIGN_TELEGRAM_RATE=str(args.rate), CAMPAIGN_QUIET_HOURS="",
    )  # fmt: skip
    clean_redis(args.redis_url)
    store = CampaignStore.from_url(database_url)
    chats = subscribe(store, args.redis_url, MultiFernet([Fernet(key.encode())]), args.subscribers)
    store.close()
    return env, chats


def start_worker(
    env: Dict[str, str], args: argparse.Namespace, module: str = "bot.campaigns.worker"
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dramatiq", module, "--processes", str(args.processes),
         "--threads", str(args.threads)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def stop_worker(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=60)


def broadcast(
    env: Dict[str, str], fake: FakePlatforms, chats: List[int], rate: float, memory: MemorySampler
) -> Dict[str, Any]:
    """Launch a broadcast to every subscriber and wait until every chat has it (or a deadline)."""
    fake.requests.clear()
    launched = time.monotonic()
    sent = subprocess.run(
        [sys.executable, "-m", "bot", "campaigns", "send", "msg-back-to-school", "--channel", "telegram"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    deadline = launched + len(chats) / min(rate, 1000.0) * 3 + 120
    while len(fake.sent()) < len(chats) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # anything late or doubled arrives now
    received = [r for r in fake.sent() if r.platform == "telegram"]
    copies: Dict[str, int] = {}
    for r in received:
        copies[r.to] = copies.get(r.to, 0) + 1
    times = sorted(r.at for r in received)
    took = times[-1] - launched if times else 0.0
    result: Dict[str, Any] = {
        "broadcast": sent.stdout.split()[-1],
        "recipients": len(chats),
        "rate": rate,
        "seconds_from_launch": round(took, 1),
        "seconds_first_to_last": round(times[-1] - times[0], 1) if len(times) > 1 else 0.0,
        "messages_per_second": round(len(times) / (times[-1] - times[0]), 1) if len(times) > 1 else 0.0,
        "duplicates": sum(n - 1 for n in copies.values() if n > 1),
        "losses": len([c for c in chats if str(c) not in copies]),
        "worker_memory": quarters(memory.between(launched, launched + took)),
    }
    if rate < UNPACED:
        floor = len(chats) / rate
        result.update(floor_seconds=round(floor, 1), over_floor=round(took / floor, 3))
    return result


def run_header(script: str, args: argparse.Namespace, argv: Optional[List[str]]) -> Dict[str, Any]:
    """What every campaign benchmark's results start with: when, how it was run, on what machine and load."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": f"python {script} " + " ".join(argv if argv is not None else sys.argv[1:]),
        "load_average_before": os.getloadavg(),
        "cores": os.cpu_count(),
        "subscribers": args.subscribers,
        "rate": args.rate,
        "processes": args.processes,
        "threads": args.threads,
    }


def newest_model() -> Path:
    from bot.model import model_path

    found = model_path()
    if found.exists():
        return found
    cache = Path(os.environ.get("AMAAN_MODEL_DIR") or Path.home() / ".cache" / "amaan" / "models")
    return max(cache.glob("amaan-*.tar.gz"), key=lambda p: p.stat().st_mtime)


def start_rasa(run_dir: Path) -> tuple:
    """The action and Rasa servers as ``make run`` starts them (its campaign worker stopped at once:
    the bench runs its own, with its flags); (REST URL, processes)."""
    from bench.run import first_reply, free_port
    from bot.run import start, stop

    port, actions_port = free_port(), free_port()
    log = open(run_dir / "servers.log", "w")  # noqa: SIM115 - open for the servers' lifetime
    processes = start(port, actions_port, newest_model(), output=log, run_dir=run_dir)
    stop([p for p in processes if getattr(p, "role", "") == "campaign-worker"])
    servers = [p for p in processes if getattr(p, "role", "") != "campaign-worker"]
    url = f"http://localhost:{port}/webhooks/rest/webhook"
    import asyncio

    asyncio.run(first_reply(url, time.monotonic() + 600))
    return url, servers


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--chat-users", type=int, default=4)
    parser.add_argument("--chat-seconds", type=float, default=60.0)
    parser.add_argument("--no-chat", action="store_true", help="no Rasa server, no REST p95")
    parser.add_argument("--highest-only", action="store_true", help="only the highest rate (no paced broadcasts)")
    args = parser.parse_args(argv)
    key = Fernet.generate_key().decode()
    # The servers this process starts read these too (REDIS_URL: Rasa's lock and tracker stores).
    os.environ.update(REDIS_URL=args.redis_url, ADDRESS_ENCRYPTION_KEY=key)
    results = run_header("bench/campaigns.py", args, argv)
    fake = FakePlatforms(nice=10).start()
    servers: List[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        env, chats = prepare(args, fake, tmp, key, results)
        url = ""
        if not args.no_chat and not args.highest_only:
            url, servers = start_rasa(Path(tmp))
        worker = start_worker(env, args)
        try:
            with MemorySampler(worker.pid) as memory:
                time.sleep(5)  # the worker boots
                started = time.monotonic()
                paced: List[Dict[str, Any]] = []
                chat: Dict[str, List[Dict[str, Any]]] = {"without": [], "with": []}
                for phase in () if args.highest_only else ("without", "with", "with", "without"):
                    if phase == "with":
                        load = ChatLoad(url, _messages(), args.chat_users).start() if url else None
                        paced.append(broadcast(env, fake, chats, args.rate, memory))
                        if load is not None:
                            chat["with"].append({**load.stop(), "latencies": load.latencies})
                    elif url:
                        load = ChatLoad(url, _messages(), args.chat_users).start()
                        time.sleep(args.chat_seconds)
                        chat["without"].append({**load.stop(), "latencies": load.latencies})
                results["paced"] = paced
                results["worker_memory_paced_run"] = quarters(memory.between(started, time.monotonic()))
                if url:
                    results["rest_chat"] = _compare(chat, args)
                stop_worker(worker)
                unpaced_env = {**env, "CAMPAIGN_TELEGRAM_RATE": str(UNPACED)}
                worker = start_worker(unpaced_env, args)
                memory.pgid = worker.pid
                time.sleep(5)
                results["unpaced"] = broadcast(unpaced_env, fake, chats, UNPACED, memory)
        finally:
            stop_worker(worker)
            if servers:
                from bot.run import stop

                stop(servers)
            fake.stop()
    results["load_average_after"] = os.getloadavg()
    results["at_real_limits_100k"] = estimates(results["unpaced"]["messages_per_second"])
    out = ROOT / "bench" / "campaigns-results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


def _messages() -> List[str]:
    from bench.run import MESSAGES

    return MESSAGES


def _compare(chat: Dict[str, List[Dict[str, Any]]], args: argparse.Namespace) -> Dict[str, Any]:
    """The REST p95 with a broadcast against without one, over both rounds of each."""
    pooled = {side: [x for run in runs for x in run.pop("latencies")] for side, runs in chat.items()}
    p95 = {side: p95_ms(values) for side, values in pooled.items()}
    return {
        "users": args.chat_users,
        "think_seconds": 1.0,
        "runs": chat,
        "p95_ms_without": p95["without"],
        "p95_ms_with": p95["with"],
        "with_over_without": round(p95["with"] / p95["without"], 3) if p95["without"] else None,
    }


def estimates(sustained: float) -> Dict[str, Any]:
    """100,000 subscribers at the platforms' limits, and what this machine's workers allow."""
    n = 100_000
    return {
        "telegram_25_per_s_minutes": round(n / 25 / 60, 1),
        "whatsapp_twilio_default_10_per_s_per_sender_hours": round(n / 10 / 3600, 2),
        "whatsapp_twilio_max_50_per_s_per_sender_minutes": round(n / 50 / 60, 1),
        "this_machine_workers_minutes": round(n / sustained / 60, 1) if sustained else None,
    }


if __name__ == "__main__":
    sys.exit(main())

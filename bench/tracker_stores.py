"""The cost of a turn in each conversation store, against the turn number (1 to 200), in one run.

Both stores as the Rasa server runs them: ``ForgetfulRedisTrackerStore`` (Redis, sealed whole
conversation) and ``AppendOnlySQLTrackerStore`` (PostgreSQL, one sealed row per event), with the
same case key. Each turn does what the server does: retrieve the conversation, add one turn's
events (the user's message, a slot, two actions, a long reply, action_listen...), save. The two
stores alternate which goes first at every turn; each conversation is run ``--conversations``
times (``--session-every N``: the user comes back in a new session every N turns) and the median over a window of five turns around each reported turn is printed, with the
ratio SQL / Redis (below 1: PostgreSQL is cheaper).

Needs Redis (``BENCH_REDIS_URL``, default 127.0.0.1:6379, database 13, keys ``amaanbench:*`` deleted
after) and PostgreSQL (``BENCH_DATABASE_URL``, else ``TEST_DATABASE_URL``; a schema of its own,
dropped after). Not part of ``make test``.

Usage: python bench/tracker_stores.py [--turns 200] [--conversations 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bot.cases import generate_key  # noqa: E402
from bot.cases.conversations import ForgetfulRedisTrackerStore  # noqa: E402
from bot.cases.conversations_sql import AppendOnlySQLTrackerStore  # noqa: E402

REPORTED = (1, 10, 50, 100, 150, 200)
REPLY = (
    "Thank you for telling me. You did the right thing. Do not send anything more and do not pay. "
    "Keep the messages as they are, block the account, and talk to an adult you trust. "
) * 2


def turn_events(n: int) -> List[Event]:
    """One turn: about what a turn of Amaan's stores (eight events, a long reply)."""
    return [
        UserUttered(f"what should I do, he keeps messaging me every night ({n})", {"name": "ask_sextortion"}),
        SlotSet("topic", "sextortion"),
        ActionExecuted("action_advice"),
        BotUttered(REPLY),
        BotUttered("Would you like the helplines?", {"buttons": [{"title": "Yes", "payload": "/affirm"}]}),
        SlotSet("audience", "teen"),
        ActionExecuted("utter_ask_more"),
        ActionExecuted("action_listen"),
    ]


async def one_turn(store: Any, domain: Domain, sender: str, n: int, new_session: bool) -> Dict[str, float]:
    began = time.perf_counter()
    tracker = await store.retrieve(sender)
    if tracker is None:
        tracker = DialogueStateTracker.from_events(sender, [], slots=domain.slots)
        tracker.update(ActionExecuted("action_session_start"))
        tracker.update(SessionStarted())
    retrieved = time.perf_counter()
    if new_session:  # the user came back after the session expired (an hour idle)
        tracker.update(ActionExecuted("action_session_start"))
        tracker.update(SessionStarted())
    for event in turn_events(n):
        tracker.update(event)
    prepared = time.perf_counter()
    await store.save(tracker)
    saved = time.perf_counter()
    return {"retrieve": (retrieved - began) * 1000, "save": (saved - prepared) * 1000}


async def run(turns: int, conversations: int, session_every: int) -> Dict[str, Dict[int, List[Dict[str, float]]]]:
    domain = Domain.load(str(ROOT / "domain.yml"))
    key = generate_key()
    redis_url = urlparse(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379"))
    pg = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not pg:
        sys.exit("set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL database")
    schema = f"amaan_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg, future=True)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    redis_store = ForgetfulRedisTrackerStore(
        domain,
        host=redis_url.hostname or "127.0.0.1",
        port=redis_url.port or 6379,
        db=13,
        key_prefix="amaanbench",
        encryption_keys=key,
    )
    sql_store = AppendOnlySQLTrackerStore(
        domain, url=f"{pg}?options=-csearch_path%3D{schema}", encryption_keys=key, retention_days=30
    )
    stores = {"redis": redis_store, "sql": sql_store}
    found: Dict[str, Dict[int, List[Dict[str, float]]]] = {name: {} for name in stores}
    senders: List[str] = []
    try:
        for _ in range(conversations):
            sender = f"bench-{uuid.uuid4().hex[:10]}"
            senders.append(sender)
            for n in range(1, turns + 1):
                order = ["redis", "sql"] if n % 2 else ["sql", "redis"]
                new_session = bool(session_every) and n > 1 and (n - 1) % session_every == 0
                for name in order:
                    measured = await one_turn(stores[name], domain, sender, n, new_session)
                    found[name].setdefault(n, []).append(measured)
    finally:
        for sender in senders:
            redis_store.forget(sender)
        sql_store.engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return found


def median_around(samples: Dict[int, List[Dict[str, float]]], turn: int, what: str) -> float:
    window = [s[what] for n in range(max(1, turn - 2), turn + 3) for s in samples.get(n, [])]
    return statistics.median(window)


def table(found: Dict[str, Dict[int, List[Dict[str, float]]]], turns: int) -> str:
    lines = [
        "| turn | save Redis (ms) | save SQL (ms) | SQL/Redis | retrieve Redis (ms) | retrieve SQL (ms) | SQL/Redis |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for turn in (t for t in REPORTED if t <= turns):
        cells = []
        for what in ("save", "retrieve"):
            redis_ms = median_around(found["redis"], turn, what)
            sql_ms = median_around(found["sql"], turn, what)
            cells += [f"{redis_ms:.2f}", f"{sql_ms:.2f}", f"{sql_ms / redis_ms:.2f}"]
        lines.append(f"| {turn} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--conversations", type=int, default=3)
    parser.add_argument("--session-every", type=int, default=0, help="a new session every N turns (0: one session)")
    args = parser.parse_args()
    found = asyncio.run(run(args.turns, args.conversations, args.session_every))
    sessions = f"a new session every {args.session_every} turns" if args.session_every else "one session"
    print(
        f"{args.conversations} conversation(s) of {args.turns} turns, 8 events a turn, {sessions}; medians over 5 turns"
    )
    print(table(found, args.turns))
    return 0


if __name__ == "__main__":
    sys.exit(main())

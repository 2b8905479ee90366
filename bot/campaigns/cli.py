"""``python -m bot campaigns list | send ID [--channel] [--language] [--audience] [--at] | status ID
[--json] | pause ID | resume ID | cancel ID``: the console's Campaigns page for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import Any, Optional

from bot.content import AUDIENCES, LANGUAGES

__all__ = ["add_commands", "run_command", "COMMANDS"]

COMMANDS = ("campaigns",)
CHANNELS = ("telegram", "whatsapp")


def add_commands(commands: Any) -> None:
    campaigns = commands.add_parser("campaigns", help="tips, broadcasts, quizzes and polls (docs/CAMPAIGNS.md)")
    sub = campaigns.add_subparsers(dest="campaigns_command", required=True)
    sub.add_parser("list", help="what can be sent, one per line, starting with its id")
    send = sub.add_parser("send", help="broadcast a message, tip, quiz or poll to a segment; prints its id")
    send.add_argument("message_id")
    send.add_argument("--channel", choices=CHANNELS)
    send.add_argument("--language", choices=LANGUAGES)
    send.add_argument("--audience", choices=AUDIENCES)
    send.add_argument("--at", default=None, help="ISO time to send at (default now), e.g. 2026-09-01T08:00+03:00")
    status = sub.add_parser("status", help="a broadcast's progress")
    status.add_argument("broadcast_id")
    status.add_argument("--json", action="store_true", help="the counts as JSON")
    for name in ("pause", "resume", "cancel"):
        sub.add_parser(name, help=f"{name} a broadcast").add_argument("broadcast_id")


def _when(text: Optional[str]) -> Optional[datetime]:
    if not text:
        return None
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def run_command(args: argparse.Namespace) -> int:
    from bot.campaigns.content import CampaignLibrary
    from bot.campaigns.store import CampaignStoreError, Segment, campaign_store
    from bot.settings import get_settings

    settings = get_settings()
    library = CampaignLibrary.load(settings.data_dir)
    command = args.campaigns_command
    if command == "list":
        for item in library.items():
            print(f"{item.id}\t{item.kind}\t{item.text.get('en', '')[:70]}")
        return 0
    store = campaign_store(settings)
    try:
        if command == "send":
            if library.item(args.message_id) is None:
                print(
                    f"No message, tip, quiz or poll {args.message_id!r}: see `python -m bot campaigns list`.",
                    file=sys.stderr,
                )
                return 2
            if not settings.redis_url:
                print("Campaign delivery needs Redis: set REDIS_URL (docs/CAMPAIGNS.md).", file=sys.stderr)
                return 2
            try:
                send_at = _when(args.at)
            except ValueError:
                print("--at takes an ISO time such as 2026-09-01T08:00+03:00", file=sys.stderr)
                return 2
            segment = Segment(args.channel, args.language, args.audience)
            broadcast_id = store.create_broadcast(args.message_id, segment, send_at=send_at, created_by="cli")
            from bot.campaigns.worker import fan_out

            fan_out.send(broadcast_id)
            print(f"Broadcast: {broadcast_id}")
            return 0
        broadcast = store.broadcast(args.broadcast_id)
        if broadcast is None:
            print(f"No broadcast {args.broadcast_id!r}.", file=sys.stderr)
            return 2
        if command == "status":
            progress = store.progress(broadcast.id)
            if args.json:
                print(json.dumps({"id": broadcast.id, "status": broadcast.status, **progress}, sort_keys=True))
            else:
                print(f"{broadcast.id} {broadcast.item_id} {broadcast.status}")
                for state, count in progress.items():
                    print(f"  {state}: {count}")
            return 0
        if command == "pause":
            done = store.set_status(broadcast.id, "paused", only_from=("scheduled", "running"))
        elif command == "cancel":
            done = store.set_status(broadcast.id, "cancelled", only_from=("scheduled", "running", "paused"))
        else:
            from bot.campaigns.worker import resume

            done = resume(broadcast.id)
        print(
            f"{broadcast.id}: {command}d"
            if done
            else f"{broadcast.id}: cannot {command} a {broadcast.status} broadcast"
        )
        return 0 if done else 1
    except CampaignStoreError as error:
        print(f"The campaign database is not available ({error}).", file=sys.stderr)
        return 1

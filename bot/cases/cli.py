"""``python -m bot`` commands for cases: retention, keys, schema and status.

    python -m bot purge [--dry-run] [--days N]   delete cases closed more than N days ago (cron)
    python -m bot new-key                         print a new encryption key
    python -m bot rotate-keys                     re-encrypt every case with the newest key
    python -m bot migrate                         create or migrate the case schema
    python -m bot case-status REFERENCE STATUS    received | with_counselor | closed

None prints anything a user said.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Optional

from bot.cases.crypto import generate_key
from bot.cases.desk import CaseDesk
from bot.cases.models import STATUSES
from bot.cases.reference import normalize_reference
from bot.cases.store import CaseStoreError
from bot.settings import get_settings

__all__ = ["add_commands", "run_command", "COMMANDS"]

COMMANDS = ("purge", "new-key", "rotate-keys", "migrate", "case-status")


def add_commands(commands: Any) -> None:
    """Add the case commands to the CLI's subparsers."""
    purge = commands.add_parser("purge", help="delete closed cases past CASE_RETENTION_DAYS (run it from cron)")
    purge.add_argument("--days", type=int, default=None, help="retention in days (default: CASE_RETENTION_DAYS)")
    purge.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    commands.add_parser("new-key", help="print a new case encryption key")
    commands.add_parser("rotate-keys", help="re-encrypt every case with the first key in CASE_ENCRYPTION_KEYS")
    commands.add_parser("migrate", help="create or migrate the case schema")
    status = commands.add_parser("case-status", help="change a case's status (announced on the stream)")
    status.add_argument("reference")
    status.add_argument("status", choices=STATUSES)


def run_command(args: argparse.Namespace) -> int:
    """Run one of ``COMMANDS``; returns the exit code."""
    if args.command == "new-key":
        print(generate_key())
        return 0
    settings = get_settings()
    desk = CaseDesk.from_settings(settings)
    try:
        return _run(args, desk, settings.case_retention_days)
    except CaseStoreError as error:
        print(f"The case store failed: {error}", file=sys.stderr)
        return 1
    finally:
        desk.close()


def _run(args: argparse.Namespace, desk: CaseDesk, retention_days: int) -> int:
    if desk.store is None:
        print(f"No case store: {desk.problem}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        print(f"Case schema at level {desk.store.migrate()}")
        return 0
    if args.command == "purge":
        days: int = args.days if args.days is not None else retention_days
        count = desk.purge_closed(days, dry_run=args.dry_run)
        verb = "would delete" if args.dry_run else "deleted"
        print(f"{verb} {count} case(s) closed more than {days} day(s) ago")
        return 0
    if args.command == "rotate-keys":
        print(f"re-encrypted {desk.store.rotate_keys()} case(s) with the newest key")
        return 0
    if args.command == "case-status":
        reference: Optional[str] = normalize_reference(args.reference)
        case = desk.set_status(reference, args.status) if reference else None
        if case is None:
            print("No such case.", file=sys.stderr)
            return 1
        print(f"{case.reference}: {case.status}")
        return 0
    return 2

"""``python -m bot counselors ...`` (accounts) and ``python -m bot console`` (serve the console).

    python -m bot counselors add NAME --role counselor|supervisor [--password-stdin]
    python -m bot counselors list
    python -m bot counselors disable NAME      (ends the account's sessions too)
    python -m bot counselors enable NAME
    python -m bot counselors password NAME [--password-stdin]

Passwords are read from a prompt (not echoed) or, for automation, from the first line of standard
input; never from the command line, where other users of the machine and the shell history see them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, Optional

from bot.console.accounts import ROLES, AccountError, Accounts

__all__ = ["add_commands", "run_command", "COMMANDS"]

COMMANDS = ("counselors", "console")


def add_commands(commands: Any) -> None:
    console = commands.add_parser("console", help="serve the counselor console (CONSOLE_PORT, default 8080)")
    console.add_argument("--port", type=int, default=None, help="port (default: $CONSOLE_PORT or 8080)")
    console.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    counselors = commands.add_parser("counselors", help="counselor accounts for the console")
    sub = counselors.add_subparsers(dest="counselors_command", required=True)
    add = sub.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="counselor")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sub.add_parser("list", help="list accounts")
    for name in ("disable", "enable"):
        sub.add_parser(name, help=f"{name} an account").add_argument("name")
    password = sub.add_parser("password", help="set a new password")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


def _read_password(from_stdin: bool) -> Optional[str]:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        print("The passwords differ.", file=sys.stderr)
        return None
    return first


def run_command(args: argparse.Namespace) -> int:
    if args.command == "console":
        from bot.console.app import main

        return main(args.port, args.host)
    from bot.cases.desk import database_url
    from bot.cases.store import CaseStoreError, engine_for
    from bot.console.schema import migrate_console
    from bot.settings import get_settings

    engine = engine_for(database_url(get_settings()))
    try:
        migrate_console(engine)
        return _counselors(args, Accounts(engine))
    except AccountError as error:
        print(str(error), file=sys.stderr)
        return 1
    except (CaseStoreError, OSError) as error:
        print(f"The database failed: {type(error).__name__}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _counselors(args: argparse.Namespace, accounts: Accounts) -> int:
    command = args.counselors_command
    if command == "list":
        for account in accounts.all():
            state = "disabled" if account.disabled else "active"
            print(f"{account.username}\t{account.role}\t{state}")
        return 0
    if command in ("disable", "enable"):
        account = accounts.set_disabled(args.name, command == "disable")
        print(f"{account.username}: {'disabled' if account.disabled else 'enabled'}")
        return 0
    password = _read_password(args.password_stdin)
    if password is None:
        return 1
    if command == "add":
        account = accounts.add(args.name, args.role, password)
        print(f"Added {account.username} ({account.role}).")
        return 0
    if command == "password":
        accounts.set_password(args.name, password)
        print(f"Password changed for {args.name}.")
        return 0
    return 2

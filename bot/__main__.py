"""The Amaan command line: ``python -m bot <command>``.

Commands:
  train [--force]    train a model unless one is cached for the current config and data
  model-path         print the cached model's path for the current config and data
  run                start the Rasa and action servers (what ``make run`` does)
  cluster [--instances N]
                     N Rasa and action servers behind HAProxy (what ``make cluster`` does)
  eval [--json F] [--quiet]
                     figures and gates on the sets in tests/nlu (what ``make eval`` does)
  eval-followups DIR [--json F] [--model M]
                     play the follow-up conversations of DIR/followups_{en,ar}.yml against the
                     assistant and print only aggregate figures (bot/evaluation/followups.py)
  check-content      list problems in data/content and data/campaigns (missing audiences, languages,
                     sources, placeholders, app guides); warn about app guides checked over a year ago
  campaigns list | send ID [--channel C] [--language L] [--audience A] | status ID [--json]
                     what can be broadcast, send one to a segment, its progress (docs/CAMPAIGNS.md)
  purge [--dry-run]  delete cases closed more than CASE_RETENTION_DAYS ago (for cron)
  new-key            print a new case encryption key (see docs/REPORTING.md for rotation)
  rotate-keys        re-encrypt every case with the first key in CASE_ENCRYPTION_KEYS
  migrate            create or migrate the case schema
  case-status REF STATUS
                     set a case to received | with_counselor | closed
  console [--port N]  serve the counselor console (CONSOLE_PORT, default 8080)
  counselors add NAME --role counselor|supervisor [--password-stdin] | list | disable NAME | enable NAME
                     | password NAME   counselor accounts for the console (docs/CONSOLE.md)
  telegram set-webhook [URL]
                     register the Telegram webhook (default $PUBLIC_BASE_URL/webhooks/telegram/webhook)
                     with TELEGRAM_WEBHOOK_SECRET, so every update carries the secret
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, List, Optional

# Must match channels.telegram.ALLOWED_UPDATES (bot/ does not import channels/; a test checks).
TELEGRAM_ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
TELEGRAM_WEBHOOK_PATH = "/webhooks/telegram/webhook"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Amaan command line")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train unless a model is cached for the current inputs")
    train.add_argument("--force", action="store_true", help="train even if a cached model exists")
    commands.add_parser("model-path", help="print the cached model path for the current inputs")
    run = commands.add_parser("run", help="start the Rasa server and the action server")
    run.add_argument("--port", type=int, default=None, help="Rasa server port (default: $PORT or 5005)")
    run.add_argument("--actions-port", type=int, default=None, help="action server port (default 5055)")
    run.add_argument("--console-port", type=int, default=None, help="console port (default: $CONSOLE_PORT or 8080)")
    cluster = commands.add_parser("cluster", help="N Rasa and action servers behind HAProxy")
    cluster.add_argument("--instances", type=int, default=2, help="Rasa servers and action servers (default 2)")
    evaluate = commands.add_parser("eval", help="evaluate NLU and the danger net on the held-out set")
    evaluate.add_argument("--json", default=None, help="also write the figures to this JSON file")
    evaluate.add_argument("--quiet", action="store_true", help="figures only, not the development sets' errors")
    evaluate.add_argument("--dev-only", action="store_true", help="the development sets only (while changing things)")
    followups = commands.add_parser("eval-followups", help="figures on held-out follow-up conversations")
    followups.add_argument("folder", help="folder with followups_en.yml and followups_ar.yml")
    followups.add_argument("--json", default=None, help="also write the figures to this JSON file")
    followups.add_argument("--model", default=None, help="a trained model (default: the one for the current data)")
    followups.add_argument(
        "--show-errors", action="store_true", help="list the conversations answered wrong (development sets only)"
    )
    commands.add_parser("check-content", help="list problems in the reply content")
    from bot.cases.cli import COMMANDS as CASE_COMMANDS
    from bot.cases.cli import add_commands as add_case_commands

    add_case_commands(commands)
    from bot.console.cli import COMMANDS as CONSOLE_COMMANDS
    from bot.console.cli import add_commands as add_console_commands

    add_console_commands(commands)
    from bot.campaigns.cli import COMMANDS as CAMPAIGN_COMMANDS
    from bot.campaigns.cli import add_commands as add_campaign_commands

    add_campaign_commands(commands)
    telegram = commands.add_parser("telegram", help="Telegram set-up")
    telegram_commands = telegram.add_subparsers(dest="telegram_command", required=True)
    set_webhook = telegram_commands.add_parser(
        "set-webhook", help="register the webhook URL with TELEGRAM_WEBHOOK_SECRET"
    )
    set_webhook.add_argument(
        "url", nargs="?", default=None, help=f"https URL (default: $PUBLIC_BASE_URL{TELEGRAM_WEBHOOK_PATH})"
    )
    set_webhook.add_argument("--drop-pending-updates", action="store_true", help="discard updates Telegram has queued")
    args = parser.parse_args(argv)

    if args.command == "train":
        from bot.model import ensure_model

        print(ensure_model(force=args.force))
        return 0
    if args.command == "model-path":
        from bot.model import model_path

        print(model_path())
        return 0
    if args.command == "cluster":
        from bot.cluster import main as cluster_main

        return cluster_main(args.instances)
    if args.command == "run":
        from bot.run import main as run_main

        return run_main(args.port, args.actions_port, args.console_port)
    if args.command == "eval":
        from bot.evaluation import main as eval_main

        return eval_main(args.json, show_errors=not args.quiet, dev_only=args.dev_only)
    if args.command == "eval-followups":
        from pathlib import Path

        from bot.evaluation.followups import main as followups_main

        return followups_main(
            Path(args.folder), args.json, Path(args.model) if args.model else None, show_errors=args.show_errors
        )
    if args.command in CASE_COMMANDS:
        from bot.cases.cli import run_command

        return run_command(args)
    if args.command in CONSOLE_COMMANDS:
        from bot.console.cli import run_command as run_console_command

        return run_console_command(args)
    if args.command in CAMPAIGN_COMMANDS:
        from bot.campaigns.cli import run_command as run_campaign_command

        return run_campaign_command(args)
    if args.command == "check-content":
        from bot.campaigns.content import CampaignLibrary
        from bot.content_check import check_content
        from bot.settings import get_settings

        problems, warnings = check_content(get_settings().data_dir)
        problems += CampaignLibrary.load(get_settings().data_dir).problems()
        for problem in problems:
            print(problem)
        for warning in warnings:
            print(f"warning: {warning}")
        print(f"{len(problems)} problem(s), {len(warnings)} warning(s)")
        return 1 if problems else 0
    if args.command == "telegram" and args.telegram_command == "set-webhook":
        return telegram_set_webhook(args.url, args.drop_pending_updates)
    return 2


def telegram_set_webhook(url: Optional[str], drop_pending_updates: bool = False, request: Any = None) -> int:
    """Point Telegram at our webhook, with the secret it must send back on every update.

    Args:
        url: the public https URL; defaults to ``PUBLIC_BASE_URL`` + the webhook path.
        drop_pending_updates: discard what Telegram queued while no webhook answered.
        request: a ``telegram.request.BaseRequest`` to talk through (tests pass an offline one).
    """
    from bot.settings import get_settings

    settings = get_settings()
    if not settings.telegram_bot_token or not settings.telegram_webhook_secret:
        print("Set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET first (see docs/CHANNELS.md).", file=sys.stderr)
        return 2
    url = url or (f"{settings.public_base_url}{TELEGRAM_WEBHOOK_PATH}" if settings.public_base_url else None)
    if not url or not url.startswith("https://"):
        print("Telegram only calls https URLs: give one, or set PUBLIC_BASE_URL.", file=sys.stderr)
        return 2

    async def register() -> Any:
        from telegram import Bot

        api = settings.telegram_api_base_url
        async with Bot(
            settings.telegram_bot_token or "",
            base_url=f"{api}/bot",
            base_file_url=f"{api}/file/bot",
            request=request,
            get_updates_request=request,
        ) as bot:
            await bot.set_webhook(
                url,
                secret_token=settings.telegram_webhook_secret,
                allowed_updates=TELEGRAM_ALLOWED_UPDATES,
                drop_pending_updates=drop_pending_updates,
            )
            return await bot.get_webhook_info()

    from telegram.error import TelegramError

    try:
        info = asyncio.run(register())
    except TelegramError as error:
        print(f"Telegram refused the webhook: {error}", file=sys.stderr)
        return 1
    print(f"Webhook set: {info.url} (pending updates: {info.pending_update_count})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

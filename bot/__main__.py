"""The Amaan command line: ``python -m bot <command>``.

Commands:
  train [--force]    train a model unless one is cached for the current config and data
  model-path         print the cached model's path for the current config and data
  run                start the Rasa and action servers (what ``make run`` does)
  eval               evaluate on the held-out set in tests/nlu (what ``make eval`` does)
  check-content      list problems in data/content (missing audiences, languages, placeholders)
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Amaan command line")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train unless a model is cached for the current inputs")
    train.add_argument("--force", action="store_true", help="train even if a cached model exists")
    commands.add_parser("model-path", help="print the cached model path for the current inputs")
    run = commands.add_parser("run", help="start the Rasa server and the action server")
    run.add_argument("--port", type=int, default=None, help="Rasa server port (default: $PORT or 5005)")
    run.add_argument("--actions-port", type=int, default=None, help="action server port (default 5055)")
    evaluate = commands.add_parser("eval", help="evaluate NLU and the danger net on the held-out set")
    evaluate.add_argument("--json", default=None, help="also write the figures to this JSON file")
    commands.add_parser("check-content", help="list problems in the reply content")
    args = parser.parse_args(argv)

    if args.command == "train":
        from bot.model import ensure_model

        print(ensure_model(force=args.force))
        return 0
    if args.command == "model-path":
        from bot.model import model_path

        print(model_path())
        return 0
    if args.command == "run":
        from bot.run import main as run_main

        return run_main(args.port, args.actions_port)
    if args.command == "eval":
        from bot.evaluate import main as eval_main

        return eval_main(args.json)
    if args.command == "check-content":
        from bot.content import ContentLibrary
        from bot.settings import get_settings

        problems = ContentLibrary.load(get_settings().data_dir).problems()
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s)")
        return 1 if problems else 0
    return 2


if __name__ == "__main__":
    sys.exit(main())

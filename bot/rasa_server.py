"""``python -m bot.rasa_server [rasa run options]``: ``rasa run``, with the HTTP API's token taken
from ``RASA_API_TOKEN`` in the environment instead of the command line.

Rasa 3.6 reads the token only from ``--auth-token`` (rasa/cli/arguments/run.py), and a process's
command line is readable by every user of the machine (``ps``, /proc/<pid>/cmdline); its environment
is readable only by its owner. So ``bot.run`` starts this module with the token in the environment,
and the options are handed to Rasa's own command line inside the process: ``ps`` shows the command
without the token.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

__all__ = ["rasa_argv", "main"]

TOKEN_ENV = "RASA_API_TOKEN"  # noqa: S105 - the name of a variable


def rasa_argv(options: List[str], token: Optional[str]) -> List[str]:
    """The ``rasa run`` command line for ``options``; with a token, the HTTP API on behind it."""
    argv = ["rasa", "run", *options]
    if token:
        argv += ["--enable-api", "--auth-token", token]
    return argv


def main() -> None:
    from rasa.__main__ import main as rasa_main

    sys.argv = rasa_argv(sys.argv[1:], os.environ.get(TOKEN_ENV) or None)
    rasa_main()


if __name__ == "__main__":
    main()

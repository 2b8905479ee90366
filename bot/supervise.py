"""Start a process again when it dies: what ``make run`` and ``make cluster`` do for each of theirs.

``Restartable`` is a ``subprocess.Popen`` that remembers its role and how it was started.
``supervise`` watches a list of them and, when one exits without being asked to, logs a line
(``supervisor.restart role=... pid=... exit=...``) and starts it again in its place, waiting a
little longer after each quick death (1 s doubling to 30 s), so a process that cannot start does
not spin. The others keep serving meanwhile: a dead action server never takes the Rasa server with it.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

__all__ = ["Restartable", "supervise"]

logger = logging.getLogger(__name__)

QUICK_DEATH = 60.0  # seconds: dying sooner than this after a start counts as a failed start
FIRST_DELAY, MAX_DELAY = 1.0, 30.0


class Restartable(subprocess.Popen):
    """A child process with a role ("rasa", "actions", "console", "haproxy", …) it can be started
    again with (``respawn``)."""

    def __init__(self, role: str, args: List[str], port: Optional[int] = None, **kwargs: Any) -> None:
        self.role = role
        self.port = port
        self.spawn_kwargs: Dict[str, Any] = kwargs
        self.started_at = time.monotonic()
        self.restarts = 0
        super().__init__(args, **kwargs)  # noqa: S603 - our own argument lists

    def respawn(self) -> Restartable:
        again = Restartable(self.role, list(self.args), self.port, **self.spawn_kwargs)  # type: ignore[arg-type]
        again.restarts = self.restarts + 1
        return again

    def describe(self) -> str:
        port = f" port={self.port}" if self.port else ""
        return f"role={self.role}{port} pid={self.pid}"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
    logger.warning(line)


def supervise(
    processes: List[Any],
    keep_going: Callable[[], bool] = lambda: True,
    poll: float = 0.5,
    on_restart: Optional[Callable[[Restartable, Restartable], None]] = None,
) -> None:
    """Restart, in place in ``processes``, every ``Restartable`` that exits, until ``keep_going()``
    says stop (the caller's Ctrl-C or SIGTERM handler stops the processes afterwards)."""
    due: Dict[int, float] = {}  # index -> when to start it again
    delays: Dict[int, float] = {}
    while keep_going():
        now = time.monotonic()
        for index, process in enumerate(processes):
            if not isinstance(process, Restartable) or process.poll() is None:
                continue
            if index not in due:
                quick = now - process.started_at < QUICK_DEATH
                delay = min(delays.get(index, FIRST_DELAY / 2) * 2, MAX_DELAY) if quick else FIRST_DELAY
                delays[index] = delay
                due[index] = now + delay
                _say(
                    f"supervisor.exited {process.describe()} exit={process.returncode}; "
                    f"starting it again in {delay:.0f} s"
                )
            elif now >= due[index]:
                del due[index]
                again = process.respawn()
                processes[index] = again
                _say(f"supervisor.restarted {again.describe()} restarts={again.restarts}")
                if on_restart is not None:
                    on_restart(process, again)
        time.sleep(poll)

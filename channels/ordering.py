"""Work for one chat runs in the order it arrived; different chats run side by side.

Webhooks answer at once and process in the background, so two quick messages from one user
would otherwise race through the awaits before Rasa's lock store (de-duplication, Redis look-ups)
and could reach the model in the wrong order. ``submit`` is synchronous and chains each chat's
work behind its previous work, so arrival order is kept without any lock to forget to release.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Dict, Optional, Set

__all__ = ["ChatSequencer"]

logger = logging.getLogger(__name__)


class ChatSequencer:
    """Runs ``work()`` for each chat key strictly in submission order, and tracks what runs."""

    def __init__(self, name: str):
        self._name = name
        self._tails: Dict[str, asyncio.Task] = {}
        self._tasks: Set[asyncio.Task] = set()

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def submit(self, key: str, work: Callable[[], Awaitable[None]]) -> asyncio.Task:
        """Schedule ``work`` after everything already submitted for ``key``; return at once."""
        previous = self._tails.get(key)
        task = asyncio.get_running_loop().create_task(self._run(previous, work))
        self._tails[key] = task
        self._tasks.add(task)

        def done(finished: asyncio.Task) -> None:
            self._tasks.discard(finished)
            if self._tails.get(key) is finished:
                del self._tails[key]

        task.add_done_callback(done)
        return task

    async def _run(self, previous: Optional[asyncio.Task], work: Callable[[], Awaitable[None]]) -> None:
        if previous is not None:
            # Wait for the chat's previous work however it ended; its failure is already logged.
            await asyncio.wait([previous])
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - one failed message must not stop the chat
            # The type only: exception texts from the platforms can quote a phone number.
            logger.warning("%s.process.failed error=%s", self._name, type(error).__name__)
            logger.debug("%s.process.failed", self._name, exc_info=True)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until all submitted work has finished (or ``timeout``); cancel what is left."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                for task in list(self._tasks):
                    task.cancel()
                logger.warning("%s.drain.timeout cancelled=%d", self._name, len(self._tasks))
                await asyncio.gather(*self._tasks, return_exceptions=True)
                return
            await asyncio.wait(list(self._tasks), timeout=remaining)

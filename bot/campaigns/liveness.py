"""Which campaign worker processes are alive: each keeps a Redis key with a short expiry, renewed
by a thread of its own, and signs the delivery rows it claims with its id.

A row left in ``sending`` by a process whose key has expired was being sent when that process died
(``kill -9``, a crash, a lost machine); by then the kernel has closed its connections, so whatever
the platform received is all it will ever receive, and the row can be resolved
(``bot.campaigns.delivery``). A row signed by a live process is still in its hands: it is left
alone, however long its request takes.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Optional

__all__ = ["WorkerLiveness", "LIVENESS_TTL"]

logger = logging.getLogger(__name__)

LIVENESS_TTL = 5.0  # seconds without a renewal before a worker counts as dead
_KEY = "amaan:camp:worker:{id}"


class WorkerLiveness:
    """This process's id and its heartbeat key; ``alive(id)`` for any worker's."""

    def __init__(self, redis: Any, ttl: float = LIVENESS_TTL, worker_id: Optional[str] = None):
        self.redis = redis
        self.ttl = ttl
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self._started = False
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _beat(self) -> None:
        self.redis.set(_KEY.format(id=self.worker_id), "1", px=int(self.ttl * 1000))

    def ensure_started(self) -> None:
        """Beat now and every third of the expiry from a daemon thread (started once, on first claim)."""
        with self._lock:
            if self._started:
                return
            self._beat()  # raises when Redis is down: then nothing is claimed either
            self._started = True
        threading.Thread(target=self._run, name="campaign-liveness", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self._beat()
            except Exception as error:  # noqa: BLE001 - keep beating; a missed beat is only a delay
                logger.warning("campaigns.liveness.beat_failed error=%s", type(error).__name__)

    def alive(self, worker_id: str) -> bool:
        return worker_id == self.worker_id or bool(self.redis.exists(_KEY.format(id=worker_id)))

    def stop(self) -> None:
        self._stop.set()
        self.redis.delete(_KEY.format(id=self.worker_id))

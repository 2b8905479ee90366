"""Which button payloads the bot has just offered each user.

A payload typed by hand is treated as plain text (see ``bot.inbound``); one that the bot offered in
its last replies to that user passes. Kept in memory for a single server, or in Redis (``REDIS_URL``)
when several replicas share the users.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

__all__ = ["OfferedPayloads", "MemoryOfferedPayloads", "RedisOfferedPayloads", "payloads_in", "offered_store"]

logger = logging.getLogger(__name__)

TTL_SECONDS = 24 * 3600


def payloads_in(messages: Iterable[Dict[str, Any]]) -> List[str]:
    """The button and quick-reply payloads in a batch of bot replies."""
    found: List[str] = []
    for message in messages:
        for key in ("buttons", "quick_replies"):
            for button in message.get(key) or []:
                payload = button.get("payload") if isinstance(button, dict) else None
                if isinstance(payload, str) and payload:
                    found.append(payload)
    return found


class OfferedPayloads:
    """Interface: remember the payloads offered to a sender; tell which are offered now."""

    async def remember(self, sender_id: str, payloads: List[str]) -> None:
        raise NotImplementedError

    async def current(self, sender_id: str) -> Set[str]:
        raise NotImplementedError


class MemoryOfferedPayloads(OfferedPayloads):
    """Per-process store with a bounded number of senders and a time limit."""

    def __init__(self, max_senders: int = 100_000, ttl: float = TTL_SECONDS):
        self._data: OrderedDict[str, Tuple[float, Set[str]]] = OrderedDict()
        self._max = max_senders
        self._ttl = ttl

    async def remember(self, sender_id: str, payloads: List[str]) -> None:
        if not payloads:
            return
        self._data[sender_id] = (time.monotonic() + self._ttl, set(payloads))
        self._data.move_to_end(sender_id)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    async def current(self, sender_id: str) -> Set[str]:
        entry = self._data.get(sender_id)
        if not entry or entry[0] < time.monotonic():
            return set()
        return entry[1]


class RedisOfferedPayloads(OfferedPayloads):
    """Shared store in Redis; if Redis is unreachable, typed payloads are treated as text."""

    def __init__(self, url: str, ttl: int = TTL_SECONDS, prefix: str = "amaan:offered:"):
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._ttl = ttl
        self._prefix = prefix

    async def remember(self, sender_id: str, payloads: List[str]) -> None:
        if not payloads:
            return
        try:
            await self._redis.set(self._prefix + sender_id, json.dumps(payloads), ex=self._ttl)
        except Exception:  # noqa: BLE001 - fail closed: the button will be read as text
            logger.warning("offered.redis.unavailable")

    async def current(self, sender_id: str) -> Set[str]:
        try:
            raw = await self._redis.get(self._prefix + sender_id)
        except Exception:  # noqa: BLE001
            logger.warning("offered.redis.unavailable")
            return set()
        return set(json.loads(raw)) if raw else set()


_store: Optional[OfferedPayloads] = None


def offered_store(redis_url: Optional[str]) -> OfferedPayloads:
    """The process-wide store: Redis when configured, else memory."""
    global _store
    if _store is None:
        _store = RedisOfferedPayloads(redis_url) if redis_url else MemoryOfferedPayloads()
    return _store

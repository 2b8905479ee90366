"""Small pieces of channel state (button keys, numbered choices, opt-outs, encrypted addresses).

Kept in Redis when ``REDIS_URL`` is set, so that every Rasa replica sees them, and always in a
bounded in-process memory as well: if Redis is down, a single server keeps working from memory
and says so in the log (``state.redis.unavailable``). ``channels.platform.ChannelState`` bundles
this store with what else a connector opens when the server starts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from typing import Any, List, Optional, Set, Tuple, Type

from redis.exceptions import RedisError

from bot.offered import TTL_SECONDS as OFFERED_TTL
from bot.offered import OfferedPayloads

__all__ = ["REDIS_ERRORS", "KeyValue", "KeyValueOfferedPayloads", "MemoryKeyValue", "open_redis"]

logger = logging.getLogger(__name__)

PREFIX = "amaan:"


# What a Redis call raises when Redis is down or slow.
REDIS_ERRORS: Tuple[Type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)


def open_redis(url: Optional[str]) -> Any:
    """An asyncio Redis client for ``url`` (no connection is made yet), or None without a URL.

    Short timeouts: a channel would rather fall back to memory than keep a user waiting.
    """
    if not url:
        return None
    import redis.asyncio as redis

    return redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


class MemoryKeyValue:
    """Per-process key/value store with expiry and a bounded number of keys (oldest dropped)."""

    def __init__(self, max_keys: int = 100_000):
        self._data: OrderedDict[str, Tuple[float, bytes]] = OrderedDict()
        self._max = max_keys

    def get(self, key: str) -> Optional[bytes]:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._data[key]
            return None
        return entry[1]

    def put(self, key: str, value: bytes, ttl: int) -> None:
        self._data[key] = (time.monotonic() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def put_new(self, key: str, value: bytes, ttl: int) -> bool:
        """Set ``key`` unless it is present; True when it was set."""
        if self.get(key) is not None:
            return False
        self.put(key, value, ttl)
        return True

    def delete(self, key: str) -> None:
        self._data.pop(key, None)


class KeyValue:
    """Redis (when configured) with an in-memory copy that answers when Redis cannot.

    Writes go to both; reads trust Redis whenever it answers, so that replicas agree, and use
    memory only when it does not.
    """

    def __init__(self, redis: Any = None, memory: Optional[MemoryKeyValue] = None):
        self.redis = redis
        self.memory = memory or MemoryKeyValue()

    async def get(self, key: str) -> Optional[bytes]:
        if self.redis is not None:
            try:
                value = await self.redis.get(PREFIX + key)
                return bytes(value) if value is not None else None
            except REDIS_ERRORS:
                logger.warning("state.redis.unavailable op=get")
        return self.memory.get(key)

    async def put(self, key: str, value: bytes, ttl: int) -> None:
        self.memory.put(key, value, ttl)
        if self.redis is not None:
            try:
                await self.redis.set(PREFIX + key, value, ex=ttl)
            except REDIS_ERRORS:
                logger.warning("state.redis.unavailable op=put")

    async def delete(self, key: str) -> None:
        self.memory.delete(key)
        if self.redis is not None:
            try:
                await self.redis.delete(PREFIX + key)
            except REDIS_ERRORS:
                logger.warning("state.redis.unavailable op=delete")

    async def close(self) -> None:
        if self.redis is not None:
            try:
                await self.redis.close(close_connection_pool=True)
            except REDIS_ERRORS:
                pass


class KeyValueOfferedPayloads(OfferedPayloads):
    """``bot.offered``'s interface and Redis keys (``amaan:offered:<sender>``), on a shared client.

    When Redis is down it answers from this process's memory: still only payloads this server
    itself offered to that sender, so typed payloads stay text.
    """

    def __init__(self, state: KeyValue, ttl: int = OFFERED_TTL):
        self._state = state
        self._ttl = ttl

    async def remember(self, sender_id: str, payloads: List[str]) -> None:
        if payloads:
            await self._state.put(f"offered:{sender_id}", json.dumps(payloads).encode(), self._ttl)

    async def current(self, sender_id: str) -> Set[str]:
        raw = await self._state.get(f"offered:{sender_id}")
        try:
            return set(json.loads(raw)) if raw else set()
        except ValueError:
            return set()

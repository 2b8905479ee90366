"""Process each delivery once, although Telegram and Twilio deliver at least once.

Both platforms retry a webhook they think failed, and several Rasa replicas may receive the
copies. The first to ``SET key NX EX`` in Redis processes the delivery; the others drop it. If
Redis is down we would rather answer twice than not at all: the delivery is processed (unless this
same process has already seen it) and ``dedup.redis.unavailable`` is logged.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from channels.state import PREFIX, REDIS_ERRORS, MemoryKeyValue

__all__ = ["Deduplicator", "DEFAULT_TTL"]

logger = logging.getLogger(__name__)

# Telegram gives up on an update after about a day of failed attempts; Twilio much sooner.
DEFAULT_TTL = 24 * 3600


class Deduplicator:
    """``await first_time(key)`` is True for the first delivery of ``key`` and False for copies."""

    def __init__(self, redis: Any = None, ttl: int = DEFAULT_TTL, memory: Optional[MemoryKeyValue] = None):
        self.redis = redis
        self.ttl = ttl
        self._memory = memory or MemoryKeyValue()

    async def first_time(self, key: str, ttl: Optional[int] = None) -> bool:
        """Claim ``key`` (e.g. ``tg:upd:<bot>:<update_id>``) for ``ttl`` seconds."""
        ttl = ttl or self.ttl
        seen_here = not self._memory.put_new(key, b"1", ttl)
        if self.redis is None:
            return not seen_here
        try:
            claimed = await self.redis.set(PREFIX + "dedup:" + key, b"1", nx=True, ex=ttl)
        except REDIS_ERRORS:
            logger.warning("dedup.redis.unavailable processing_anyway=%s", not seen_here)
            return not seen_here
        return bool(claimed)

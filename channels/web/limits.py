"""How much one client address may ask of the widget's channel: new conversations and messages,
each counted in a fixed window, so that a flood from one address can neither evict real
children's sessions (the in-memory store keeps the newest 100,000) nor fill Redis.

The address is Sanic's ``request.remote_addr`` (the ``Forwarded``/``X-Forwarded-For`` address,
believed only when the server is told it sits behind a proxy: ``SANIC_PROXIES_COUNT`` or
``SANIC_REAL_IP_HEADER``), else the peer's address; a header from anyone else is ignored. Counters
are kept under a hash of the address, in Redis when ``REDIS_URL`` is set (one limit across every
Rasa server), else in memory; with Redis down, in memory.

The limits are generous on purpose: a school's pupils share one address behind its NAT, and a
child must never be refused because the class is online too.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any, Dict, Optional, Tuple

from channels.state import PREFIX, REDIS_ERRORS, open_redis

__all__ = ["AddressLimiter", "LIMITS", "client_address"]

logger = logging.getLogger(__name__)

# kind -> (how many, per how many seconds)
LIMITS: Dict[str, Tuple[int, int]] = {
    "session": (60, 600),  # new conversations per address per 10 minutes
    "message": (300, 60),  # messages per address per minute
}


def client_address(environ: Dict[str, Any]) -> str:
    """The client's address as Sanic sees it (see the module docs), from a socket.io environ."""
    request = environ.get("sanic.request")
    if request is not None:
        return str(getattr(request, "remote_addr", "") or getattr(request, "ip", "") or "unknown")
    return str(environ.get("REMOTE_ADDR") or "unknown")


class AddressLimiter:
    """``await allow(kind, address)``: True while the address is within ``limits[kind]``."""

    def __init__(self, redis_url: Optional[str] = None, limits: Optional[Dict[str, Tuple[int, int]]] = None):
        self.limits = dict(limits or LIMITS)
        self._redis = open_redis(redis_url)
        self._memory: Dict[str, Tuple[int, int]] = {}  # key -> (window, count)

    async def allow(self, kind: str, address: str) -> bool:
        most, seconds = self.limits[kind]
        window = int(time.time()) // seconds
        key = f"web:rate:{kind}:{hashlib.sha256(address.encode()).hexdigest()[:32]}:{window}"
        count = await self._count(key, seconds)
        if count > most:
            if count == most + 1:  # once per window, not for every refused request
                logger.warning("web.rate_limited kind=%s", kind)
            return False
        return True

    async def _count(self, key: str, seconds: int) -> int:
        if self._redis is not None:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(PREFIX + key)
                    pipe.expire(PREFIX + key, seconds)
                    count, _ = await pipe.execute()
                return int(count)
            except REDIS_ERRORS:
                logger.warning("web.rate.redis_unavailable counting_in_memory=true")
        return self._count_in_memory(key)

    def _count_in_memory(self, key: str) -> int:
        window = int(key.rsplit(":", 1)[1])
        if len(self._memory) > 100_000:  # old windows go first
            self._memory = {k: v for k, v in self._memory.items() if v[0] >= window}
        previous = self._memory.get(key)
        count = (previous[1] if previous else 0) + 1
        self._memory[key] = (window, count)
        return count

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close()

"""Sending pace shared by every worker process and thread, in Redis.

Each send reserves the next free slot of its key (``interval = 1 / rate``) in one Lua script run
on Redis's own clock, and sleeps until it: the rate holds overall however many workers run, and
messages go out evenly rather than in bursts. Keys: ``tg`` (Telegram, about 25/s for the whole
bot), ``tg:<chat>`` (1/s per chat), ``wa:<sender>`` (a Twilio WhatsApp sender, 10/s by default).
A 429 pushes the key's next slot past ``retry_after`` (``hold``), so every worker waits it out.

Why not Dramatiq's rate limiters: they refuse work over the limit (raising or skipping) and count
per window, so a window's quota leaves in a burst at its start; a platform counts per second and
penalises bursts, so an even pace is what we need.
"""

from __future__ import annotations

import time
from typing import Any, Callable

__all__ = ["Pacer", "PREFIX"]

PREFIX = "amaan:camp:pace:"

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, last + tonumber(ARGV[1]))
redis.call('SET', KEYS[1], string.format('%d', slot), 'PX', math.floor((slot - now) / 1000) + 60000)
return slot - now
"""

_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ = now + tonumber(ARGV[1])
if until_ > last then
  redis.call('SET', KEYS[1], string.format('%d', until_), 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 60000)
end
return 0
"""


class Pacer:
    """``wait(key, rate)`` blocks until this caller's slot; ``hold(key, seconds)`` delays everyone."""

    def __init__(self, redis: Any, sleep: Callable[[float], None] = time.sleep, prefix: str = PREFIX):
        self._reserve = redis.register_script(_RESERVE)
        self._hold = redis.register_script(_HOLD)
        self._sleep = sleep
        self._prefix = prefix

    def wait(self, key: str, rate: float) -> float:
        """Reserve the next slot of ``key`` at ``rate`` per second and sleep until it; returns the wait."""
        micros = int(self._reserve(keys=[self._prefix + key], args=[max(1, int(1_000_000 / rate))]))
        seconds = micros / 1_000_000
        if seconds > 0:
            self._sleep(seconds)
        return seconds

    def hold(self, key: str, seconds: float) -> None:
        """Nobody sends on ``key`` for ``seconds`` (a platform's 429 ``retry_after``)."""
        self._hold(keys=[self._prefix + key], args=[int(seconds * 1_000_000)])

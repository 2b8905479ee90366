"""Sending pace shared by every worker process and thread, in Redis.

Each send reserves the next free slot of its key (``interval = 1 / rate``) in one Lua script run
on Redis's own clock, and sleeps until it: the rate holds overall however many workers run, and
messages go out evenly rather than in bursts. Keys: ``tg`` (Telegram, about 25/s for the whole
bot), ``tg:<chat>`` (1/s per chat), ``wa:<sender>`` (a Twilio WhatsApp sender, 10/s by default).
A 429 pushes the key's next slot past ``retry_after`` (``hold``), so every worker waits it out.
``wait_all`` reserves one slot that suits several keys (a Telegram chat's and the bot's) in one
round trip: the first slot free on all of them, taken on each.

Why not Dramatiq's rate limiters: they refuse work over the limit (raising or skipping) and count
per window, so a window's quota leaves in a burst at its start; a platform counts per second and
penalises bursts, so an even pace is what we need.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence, Tuple

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

# KEYS: the keys; ARGV: their intervals (microseconds). The first slot free on every key, taken on each.
_RESERVE_ALL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = now
for i, key in ipairs(KEYS) do
  local last = tonumber(redis.call('GET', key) or '0')
  slot = math.max(slot, last + tonumber(ARGV[i]))
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%d', slot), 'PX', math.floor((slot - now) / 1000) + 60000)
end
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
        self._reserve_all = redis.register_script(_RESERVE_ALL)
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

    def wait_all(self, rates: Sequence[Tuple[str, float]]) -> float:
        """One slot at once for every ``(key, rate)``, reserved in one round trip; sleep until it."""
        keys = [self._prefix + key for key, _ in rates]
        intervals = [max(1, int(1_000_000 / rate)) for _, rate in rates]
        seconds = int(self._reserve_all(keys=keys, args=intervals)) / 1_000_000
        if seconds > 0:
            self._sleep(seconds)
        return seconds

    def hold(self, key: str, seconds: float) -> None:
        """Nobody sends on ``key`` for ``seconds`` (a platform's 429 ``retry_after``)."""
        self._hold(keys=[self._prefix + key], args=[int(seconds * 1_000_000)])

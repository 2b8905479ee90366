"""The conversation lock that several Rasa servers share: tickets issued atomically in Redis.

Rasa serves one message of a conversation at a time by a ticket lock. Its ``RedisLockStore``
issues a ticket by reading the lock (one JSON value), appending a ticket and writing it back, with
no atomic step (Rasa #9213; the atomic fix, PR #11256, was reverted from Rasa Open Source): two
servers that take a message of the same user in the same millisecond can both get ticket N and
process the two messages at once, so the replies come out of order and one turn's slots or events
overwrite the other's.

``AtomicRedisLockStore`` keeps, per conversation, a counter (``INCR`` gives every ticket a number no
other server can get), a sorted set of the tickets waiting, and one key per ticket that expires
with the ticket (``TICKET_LOCK_LIFETIME``, 60 s by default). Issuing, checking whose turn it is and
returning a ticket are each one Lua script, so they are atomic in Redis; a ticket whose server died
expires and the next one is served. It also waits for its turn in short steps (5 to 50 ms) instead
of Rasa's one second, so a burst of three messages is answered in a fraction of a second.

When Redis cannot be reached (down, restarting, still loading), a message is not refused: it is
served under an in-process lock for its conversation (``lock.redis.unavailable`` is logged), so a
child still gets an answer. For that moment, two servers could serve two messages of one user at
once; one server never does. The next message after Redis answers again takes a ticket as before.

``bot.run`` configures it whenever ``REDIS_URL`` is set (``type: bot.locks.AtomicRedisLockStore``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Deque, List, Optional

import redis.exceptions
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

__all__ = ["AtomicRedisLockStore"]

logger = logging.getLogger(__name__)

# KEYS: counter, queue. ARGV: ticket key prefix, lifetime in ms. Returns the new ticket's number.
_ISSUE = """
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], n, n)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', ARGV[1] .. n, '1', 'PX', ARGV[2])
return n
"""

# KEYS: queue. ARGV: ticket key prefix. Drops expired tickets from the head; returns the number
# being served, or -1 when no ticket is left.
_SERVING = """
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #head == 0 then return -1 end
  if redis.call('EXISTS', ARGV[1] .. head[1]) == 1 then return tonumber(head[1]) end
  redis.call('ZREM', KEYS[1], head[1])
end
"""

# KEYS: queue. ARGV: ticket key prefix, ticket number.
_RETURN = """
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('DEL', ARGV[1] .. ARGV[2])
return redis.call('ZCARD', KEYS[1])
"""

# What a Redis call raises when Redis is down, restarting or still loading its data.
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
# In-process locks while Redis is down: a fixed set, a conversation's chosen by its id's hash (two
# conversations may share one and wait for each other; no memory grows with the conversations).
LOCAL_STRIPES = 256

FIRST_WAIT = 0.005  # seconds; doubled up to MAX_WAIT while another message of the user is served
MAX_WAIT = 0.05


class AtomicRedisLockStore(LockStore):
    """Rasa's lock store interface with tickets issued atomically in Redis (see the module)."""

    def __init__(
        self,
        host: str = "localhost",
        port: int = 6379,
        db: int = 1,
        username: Optional[str] = None,
        password: Optional[str] = None,
        use_ssl: bool = False,
        key_prefix: Optional[str] = None,
        socket_timeout: float = 10,
        endpoint_config: Optional[EndpointConfig] = None,
        **_: Any,
    ) -> None:
        import redis

        if endpoint_config is not None:  # how Rasa builds a lock store named by its class path
            options = dict(endpoint_config.kwargs)
            host = endpoint_config.url or host
            port = int(options.get("port", port))
            db = int(options.get("db", db))
            username = options.get("username", username)
            password = options.get("password", password)
            use_ssl = bool(options.get("use_ssl", use_ssl))
            key_prefix = options.get("key_prefix", key_prefix)
            socket_timeout = float(options.get("socket_timeout", socket_timeout))
        self.red = redis.StrictRedis(
            host=host,
            port=int(port),
            db=int(db),
            username=username,
            password=password,
            ssl=use_ssl,
            socket_timeout=socket_timeout,
        )
        self.prefix = f"{key_prefix}:lock2:" if key_prefix else "lock2:"
        self._issue = self.red.register_script(_ISSUE)
        self._serving = self.red.register_script(_SERVING)
        self._return = self.red.register_script(_RETURN)
        self._stripes: List[asyncio.Lock] = []
        super().__init__()

    # --- keys -------------------------------------------------------------------------------------

    def _keys(self, conversation_id: str) -> tuple:
        base = self.prefix + conversation_id
        return f"{base}:seq", f"{base}:queue", f"{base}:ticket:"

    # --- the three atomic steps -------------------------------------------------------------------

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        counter, queue, tickets = self._keys(conversation_id)
        try:
            return int(self._issue(keys=[counter, queue], args=[tickets, max(1, int(lock_lifetime * 1000))]))
        except Exception as e:  # noqa: BLE001 - Rasa expects a LockError for any store failure
            raise LockError(f"Error while acquiring lock. Error:\n{e}") from e

    def now_serving(self, conversation_id: str) -> int:
        """The ticket being served (-1: none left)."""
        _, queue, tickets = self._keys(conversation_id)
        return int(self._serving(keys=[queue], args=[tickets]))

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        _, queue, tickets = self._keys(conversation_id)
        self._return(keys=[queue], args=[tickets, ticket_number])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # The queue disappears with its last ticket (Redis drops an empty sorted set); the counter
        # stays until it expires, so numbers never go backwards while tickets may still exist.
        self.finish_serving(conversation_id, ticket_number)

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = MAX_WAIT
    ) -> AsyncGenerator[TicketLock, None]:
        """Wait for this message's turn in the user's conversation; raise ``LockError`` when its
        ticket expired while waiting (the messages before it took longer than the lifetime)."""
        try:
            ticket: Optional[int] = self.issue_ticket(conversation_id, lock_lifetime)
        except LockError as error:
            if not isinstance(error.__cause__, REDIS_DOWN):
                raise
            ticket = None
        if ticket is None:
            logger.warning("lock.redis.unavailable stage=issue serving=in_process")
            async with self._local(conversation_id):
                yield TicketLock(conversation_id, deque())
            return
        try:
            turn = await self._wait_for_turn(conversation_id, ticket, min(wait_time_in_seconds, MAX_WAIT))
        except REDIS_DOWN:
            turn = None
        try:
            if turn is None:
                logger.warning("lock.redis.unavailable stage=wait serving=in_process")
                async with self._local(conversation_id):
                    yield TicketLock(conversation_id, deque())
            else:
                yield turn
        finally:
            try:
                self.cleanup(conversation_id, ticket)
            except REDIS_DOWN:  # the ticket expires with its key
                logger.warning("lock.redis.unavailable stage=return")

    def _local(self, conversation_id: str) -> asyncio.Lock:
        if not self._stripes:  # made on first use, inside the server's event loop
            self._stripes = [asyncio.Lock() for _ in range(LOCAL_STRIPES)]
        return self._stripes[hash(conversation_id) % LOCAL_STRIPES]

    async def _wait_for_turn(self, conversation_id: str, ticket: int, max_wait: float) -> TicketLock:
        wait = FIRST_WAIT
        started = time.monotonic()
        slept = False
        while True:
            serving = self.now_serving(conversation_id)
            if serving == ticket:
                if slept:  # another message of this user was being served (make bench-scale counts these)
                    logger.info("lock.waited waited_ms=%.1f", (time.monotonic() - started) * 1000)
                return TicketLock(conversation_id, deque([Ticket(ticket, time.time() + LOCK_LIFETIME)]))
            if serving == -1 or serving > ticket:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            await asyncio.sleep(wait)
            slept = True
            wait = min(wait * 2, max_wait)

    # --- Rasa's remaining interface, for callers that inspect a lock ------------------------------

    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        _, queue, tickets = self._keys(conversation_id)
        numbers = [int(n) for n in self.red.zrange(queue, 0, -1)]
        found: Deque[Ticket] = deque()
        now = time.time()
        for number in numbers:
            ttl_ms = self.red.pttl(f"{tickets}{number}")
            if ttl_ms and ttl_ms > 0:
                found.append(Ticket(number, now + ttl_ms / 1000))
        return TicketLock(conversation_id, found) if found else None

    def is_someone_waiting(self, conversation_id: str) -> bool:
        _, queue, _ = self._keys(conversation_id)
        return bool(self.red.zcard(queue))

    def delete_lock(self, conversation_id: str) -> None:
        counter, queue, tickets = self._keys(conversation_id)
        numbers = [int(n) for n in self.red.zrange(queue, 0, -1)]
        deleted = self.red.delete(counter, queue, *[f"{tickets}{n}" for n in numbers])
        self._log_deletion(conversation_id, bool(deleted))

    def save_lock(self, lock: TicketLock) -> None:
        # Tickets live in Redis and change only through the atomic scripts above.
        raise NotImplementedError("AtomicRedisLockStore changes tickets only atomically")

    def update_lock(self, conversation_id: str) -> None:
        self.now_serving(conversation_id)  # drops expired tickets at the head

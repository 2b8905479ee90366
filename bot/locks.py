"""The conversation lock that several Rasa servers share: tickets issued atomically in Redis.

Rasa serves one message of a conversation at a time by a ticket lock. Its ``RedisLockStore``
issues a ticket by reading the lock (one JSON value), appending a ticket and writing it back, with
no atomic step (Rasa #9213; the atomic fix, PR #11256, was reverted from Rasa Open Source): two
servers that take a message of the same user in the same millisecond can both get ticket N and
process the two messages at once, so the replies come out of order and one turn's slots or events
overwrite the other's.

``AtomicRedisLockStore`` keeps, per conversation, a counter (``INCR`` gives every ticket a number no
other server can get), a sorted set of the tickets waiting, and one key per ticket. Issuing,
checking whose turn it is and returning a ticket are each one Lua script, so they are atomic in
Redis. It waits for its turn in short steps (5 to 50 ms) instead of Rasa's one second, so a burst
of three messages is answered in a fraction of a second.

**A dead server's ticket expires in seconds.** A ticket's key lives ``LIVENESS`` (5 s) and a thread
of the server that holds it renews it every ``LIVENESS / 4`` while the message waits or is
processed, up to Rasa's ``TICKET_LOCK_LIFETIME`` (60 s by default; after that the next message is
served, as in Rasa). A server killed with ``kill -9`` stops renewing: its tickets expire within
``LIVENESS`` and the user's retry on another server goes on (it used to wait the whole lifetime).

**Reentrant in one task.** A channel takes the ticket the moment a message arrives (``lock`` issues
it before its first ``await``), so messages are served in the order they reached the servers, not
the order in which each got through the channel's own awaits (the hand-over gate's database
look-up). Rasa's ``Agent.handle_message`` and ``channels.gate.record_in_tracker`` then ask for the
same conversation's lock again in the same asyncio task: that inner ``lock`` is the one already
held (a context variable records it), not a second ticket that would wait for the first forever.

**Redis-Cluster ready.** A conversation's keys share a hash tag (``lock2:{<conversation>}:…``), so
they are in one hash slot and each Lua script touches one slot only. The per-ticket keys are built
inside the scripts rather than passed as ``KEYS``, which Redis Cluster executes when they are in
the slot of the declared keys but does not promise to keep doing.

When Redis cannot be reached (down, restarting, still loading), a message is not refused: it is
served under an in-process lock for its conversation (``lock.redis.unavailable`` is logged), so a
child still gets an answer. For that moment, two servers could serve two messages of one user at
once; one server never does. The next message after Redis answers again takes a ticket as before.

``bot.run`` configures it whenever ``REDIS_URL`` is set (``type: bot.locks.AtomicRedisLockStore``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any, AsyncGenerator, Deque, Dict, Iterator, List, Optional, Tuple

import redis.exceptions
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

__all__ = ["AtomicRedisLockStore"]

logger = logging.getLogger(__name__)

# KEYS: counter, queue. ARGV: ticket key prefix, the ticket key's first expiry in ms, the longest a
# ticket can live in ms (lifetime + liveness: counter and queue outlive every ticket, only extended).
# Returns the new ticket's number.
_ISSUE = """
local n = redis.call('INCR', KEYS[1])
for i = 1, 2 do
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
end
redis.call('ZADD', KEYS[2], n, n)
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

LIVENESS = 5.0  # seconds a ticket outlives the last renewal by its server (a dead server's, at most)

# The conversations whose lock the code running here holds: (conversation id, asyncio task, ticket).
_HELD: ContextVar[Tuple[Tuple[str, Any, int], ...]] = ContextVar("amaan_locks_held", default=())

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
        liveness: float = LIVENESS,
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
            liveness = float(options.get("liveness", liveness))
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
        self.liveness = liveness
        # This process's tickets still waiting or being served: (conversation, ticket) -> the
        # monotonic time after which they are no longer renewed (their lock lifetime).
        self._mine: Dict[Tuple[str, int], float] = {}
        self._mine_lock = threading.Lock()
        self._beating = False
        self._stop = threading.Event()
        super().__init__()

    # --- keys -------------------------------------------------------------------------------------

    def _keys(self, conversation_id: str) -> Tuple[str, str, str]:
        # The hash tag puts one conversation's keys in one Redis Cluster slot. An id with a brace
        # in it still gives every key of that conversation the same tag (the same first "{…}").
        base = f"{self.prefix}{{{conversation_id}}}"
        return f"{base}:seq", f"{base}:queue", f"{base}:ticket:"

    # --- the three atomic steps -------------------------------------------------------------------

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        counter, queue, tickets = self._keys(conversation_id)
        first = max(1, int(min(lock_lifetime, self.liveness) * 1000))
        longest = max(1, int((lock_lifetime + self.liveness) * 1000))
        try:
            ticket = int(self._issue(keys=[counter, queue], args=[tickets, first, longest]))
        except Exception as e:  # noqa: BLE001 - Rasa expects a LockError for any store failure
            raise LockError(f"Error while acquiring lock. Error:\n{e}") from e
        with self._mine_lock:
            self._mine[(conversation_id, ticket)] = time.monotonic() + lock_lifetime
        self._start_heartbeat()
        return ticket

    def now_serving(self, conversation_id: str) -> int:
        """The ticket being served (-1: none left)."""
        _, queue, tickets = self._keys(conversation_id)
        return int(self._serving(keys=[queue], args=[tickets]))

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        with self._mine_lock:
            self._mine.pop((conversation_id, ticket_number), None)
        _, queue, tickets = self._keys(conversation_id)
        self._return(keys=[queue], args=[tickets, ticket_number])

    # --- the heartbeat: this process's tickets stay alive while it lives ----------------------------

    def _start_heartbeat(self) -> None:
        with self._mine_lock:
            if self._beating:
                return
            self._beating = True
        threading.Thread(target=self._heartbeat, name="lock-heartbeat", daemon=True).start()

    def _heartbeat(self) -> None:
        failing = False
        while not self._stop.wait(self.liveness / 4):
            try:
                self.renew()
                failing = False
            except Exception as error:  # noqa: BLE001 - keep beating; a missed beat is only a delay
                if not failing:  # once per outage, not every beat
                    logger.warning("lock.heartbeat.failed error=%s", type(error).__name__)
                failing = True

    def renew(self) -> int:
        """Extend this process's tickets by ``liveness`` (never past their lifetime); a ticket
        that already expired stays expired. Returns how many were renewed."""
        now = time.monotonic()
        with self._mine_lock:
            for over in [mine for mine, until in self._mine.items() if until <= now]:
                del self._mine[over]  # its lifetime is over: Rasa serves the next message
            live = list(self._mine.items())
        if not live:
            return 0
        with self.red.pipeline(transaction=False) as pipe:
            for (conversation_id, ticket), until in live:
                name = self._keys(conversation_id)[2] + str(ticket)
                pipe.pexpire(name, max(1, int(min(self.liveness, until - now) * 1000)))
            return sum(1 for renewed in pipe.execute() if renewed)

    def close(self) -> None:
        """Stop renewing (tests; a server that stops lets its tickets expire)."""
        self._stop.set()

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # The queue disappears with its last ticket (Redis drops an empty sorted set); the counter
        # stays until it expires, so numbers never go backwards while tickets may still exist.
        self.finish_serving(conversation_id, ticket_number)

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = MAX_WAIT
    ) -> AsyncGenerator[TicketLock, None]:
        """Wait for this message's turn in the user's conversation; raise ``LockError`` when its
        ticket expired while waiting (the messages before it took longer than the lifetime).
        Inside a ``lock`` of the same conversation in the same task, it is that lock."""
        task = asyncio.current_task()
        held = next((n for c, t, n in _HELD.get() if c == conversation_id and t is task), None)
        if held is not None:
            yield TicketLock(conversation_id, deque([Ticket(held, time.time() + lock_lifetime)]))
            return
        try:
            ticket: Optional[int] = self.issue_ticket(conversation_id, lock_lifetime)
        except LockError as error:
            if not isinstance(error.__cause__, REDIS_DOWN):
                raise
            ticket = None
        if ticket is None:
            logger.warning("lock.redis.unavailable stage=issue serving=in_process")
            async with self._local(conversation_id):
                with _holding(conversation_id, task, -1):
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
                    with _holding(conversation_id, task, ticket):
                        yield TicketLock(conversation_id, deque())
            else:
                with _holding(conversation_id, task, ticket):
                    yield turn
        finally:
            try:
                self.cleanup(conversation_id, ticket)
            except REDIS_DOWN:  # the ticket expires with its key
                logger.warning("lock.redis.unavailable stage=return")
                with self._mine_lock:
                    self._mine.pop((conversation_id, ticket), None)

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


@contextmanager
def _holding(conversation_id: str, task: Any, ticket: int) -> Iterator[None]:
    """Record, for the code this task runs inside the lock, that it holds the conversation's lock."""
    token = _HELD.set((*_HELD.get(), (conversation_id, task, ticket)))
    try:
        yield
    finally:
        try:
            _HELD.reset(token)
        except ValueError:  # closed from another context (a generator finalised late): nothing to undo
            pass

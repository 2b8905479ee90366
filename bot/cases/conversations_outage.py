"""The PostgreSQL conversation store through a database outage, with several Rasa servers.

While PostgreSQL cannot be reached, ``AppendOnlySQLTrackerStore`` answers from the last state of
the conversation and keeps the new state until the database is back. One process's memory is not
enough behind a load balancer: a user's next message may reach another server, whose memory is
older (an answer from it would overwrite a report's answers) or empty (a new session: the language
and the report gone), and whose deferred events no other server would ever write. So, when Redis
is configured (``OutageCopies``):

* every save that reaches the database records in Redis the time of the conversation's last
  stored event, its *tail* (one ``SET``);
* a save the database refused writes the whole conversation to Redis, sealed with the case keys
  (the *deferred copy*), for every server to read;
* a read takes the deferred copy first (after the outage too: it is newer than the database; the
  save that follows appends its events and deletes it); in the outage, with no deferred copy, the
  process's memory only when it holds the tail Redis names (this server saved last); else
  ``ConversationsUnavailable``, and the channel answers "please try again in a moment" (a
  disclosure still gets the helplines: ``channels.gate``).

Without Redis (``make run`` alone) the process's memory is the only copy and is used as it is.
Rasa's ``FailSafeTrackerStore`` turns any error of a read into "no conversation" (a new one): it
lets ``ConversationsUnavailable`` through (``install``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from rasa.shared.core.trackers import DialogueStateTracker

__all__ = ["ConversationsUnavailable", "OutageCopies", "install"]

logger = logging.getLogger(__name__)

TTL_SECONDS = 3600  # an outage longer than this loses the deferred copies that were not written
_MARK = "_amaan_passes_unavailable"


class ConversationsUnavailable(Exception):
    """The conversation cannot be read now, and no copy of it can be trusted."""


class OutageCopies:
    """The tails and the deferred copies in Redis (see the module). Redis errors are logged and
    taken as "nothing known": the database, or the process's memory, decides then."""

    def __init__(self, redis_url: str, seal: Any, prefix: str = "amaan:conversation:"):
        import redis.asyncio as redis

        self._redis = redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._seal = seal
        self._prefix = prefix

    async def saved(self, tracker: DialogueStateTracker, had_deferred: bool) -> None:
        """After a save that reached the database: its tail, and no deferred copy any more."""
        if not tracker.events:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self._prefix + "tail:" + tracker.sender_id, repr(tracker.events[-1].timestamp), ex=TTL_SECONDS)
                if had_deferred:
                    pipe.delete(self._prefix + "deferred:" + tracker.sender_id)
                await pipe.execute()
        except Exception as error:  # noqa: BLE001 - Redis down: the next outage trusts no memory
            logger.warning("conversations.outage_copy.unavailable op=saved error=%s", type(error).__name__)

    async def defer(self, tracker: DialogueStateTracker) -> None:
        """A save the database refused: the whole conversation, sealed, for every server."""
        try:
            await self._redis.set(
                self._prefix + "deferred:" + tracker.sender_id, self._seal.seal(tracker), ex=TTL_SECONDS
            )
        except Exception as error:  # noqa: BLE001
            logger.warning("conversations.outage_copy.unavailable op=defer error=%s", type(error).__name__)

    async def deferred(self, sender_id: str, new_tracker: Callable[[], DialogueStateTracker]) -> Optional[Any]:
        """The deferred copy of the conversation, or None."""
        try:
            sealed = await self._redis.get(self._prefix + "deferred:" + sender_id)
        except Exception as error:  # noqa: BLE001
            logger.warning("conversations.outage_copy.unavailable op=read error=%s", type(error).__name__)
            return None
        if sealed is None:
            return None
        dialogue = self._seal.open(sealed)
        if dialogue is None:
            return None
        tracker = new_tracker()
        tracker.recreate_from_dialogue(dialogue)
        return tracker

    async def is_latest(self, tracker: DialogueStateTracker) -> bool:
        """Whether ``tracker`` (a process's memory) holds the last stored event of its conversation.
        True when Redis cannot say (memory is then all there is)."""
        try:
            tail = await self._redis.get(self._prefix + "tail:" + tracker.sender_id)
        except Exception as error:  # noqa: BLE001
            logger.warning("conversations.outage_copy.unavailable op=tail error=%s", type(error).__name__)
            return True
        return tail is None or (bool(tracker.events) and tail.decode() == repr(tracker.events[-1].timestamp))

    async def forget(self, sender_id: str) -> None:
        try:
            await self._redis.delete(self._prefix + "deferred:" + sender_id, self._prefix + "tail:" + sender_id)
        except Exception as error:  # noqa: BLE001
            logger.warning("conversations.outage_copy.unavailable op=forget error=%s", type(error).__name__)

    async def close(self) -> None:
        try:
            await self._redis.close(close_connection_pool=True)
        except Exception:  # noqa: BLE001, S110 - closing a client of a Redis that is gone
            pass


def install() -> None:
    """Let ``ConversationsUnavailable`` through Rasa's ``FailSafeTrackerStore.retrieve`` (idempotent)."""
    from rasa.core.tracker_store import FailSafeTrackerStore

    if getattr(FailSafeTrackerStore.retrieve, _MARK, False):
        return

    async def retrieve(self: FailSafeTrackerStore, sender_id: str) -> Optional[DialogueStateTracker]:
        try:
            return await self._tracker_store.retrieve(sender_id)
        except ConversationsUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 - anything else as Rasa does it
            self.on_tracker_store_retrieve_error(error)
            return None

    setattr(retrieve, _MARK, True)
    FailSafeTrackerStore.retrieve = retrieve

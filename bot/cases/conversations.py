"""The Rasa server's conversation store, forgetting on request and after a while: in memory
(``ForgetfulTrackerStore``, the embedded default) or in Redis (``ForgetfulRedisTrackerStore``, when
``REDIS_URL`` is set, so that several Rasa servers share conversations).

* "Delete my data": when the action ``action_delete_my_data`` has run in a turn, the tracker is
  saved as a fresh session that keeps only the reply language and what came after the action (its
  own confirmation); everything the user said before is gone from the store.
* Retention: a conversation idle for ``retention_days`` (``CONVERSATION_RETENTION_DAYS``) is
  dropped when it is next looked up, and by a sweep that runs at most every ten minutes; in Redis
  the key simply expires that long after the last message (``EX`` on every save).

* Sealed at rest: what either store keeps is the serialized conversation encrypted with the case
  keys (``CASE_ENCRYPTION_KEYS``, newest first; ``TrackerSeal``), never a message, a slot or a
  report answer in clear. A conversation no configured key opens (its key was retired) starts
  afresh. Without a key the store refuses to start: conversations are not kept in clear.
* Every copy: "delete my data" also calls what the channels registered with ``on_forget`` (the web
  widget's replay log).

``TrackerSeal`` is the reusable piece: a tracker store of another kind (e.g. SQL) seals what it
writes with ``seal``/``seal_json`` and opens it with ``open``/``open_json``.

Configured in ``.run/endpoints.yml`` by ``bot.run`` (``tracker_store.type`` is this class's path).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Dict, List, Optional, Union

from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore, SerializedTrackerAsText
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot.analytics.turns import observe_turn
from bot.cases import FORGET_ACTION
from bot.cases.copies import forget_copies, on_forget
from bot.cases.crypto import CaseCipher, InvalidToken, parse_keys
from bot.cases.desk import case_keys
from bot.settings import get_settings

__all__ = [
    "ForgetfulTrackerStore",
    "ForgetfulRedisTrackerStore",
    "TrackerSeal",
    "forget_before_request",
    "on_forget",
]

logger = logging.getLogger(__name__)
_KEPT_SLOTS = ("language",)
_SWEEP_EVERY_SECONDS = 600


class TrackerSeal:
    """Seals a serialized conversation with the case keys, and opens it again."""

    def __init__(self, cipher: CaseCipher):
        self.cipher = cipher

    @classmethod
    def from_settings(cls, keys: Optional[str] = None) -> TrackerSeal:
        """With ``keys`` (comma-separated Fernet keys), else the case keys of this deployment
        (``CASE_ENCRYPTION_KEYS``; in development the one ``make run`` keeps in ``.run/``).

        Raises:
            MissingKey: there is no key.
        """
        return cls(CaseCipher(parse_keys(keys) if keys else case_keys(get_settings())))

    def seal(self, tracker: DialogueStateTracker) -> str:
        """The tracker as Rasa serializes it (``SerializedTrackerAsText``), sealed."""
        return self.cipher.seal(SerializedTrackerAsText.serialise_tracker(tracker))

    def open(self, sealed: Union[str, bytes]) -> Optional[Dialogue]:
        """The conversation ``seal`` sealed, or None if no configured key opens it."""
        try:
            return Dialogue.from_parameters(json.loads(self.cipher.unseal(sealed)))
        except InvalidToken:
            logger.warning("conversation.undecryptable (a retired key, or stored before sealing)")
            return None

    def seal_json(self, document: Any) -> str:
        """One JSON document (an event, for a store that keeps rows), sealed."""
        return self.cipher.seal(json.dumps(document, ensure_ascii=False))

    def open_json(self, sealed: Union[str, bytes]) -> Any:
        """The document ``seal_json`` sealed; ``InvalidToken`` if no configured key opens it."""
        return json.loads(self.cipher.unseal(sealed))


class _Sealed:
    """Tracker-store mixin: what Rasa serializes is sealed before it is stored, opened after."""

    seal: TrackerSeal

    def serialise_tracker(self, tracker: DialogueStateTracker) -> str:
        return self.seal.seal(tracker)

    def deserialise_tracker(self, sender_id: str, serialised_tracker: Union[str, bytes]) -> DialogueStateTracker:
        tracker: DialogueStateTracker = self.init_tracker(sender_id)  # type: ignore[attr-defined]
        dialogue = self.seal.open(serialised_tracker)
        if dialogue is not None:
            tracker.recreate_from_dialogue(dialogue)
        return tracker


def forget_before_request(tracker: DialogueStateTracker, domain: Domain) -> Optional[DialogueStateTracker]:
    """The tracker as it must be stored after a deletion request, or None if there was none."""
    events: List[Event] = list(tracker.events)
    index = next(
        (
            i
            for i in range(len(events) - 1, -1, -1)
            if isinstance(events[i], ActionExecuted) and events[i].action_name == FORGET_ACTION
        ),
        None,
    )
    if index is None:
        return None
    at = events[index].timestamp
    fresh: List[Event] = [ActionExecuted(ACTION_SESSION_START_NAME, timestamp=at), SessionStarted(timestamp=at)]
    for name in _KEPT_SLOTS:
        value = tracker.get_slot(name)
        if value is not None:
            fresh.append(SlotSet(name, value, timestamp=at))
    return DialogueStateTracker.from_events(tracker.sender_id, fresh + events[index + 1 :], slots=domain.slots)


class ForgetfulTrackerStore(_Sealed, InMemoryTrackerStore):
    """``InMemoryTrackerStore`` that seals what it keeps, honours "delete my data" and forgets
    idle conversations."""

    def __init__(
        self,
        domain: Domain,
        event_broker: Any = None,
        host: Optional[str] = None,
        retention_days: float = 30,
        encryption_keys: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        self.seal = TrackerSeal.from_settings(encryption_keys)
        self.retention_seconds = float(retention_days) * 86400
        self._last_seen: Dict[str, float] = {}
        self._next_sweep = time.monotonic() + _SWEEP_EVERY_SECONDS

    async def save(self, tracker: DialogueStateTracker) -> None:
        observe_turn(tracker)  # anonymous counters: in memory, written in the background
        forgotten = forget_before_request(tracker, self.domain)
        if forgotten is not None:
            logger.info("conversation.forgotten reason=request")
            tracker = forgotten
            await forget_copies(tracker.sender_id)
        # InMemoryTrackerStore.save names its own serializer; this one seals.
        await self.stream_events(tracker)
        self.store[tracker.sender_id] = self.serialise_tracker(tracker)
        self._last_seen[tracker.sender_id] = time.time()
        self._sweep()

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        self._expire(sender_id)
        return await super().retrieve(sender_id)

    async def retrieve_full_tracker(self, sender_id: str) -> Optional[DialogueStateTracker]:
        self._expire(sender_id)
        return await super().retrieve_full_tracker(sender_id)

    def forget(self, sender_id: str) -> bool:
        """Drop one conversation now; True if there was one."""
        self._last_seen.pop(sender_id, None)
        return self.store.pop(sender_id, None) is not None

    def _expire(self, sender_id: str) -> None:
        seen = self._last_seen.get(sender_id)
        if seen is not None and time.time() - seen > self.retention_seconds:
            self.forget(sender_id)
            logger.info("conversation.forgotten reason=retention")

    def _sweep(self) -> None:
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + _SWEEP_EVERY_SECONDS
        cutoff = time.time() - self.retention_seconds
        expired = [sender for sender, seen in self._last_seen.items() if seen < cutoff]
        for sender in expired:
            self.forget(sender)
        if expired:
            logger.info("conversation.swept count=%d", len(expired))


class ForgetfulRedisTrackerStore(_Sealed, RedisTrackerStore):
    """``RedisTrackerStore`` that seals what it keeps, honours "delete my data" and lets idle
    conversations expire.

    Rasa's Redis store merges what it saves with what it had, which would bring the forgotten
    events back; after a deletion request the stored conversation is dropped first."""

    def __init__(
        self,
        domain: Domain,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        password: Optional[str] = None,
        event_broker: Any = None,
        retention_days: float = 30,
        key_prefix: Optional[str] = None,
        encryption_keys: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        self.seal = TrackerSeal.from_settings(encryption_keys)
        super().__init__(
            domain,
            host=host,
            port=port,
            db=db,
            password=password,
            event_broker=event_broker,
            record_exp=max(1, int(float(retention_days) * 86400)),
            key_prefix=key_prefix,
            **kwargs,
        )

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        observe_turn(tracker)  # anonymous counters: in memory, written in the background
        forgotten = forget_before_request(tracker, self.domain)
        if forgotten is not None:
            logger.info("conversation.forgotten reason=request")
            self.red.delete(self.key_prefix + tracker.sender_id)
            tracker = forgotten
            await forget_copies(tracker.sender_id)
        await super().save(tracker, timeout)

    def forget(self, sender_id: str) -> bool:
        """Drop one conversation now; True if there was one."""
        return bool(self.red.delete(self.key_prefix + sender_id))

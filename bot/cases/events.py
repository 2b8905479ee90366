"""Case events on a Redis stream (``amaan:cases``) for the counselors' console.

One entry per new case, per change of risk or status, and per request for a counselor. Entries
carry the queue's metadata only (reference, risk, status, channel, language, age group, times),
never anything the user said. The database stays the source of truth: a console reads the queue
from it on start and follows the stream for live changes, so an event lost while Redis is down
costs freshness, not a case.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from bot.cases.store import CaseMeta

__all__ = ["CaseEvents", "event_fields", "EVENT_TYPES"]

logger = logging.getLogger(__name__)

EVENT_TYPES = ("case.opened", "case.updated", "case.escalated", "case.status_changed")


def event_fields(kind: str, case: CaseMeta, previous_status: Optional[str] = None) -> Dict[str, str]:
    """The stream entry for an event on ``case`` (all values are strings, as Redis stores them)."""
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown case event {kind!r}")
    fields = {
        "type": kind,
        "reference": case.reference,
        "risk": case.risk,
        "status": case.status,
        "channel": case.channel,
        "language": case.language or "",
        "audience": case.audience or "",
        "waiting_since": case.created_at.isoformat(timespec="seconds"),
        "at": case.updated_at.isoformat(timespec="seconds"),
    }
    if previous_status:
        fields["previous_status"] = previous_status
    return fields


class CaseEvents:
    """Publishes case events with ``XADD``; failures are logged and swallowed (see module doc)."""

    def __init__(
        self, redis_url: Optional[str], stream: str = "amaan:cases", maxlen: int = 100_000, client: Any = None
    ):
        self.stream = stream
        self._maxlen = maxlen
        self._client = client
        self._url = redis_url

    @property
    def enabled(self) -> bool:
        return self._client is not None or bool(self._url)

    def _redis(self) -> Any:
        if self._client is None and self._url:
            import redis

            self._client = redis.Redis.from_url(self._url, socket_timeout=2, socket_connect_timeout=2)
        return self._client

    def publish(self, kind: str, case: CaseMeta, previous_status: Optional[str] = None) -> Optional[str]:
        """Append one event; returns its stream id, or None when off or Redis failed."""
        client = self._redis()
        if client is None:
            return None
        fields = event_fields(kind, case, previous_status)
        try:
            entry = client.xadd(self.stream, fields, maxlen=self._maxlen, approximate=True)
        except Exception as error:  # noqa: BLE001 - Redis down must not undo a committed case
            logger.warning("cases.event.publish_failed type=%s error=%s", kind, type(error).__name__)
            return None
        return entry.decode() if isinstance(entry, bytes) else str(entry)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

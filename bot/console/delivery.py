"""The console's client of the Rasa server's hand-over delivery endpoint (built in the Rasa server;
see docs/CONSOLE.md): ``POST {RASA_SERVER_URL}/webhooks/handover/deliver`` with a bearer token.

It never raises for the endpoint's failures: the counselor is shown "not delivered" honestly instead.
Nothing here logs what a message says.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Dict, Optional

import aiohttp
from aiohttp import web

__all__ = ["Delivery", "Delivered", "DELIVER_PATH", "EVENTS", "DELIVERY"]

logger = logging.getLogger(__name__)

DELIVER_PATH = "/webhooks/handover/deliver"
EVENTS = ("message", "joined", "left", "closed")


@dataclass(frozen=True)
class Delivered:
    delivered: bool
    status: Optional[int]  # the endpoint's HTTP status; None when it could not be reached


class Delivery:
    """Posts hand-over events to the Rasa server. ``start()`` when the app starts, ``close()`` when it stops."""

    # Longer than the Rasa server may wait out a platform's flood limit before it answers (Telegram's
    # RetryAfter, up to 60 s in channels/telegram/output.py): a slow delivery is reported as it ends, never
    # as "not delivered" while it may still arrive.
    def __init__(self, base_url: str, token: Optional[str], timeout: float = 75.0):
        self.url = base_url.rstrip("/") + DELIVER_PATH
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: Optional[aiohttp.ClientSession] = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self, reference: str, event: str, text: Optional[str] = None, counselor: Optional[str] = None
    ) -> Delivered:
        if event not in EVENTS:
            raise ValueError(f"event must be one of {EVENTS}")
        if not self._token:
            logger.error("console.delivery.no_token reference=%s event=%s", reference, event)
            return Delivered(False, None)
        await self.start()
        assert self._session is not None
        body: Dict[str, Any] = {"reference": reference, "event": event}
        if event == "message":
            body["text"] = text or ""
            body["counselor"] = counselor
        try:
            async with self._session.post(
                self.url, json=body, headers={"Authorization": f"Bearer {self._token}"}
            ) as reply:
                status = reply.status
                payload: Any = None
                if reply.content_type == "application/json":
                    payload = await reply.json()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.warning("console.delivery.unreachable reference=%s event=%s error=%s", reference, event,
                           type(error).__name__)  # fmt: skip
            return Delivered(False, None)
        delivered = status == 200 and isinstance(payload, dict) and payload.get("delivered") is True
        if not delivered:
            logger.warning("console.delivery.failed reference=%s event=%s status=%s", reference, event, status)
        return Delivered(delivered, status)


DELIVERY = web.AppKey("delivery", Delivery)  # the app's one Delivery client

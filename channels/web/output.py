"""The bot's messages to a widget: ``bot_uttered`` to every socket of one conversation (its room),
each numbered and kept for replay (``WebSessions.record``). Text and buttons only."""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from rasa.core.channels.channel import OutputChannel
from socketio import AsyncServer

from bot.offered import OfferedPayloads
from channels.web.sessions import WebSessions

__all__ = ["WebOutput", "BOT_EVENT", "deliver"]

logger = logging.getLogger(__name__)

BOT_EVENT = "bot_uttered"


async def deliver(sio: AsyncServer, sessions: WebSessions, recipient_id: str, message: Dict[str, Any]) -> None:
    """Number and keep ``message``, then emit it to the user's open sockets."""
    numbered = await sessions.record(recipient_id, message)
    await sio.emit(BOT_EVENT, numbered, room=recipient_id)


class WebOutput(OutputChannel):
    """Sends to every socket of one conversation (its room), numbering each message for replay.

    Text and buttons only: images, attachments and custom payloads are never forwarded.
    """

    @classmethod
    def name(cls) -> str:
        return "web"

    def __init__(self, sio: AsyncServer, sessions: WebSessions, offered: OfferedPayloads):
        self.sio = sio
        self.sessions = sessions
        self.offered = offered

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await deliver(self.sio, self.sessions, recipient_id, {"text": str(text).strip()})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        choices = [
            {"title": b["title"], "payload": b["payload"]}
            for b in buttons
            if isinstance(b, dict) and isinstance(b.get("title"), str) and isinstance(b.get("payload"), str)
        ]
        await self.offered.remember(recipient_id, [c["payload"] for c in choices])
        await deliver(self.sio, self.sessions, recipient_id, {"text": str(text or "").strip(), "buttons": choices})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        logger.warning("web.output.dropped kind=image")

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        logger.warning("web.output.dropped kind=attachment")

    async def send_elements(self, recipient_id: str, elements: Any, **kwargs: Any) -> None:
        logger.warning("web.output.dropped kind=elements")

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        logger.warning("web.output.dropped kind=custom")

"""REST channel for local use, tests and benchmarks, at ``/webhooks/rest/webhook``.

Better than Rasa's own on the points that matter here: a request without a sender id is a 400
(Rasa's puts it into one shared conversation named ``default``); a body that is not a JSON object
is a 400, not a 500; with ``REST_CHANNEL_TOKEN`` set every request needs ``Authorization: Bearer``,
and in production the channel is off without one, because whoever names a sender id reads that
user's replies. A sender id in another channel's namespace (``tg-``, ``wa-``, ``web-``:
``channels.identity``) is a 403, so REST can never speak in a Telegram, WhatsApp or widget
conversation. Typed intent payloads are plain text unless the bot offered them as buttons.
While a counselor holds the conversation (``channels.gate``) the answer is an empty list; the
REST channel cannot push, so a counselor's message only reaches its tracker. A message takes its
place in the conversation as soon as it is read (``conversation_turn``), and its metadata says
when (``arrived``, seconds since the epoch on the server), next to Rasa's own timestamp of when it
was processed.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.inbound import prepare_text
from bot.language import detect_language
from bot.offered import offered_store, payloads_in
from bot.settings import get_settings
from channels.common import agent_language, error_response, refusal_text
from channels.gate import HandoverGate, conversation_turn
from channels.handover import offer_push
from channels.identity import belongs_elsewhere

__all__ = ["RestInput"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_SENDER_CHARS = 128


class RestInput(InputChannel):
    """``POST {"sender": "...", "message": "..."}`` → the bot's replies as a JSON list."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> RestInput:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        settings = get_settings()
        webhook = Blueprint("amaan_rest_webhook", __name__)
        offered = offered_store(settings.redis_url)
        # While a counselor holds a conversation, its messages go to the case, not to the bot.
        gate = HandoverGate.around(webhook, on_new_message)
        # Replies travel only in the response to a request: a counselor's message cannot be pushed.
        offer_push(webhook, self.name(), None)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if settings.rest_enabled else "disabled"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not settings.rest_enabled:
                return error_response(404, "the REST channel is disabled in production without REST_CHANNEL_TOKEN")
            if settings.rest_token:
                supplied = request.headers.get("Authorization", "")
                if not hmac.compare_digest(supplied.encode(), f"Bearer {settings.rest_token}".encode()):
                    return error_response(401, "missing or wrong bearer token")
            if len(request.body or b"") > MAX_BODY_BYTES:
                return error_response(413, f"body over {MAX_BODY_BYTES} bytes")
            try:
                body = json.loads(request.body or b"")
            except (ValueError, UnicodeDecodeError):
                return error_response(400, "body must be JSON")
            if not isinstance(body, dict):
                return error_response(400, "body must be a JSON object")
            sender = body.get("sender")
            if isinstance(sender, int) and not isinstance(sender, bool):
                sender = str(sender)
            if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
                return error_response(
                    400, f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} characters"
                )
            if belongs_elsewhere(sender):
                logger.warning("rest.sender.refused reason=namespace")
                return error_response(403, "this sender id belongs to another channel")
            if "message" not in body:
                return error_response(400, "'message' is required")
            raw = body.get("message")
            if not isinstance(raw, str):
                return error_response(400, "'message' must be a string")

            # The message's place in the conversation is taken here, before any await: several
            # servers then serve one user's messages in the order they arrived (channels.gate).
            arrived = time.time()
            async with conversation_turn(request.app, sender):
                inbound = prepare_text(raw, settings.max_message_chars, await offered.current(sender))
                if not inbound.ok:
                    language = await agent_language(request.app, sender, raw)
                    logger.info("rest.message.refused problem=%s", inbound.problem)
                    return response.json([{"recipient_id": sender, "text": refusal_text(inbound.problem, language)}])

                collector = CollectingOutputChannel()
                metadata = {"language": detect_language(inbound.text), "arrived": round(arrived, 4)}
                await gate(UserMessage(inbound.text, collector, sender, input_channel=self.name(), metadata=metadata))
                await offered.remember(sender, payloads_in(collector.messages))
            return response.json(collector.messages)

        return webhook

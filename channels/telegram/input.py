"""The Telegram webhook: ``POST /webhooks/telegram/webhook``, answered before the update is handled.

Secret token (constant-time, 403) → body size, content type and JSON with an integer ``update_id``
(413, 415, 400) → 503 until the server has started → ``Update.de_json`` → the update queued on its
chat (``ChatSequencer``) for the ``UpdateHandler`` → 200. An update we cannot read, or of a kind
we do not handle, is answered 200 and ignored, so that Telegram does not retry it.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import Optional

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Update
from telegram.request import BaseRequest

from bot.settings import Settings, get_settings
from channels.common import error_response
from channels.platform import OnNewMessage, PlatformInput
from channels.telegram.output import TelegramOutput
from channels.telegram.runtime import TelegramRuntime, close_runtime, open_runtime
from channels.telegram.shapes import chat_of, kind_of
from channels.telegram.updates import UpdateHandler

__all__ = ["TelegramInput", "ALLOWED_UPDATES", "SECRET_HEADER"]

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
# The update kinds the webhook asks for (``set-webhook``); anything else is answered 200 and ignored.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
MAX_BODY_BYTES = 256 * 1024
_SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class TelegramInput(PlatformInput[TelegramRuntime]):
    """Telegram webhook; enabled when ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_WEBHOOK_SECRET`` are set.

    Recipient ids are ``tg-<keyed hash of the chat id>`` (``TelegramRuntime.sender_for``)."""

    title = "Telegram"

    @classmethod
    def name(cls) -> str:
        return "telegram"

    def __init__(self, settings: Optional[Settings] = None, request: Optional[BaseRequest] = None):
        """
        Args:
            settings: defaults to ``get_settings()``.
            request: the ``BaseRequest`` the ``Bot`` talks through (tests pass an offline one).
        """
        super().__init__()
        self.settings = settings or get_settings()
        if not self.settings.telegram_enabled:
            raise ValueError("the Telegram channel needs TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET")
        if not _SECRET_FORMAT.match(self.settings.telegram_webhook_secret or ""):
            raise ValueError("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        self._request = request
        self._updates = UpdateHandler(self.settings, self.name())

    async def _open(self) -> TelegramRuntime:
        return await open_runtime(self.settings, self._request)

    async def _close(self, runtime: TelegramRuntime) -> None:
        await close_runtime(runtime)

    def _output(self, runtime: TelegramRuntime) -> TelegramOutput:
        return TelegramOutput(runtime)

    def _receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        supplied = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(supplied.encode(), (self.settings.telegram_webhook_secret or "").encode()):
            logger.warning("telegram.update.rejected reason=secret")
            return error_response(403, "missing or wrong secret token")
        if len(request.body or b"") > MAX_BODY_BYTES:
            return error_response(413, f"body over {MAX_BODY_BYTES} bytes")
        if not (request.content_type or "").lower().startswith("application/json"):
            return error_response(415, "body must be application/json")
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError):
            return error_response(400, "body must be JSON")
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("update_id"), int)
            or isinstance(body["update_id"], bool)
        ):
            return error_response(400, "an update needs an integer update_id")
        runtime = self._runtime
        if runtime is None:
            return error_response(503, "starting")
        try:
            update = Update.de_json(body, runtime.bot)
        except Exception:  # noqa: BLE001 - de_json raises KeyError, TypeError, AttributeError...
            logger.warning("telegram.update.unparseable")
            return _ok()
        chat_id = chat_of(update)
        if chat_id is None:
            logger.info("telegram.update.ignored kind=%s", kind_of(body))
            return _ok()
        app = request.app
        runtime.channel.sequencer.submit(
            runtime.sender_for(chat_id), lambda: self._updates.handle(app, runtime, update, on_new_message)
        )
        return _ok()


def _ok() -> HTTPResponse:
    return response.json({"ok": True})

"""Pieces every connector shares: which language to answer a refused message in, and its reply;
and the webhook skeleton of the two phone platforms (Telegram, WhatsApp)."""

from __future__ import annotations

import inspect
import logging
from typing import Any, Awaitable, Callable, Optional, Tuple

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.content import ContentLibrary
from bot.language import detect_language
from bot.settings import get_settings

__all__ = ["reply_language", "refusal_text", "platform_webhook"]

logger = logging.getLogger(__name__)


async def reply_language(agent: Any, sender_id: str, text: str) -> str:
    """The message's own language, else the conversation's, else the deployment default."""
    detected = detect_language(text[:500]) if isinstance(text, str) else None
    if detected:
        return detected
    try:
        tracker = agent.tracker_store.retrieve(sender_id) if agent else None
        if inspect.isawaitable(tracker):
            tracker = await tracker
        if tracker is not None and tracker.get_slot("language") in ("ar", "en"):
            return str(tracker.get_slot("language"))
    except Exception:  # noqa: BLE001 - the default language is a fine answer
        logger.warning("channel.language.lookup_failed")
    return get_settings().default_language


def refusal_text(problem: Optional[str], language: str) -> str:
    """The polite reply to a message we cannot take (``empty`` or ``too_long``)."""
    key = "too_long" if problem == "too_long" else "empty_message"
    return ContentLibrary.load(get_settings().data_dir).message(key, language)


def platform_webhook(
    connector: Any, blueprint_name: str, on_new_message: Callable[[UserMessage], Awaitable[Any]]
) -> Tuple[Blueprint, Callable[[UserMessage], Awaitable[Any]]]:
    """The blueprint a phone-platform connector starts from: its runtime opened and closed with the
    server (``connector.start()`` / ``stop()``), a health route, and the counselor hand-over (the gate
    in front of the bot, and ``connector.push`` registered for deliveries). Returns the blueprint and
    the gated ``on_new_message`` the connector's webhook must hand messages to."""
    from channels.gate import HandoverGate
    from channels.handover import offer_push

    webhook = Blueprint(blueprint_name, __name__)

    @webhook.listener("before_server_start")
    async def started(app: Any, loop: Any) -> None:
        await connector.start()

    @webhook.listener("before_server_stop")
    async def stopping(app: Any, loop: Any) -> None:
        await connector.stop()

    @webhook.route("/", methods=["GET"])
    async def health(request: Request) -> HTTPResponse:
        return response.json({"status": "ok" if connector._runtime else "starting"})

    # While a counselor holds a conversation, its messages go to the case, not to the bot.
    gate = HandoverGate.around(webhook, on_new_message)
    offer_push(webhook, connector.name(), connector.push)
    return webhook, gate

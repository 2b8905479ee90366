"""Pieces every connector shares: which language to answer a refused message in, its reply, and the
shape of a refused request. (The frame the two phone platforms share is ``channels.platform``.)"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Optional

from sanic import response
from sanic.response import HTTPResponse

from bot.content import ContentLibrary
from bot.language import detect_language
from bot.settings import get_settings

__all__ = ["reply_language", "agent_language", "refusal_text", "error_response"]

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


async def agent_language(app: Any, sender_id: str, text: str) -> str:
    """``reply_language`` with the agent the Sanic ``app`` serves."""
    return await reply_language(getattr(app.ctx, "agent", None), sender_id, text)


def refusal_text(problem: Optional[str], language: str) -> str:
    """The polite reply to a message we cannot take (``empty`` or ``too_long``)."""
    key = "too_long" if problem == "too_long" else "empty_message"
    return ContentLibrary.load(get_settings().data_dir).message(key, language)


def error_response(status: int, message: str) -> HTTPResponse:
    """A webhook's refusal: ``{"error": message}`` with ``status``."""
    return response.json({"error": message}, status=status)

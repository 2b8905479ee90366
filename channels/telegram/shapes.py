"""Telegram's shapes as this connector reads them: which chat an update is about and what kind of
update it is. (The sender id a chat has in Rasa, ``tg-<keyed hash>``, is ``TelegramRuntime.sender_for``.)"""

from __future__ import annotations

from typing import Any, Dict, Optional

from telegram import Update

__all__ = ["chat_of", "kind_of"]


def chat_of(update: Update) -> Optional[int]:
    """The chat an update is about, for the kinds we handle (new messages and button taps)."""
    if update.message is not None and update.message.chat is not None:
        return update.message.chat.id
    query = update.callback_query
    if query is not None:
        if query.message is not None:
            return query.message.chat.id
        return query.from_user.id if query.from_user is not None else None
    return None  # edited messages, channel posts, and kinds we did not ask for


def kind_of(body: Dict[str, Any]) -> str:
    """The update's kind for the log ("message", "channel_post"...), never its content."""
    kinds = [k for k in body if k != "update_id"]
    return kinds[0] if len(kinds) == 1 and len(kinds[0]) <= 40 else "unknown"

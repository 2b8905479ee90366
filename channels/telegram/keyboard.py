"""Telegram's buttons: an inline keyboard out, a callback query back.

``callback_data`` holds 64 bytes, so a longer payload travels as a ``k:<hash>`` key
(``CallbackKeys``); a tap on a button whose payload is no longer known is read by its title.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Optional, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message

from channels.outgoing import Choice
from channels.state import KeyValue

__all__ = ["CallbackKeys", "inline_keyboard", "button_title", "MAX_CALLBACK_BYTES"]

MAX_CALLBACK_BYTES = 64
CALLBACK_KEY_TTL = 30 * 24 * 3600


class CallbackKeys:
    """Telegram's ``callback_data`` holds 64 bytes; longer payloads travel as ``k:<hash>`` keys.

    The key → payload map is kept in Redis (shared by replicas) and in memory as a fallback.
    """

    PREFIX = "k:"

    def __init__(self, state: KeyValue, ttl: int = CALLBACK_KEY_TTL):
        self._state = state
        self._ttl = ttl

    async def data_for(self, payload: str) -> str:
        if len(payload.encode()) <= MAX_CALLBACK_BYTES and not payload.startswith(self.PREFIX):
            return payload
        digest = base64.urlsafe_b64encode(hashlib.sha256(payload.encode()).digest()).decode()[:22]
        await self._state.put(f"tg:cb:{digest}", payload.encode(), self._ttl)
        return self.PREFIX + digest

    async def payload_for(self, data: str) -> Optional[str]:
        if not data.startswith(self.PREFIX):
            return data
        stored = await self._state.get(f"tg:cb:{data[len(self.PREFIX) :]}")
        return stored.decode() if stored is not None else None


async def inline_keyboard(choices: Sequence[Choice], keys: CallbackKeys) -> InlineKeyboardMarkup:
    """One button a row, each carrying its payload (or the payload's key)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(title, callback_data=await keys.data_for(payload))] for title, payload in choices]
    )


def button_title(message: Optional[Message], data: Optional[str]) -> Optional[str]:
    """The title of the button on ``message`` that carried ``data``, if it is still there."""
    if message is None or message.reply_markup is None or not data:
        return None
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None

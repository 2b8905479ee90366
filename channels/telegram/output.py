"""Rasa's replies to a Telegram chat: long texts split at 4096 characters (``PlatformOutput``),
buttons as an inline keyboard, ``RetryAfter`` waited out, and "typing…" shown while the bot thinks."""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta
from typing import Any, Dict, List, Optional

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ChatAction, MessageLimit
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from channels.outgoing import button_list, split_text
from channels.platform import PlatformOutput
from channels.telegram.keyboard import inline_keyboard
from channels.telegram.runtime import TelegramRuntime

__all__ = ["TelegramOutput", "start_typing"]

logger = logging.getLogger(__name__)

MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH  # 4096
MAX_RETRY_AFTER = 60.0
SEND_ATTEMPTS = 3
TYPING_EVERY = 4.5  # Telegram shows "typing…" for about 5 seconds


def _seconds(delay: Any) -> float:
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


def _retry_after(error: RetryAfter) -> float:
    # PTB 22 warns about the attribute's type changing from int to timedelta; we accept both.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return _seconds(error.retry_after)


class TelegramOutput(PlatformOutput[int]):
    """Sends Rasa's replies to a Telegram chat; recipient ids are ``tg-<keyed hash>``, whose chat id
    the runtime's address book gives back."""

    max_text = MAX_TEXT
    no_address = "not a Telegram conversation"
    not_accepted = "Telegram did not accept the message"

    @classmethod
    def name(cls) -> str:
        return "telegram"

    def __init__(self, runtime: TelegramRuntime):
        self._rt = runtime
        self._offered: Dict[str, List[str]] = {}

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        if await self._rt.chat_for(recipient_id) is None:
            logger.warning("telegram.send.bad_recipient")
        await super().send_text_message(recipient_id, text, **kwargs)

    async def send_to_chat(self, chat_id: int, text: str) -> bool:
        """One text to a chat that has no conversation (a group told to talk privately)."""
        return await self._send(chat_id, text)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        chat_id = await self._rt.chat_for(recipient_id)
        choices = button_list(buttons)
        if chat_id is None or not choices:
            await self.send_text_message(recipient_id, text)
            return
        keyboard = await inline_keyboard(choices, self._rt.keys)
        parts = split_text(text, MAX_TEXT) or ["•"]
        for part in parts[:-1]:
            await self._send(chat_id, part)
        await self._send(chat_id, parts[-1], keyboard)
        # Everything offered in this turn passes the payload guard on the way back.
        offered = self._offered.setdefault(recipient_id, [])
        offered += [payload for _, payload in choices]
        await self._rt.channel.offered.remember(recipient_id, offered)

    async def _address_of(self, recipient_id: str) -> Optional[int]:
        return await self._rt.chat_for(recipient_id)

    async def _send(self, chat_id: int, text: str, keyboard: Optional[InlineKeyboardMarkup] = None) -> bool:
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                await self._rt.bot.send_message(chat_id, text, reply_markup=keyboard)
                return True
            except RetryAfter as error:
                wait = _retry_after(error)
                if attempt == SEND_ATTEMPTS or wait > MAX_RETRY_AFTER:
                    logger.warning("telegram.send.flood_limited retry_after=%.0f gave_up=true", wait)
                    return False
                logger.info("telegram.send.flood_limited retry_after=%.0f", wait)
                await asyncio.sleep(wait)
            except Forbidden:
                logger.info("telegram.send.forbidden")  # the user blocked the bot
                return False
            except TelegramError as error:
                logger.warning("telegram.send.failed error=%s", type(error).__name__)
                return False
        return False


async def start_typing(bot: Bot, chat_id: Optional[int]) -> Optional[asyncio.Task]:
    """Show "typing…" now (before any reply) and keep it up until the returned task is cancelled."""
    if chat_id is None:
        return None
    try:
        await bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError:
        return None
    return asyncio.get_running_loop().create_task(_keep_typing(bot, chat_id))


async def _keep_typing(bot: Bot, chat_id: int) -> None:
    try:
        while True:
            await asyncio.sleep(TYPING_EVERY)
            await bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError:
        return

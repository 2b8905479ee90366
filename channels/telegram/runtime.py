"""What the Telegram channel opens when the server starts and closes when it stops: the ``Bot``
(python-telegram-bot 22, no ``Application``) and the shared state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from telegram import Bot
from telegram.error import TelegramError
from telegram.request import BaseRequest

from bot.settings import Settings
from channels.platform import ChannelState
from channels.telegram.keyboard import CallbackKeys

__all__ = ["TelegramRuntime", "open_runtime", "close_runtime"]

logger = logging.getLogger(__name__)


@dataclass
class TelegramRuntime:
    bot: Bot
    channel: ChannelState
    keys: CallbackKeys
    bot_id: str


async def open_runtime(settings: Settings, request: Optional[BaseRequest]) -> TelegramRuntime:
    """Create the ``Bot`` (talking through ``request``, if given) and the shared state."""
    # httpx logs every request URL at INFO, and a Bot API URL contains the token.
    if logging.getLogger("httpx").getEffectiveLevel() < logging.WARNING:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    token = settings.telegram_bot_token or ""
    api = settings.telegram_api_base_url
    bot = Bot(
        token,
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=request,
        get_updates_request=request,
    )
    try:
        await bot.initialize()
    except TelegramError as error:
        # Sending works without it; the webhook must not stay down because getMe failed once.
        logger.warning("telegram.bot.initialize_failed error=%s", type(error).__name__)
    channel = ChannelState.open("telegram", settings.redis_url)
    return TelegramRuntime(bot, channel, CallbackKeys(channel.state), token.split(":", 1)[0])


async def close_runtime(runtime: TelegramRuntime) -> None:
    """Shut the ``Bot`` down (the updates in hand are finished first, by ``ChannelState.close``)."""
    try:
        await runtime.bot.shutdown()
    except TelegramError:
        logger.warning("telegram.bot.shutdown_failed")

"""What the Telegram channel opens when the server starts and closes when it stops: the ``Bot``
(python-telegram-bot 22, no ``Application``), the shared state, and the chat ids' keyed hash and
encrypted address book (``channels.identity``): a chat id is the user's Telegram id, so Rasa only
ever sees ``tg-<keyed hash>`` and the chat id to answer is looked up, decrypted, when sending."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from telegram import Bot
from telegram.error import TelegramError
from telegram.request import BaseRequest

from bot.settings import Settings
from channels.identity import AddressBook, SenderIdentity, load_keys
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
    identity: SenderIdentity
    addresses: AddressBook

    def sender_for(self, chat_id: int) -> str:
        """The conversation's sender id: ``tg-<keyed hash of the chat id>``."""
        return self.identity.sender_id(str(chat_id))

    async def remember(self, sender_id: str, chat_id: int) -> None:
        """Keep the chat id (encrypted) to answer this sender; refreshed by every message."""
        await self.addresses.remember(sender_id, str(chat_id))

    async def chat_for(self, sender_id: str) -> Optional[int]:
        """The chat id to send to, or None for an id this channel never saw."""
        if not sender_id.startswith("tg-"):
            return None
        found = await self.addresses.lookup(sender_id)
        try:
            return int(found) if found is not None else None
        except ValueError:
            return None


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
    keys = load_keys(settings)  # SENDER_ID_KEY, ADDRESS_ENCRYPTION_KEY; dev keys in .run/
    return TelegramRuntime(
        bot,
        channel,
        CallbackKeys(channel.state),
        token.split(":", 1)[0],
        SenderIdentity(keys.sender_id_key, "tg"),
        AddressBook(channel.state, keys.address_cipher),
    )


async def close_runtime(runtime: TelegramRuntime) -> None:
    """Shut the ``Bot`` down (the updates in hand are finished first, by ``ChannelState.close``)."""
    try:
        await runtime.bot.shutdown()
    except TelegramError:
        logger.warning("telegram.bot.shutdown_failed")

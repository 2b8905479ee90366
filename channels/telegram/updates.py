"""One accepted Telegram update, handled in the background in its chat's turn: de-duplicated on
``update_id``, a button tap read back to its payload, media refused unopened, groups pointed to a
private chat, the text cleaned (``bot.inbound``), one ``UserMessage`` to Rasa with "typing…"
shown until the bot has answered."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa.core.channels.channel import UserMessage
from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.content import ContentLibrary
from bot.inbound import prepare_text
from bot.language import detect_language
from bot.settings import Settings
from channels.common import agent_language, refusal_text
from channels.gate import HandoverGate
from channels.platform import OnNewMessage
from channels.telegram.keyboard import button_title
from channels.telegram.output import TelegramOutput, start_typing
from channels.telegram.runtime import TelegramRuntime

__all__ = ["UpdateHandler"]

logger = logging.getLogger(__name__)

GROUP_NOTICE_EVERY = 24 * 3600  # one "talk to me privately" line per group per day
_START = re.compile(r"^/start(?:@\w+)?(?:\s.*)?$", re.DOTALL)
_GREETING = {"ar": "مرحبا", "en": "hello"}


class UpdateHandler:
    """What the ``TelegramInput`` does with an update once it has answered Telegram (see the
    module docs). ``name`` is the input channel the ``UserMessage`` comes from."""

    def __init__(self, settings: Settings, name: str):
        self.settings = settings
        self.name = name

    async def handle(self, app: Any, rt: TelegramRuntime, update: Update, on_new_message: OnNewMessage) -> None:
        if not await rt.channel.dedup.first_time(f"tg:upd:{rt.bot_id}:{update.update_id}"):
            logger.info("telegram.update.duplicate")
            return
        if update.callback_query is not None:
            await self._handle_callback(app, rt, update, on_new_message)
            return
        message = update.message
        if message is None or message.chat is None:
            return
        if message.from_user is not None and message.from_user.is_bot:
            return
        if message.chat.type != ChatType.PRIVATE:
            await self._group_notice(rt, message)
            return
        sender = rt.sender_for(message.chat.id)
        await rt.remember(sender, message.chat.id)
        output = TelegramOutput(rt)
        if message.effective_attachment is not None:
            # Never downloaded, never forwarded: we only know that something was sent.
            logger.info("telegram.media.refused")
            caption = message.caption or ""
            language = await agent_language(app, sender, caption)
            await output.send_text_message(sender, self._library().message("media_policy", language))
            if caption.strip():
                await self._process(app, rt, sender, caption, output, on_new_message)
            return
        if message.text is None:
            return  # service messages (pinned, joined...) carry nothing to answer
        text = message.text
        if _START.match(text.strip()):
            code = (message.from_user.language_code or "") if message.from_user else ""
            text = _GREETING.get(code[:2].lower(), _GREETING[self.settings.default_language])
        await self._process(app, rt, sender, text, output, on_new_message)

    async def _handle_callback(
        self, app: Any, rt: TelegramRuntime, update: Update, on_new_message: OnNewMessage
    ) -> None:
        query = update.callback_query
        if query is None:
            return
        try:
            await rt.bot.answer_callback_query(query.id)  # stops the client's spinner
        except TelegramError as error:
            logger.info("telegram.callback.answer_failed error=%s", type(error).__name__)
        shown = query.message if isinstance(query.message, Message) else None
        if query.message is not None and query.message.chat.type != ChatType.PRIVATE:
            return
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        sender = rt.sender_for(chat_id)
        await rt.remember(sender, chat_id)
        payload = await rt.keys.payload_for(query.data) if query.data else None
        title = button_title(shown, query.data)
        if payload is not None and payload in await rt.channel.offered.current(sender):
            text = payload
        elif title:
            text = title  # an old button: read its words, which go through understanding
        else:
            logger.info("telegram.callback.unknown")
            return
        await self._process(app, rt, sender, text, TelegramOutput(rt), on_new_message)

    async def _process(
        self,
        app: Any,
        rt: TelegramRuntime,
        sender: str,
        raw: str,
        output: TelegramOutput,
        on_new_message: OnNewMessage,
    ) -> None:
        inbound = prepare_text(raw, self.settings.max_message_chars, await rt.channel.offered.current(sender))
        if not inbound.ok:
            logger.info("telegram.message.refused problem=%s", inbound.problem)
            language = await agent_language(app, sender, raw)
            await output.send_text_message(sender, refusal_text(inbound.problem, language))
            return
        message = UserMessage(
            inbound.text,
            output,
            sender,
            input_channel=self.name,
            metadata={"language": detect_language(inbound.text)},
        )
        gate = on_new_message if isinstance(on_new_message, HandoverGate) else None
        if gate is not None and await gate.divert(message):
            return  # a counselor holds the chat: no "typing…" from the bot, no reply
        typing = await start_typing(rt.bot, await rt.chat_for(sender))
        try:
            await (gate.to_bot if gate is not None else on_new_message)(message)
        finally:
            if typing is not None:
                typing.cancel()

    async def _group_notice(self, rt: TelegramRuntime, message: Message) -> None:
        """Groups never reach Rasa; once a day they get one line pointing to a private chat."""
        if message.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
            return
        if not await rt.channel.dedup.first_time(f"tg:group:{rt.bot_id}:{message.chat.id}", GROUP_NOTICE_EVERY):
            return
        language = detect_language(message.text or message.caption or "") or self.settings.default_language
        notice = self._library().message("private_chat_only", language)
        logger.info("telegram.group.notice")
        await TelegramOutput(rt).send_to_chat(message.chat.id, notice)  # a group: no conversation, no sender id

    def _library(self) -> ContentLibrary:
        return ContentLibrary.load(self.settings.data_dir)

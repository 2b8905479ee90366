"""Telegram channel at ``/webhooks/telegram/webhook`` (python-telegram-bot 22, no Application).

The recipe: the ``X-Telegram-Bot-Api-Secret-Token`` header must equal ``TELEGRAM_WEBHOOK_SECRET``
(constant-time, 403 otherwise) → the JSON body is checked (size, content type, ``update_id``) and
parsed with ``Update.de_json`` → 200 at once; the update is then handled in the background, in
arrival order per chat (``ChatSequencer``): de-duplicated on ``update_id`` (Redis ``SET NX EX``),
media refused unopened, the text cleaned (``bot.inbound``), one ``UserMessage`` to Rasa, the replies
sent by the ``Bot`` created when the server starts.

Better than Rasa's own Telegram connector: it authenticates every request, processes a retried
update once, never runs ``asyncio.run`` (so ``get_output_channel`` works for pushes), splits
replies over 4096 characters, waits out ``RetryAfter``, maps long button payloads to short
``callback_data`` keys, answers callback queries, and never lets a group chat share a tracker.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType, MessageLimit
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.request import BaseRequest
from telegram.warnings import PTBDeprecationWarning

from bot.content import ContentLibrary
from bot.inbound import prepare_text
from bot.language import detect_language
from bot.settings import Settings, get_settings
from channels.common import platform_webhook, refusal_text, reply_language
from channels.gate import HandoverGate
from channels.handover import Pushed
from channels.outgoing import TextOnlyOutput, button_list, split_text
from channels.state import ChannelState, KeyValue

__all__ = ["TelegramInput", "TelegramOutput", "CallbackKeys", "ALLOWED_UPDATES", "SECRET_HEADER"]

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
# The update kinds the webhook asks for (``set-webhook``); anything else is answered 200 and ignored.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
MAX_BODY_BYTES = 256 * 1024
MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH  # 4096
MAX_CALLBACK_BYTES = 64
CALLBACK_KEY_TTL = 30 * 24 * 3600
GROUP_NOTICE_EVERY = 24 * 3600  # one "talk to me privately" line per group per day
MAX_RETRY_AFTER = 60.0
SEND_ATTEMPTS = 3
TYPING_EVERY = 4.5  # Telegram shows "typing…" for about 5 seconds
_SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_START = re.compile(r"^/start(?:@\w+)?(?:\s.*)?$", re.DOTALL)
_GREETING = {"ar": "مرحبا", "en": "hello"}


def sender_for_chat(chat_id: int) -> str:
    return f"tg-{chat_id}"


def chat_for_sender(sender_id: str) -> Optional[int]:
    if not sender_id.startswith("tg-"):
        return None
    try:
        return int(sender_id[3:])
    except ValueError:
        return None


def _seconds(delay: Any) -> float:
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


def _retry_after(error: RetryAfter) -> float:
    # PTB 22 warns about the attribute's type changing from int to timedelta; we accept both.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return _seconds(error.retry_after)


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


@dataclass
class _Runtime:
    bot: Bot
    channel: ChannelState
    keys: CallbackKeys
    bot_id: str


class TelegramOutput(TextOnlyOutput):
    """Sends Rasa's replies to a Telegram chat; recipient ids are ``tg-<chat id>``."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    def __init__(self, runtime: _Runtime):
        self._rt = runtime
        self._offered: Dict[str, List[str]] = {}

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        chat_id = chat_for_sender(recipient_id)
        if chat_id is None:
            logger.warning("telegram.send.bad_recipient")
            return
        for part in split_text(text, MAX_TEXT):
            await self._send(chat_id, part)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        chat_id = chat_for_sender(recipient_id)
        choices = button_list(buttons)
        if chat_id is None or not choices:
            await self.send_text_message(recipient_id, text)
            return
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(title, callback_data=await self._rt.keys.data_for(payload))]
                for title, payload in choices
            ]
        )
        parts = split_text(text, MAX_TEXT) or ["•"]
        for part in parts[:-1]:
            await self._send(chat_id, part)
        await self._send(chat_id, parts[-1], keyboard)
        # Everything offered in this turn passes the payload guard on the way back.
        offered = self._offered.setdefault(recipient_id, [])
        offered += [payload for _, payload in choices]
        await self._rt.channel.offered.remember(recipient_id, offered)

    async def push_text(self, recipient_id: str, text: str) -> Pushed:
        """``send_text_message`` that says whether Telegram took every part (hand-over delivery)."""
        chat_id = chat_for_sender(recipient_id)
        if chat_id is None:
            return Pushed(False, "not a Telegram conversation")
        for part in split_text(text, MAX_TEXT):
            if not await self._send(chat_id, part):
                return Pushed(False, "Telegram did not accept the message")
        return Pushed(True)

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


class TelegramInput(InputChannel):
    """Telegram webhook; enabled when ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_WEBHOOK_SECRET`` are set."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> TelegramInput:
        # Secrets come from the environment, never from credentials.yml.
        return cls()

    def __init__(self, settings: Optional[Settings] = None, request: Optional[BaseRequest] = None):
        """
        Args:
            settings: defaults to ``get_settings()``.
            request: the ``BaseRequest`` the ``Bot`` talks through (tests pass an offline one).
        """
        self.settings = settings or get_settings()
        if not self.settings.telegram_enabled:
            raise ValueError("the Telegram channel needs TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET")
        if not _SECRET_FORMAT.match(self.settings.telegram_webhook_secret or ""):
            raise ValueError("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        self._request = request
        self._runtime: Optional[_Runtime] = None

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the ``Bot`` and the shared state; called when the server starts."""
        # httpx logs every request URL at INFO, and a Bot API URL contains the token.
        if logging.getLogger("httpx").getEffectiveLevel() < logging.WARNING:
            logging.getLogger("httpx").setLevel(logging.WARNING)
        token = self.settings.telegram_bot_token or ""
        api = self.settings.telegram_api_base_url
        bot = Bot(
            token,
            base_url=f"{api}/bot",
            base_file_url=f"{api}/file/bot",
            request=self._request,
            get_updates_request=self._request,
        )
        try:
            await bot.initialize()
        except TelegramError as error:
            # Sending works without it; the webhook must not stay down because getMe failed once.
            logger.warning("telegram.bot.initialize_failed error=%s", type(error).__name__)
        channel = ChannelState.open("telegram", self.settings.redis_url)
        self._runtime = _Runtime(bot, channel, CallbackKeys(channel.state), token.split(":", 1)[0])
        logger.info("telegram.started")

    async def stop(self) -> None:
        """Finish the updates in hand, then shut the ``Bot`` down; called when the server stops."""
        runtime, self._runtime = self._runtime, None
        if runtime is None:
            return
        await runtime.channel.close()
        try:
            await runtime.bot.shutdown()
        except TelegramError:
            logger.warning("telegram.bot.shutdown_failed")
        logger.info("telegram.stopped")

    async def idle(self) -> None:
        """Wait until every accepted update has been handled (tests and graceful stops)."""
        if self._runtime is not None:
            await self._runtime.channel.sequencer.drain()

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Pushes to a ``tg-<chat id>`` sender outside a turn (counselor replies, campaigns)."""
        return TelegramOutput(self._runtime) if self._runtime is not None else None

    async def push(self, sender_id: str, text: str) -> Pushed:
        """A counselor's message (or hand-over notice) to a ``tg-<chat id>`` user."""
        if self._runtime is None:
            return Pushed(False, "the Telegram channel is not started")
        return await TelegramOutput(self._runtime).push_text(sender_id, text)

    # --- webhook -------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook, gate = platform_webhook(self, "amaan_telegram_webhook", on_new_message)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return self._receive(request, gate)

        return webhook

    def _receive(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        # Synchronous on purpose: nothing may await before the update is queued for its chat,
        # or two quick messages could swap places.
        supplied = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(supplied.encode(), (self.settings.telegram_webhook_secret or "").encode()):
            logger.warning("telegram.update.rejected reason=secret")
            return _error(403, "missing or wrong secret token")
        if len(request.body or b"") > MAX_BODY_BYTES:
            return _error(413, f"body over {MAX_BODY_BYTES} bytes")
        if not (request.content_type or "").lower().startswith("application/json"):
            return _error(415, "body must be application/json")
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "body must be JSON")
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("update_id"), int)
            or isinstance(body["update_id"], bool)
        ):
            return _error(400, "an update needs an integer update_id")
        runtime = self._runtime
        if runtime is None:
            return _error(503, "starting")
        try:
            update = Update.de_json(body, runtime.bot)
        except Exception:  # noqa: BLE001 - de_json raises KeyError, TypeError, AttributeError...
            logger.warning("telegram.update.unparseable")
            return _ok()
        chat_id = _chat_of(update)
        if chat_id is None:
            logger.info("telegram.update.ignored kind=%s", _kind(body))
            return _ok()
        app = request.app
        runtime.channel.sequencer.submit(
            sender_for_chat(chat_id), lambda: self._handle(app, runtime, update, on_new_message)
        )
        return _ok()

    # --- handling, in the background -----------------------------------------------------------

    async def _handle(
        self, app: Any, rt: _Runtime, update: Update, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
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
            await self._group_notice(app, rt, message)
            return
        sender = sender_for_chat(message.chat.id)
        output = TelegramOutput(rt)
        if message.effective_attachment is not None:
            # Never downloaded, never forwarded: we only know that something was sent.
            logger.info("telegram.media.refused")
            caption = message.caption or ""
            language = await self._language(app, sender, caption)
            await output.send_text_message(sender, _library(self.settings).message("media_policy", language))
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
        self, app: Any, rt: _Runtime, update: Update, on_new_message: Callable[[UserMessage], Awaitable[Any]]
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
        sender = sender_for_chat(chat_id)
        payload = await rt.keys.payload_for(query.data) if query.data else None
        title = _button_title(shown, query.data)
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
        rt: _Runtime,
        sender: str,
        raw: str,
        output: TelegramOutput,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        inbound = prepare_text(raw, self.settings.max_message_chars, await rt.channel.offered.current(sender))
        if not inbound.ok:
            logger.info("telegram.message.refused problem=%s", inbound.problem)
            language = await self._language(app, sender, raw)
            await output.send_text_message(sender, refusal_text(inbound.problem, language))
            return
        message = UserMessage(
            inbound.text,
            output,
            sender,
            input_channel=self.name(),
            metadata={"language": detect_language(inbound.text)},
        )
        gate = on_new_message if isinstance(on_new_message, HandoverGate) else None
        if gate is not None and await gate.divert(message):
            return  # a counselor holds the chat: no "typing…" from the bot, no reply
        typing = await _start_typing(rt.bot, chat_for_sender(sender))
        try:
            await (gate.to_bot if gate is not None else on_new_message)(message)
        finally:
            if typing is not None:
                typing.cancel()

    async def _group_notice(self, app: Any, rt: _Runtime, message: Message) -> None:
        """Groups never reach Rasa; once a day they get one line pointing to a private chat."""
        if message.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
            return
        if not await rt.channel.dedup.first_time(f"tg:group:{rt.bot_id}:{message.chat.id}", GROUP_NOTICE_EVERY):
            return
        language = detect_language(message.text or message.caption or "") or self.settings.default_language
        notice = _library(self.settings).message("private_chat_only", language)
        logger.info("telegram.group.notice")
        await TelegramOutput(rt).send_text_message(sender_for_chat(message.chat.id), notice)

    async def _language(self, app: Any, sender: str, text: str) -> str:
        return await reply_language(getattr(app.ctx, "agent", None), sender, text)


async def _start_typing(bot: Bot, chat_id: Optional[int]) -> Optional[asyncio.Task]:
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


def _chat_of(update: Update) -> Optional[int]:
    """The chat an update is about, for the kinds we handle (new messages and button taps)."""
    if update.message is not None and update.message.chat is not None:
        return update.message.chat.id
    query = update.callback_query
    if query is not None:
        if query.message is not None:
            return query.message.chat.id
        return query.from_user.id if query.from_user is not None else None
    return None  # edited messages, channel posts, and kinds we did not ask for


def _kind(body: Dict[str, Any]) -> str:
    kinds = [k for k in body if k != "update_id"]
    return kinds[0] if len(kinds) == 1 and len(kinds[0]) <= 40 else "unknown"


def _button_title(message: Optional[Message], data: Optional[str]) -> Optional[str]:
    if message is None or message.reply_markup is None or not data:
        return None
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


def _library(settings: Settings) -> ContentLibrary:
    return ContentLibrary.load(settings.data_dir)


def _ok() -> HTTPResponse:
    return response.json({"ok": True})


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)

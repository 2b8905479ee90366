"""The widget's socket.io server at ``/webhooks/web/socket.io/`` (see the package docs for the
protocol): sessions the server assigns (new ones limited per client address, ``limits``), and each
``user_uttered`` read as the recipe every connector follows: a session (else refused) → the
address's message limit (else ``busy``) → the shape → media dropped unopened → the text cleaned
(``bot.inbound``) → one ``UserMessage`` through the ``HandoverGate`` → an ack once the bot has
answered."""

from __future__ import annotations

import logging
import re
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional, Tuple

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Sanic
from socketio import AsyncRedisManager, AsyncServer

from bot.cases.copies import on_forget
from bot.cases.crypto import CaseCipher, MissingKey
from bot.cases.desk import case_keys
from bot.content import LANGUAGES, ContentLibrary
from bot.inbound import prepare_text
from bot.language import detect_language
from bot.offered import OfferedPayloads, offered_store
from bot.settings import REQUEST_MAX_BYTES, Settings, get_settings
from channels.common import refusal_text, reply_language
from channels.gate import HandoverGate
from channels.handover import Pushed, offer_push
from channels.web.files import add_files
from channels.web.limits import AddressLimiter, client_address
from channels.web.output import WebOutput, deliver
from channels.web.sessions import MemoryWebSessions, WebSessions, web_sessions

__all__ = ["WebInput", "SOCKETIO_PATH"]

logger = logging.getLogger(__name__)

SOCKETIO_PATH = "/webhooks/web/socket.io"
MAX_PACKET_BYTES = 64 * 1024

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
_MEDIA_KEYS = ("attachment", "attachments", "file", "files", "image", "images", "media", "audio", "video")


class _SocketBlueprint(Blueprint):
    """A blueprint that also attaches the socket.io server to the app it is registered on."""

    def __init__(self, channel: WebInput, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.ctx.channel = channel

    def register(self, app: Sanic, options: Dict[str, Any]) -> None:
        channel: WebInput = self.ctx.channel
        # The server's own body limit (``make run`` sets it too, through SANIC_REQUEST_MAX_SIZE).
        app.config.REQUEST_MAX_SIZE = min(app.config.REQUEST_MAX_SIZE, REQUEST_MAX_BYTES)
        app.config.WEBSOCKET_MAX_SIZE = min(app.config.WEBSOCKET_MAX_SIZE, REQUEST_MAX_BYTES)
        if channel.sio is not None:
            channel.sio.attach(app, SOCKETIO_PATH)
        channel.app = app
        super().register(app, options)


def _replay_cipher(settings: Settings) -> Optional[CaseCipher]:
    """The case keys, which seal the replay log. None only where no key exists at all: there the
    Rasa server cannot start (its conversation store needs the key), so only a test's in-process
    server runs without."""
    try:
        return CaseCipher(case_keys(settings))
    except MissingKey:
        return None


def _own_origin_or(listed: Tuple[str, ...]) -> Callable[[Optional[str], Dict[str, Any]], bool]:
    """The socket's origin check: the conversation frame is served from the bot's own origin, so
    that is the origin a widget connects from (``listed``, ``WEB_ALLOWED_ORIGINS``, stay accepted:
    which sites may show the chat is decided by the frame's ``frame-ancestors``)."""

    def accepted(origin: Optional[str], environ: Dict[str, Any]) -> bool:
        if origin is None or origin in listed:
            return origin is not None
        request = environ.get("sanic.request")
        if request is None:
            return False
        scheme = "https" if str(request.scheme) in ("https", "wss") else "http"
        return origin == f"{scheme}://{request.host}"

    return accepted


def _carries_media(data: Mapping[str, Any]) -> bool:
    return any(isinstance(v, bytes | bytearray) for v in data.values()) or any(k in data for k in _MEDIA_KEYS)


class WebInput(InputChannel):
    """The web widget's socket.io channel and the files the widget needs (see the package docs)."""

    @classmethod
    def name(cls) -> str:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> WebInput:
        return cls()

    def __init__(self) -> None:
        self.sio: Optional[AsyncServer] = None
        self.sessions: WebSessions = MemoryWebSessions()
        self.offered: Optional[OfferedPayloads] = None
        self.app: Optional[Sanic] = None
        self._senders: Dict[str, str] = {}  # socket id -> sender id
        self._addresses: Dict[str, str] = {}  # socket id -> client address (for the limits)
        self.limiter = AddressLimiter()

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Reaches a user's open widget(s) by sender id: ``send_text_message(sender_id, text)``."""
        if self.sio is None or self.offered is None:
            return None
        return WebOutput(self.sio, self.sessions, self.offered)

    async def push(self, sender_id: str, text: str) -> Pushed:
        """A counselor's message (or hand-over notice) to a user's widget: emitted to its open
        sockets and kept in the replay log, so a widget that reconnects with its token gets it."""
        if self.sio is None or self.offered is None:
            return Pushed(False, "the web channel is not started")
        try:
            await deliver(self.sio, self.sessions, sender_id, {"text": text.strip(), "from": "counselor"})
        except Exception as error:  # noqa: BLE001 - Redis down: say so, the console shows "not delivered"
            logger.warning("web.push.failed error=%s", type(error).__name__)
            return Pushed(False, "the web channel could not send")
        return Pushed(True)

    def sender_of(self, socket_id: str) -> Optional[str]:
        """The conversation a connected socket belongs to."""
        return self._senders.get(socket_id)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        settings = get_settings()
        self.sessions = web_sessions(settings.redis_url, _replay_cipher(settings))
        # "Delete my data" clears the replay log as well as the conversation (bot.cases.conversations).
        on_forget(self, self.sessions.forget)
        self.offered = offered_store(settings.redis_url)
        self.limiter = AddressLimiter(settings.redis_url)
        manager = AsyncRedisManager(settings.redis_url, channel="amaan-web") if settings.redis_url else None
        sio = AsyncServer(
            async_mode="sanic",
            client_manager=manager,
            cors_allowed_origins=_own_origin_or(settings.web_allowed_origins),
            cors_credentials=False,
            cookie=None,
            max_http_buffer_size=MAX_PACKET_BYTES,
        )
        self.sio = sio
        web = _SocketBlueprint(self, "amaan_web", __name__)
        add_files(web, settings.data_dir, settings.web_allowed_origins)
        # While a counselor holds a conversation, its messages go to the case, not to the bot.
        gate = HandoverGate.around(web, on_new_message)
        offer_push(web, self.name(), self.push)

        @web.listener("after_server_stop")
        async def close_sessions(*_: Any) -> None:
            await self.sessions.close()
            await self.limiter.close()

        @sio.on("connect")
        async def connect(sid: str, environ: Dict[str, Any], auth: Any = None) -> bool:
            self._addresses[sid] = client_address(environ)
            logger.debug("web.socket.connected")
            return True

        @sio.on("disconnect")
        async def disconnect(sid: str, *_: Any) -> None:
            self._senders.pop(sid, None)
            self._addresses.pop(sid, None)
            logger.debug("web.socket.disconnected")

        @sio.on("session_request")
        async def session_request(sid: str, data: Any = None) -> Dict[str, Any]:
            data = data if isinstance(data, dict) else {}
            token, after = data.get("token"), data.get("after")
            after = after if isinstance(after, int) and not isinstance(after, bool) and after >= 0 else 0
            sender = await self.sessions.resolve(token) if isinstance(token, str) and _TOKEN.match(token) else None
            resumed = sender is not None
            if sender is None:
                # A new conversation costs memory or Redis: limited per address (resuming is not).
                if not await self.limiter.allow("session", self._addresses.get(sid, "unknown")):
                    return {"error": "busy"}
                token, sender = await self.sessions.issue()
            previous = self._senders.get(sid)
            if previous and previous != sender:
                await sio.leave_room(sid, previous)
            self._senders[sid] = sender
            await sio.enter_room(sid, sender)
            logger.info("web.session.%s", "resumed" if resumed else "started")
            missed = await self.sessions.replay(sender, after) if resumed else []
            return {"token": token, "resumed": resumed, "missed": missed}

        @sio.on("session_end")
        async def session_end(sid: str, data: Any = None) -> Dict[str, Any]:
            token = data.get("token") if isinstance(data, dict) else None
            if isinstance(token, str) and _TOKEN.match(token):
                await self.sessions.revoke(token)
            sender = self._senders.pop(sid, None)
            if sender:
                await sio.leave_room(sid, sender)
            logger.info("web.session.ended")
            return {"ok": True}

        @sio.on("user_uttered")
        async def user_uttered(sid: str, data: Any = None) -> Dict[str, Any]:
            sender = self._senders.get(sid)
            if sender is None:
                return {"ok": False, "error": "no_session"}
            # Its place in the conversation first, before any await (channels.gate).
            async with gate.turn(sender):
                return await uttered(sid, sender, data)

        async def uttered(sid: str, sender: str, data: Any) -> Dict[str, Any]:
            if not await self.limiter.allow("message", self._addresses.get(sid, "unknown")):
                return {"ok": False, "error": "busy"}
            if not isinstance(data, dict):
                logger.info("web.message.rejected problem=shape")
                return {"ok": False, "error": "bad_request"}
            output = WebOutput(sio, self.sessions, self.offered or offered_store(settings.redis_url))
            ui_language = data.get("lang") if data.get("lang") in LANGUAGES else None
            raw = data.get("message")
            if _carries_media(data):
                # Dropped unopened: never stored, inspected or forwarded.
                logger.info("web.message.media_dropped")
                language = ui_language or await reply_language(self._agent(), sender, "")
                library = ContentLibrary.load(settings.data_dir)
                await output.send_text_message(sender, library.message("media_policy", language))
                return {"ok": True}
            if not isinstance(raw, str):
                logger.info("web.message.rejected problem=shape")
                return {"ok": False, "error": "bad_request"}
            inbound = prepare_text(raw, settings.max_message_chars, await output.offered.current(sender))
            if not inbound.ok:
                language = detect_language(raw[:500]) or ui_language or await reply_language(self._agent(), sender, "")
                logger.info("web.message.refused problem=%s", inbound.problem)
                await output.send_text_message(sender, refusal_text(inbound.problem, language))
                return {"ok": True}
            metadata = {"language": detect_language(inbound.text) or ui_language}
            try:
                await gate(UserMessage(inbound.text, output, sender, input_channel=self.name(), metadata=metadata))
            except Exception as error:  # noqa: BLE001 - the widget must hear back either way
                # The traceback may quote the message: debug level only.
                logger.error("web.message.failed error=%s", type(error).__name__)
                logger.debug("web.message.failed", exc_info=True)
                return {"ok": False, "error": "failed"}
            return {"ok": True}

        return web

    def _agent(self) -> Any:
        return getattr(self.app.ctx, "agent", None) if self.app is not None else None

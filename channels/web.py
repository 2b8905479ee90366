"""The web widget's channel: socket.io at ``/webhooks/web/socket.io/``, and the widget's files.

Better than Rasa's socketio channel on the points that matter here:

* **The server assigns the conversation.** The browser never names a sender id. On
  ``session_request`` it shows the token the server issued before (kept in the tab's
  ``sessionStorage``); a known token resumes its conversation, anything else starts a new one with
  a new random sender id and a new unguessable token. Only a hash of each token is stored.
* **Origins are checked**: ``WEB_ALLOWED_ORIGINS``, or the bot's own origin when unset (never
  ``cors_allowed_origins=[]``, which turns the check off). No cookies are set.
* **Nothing is lost on a reconnect**: every message to a user is numbered and kept (the last
  ``REPLAY_LIMIT``, for ``SESSION_TTL_SECONDS``); a resuming widget says which number it saw last
  and gets what it missed, so a counselor's message sent during a network drop still arrives.
* Typed ``/intent{...}`` text is plain text unless the bot offered it as a button
  (``bot.inbound``, ``bot.offered``); media is dropped unopened and answered with the media policy.

Protocol (socket.io events, default namespace):

* client → ``session_request`` ``{"token"?: str, "after"?: int}``; ack
  ``{"token": str, "resumed": bool, "missed": [message, ...]}``.
* client → ``user_uttered`` ``{"message": str, "lang"?: "ar"|"en"}``; ack ``{"ok": bool, "error"?: str}``
  once the bot has answered. The answers arrive as ``bot_uttered``.
* client → ``session_end``: forget the token (quick exit, "clear conversation"); ack ``{"ok": true}``.
* server → ``bot_uttered`` ``{"id": int, "text": str, "buttons"?: [{"title", "payload"}]}``; a
  counselor's message (``push``, from the hand-over endpoint) has ``"from": "counselor"``.

Several tabs and servers: each tab has its own ``sessionStorage``, so its own conversation; a
duplicated tab copies the token and shares the conversation (both receive the bot's messages).
With ``REDIS_URL`` the tokens, the replay log and the socket rooms (python-socketio's
``AsyncRedisManager``) are shared, so any number of Rasa servers can serve the widget and
``get_output_channel`` reaches a user connected to another one; the HTTP long-polling fallback
then needs sticky sessions at the load balancer (WebSocket connections do not).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any, Awaitable, Callable, Coroutine, Deque, Dict, List, Mapping, Optional, Tuple

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from bot.content import LANGUAGES, ContentLibrary
from bot.inbound import prepare_text
from bot.language import detect_language
from bot.offered import OfferedPayloads, offered_store
from bot.settings import PROJECT_ROOT, get_settings
from channels.common import refusal_text, reply_language
from channels.gate import HandoverGate
from channels.handover import Pushed, offer_push

__all__ = [
    "WebInput",
    "WebOutput",
    "WebSessions",
    "MemoryWebSessions",
    "RedisWebSessions",
    "web_sessions",
    "SOCKETIO_PATH",
    "DEMO_CSP",
]

logger = logging.getLogger(__name__)

SOCKETIO_PATH = "/webhooks/web/socket.io"
BOT_EVENT = "bot_uttered"
SESSION_TTL_SECONDS = 12 * 3600
REPLAY_LIMIT = 50
MAX_PACKET_BYTES = 64 * 1024
STATIC_DIR = Path(__file__).resolve().parent / "web_static"
SOCKETIO_CLIENT = PROJECT_ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"

# The demo page runs the widget under the strictest policy a host page is likely to have: no inline
# script or style, nothing from anywhere but the bot's own origin.
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
_MEDIA_KEYS = ("attachment", "attachments", "file", "files", "image", "images", "media", "audio", "video")

# name -> (file, content type, Cache-Control)
_ASSETS: Dict[str, Tuple[Path, str, str]] = {
    "widget.js": (STATIC_DIR / "widget.js", "text/javascript; charset=utf-8", "public, max-age=600"),
    "widget.css": (STATIC_DIR / "widget.css", "text/css; charset=utf-8", "public, max-age=600"),
    "demo.css": (STATIC_DIR / "demo.css", "text/css; charset=utf-8", "public, max-age=600"),
    "socket.io.min.js": (SOCKETIO_CLIENT, "text/javascript; charset=utf-8", "public, max-age=86400"),
}
_PAGES: Dict[str, Path] = {"demo": STATIC_DIR / "demo.html", "weather": STATIC_DIR / "weather.html"}


# --- sessions: token -> sender id, and the replay log -------------------------------------------


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _new_sender() -> str:
    return f"web-{secrets.token_hex(16)}"


class WebSessions:
    """Interface: issue and resolve resume tokens; number and keep what is sent to each user."""

    async def issue(self) -> Tuple[str, str]:
        """A new ``(token, sender_id)``."""
        raise NotImplementedError

    async def resolve(self, token: str) -> Optional[str]:
        """The sender id a token was issued for (extending its life), or None."""
        raise NotImplementedError

    async def revoke(self, token: str) -> None:
        raise NotImplementedError

    async def record(self, sender_id: str, message: Dict[str, Any]) -> Dict[str, Any]:
        """``message`` with its number in the user's conversation, kept for replay."""
        raise NotImplementedError

    async def replay(self, sender_id: str, after: int) -> List[Dict[str, Any]]:
        """The kept messages numbered above ``after``, oldest first."""
        raise NotImplementedError

    async def close(self) -> None:
        return None


class MemoryWebSessions(WebSessions):
    """Per-process sessions (one Rasa server), bounded in number and time."""

    def __init__(self, ttl: float = SESSION_TTL_SECONDS, max_sessions: int = 100_000):
        self._ttl = ttl
        self._max = max_sessions
        self._tokens: OrderedDict[str, Tuple[float, str]] = OrderedDict()
        self._logs: OrderedDict[str, Tuple[float, int, Deque[Dict[str, Any]]]] = OrderedDict()

    async def issue(self) -> Tuple[str, str]:
        token, sender = _new_token(), _new_sender()
        self._tokens[_token_key(token)] = (time.monotonic() + self._ttl, sender)
        self._trim(self._tokens)
        return token, sender

    async def resolve(self, token: str) -> Optional[str]:
        key = _token_key(token)
        entry = self._tokens.get(key)
        if entry is None or entry[0] < time.monotonic():
            self._tokens.pop(key, None)
            return None
        self._tokens[key] = (time.monotonic() + self._ttl, entry[1])
        self._tokens.move_to_end(key)
        return entry[1]

    async def revoke(self, token: str) -> None:
        entry = self._tokens.pop(_token_key(token), None)
        if entry:
            self._logs.pop(entry[1], None)

    async def record(self, sender_id: str, message: Dict[str, Any]) -> Dict[str, Any]:
        _, last, log = self._logs.get(sender_id) or (0.0, 0, deque(maxlen=REPLAY_LIMIT))
        numbered = {"id": last + 1, **message}
        log.append(numbered)
        self._logs[sender_id] = (time.monotonic() + self._ttl, last + 1, log)
        self._logs.move_to_end(sender_id)
        self._trim(self._logs)
        return numbered

    async def replay(self, sender_id: str, after: int) -> List[Dict[str, Any]]:
        entry = self._logs.get(sender_id)
        if entry is None or entry[0] < time.monotonic():
            return []
        return [m for m in entry[2] if m["id"] > after]

    def _trim(self, data: OrderedDict) -> None:
        while len(data) > self._max:
            data.popitem(last=False)


class RedisWebSessions(WebSessions):
    """Sessions shared by every Rasa server through Redis (``REDIS_URL``)."""

    def __init__(self, url: str, ttl: int = SESSION_TTL_SECONDS, prefix: str = "amaan:web:"):
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._ttl = ttl
        self._prefix = prefix

    async def issue(self) -> Tuple[str, str]:
        token, sender = _new_token(), _new_sender()
        await self._redis.set(f"{self._prefix}token:{_token_key(token)}", sender, ex=self._ttl)
        return token, sender

    async def resolve(self, token: str) -> Optional[str]:
        key = f"{self._prefix}token:{_token_key(token)}"
        sender = await self._redis.getex(key, ex=self._ttl)
        return sender.decode() if sender else None

    async def revoke(self, token: str) -> None:
        key = f"{self._prefix}token:{_token_key(token)}"
        sender = await self._redis.getdel(key)
        if sender:
            await self._redis.delete(f"{self._prefix}log:{sender.decode()}", f"{self._prefix}seq:{sender.decode()}")

    async def record(self, sender_id: str, message: Dict[str, Any]) -> Dict[str, Any]:
        seq_key, log_key = f"{self._prefix}seq:{sender_id}", f"{self._prefix}log:{sender_id}"
        numbered = {"id": int(await self._redis.incr(seq_key)), **message}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(log_key, json.dumps(numbered))
            pipe.ltrim(log_key, -REPLAY_LIMIT, -1)
            pipe.expire(log_key, self._ttl)
            pipe.expire(seq_key, self._ttl)
            await pipe.execute()
        return numbered

    async def replay(self, sender_id: str, after: int) -> List[Dict[str, Any]]:
        kept = [json.loads(raw) for raw in await self._redis.lrange(f"{self._prefix}log:{sender_id}", 0, -1)]
        return [m for m in kept if m["id"] > after]

    async def close(self) -> None:
        await self._redis.close()


def web_sessions(redis_url: Optional[str]) -> WebSessions:
    """Redis-backed sessions when ``REDIS_URL`` is set, else in memory."""
    return RedisWebSessions(redis_url) if redis_url else MemoryWebSessions()


# --- output -------------------------------------------------------------------------------------


class WebOutput(OutputChannel):
    """Sends to every socket of one conversation (its room), numbering each message for replay.

    Text and buttons only: images, attachments and custom payloads are never forwarded.
    """

    @classmethod
    def name(cls) -> str:
        return "web"

    def __init__(self, sio: AsyncServer, sessions: WebSessions, offered: OfferedPayloads):
        self.sio = sio
        self.sessions = sessions
        self.offered = offered

    async def _deliver(self, recipient_id: str, message: Dict[str, Any]) -> None:
        numbered = await self.sessions.record(recipient_id, message)
        await self.sio.emit(BOT_EVENT, numbered, room=recipient_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._deliver(recipient_id, {"text": str(text).strip()})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        choices = [
            {"title": b["title"], "payload": b["payload"]}
            for b in buttons
            if isinstance(b, dict) and isinstance(b.get("title"), str) and isinstance(b.get("payload"), str)
        ]
        await self.offered.remember(recipient_id, [c["payload"] for c in choices])
        await self._deliver(recipient_id, {"text": str(text or "").strip(), "buttons": choices})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        logger.warning("web.output.dropped kind=image")

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        logger.warning("web.output.dropped kind=attachment")

    async def send_elements(self, recipient_id: str, elements: Any, **kwargs: Any) -> None:
        logger.warning("web.output.dropped kind=elements")

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        logger.warning("web.output.dropped kind=custom")


# --- input --------------------------------------------------------------------------------------


class _SocketBlueprint(Blueprint):
    """A blueprint that also attaches the socket.io server to the app it is registered on."""

    def __init__(self, channel: WebInput, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.ctx.channel = channel

    def register(self, app: Sanic, options: Dict[str, Any]) -> None:
        channel: WebInput = self.ctx.channel
        if channel.sio is not None:
            channel.sio.attach(app, SOCKETIO_PATH)
        channel.app = app
        super().register(app, options)


def _carries_media(data: Mapping[str, Any]) -> bool:
    return any(isinstance(v, bytes | bytearray) for v in data.values()) or any(k in data for k in _MEDIA_KEYS)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class WebInput(InputChannel):
    """The web widget's socket.io channel and the files the widget needs (see the module docs)."""

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
            numbered = await self.sessions.record(sender_id, {"text": text.strip(), "from": "counselor"})
            await self.sio.emit(BOT_EVENT, numbered, room=sender_id)
        except Exception as error:  # noqa: BLE001 - Redis down: say so, the console shows "not delivered"
            logger.warning("web.push.failed error=%s", type(error).__name__)
            return Pushed(False, "the web channel could not send")
        return Pushed(True)

    def sender_of(self, socket_id: str) -> Optional[str]:
        """The conversation a connected socket belongs to."""
        return self._senders.get(socket_id)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        settings = get_settings()
        self.sessions = web_sessions(settings.redis_url)
        self.offered = offered_store(settings.redis_url)
        manager = AsyncRedisManager(settings.redis_url, channel="amaan-web") if settings.redis_url else None
        sio = AsyncServer(
            async_mode="sanic",
            client_manager=manager,
            cors_allowed_origins=list(settings.web_allowed_origins) or None,
            cors_credentials=False,
            cookie=None,
            max_http_buffer_size=MAX_PACKET_BYTES,
        )
        self.sio = sio
        web = _SocketBlueprint(self, "amaan_web", __name__)
        self._add_files(web, settings.data_dir)
        # While a counselor holds a conversation, its messages go to the case, not to the bot.
        gate = HandoverGate.around(web, on_new_message)
        offer_push(web, self.name(), self.push)

        @web.listener("after_server_stop")
        async def close_sessions(*_: Any) -> None:
            await self.sessions.close()

        @sio.on("connect")
        async def connect(sid: str, environ: Dict[str, Any], auth: Any = None) -> bool:
            logger.debug("web.socket.connected")
            return True

        @sio.on("disconnect")
        async def disconnect(sid: str, *_: Any) -> None:
            self._senders.pop(sid, None)
            logger.debug("web.socket.disconnected")

        @sio.on("session_request")
        async def session_request(sid: str, data: Any = None) -> Dict[str, Any]:
            data = data if isinstance(data, dict) else {}
            token, after = data.get("token"), data.get("after")
            after = after if isinstance(after, int) and not isinstance(after, bool) and after >= 0 else 0
            sender = await self.sessions.resolve(token) if isinstance(token, str) and _TOKEN.match(token) else None
            resumed = sender is not None
            if sender is None:
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

    def _add_files(self, web: Blueprint, data_dir: Path) -> None:
        """The widget's files, its texts from data/content/messages.yml, the demo and exit pages."""

        @web.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        def serve(name: str) -> Callable[[Request], Coroutine[Any, Any, HTTPResponse]]:
            path, content_type, cache = _ASSETS[name]

            async def asset(request: Request) -> HTTPResponse:
                try:
                    body = path.read_bytes()
                except OSError:
                    logger.error("web.asset.missing name=%s (`make setup` runs `npm ci`)", name)
                    return response.text("not found", status=404)
                return _cached(request, body, content_type, cache)

            return asset

        for name in _ASSETS:
            web.add_route(serve(name), f"/{name}", methods=["GET"], name=f"asset_{name.replace('.', '_')}")

        @web.route("/texts.json", methods=["GET"])
        async def texts(request: Request) -> HTTPResponse:
            library = ContentLibrary.load(data_dir)
            keys = [k for k in library.messages if k.startswith("web_")]
            body = json.dumps(
                {lang: {k[4:]: library.message(k, lang) for k in keys} for lang in LANGUAGES}, ensure_ascii=False
            ).encode()
            return _cached(request, body, "application/json; charset=utf-8", "public, max-age=600")

        @web.route("/demo", methods=["GET"])
        async def demo(request: Request) -> HTTPResponse:
            return _page(_PAGES["demo"])

        @web.route("/demo/weather", methods=["GET"])
        async def weather(request: Request) -> HTTPResponse:
            return _page(_PAGES["weather"])


def _cached(request: Request, body: bytes, content_type: str, cache: str) -> HTTPResponse:
    """A public asset: revalidated by ETag, loadable from any site that embeds the widget."""
    tag = _etag(body)
    headers = {
        "Cache-Control": cache,
        "ETag": tag,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",
    }
    if request.headers.get("If-None-Match") == tag:
        return response.empty(status=304, headers=headers)
    return response.raw(body, content_type=content_type, headers=headers)


def _page(path: Path) -> HTTPResponse:
    """An HTML page under the strict CSP, never cached (quick exit should leave nothing to reload)."""
    return response.raw(
        path.read_bytes(),
        content_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": DEMO_CSP,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        },
    )

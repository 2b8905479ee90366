"""Harness for the Telegram and WhatsApp channel tests: the real trained model and action server,
a real Rasa app (``rasa.core.run.configure_app``) served in-process on a free port, real Redis,
and fakes only at the edge of the internet:

* ``RecordingTelegram``: an offline ``telegram.request.BaseRequest`` (python-telegram-bot's own
  test approach) that records every Bot API call and answers it as Telegram would.
* ``RecordingTwilioHttp``: a subclass of the SDK's ``AsyncTwilioHttpClient`` that records every
  REST request instead of opening a connection.

The agent is loaded once per test process (``shared_agent``); each test gets its own Sanic server
in its own event loop, so the channels' clients are created and closed with it, as in production.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple
from urllib.parse import urlencode

import httpx
from cryptography.fernet import Fernet
from telegram.request import BaseRequest, RequestData
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator

from tests.services import redis_address, redis_url

API_TOKEN = uuid.uuid4().hex
REDIS_URL = redis_url(14)
PUBLIC_BASE_URL = "https://amaan.example.org"
TELEGRAM_TOKEN = "123456789:AAF-offline-test-token_only"
TELEGRAM_SECRET = "test-secret_" + uuid.uuid4().hex
TELEGRAM_API = "https://telegram-mock.internal"
TWILIO_SID = "AC" + "0" * 30 + "42"
TWILIO_TOKEN = uuid.uuid4().hex
TWILIO_FROM = "whatsapp:+14155238886"
TWILIO_API = "https://twilio-mock.internal"

CHANNEL_ENV = {
    "REDIS_URL": REDIS_URL,
    "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
    "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
    "TELEGRAM_API_BASE_URL": TELEGRAM_API,
    "TWILIO_ACCOUNT_SID": TWILIO_SID,
    "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "TWILIO_WHATSAPP_FROM": TWILIO_FROM,
    "TWILIO_API_BASE_URL": TWILIO_API,
    "SENDER_ID_KEY": "k" * 16 + uuid.uuid4().hex,
    "ADDRESS_ENCRYPTION_KEY": Fernet.generate_key().decode(),
}


def telegram_sender(chat_id: int) -> str:
    """The sender id the Telegram channel gives a chat under the test settings' ``SENDER_ID_KEY``."""
    from channels.identity import SenderIdentity

    return SenderIdentity(CHANNEL_ENV["SENDER_ID_KEY"].encode(), "tg").sender_id(str(chat_id))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the model, loaded once ----------------------------------------------------------------------


@lru_cache(maxsize=1)
def shared_agent(model_path: str, actions_url: str, action_token: str) -> Tuple[Any, Path]:
    """The trained model with the running action server, a SQLite tracker store whose file the
    tests read, and Redis as lock store (as with several replicas)."""
    from rasa.core.agent import Agent
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.utils.endpoints import EndpointConfig

    from bot.action_server import action_headers
    from bot.locks import AtomicRedisLockStore

    db = Path(tempfile.mkdtemp(prefix="amaan-trackers-")) / "trackers.db"
    agent = Agent.load(
        model_path,
        action_endpoint=EndpointConfig(actions_url, headers=action_headers(action_token)),
        tracker_store=SQLTrackerStore(dialect="sqlite", db=str(db)),
        lock_store=AtomicRedisLockStore(
            host=redis_address()[0], port=redis_address()[1], db=14, key_prefix="amaantest"
        ),
    )
    return agent, db


def tracker_store_dump(db: Path) -> str:
    """Everything the tracker store holds, as text (sender ids and event JSON)."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT sender_id, type_name, intent_name, action_name, data FROM events").fetchall()
    return "\n".join(" ".join(str(cell) for cell in row) for row in rows)


async def user_texts(agent: Any, sender_id: str) -> List[str]:
    tracker = await agent.tracker_store.retrieve_full_tracker(sender_id)
    if tracker is None:
        return []
    return [e.text for e in tracker.events if getattr(e, "type_name", "") == "user"]


async def slot(agent: Any, sender_id: str, name: str) -> Any:
    tracker = await agent.tracker_store.retrieve(sender_id)
    return tracker.get_slot(name) if tracker is not None else None


# --- the Rasa app, served in-process ---------------------------------------------------------------


class Served:
    def __init__(self, app: Any, url: str, client: httpx.AsyncClient):
        self.app = app
        self.url = url
        self.client = client

    async def trigger_intent(self, sender_id: str, intent: str) -> httpx.Response:
        """Rasa's HTTP API pushing to a user who is not writing (``output_channel=latest``)."""
        return await self.client.post(
            f"{self.url}/conversations/{sender_id}/trigger_intent",
            params={"output_channel": "latest", "token": API_TOKEN},
            json={"name": intent},
        )


@asynccontextmanager
async def serve(agent: Any, channels: List[Any]) -> AsyncIterator[Served]:
    """A Rasa server (webhooks + HTTP API) with ``channels``, started and stopped like ``rasa run``."""
    from rasa.core.run import configure_app
    from sanic import Sanic

    Sanic.test_mode = True  # one app per test, same name
    app = configure_app(channels, enable_api=True, auth_token=API_TOKEN, port=0)
    app.ctx.agent = agent
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    await server.start_serving()
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            yield Served(app, f"http://127.0.0.1:{port}", client)
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


# --- Telegram, offline -----------------------------------------------------------------------------


class RecordingTelegram(BaseRequest):
    """Answers the Bot API as Telegram would and records each call: (endpoint, parameters, url)."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, Dict[str, Any], str]] = []
        self.flood_next = 0  # answer this many sendMessage calls with 429 retry_after=1
        self._message_id = 1000

    @property
    def read_timeout(self) -> Optional[float]:
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: Optional[RequestData] = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> Tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        self.calls.append((endpoint, params, url))
        if endpoint == "sendMessage" and self.flood_next:
            self.flood_next -= 1
            return 429, _tg_error(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        if endpoint == "getMe":
            return 200, _tg_ok({"id": 123456789, "is_bot": True, "first_name": "Amaan", "username": "amaan_test_bot"})
        if endpoint == "sendMessage":
            self._message_id += 1
            chat = {"id": params["chat_id"], "type": "private"}
            message = {"message_id": self._message_id, "date": int(time.time()), "chat": chat, "text": params["text"]}
            if "reply_markup" in params:
                message["reply_markup"] = params["reply_markup"]
            message["from"] = {"id": 123456789, "is_bot": True, "first_name": "Amaan", "username": "amaan_test_bot"}
            return 200, _tg_ok(message)
        if endpoint in ("sendChatAction", "answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return 200, _tg_ok(True)
        if endpoint == "getWebhookInfo":
            url_set = next((p.get("url") for e, p, _ in reversed(self.calls) if e == "setWebhook"), "")
            return 200, _tg_ok({"url": url_set, "has_custom_certificate": False, "pending_update_count": 0})
        return 400, _tg_error(400, f"Bad Request: the offline fake does not serve {endpoint}")

    def endpoints(self) -> List[str]:
        return [endpoint for endpoint, _, _ in self.calls]

    def sent(self, chat_id: int) -> List[Dict[str, Any]]:
        return [p for e, p, _ in self.calls if e == "sendMessage" and p.get("chat_id") == chat_id]


def _tg_ok(result: Any) -> bytes:
    return json.dumps({"ok": True, "result": result}).encode()


def _tg_error(code: int, description: str, parameters: Optional[Dict[str, Any]] = None) -> bytes:
    body: Dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return json.dumps(body).encode()


class TelegramUser:
    """A Telegram user in a private chat, posting updates the way Telegram does."""

    _next_update = int(time.time() * 1000) % 10**9

    def __init__(self, served: Served, channel: Any, recorder: RecordingTelegram, language_code: str = "en"):
        self.served = served
        self.channel = channel
        self.recorder = recorder
        self.chat_id = 10**9 + uuid.uuid4().int % 10**9
        self.language_code = language_code
        self.sender_id = telegram_sender(self.chat_id)

    @classmethod
    def next_update_id(cls) -> int:
        cls._next_update += 1
        return cls._next_update

    def user(self) -> Dict[str, Any]:
        return {"id": self.chat_id, "is_bot": False, "first_name": "Test", "language_code": self.language_code}

    def chat(self) -> Dict[str, Any]:
        return {"id": self.chat_id, "first_name": "Test", "type": "private"}

    def message_update(self, text: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
        message: Dict[str, Any] = {
            "message_id": uuid.uuid4().int % 10**6,
            "from": self.user(),
            "chat": self.chat(),
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
        message.update(extra)
        return {"update_id": self.next_update_id(), "message": message}

    async def post(self, update: Any, secret: Optional[str] = TELEGRAM_SECRET, **kwargs: Any) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        headers.update(kwargs.pop("headers", {}))
        if "content" in kwargs:
            return await self.served.client.post(self.webhook, headers=headers, **kwargs)
        return await self.served.client.post(self.webhook, json=update, headers=headers)

    @property
    def webhook(self) -> str:
        return f"{self.served.url}/webhooks/telegram/webhook"

    async def send(self, update: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Post an update, wait until it is handled, return the messages the bot sent this chat."""
        before = len(self.recorder.sent(self.chat_id))
        reply = await self.post(update)
        assert reply.status_code == 200, reply.text
        await self.channel.idle()
        return self.recorder.sent(self.chat_id)[before:]

    async def say(self, text: str) -> List[Dict[str, Any]]:
        return await self.send(self.message_update(text))

    def last_keyboard(self) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
        """The latest message with an inline keyboard, as Telegram would echo it, and its buttons."""
        for params in reversed(self.recorder.sent(self.chat_id)):
            if "reply_markup" in params:
                buttons = [b for row in params["reply_markup"]["inline_keyboard"] for b in row]
                return params, buttons
        raise AssertionError("no keyboard was sent")

    def callback_update(self, title: str) -> Dict[str, Any]:
        shown, buttons = self.last_keyboard()
        button = next(b for b in buttons if b["text"] == title)
        message = {
            "message_id": 4242,
            "from": {"id": 123456789, "is_bot": True, "first_name": "Amaan", "username": "amaan_test_bot"},
            "chat": self.chat(),
            "date": int(time.time()),
            "text": shown["text"],
            "reply_markup": shown["reply_markup"],
        }
        query = {
            "id": str(uuid.uuid4().int % 10**18),
            "from": self.user(),
            "message": message,
            "chat_instance": "-7436573567367",
            "data": button["callback_data"],
        }
        return {"update_id": self.next_update_id(), "callback_query": query}

    async def tap(self, title: str) -> List[Dict[str, Any]]:
        return await self.send(self.callback_update(title))


# --- Twilio, offline -------------------------------------------------------------------------------


class RecordingTwilioHttp(AsyncTwilioHttpClient):
    """The SDK's async HTTP client with the network cut: records each request and answers as the
    Messages API does. The SDK's own request logging runs, so log tests see what it would log."""

    def __init__(self) -> None:
        super().__init__(pool_connections=False, logger=logging.getLogger("twilio.async_http_client"))
        self.requests: List[Dict[str, Any]] = []
        self.fail_next: List[int] = []  # statuses to answer the next requests with
        self.closed = False

    async def request(
        self,
        method: str,
        url: str,
        params: Optional[Dict[str, object]] = None,
        data: Optional[Dict[str, object]] = None,
        headers: Optional[Dict[str, str]] = None,
        auth: Optional[Tuple[str, str]] = None,
        timeout: Optional[float] = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        kwargs = {"method": method.upper(), "url": url, "params": params, "data": data, "headers": headers}
        self.log_request(kwargs)
        self.requests.append({"method": method.upper(), "url": url, "data": dict(data or {}), "auth": auth})
        if self.fail_next:
            status = self.fail_next.pop(0)
            body = {"code": 20429, "message": "Too Many Requests", "status": status, "more_info": ""}
            return TwilioResponse(status, json.dumps(body))
        sid = "SM" + uuid.uuid4().hex
        body = {
            "sid": sid,
            "account_sid": TWILIO_SID,
            "to": (data or {}).get("To"),
            "from": (data or {}).get("From"),
            "body": (data or {}).get("Body"),
            "status": "queued",
            "num_media": "0",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
        }
        return TwilioResponse(201, json.dumps(body))

    async def close(self) -> None:
        self.closed = True

    def messages_to(self, address: str) -> List[str]:
        return [r["data"]["Body"] for r in self.requests if r["data"].get("To") == address]


class WhatsAppUser:
    """A WhatsApp user writing through Twilio: form posts signed with the SDK's RequestValidator."""

    def __init__(self, served: Served, channel: Any, http: RecordingTwilioHttp):
        self.served = served
        self.channel = channel
        self.http = http
        self.number = "+9665" + str(10**7 + uuid.uuid4().int % (9 * 10**7))
        self.address = f"whatsapp:{self.number}"
        self.sender_id = channel.sender_id(self.address)

    def form(self, body: str = "", **extra: str) -> Dict[str, str]:
        sid = "SM" + uuid.uuid4().hex
        form = {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ProfileName": "Sara Test",
            "MessageType": "text",
            "SmsSid": sid,
            "WaId": self.number[1:],
            "SmsStatus": "received",
            "Body": body,
            "To": TWILIO_FROM,
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
            "AccountSid": TWILIO_SID,
            "From": self.address,
            "ApiVersion": "2010-04-01",
        }
        form.update(extra)
        return form

    async def post(
        self,
        form: Dict[str, str],
        path: str = "/webhooks/whatsapp/webhook",
        signed_url: Optional[str] = None,
        token: str = TWILIO_TOKEN,
        headers: Optional[Dict[str, str]] = None,
        sign: bool = True,
    ) -> httpx.Response:
        url = signed_url or f"{PUBLIC_BASE_URL}{path}"
        all_headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        }
        if sign:
            all_headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(url, form)
        all_headers.update(headers or {})
        return await self.served.client.post(f"{self.served.url}{path}", content=urlencode(form), headers=all_headers)

    async def send(self, form: Dict[str, str], **kwargs: Any) -> List[str]:
        before = len(self.http.messages_to(self.address))
        reply = await self.post(form, **kwargs)
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"].startswith("text/xml")
        await self.channel.idle()
        return self.http.messages_to(self.address)[before:]

    async def say(self, text: str) -> List[str]:
        return await self.send(self.form(text))

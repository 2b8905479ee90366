"""The web widget's socket.io channel, spoken to with python-socketio's AsyncClient.

Conversations run against the real model and action server: the ``bot`` session fixture (``rasa
run`` as ``make run`` starts it) for what a visitor sees, and Rasa's own app built in this process
(``InProcessRasa``) where a test needs the server side in hand: to push a counselor's message to a
connected widget, or to run two servers that share Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional

import pytest
import requests
import socketio

from bot.settings import get_settings
from channels.web import DEMO_CSP, SOCKETIO_PATH, WebInput
from tests.conftest import Bot, free_port
from tests.services import redis_url

pytestmark = pytest.mark.server

ARABIC_HELLO = "مرحبا"
PARENT_PAYLOAD = '/tell_audience{"audience":"parent"}'


# --- servers ------------------------------------------------------------------------------------


@dataclass
class Served:
    base_url: str
    channel: WebInput
    app: Any


class InProcessRasa:
    """Rasa's own Sanic app (``rasa.core.run.configure_app``) with our web channel and a trained
    agent, serving from an event loop in a background thread. Several apps may share the loop."""

    def __init__(self) -> None:
        from sanic import Sanic

        # Several apps in one process: configure_app names them all alike, and Sanic rewrites its
        # HTTP class at each start unless in test mode.
        self._test_mode = Sanic.test_mode
        Sanic.test_mode = True
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="in-process-rasa", daemon=True)
        self._thread.start()
        self._servers: List[Any] = []

    def call(self, coro: Any, timeout: float = 180) -> Any:
        """Run a coroutine on the servers' loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def load_agent(self, model_path: Path, action_endpoint: Any) -> Any:
        from rasa.core.agent import load_agent
        from rasa.core.utils import AvailableEndpoints

        endpoints = AvailableEndpoints(action=action_endpoint)
        return self.call(load_agent(model_path=str(model_path), endpoints=endpoints))

    def serve(self, agent: Any, env: Optional[Dict[str, str]] = None) -> Served:
        """A new server for ``agent`` with the web channel, reading settings from ``env`` too."""
        from rasa.core.run import configure_app

        saved = {k: os.environ.get(k) for k in env or {}}
        os.environ.update(env or {})
        get_settings.cache_clear()
        try:
            channel = WebInput()
            port = free_port()
            app = configure_app([channel], enable_api=False, port=port)
            app.ctx.agent = agent
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
            get_settings.cache_clear()

        async def start() -> Any:
            server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
            await server.startup()
            await server.before_start()
            await server.after_start()
            await server.start_serving()
            return server

        self._servers.append(self.call(start()))
        return Served(f"http://127.0.0.1:{port}", channel, app)

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                await server.before_stop()
                server.close()
                await server.wait_closed()
                await server.after_stop()

        try:
            self.call(stop(), timeout=30)
        finally:
            from sanic import Sanic

            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            Sanic.test_mode = self._test_mode


@pytest.fixture(scope="module")
def rasa_here(bot: Bot, model_path: Path) -> Iterator[tuple[InProcessRasa, Any]]:
    """The loop for in-process servers and one agent loaded from the trained model."""
    servers = InProcessRasa()
    try:
        yield servers, servers.load_agent(model_path, bot.action_endpoint())
    finally:
        servers.close()


@pytest.fixture(scope="module")
def served(rasa_here: tuple[InProcessRasa, Any]) -> Served:
    servers, agent = rasa_here
    return servers.serve(agent)


# --- a widget, as a socket.io client ------------------------------------------------------------


class Widget:
    """What widget.js does, in Python: connect, ask for a session, send, collect ``bot_uttered``."""

    def __init__(self, client: socketio.AsyncClient):
        self.client = client
        self.received: List[Dict[str, Any]] = []
        self.token: Optional[str] = None
        self.arrived = asyncio.Event()
        client.on("bot_uttered", self._on_bot)

    async def _on_bot(self, message: Dict[str, Any]) -> None:
        self.received.append(message)
        self.arrived.set()

    async def session(self, token: Optional[str] = None, after: int = 0, **extra: Any) -> Dict[str, Any]:
        reply = await self.client.call("session_request", {"token": token, "after": after, **extra}, timeout=30)
        self.token = reply["token"]
        return reply

    async def say(self, message: Any, lang: Optional[str] = None, timeout: float = 60) -> List[Dict[str, Any]]:
        """Send one message; the bot's replies to it (the ack comes once the bot has answered)."""
        before = len(self.received)
        data = message if isinstance(message, dict) else {"message": message}
        if lang:
            data = {**data, "lang": lang}
        ack = await self.client.call("user_uttered", data, timeout=timeout)
        assert ack.get("ok") is True, ack
        await asyncio.sleep(0.05)  # emits are sent before the ack; let the loop deliver them
        return self.received[before:]

    async def wait_for(self, count: int, timeout: float = 10) -> List[Dict[str, Any]]:
        async def enough() -> None:
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.received


@asynccontextmanager
async def widget(base_url: str, origin: Optional[str] = None, **connect: Any) -> AsyncIterator[Widget]:
    client = socketio.AsyncClient(reconnection=False)
    w = Widget(client)
    await client.connect(
        base_url,
        socketio_path=SOCKETIO_PATH,
        headers={"Origin": origin or base_url},
        # python-engineio's WebSocket client needs aiohttp >= 3.10 and Rasa pins 3.9: long-polling
        # here; the browser tests use WebSocket.
        transports=["polling"],
        wait_timeout=15,
        **connect,
    )
    try:
        yield w
    finally:
        # A polling client's disconnect() waits out the server's ping interval (25 s) for its
        # pending long-poll; closing without waiting, then cancelling that request, takes no time.
        loops = [t for t in (client.eio.read_loop_task, client.eio.write_loop_task) if t is not None]
        await client.eio.disconnect(abort=True)
        for task in loops:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def titles(messages: List[Dict[str, Any]]) -> List[str]:
    return [b["title"] for m in messages for b in m.get("buttons") or []]


# --- sessions: the server assigns them ----------------------------------------------------------


async def test_server_assigns_the_session_and_ignores_ids_the_client_names(bot: Bot) -> None:
    async with widget(bot.base_url) as w:
        first = await w.session(session_id="victim-id", sender="victim-id")
        assert first["resumed"] is False and len(first["token"]) >= 40
        assert "victim-id" not in str(first)
    async with widget(bot.base_url) as other:
        second = await other.session()
        assert second["token"] != first["token"]
    # A token nobody issued, in the shape of a real one, starts a fresh conversation.
    async with widget(bot.base_url) as guesser:
        guessed = await guesser.session(token="A" * 43)
        assert guessed["resumed"] is False and guessed["token"] != "A" * 43


async def test_a_message_before_the_session_is_refused(bot: Bot) -> None:
    async with widget(bot.base_url) as w:
        ack = await w.client.call("user_uttered", {"message": "hello"}, timeout=10)
        assert ack == {"ok": False, "error": "no_session"}


async def test_resuming_with_the_token_continues_the_same_conversation(
    served: Served, rasa_here: tuple[InProcessRasa, Any]
) -> None:
    servers, agent = rasa_here
    async with widget(served.base_url) as w:
        await w.session()
        await w.say("Hello")
        await w.say(PARENT_PAYLOAD)
        token = w.token
        sender = servers.call(served.channel.sessions.resolve(token))
    async with widget(served.base_url) as again:
        reply = await again.session(token=token)
        assert reply["resumed"] is True and reply["token"] == token
        assert servers.call(served.channel.sessions.resolve(token)) == sender
        assert await again.say("is roblox safe?")
    tracker = servers.call(agent.tracker_store.retrieve(sender))
    assert tracker.get_slot("audience") == "parent"
    assert [e.text for e in tracker.events if e.type_name == "user"][-1] == "is roblox safe?"


async def test_other_origins_are_refused(bot: Bot) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with widget(bot.base_url, origin="https://evil.example"):
            pass
    reply = requests.get(
        f"{bot.base_url}{SOCKETIO_PATH}/?EIO=4&transport=polling",
        headers={"Origin": "https://evil.example"},
        timeout=10,
    )
    assert reply.status_code == 400
    assert "set-cookie" not in {k.lower() for k in reply.headers}


def test_allowed_origins_come_from_the_environment(
    rasa_here: tuple[InProcessRasa, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    servers, agent = rasa_here
    here = servers.serve(agent, {"WEB_ALLOWED_ORIGINS": "https://www.ministry.example, http://localhost:8080"})

    def handshake(origin: str) -> requests.Response:
        return requests.get(
            f"{here.base_url}{SOCKETIO_PATH}/?EIO=4&transport=polling", headers={"Origin": origin}, timeout=10
        )

    assert handshake("https://www.ministry.example").status_code == 200
    assert handshake("http://localhost:8080").status_code == 200
    assert handshake("https://evil.example").status_code == 400
    ok = handshake("https://www.ministry.example")
    assert ok.headers.get("Access-Control-Allow-Origin") == "https://www.ministry.example"
    assert "Access-Control-Allow-Credentials" not in ok.headers
    monkeypatch.setenv("WEB_ALLOWED_ORIGINS", "*")
    with pytest.raises(ValueError, match="WEB_ALLOWED_ORIGINS"):
        get_settings()


# --- conversations ------------------------------------------------------------------------------


async def test_arabic_conversation_with_buttons(bot: Bot) -> None:
    async with widget(bot.base_url) as w:
        await w.session()
        first = await w.say(ARABIC_HELLO, lang="ar")
        assert "مساعد آلي" in texts(first)
        assert "أب أو أم أو ولي أمر" in titles(first)
        assert all(isinstance(m["id"], int) for m in first)
        assert [m["id"] for m in first] == sorted(m["id"] for m in first)
        payload = next(b["payload"] for m in first for b in m.get("buttons") or [] if "audience" in b["payload"])
        assert await w.say(payload), "the offered button's payload is accepted"


async def test_english_conversation_with_buttons(bot: Bot) -> None:
    async with widget(bot.base_url) as w:
        await w.session()
        first = await w.say("Hi there", lang="en")
        assert "automated assistant" in texts(first)
        assert "A parent or guardian" in titles(first)
        after = await w.say(PARENT_PAYLOAD)
        assert after and "ساعد" not in texts(after)


async def test_typed_payload_is_plain_text_unless_it_was_offered(
    served: Served, rasa_here: tuple[InProcessRasa, Any]
) -> None:
    servers, agent = rasa_here
    async with widget(served.base_url) as w:
        await w.session()
        sender = servers.call(served.channel.sessions.resolve(w.token))
        offered = await w.say("Hello")
        assert PARENT_PAYLOAD in [b["payload"] for m in offered for b in m.get("buttons") or []]

        def last_text() -> str:
            tracker = servers.call(agent.tracker_store.retrieve(sender))
            return [e.text for e in tracker.events if e.type_name == "user"][-1]

        # Not offered: Rasa would take it as understood at confidence 1.0; the channel makes it words.
        await w.say('/ask_sextortion{"audience":"educator"}')
        assert last_text() == 'ask_sextortion{"audience":"educator"}'
        await w.say("Hello")  # the audience buttons again
        await w.say(PARENT_PAYLOAD)
        assert last_text() == PARENT_PAYLOAD
        tracker = servers.call(agent.tracker_store.retrieve(sender))
        assert tracker.latest_message.intent["confidence"] == 1.0


async def test_empty_too_long_and_media_get_polite_replies(bot: Bot) -> None:
    async with widget(bot.base_url) as w:
        await w.session()
        empty = texts(await w.say("  \n\t\u202e ", lang="en"))
        assert "didn't get any text" in empty
        long = texts(await w.say("أ" * 5_000))
        assert "طويلة" in long
        media = texts(await w.say({"message": "look", "image": b"\x89PNG\r\n"}, lang="en"))
        assert "don't open or keep them" in media
        bad = await w.client.call("user_uttered", ["not", "an", "object"], timeout=10)
        assert bad == {"ok": False, "error": "bad_request"}


# --- pushes and reconnection --------------------------------------------------------------------


async def test_a_counselor_message_reaches_the_open_widget(
    served: Served, rasa_here: tuple[InProcessRasa, Any]
) -> None:
    servers, _ = rasa_here
    async with widget(served.base_url) as w:
        await w.session()
        sender = servers.call(served.channel.sessions.resolve(w.token))
        assert sender and sender.startswith("web-")
        output = served.channel.get_output_channel()
        assert output is not None
        servers.call(output.send_text_message(sender, "A counselor is here. **You are safe to talk.**"))
        pushed = await w.wait_for(1)
        assert pushed[-1]["text"] == "A counselor is here. **You are safe to talk.**"
    # Nobody else hears it.
    async with widget(served.base_url) as other:
        await other.session()
        servers.call(output.send_text_message(sender, "second"))
        await asyncio.sleep(0.3)
        assert other.received == []


async def test_messages_sent_during_a_drop_arrive_on_reconnect(
    served: Served, rasa_here: tuple[InProcessRasa, Any]
) -> None:
    servers, _ = rasa_here
    output = served.channel.get_output_channel()
    assert output is not None
    async with widget(served.base_url) as w:
        await w.session()
        await w.say("Hello")
        seen = max(m["id"] for m in w.received)
        token = w.token
        sender = servers.call(served.channel.sessions.resolve(token))
    # Offline now: the counselor writes anyway.
    servers.call(output.send_text_message(sender, "Are you still there?"))
    async with widget(served.base_url) as back:
        reply = await back.session(token=token, after=seen)
        assert reply["resumed"] is True
        assert [m["text"] for m in reply["missed"]] == ["Are you still there?"]
        assert reply["missed"][0]["id"] == seen + 1


async def test_session_end_forgets_the_token(served: Served) -> None:
    async with widget(served.base_url) as w:
        await w.session()
        token = w.token
        assert await w.client.call("session_end", {"token": token}, timeout=10) == {"ok": True}
        ack = await w.client.call("user_uttered", {"message": "hello"}, timeout=10)
        assert ack["error"] == "no_session"
    async with widget(served.base_url) as again:
        assert (await again.session(token=token))["resumed"] is False


async def test_two_servers_sharing_redis_serve_one_conversation(rasa_here: tuple[InProcessRasa, Any]) -> None:
    """Several Rasa servers: the token, the replay log and the rooms live in Redis."""
    servers, agent = rasa_here
    env = {"REDIS_URL": redis_url()}
    one, two = servers.serve(agent, env), servers.serve(agent, env)
    async with widget(one.base_url) as w:
        await w.session()
        sender = servers.call(two.channel.sessions.resolve(w.token))
        assert sender
        output = two.channel.get_output_channel()
        assert output is not None
        text = f"from the other server {uuid.uuid4().hex[:6]}"
        servers.call(output.send_text_message(sender, text))
        assert (await w.wait_for(1))[-1]["text"] == text
        token = w.token
    async with widget(two.base_url) as moved:
        reply = await moved.session(token=token, after=0)
        assert reply["resumed"] is True and [m["text"] for m in reply["missed"]] == [text]
        await moved.client.call("session_end", {"token": token}, timeout=10)


# --- the widget's files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, content_type",
    [
        ("widget.js", "text/javascript; charset=utf-8"),
        ("frame.js", "text/javascript; charset=utf-8"),
        ("widget.css", "text/css; charset=utf-8"),
        ("socket.io.min.js", "text/javascript; charset=utf-8"),
        ("texts.json", "application/json; charset=utf-8"),
    ],
)
def test_widget_files_have_their_types_and_cache_headers(bot: Bot, path: str, content_type: str) -> None:
    reply = requests.get(f"{bot.base_url}/webhooks/web/{path}", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == content_type
    assert reply.headers["Cache-Control"].startswith("public, max-age=")
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    again = requests.get(
        f"{bot.base_url}/webhooks/web/{path}", headers={"If-None-Match": reply.headers["ETag"]}, timeout=10
    )
    assert again.status_code == 304


def test_texts_come_from_the_content_files_in_both_languages(bot: Bot) -> None:
    texts_by_lang = requests.get(f"{bot.base_url}/webhooks/web/texts.json", timeout=10).json()
    assert texts_by_lang["ar"]["quick_exit"] == "خروج سريع"
    assert texts_by_lang["en"]["quick_exit"] == "Quick exit"
    assert set(texts_by_lang["ar"]) == set(texts_by_lang["en"])
    assert "{emergency}" not in texts_by_lang["en"]["subtitle"]


@pytest.mark.parametrize("path", ["demo", "demo/weather"])
def test_pages_are_served_under_a_strict_csp_and_never_cached(bot: Bot, path: str) -> None:
    reply = requests.get(f"{bot.base_url}/webhooks/web/{path}", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["Content-Security-Policy"] == DEMO_CSP
    assert "'unsafe-inline'" not in DEMO_CSP and "default-src 'none'" in DEMO_CSP
    assert reply.headers["Cache-Control"] == "no-store"
    assert "set-cookie" not in {k.lower() for k in reply.headers}


def test_unknown_files_are_not_served(bot: Bot) -> None:
    for path in ("../input.py", "../files.py", "static/widget.js", "package.json", "widget.js.map"):
        assert requests.get(f"{bot.base_url}/webhooks/web/{path}", timeout=10).status_code == 404

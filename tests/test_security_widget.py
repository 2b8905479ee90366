"""Issue 13, point 8: the web widget against a flood and against the page it sits on.

* One client address may start only so many conversations and send only so many messages
  (``channels.web.limits``); past that it is told "busy", while other addresses and conversations
  already started carry on. A forged ``X-Forwarded-For`` does not make a new address unless the
  server is configured behind a proxy.
* The conversation runs in a frame from the bot's origin (``/webhooks/web/frame``), which only the
  bot's own pages and ``WEB_ALLOWED_ORIGINS`` may embed; the loader on the host page keeps nothing.
  In a real browser (tests/test_widget_browser.py,
  ``test_one_script_tag_embeds_the_widget_on_an_allowed_site``) the ministry page's scripts find
  neither the transcript nor the token, and quick exit still replaces the whole page.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Optional

import pytest
import socketio

from bot.settings import get_settings
from channels.web import SOCKETIO_PATH, WebInput
from channels.web.limits import LIMITS
from tests.channel_app import Served, serve


@pytest.fixture
async def served(monkeypatch: Any) -> AsyncIterator[Served]:
    """The Rasa app with the web channel (no model: nothing here reaches it), sessions in memory."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    async with serve(None, [WebInput()]) as running:
        yield running


@asynccontextmanager
async def client(base_url: str, headers: Optional[Dict[str, str]] = None) -> AsyncIterator[socketio.AsyncClient]:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        base_url,
        socketio_path=SOCKETIO_PATH,
        headers={"Origin": base_url, **(headers or {})},
        transports=["polling"],
        wait_timeout=15,
    )
    try:
        yield sio
    finally:
        tasks = [t for t in (sio.eio.read_loop_task, sio.eio.write_loop_task) if t is not None]
        await sio.eio.disconnect(abort=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def new_sessions(sio: socketio.AsyncClient, count: int) -> List[Dict[str, Any]]:
    return [await sio.call("session_request", {"token": None}, timeout=10) for _ in range(count)]


async def test_one_address_cannot_start_endless_conversations(served: Served) -> None:
    most, _ = LIMITS["session"]
    async with client(served.url, {"X-Forwarded-For": "198.51.100.1"}) as sio:
        replies = await new_sessions(sio, most)
        assert all(isinstance(r.get("token"), str) for r in replies)
        kept = replies[0]["token"]
        flood = await new_sessions(sio, 3)
        assert flood == [{"error": "busy"}] * 3, "no new conversation past the limit"
        # A conversation already started resumes (a child mid-conversation is never cut off).
        resumed = await sio.call("session_request", {"token": kept}, timeout=10)
        assert resumed["resumed"] is True and resumed["token"] == kept
    # A forged header is not a new address when the server is not behind a proxy.
    async with client(served.url, {"X-Forwarded-For": "203.0.113.77"}) as sio:
        assert await new_sessions(sio, 1) == [{"error": "busy"}]


async def test_behind_a_proxy_a_flood_from_one_address_does_not_stop_another(served: Served) -> None:
    served.app.config.REAL_IP_HEADER = "x-real-ip"  # SANIC_REAL_IP_HEADER, set behind HAProxy
    most, _ = LIMITS["session"]
    async with client(served.url, {"X-Real-IP": "198.51.100.2"}) as flooder:
        assert len([r for r in await new_sessions(flooder, most + 5) if "token" in r]) == most
    async with client(served.url, {"X-Real-IP": "192.0.2.20"}) as child:
        assert "token" in (await new_sessions(child, 1))[0]


async def test_one_address_cannot_send_endless_messages(served: Served) -> None:
    most, _ = LIMITS["message"]
    long_text = "x" * (get_settings().max_message_chars + 1)  # refused politely, before any model
    async with client(served.url) as sio:
        assert "token" in await sio.call("session_request", {"token": None}, timeout=10)
        acks = [await sio.call("user_uttered", {"message": long_text, "lang": "en"}, timeout=10) for _ in range(most)]
        assert all(a == {"ok": True} for a in acks)
        assert await sio.call("user_uttered", {"message": "hello", "lang": "en"}, timeout=10) == {
            "ok": False,
            "error": "busy",
        }


async def test_the_conversation_frame_may_be_embedded_only_where_allowed(monkeypatch: Any) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("WEB_ALLOWED_ORIGINS", "https://www.moe.example.gov")
    get_settings.cache_clear()
    async with serve(None, [WebInput()]) as running:
        reply = await running.client.get(f"{running.url}/webhooks/web/frame?lang=ar&position=left")
        loader = (await running.client.get(f"{running.url}/webhooks/web/widget.js")).text
        handshake = f"{running.url}{SOCKETIO_PATH}/?EIO=4&transport=polling"
        # The frame connects from the bot's own origin; another site's page cannot open the socket.
        assert (await running.client.get(handshake, headers={"Origin": running.url})).status_code == 200
        assert (await running.client.get(handshake, headers={"Origin": "https://evil.example"})).status_code == 400
    assert reply.status_code == 200 and 'src="/webhooks/web/frame.js"' in reply.text
    csp = reply.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://www.moe.example.gov" in csp and "'unsafe-inline'" not in csp
    assert reply.headers["Cache-Control"] == "no-store"
    # The loader runs in the host page: it must keep nothing there and talk to no socket.
    code = "\n".join(line for line in loader.splitlines() if not line.lstrip().startswith(("*", "/*", "//")))
    for reachable in ("sessionStorage", "localStorage", "document.cookie", "socket.io", "texts.json"):
        assert reachable not in code, reachable
    assert "event.origin !== base.origin" in code, "quick exit is taken only from the bot's frame"

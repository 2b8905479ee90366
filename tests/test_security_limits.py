"""Issue 13, point 6: a body larger than any channel needs is refused with 413 by the server itself,
before it is read (Sanic's default is 100 MB, aiohttp's 1 MB), on the Rasa server and the console.

The attacker's request declares a 50 MB body and sends none of it: a server that meant to read it
would sit waiting for the body; ours answers 413 at once. A body actually sent past the limit gets
413 too, never a 500.
"""

from __future__ import annotations

import asyncio
from typing import Any, Tuple

import pytest
from aiohttp.test_utils import TestServer

from bot.settings import REQUEST_MAX_BYTES, get_settings, sanic_limits
from tests import console_kit
from tests.console_kit import Kit

delivery = console_kit.delivery
kit = console_kit.kit

HUGE = 50 * 1000 * 1000


async def declare_huge_body(host: str, port: int, path: str, wait: float = 10.0) -> Tuple[int, float]:
    """POST with ``Content-Length: 50 MB`` and no body; (status, seconds until the answer)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nConnection: close\r\n"
            f"Content-Length: {HUGE}\r\n\r\n{{".encode()
        )
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), wait)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(line.split()[1]), loop.time() - started


def test_the_rasa_servers_limits_are_what_the_channels_need() -> None:
    assert sanic_limits() == {
        "SANIC_REQUEST_MAX_SIZE": str(REQUEST_MAX_BYTES),
        "SANIC_WEBSOCKET_MAX_SIZE": str(REQUEST_MAX_BYTES),
    }
    assert 64 * 1024 < REQUEST_MAX_BYTES <= 1024 * 1024


async def test_the_rasa_server_refuses_a_huge_body_before_reading_it(monkeypatch: Any) -> None:
    """The Rasa app with our channels (no model needed: the refusal comes before any handler)."""
    from channels.rest import RestInput
    from channels.web import WebInput
    from tests.channel_app import serve

    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    async with serve(None, [RestInput(), WebInput()]) as served:
        host, port = served.url.removeprefix("http://").split(":")
        status, seconds = await declare_huge_body(host, int(port), "/webhooks/rest/webhook")
        assert status == 413 and seconds < 5
        # Sent for real, one byte past the limit: 413, not a 500, and the server still answers.
        sent = await served.client.post(
            f"{served.url}/webhooks/rest/webhook",
            content=b"{" + b" " * REQUEST_MAX_BYTES + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert sent.status_code == 413
        assert (await served.client.get(f"{served.url}/webhooks/rest/")).status_code == 200


@pytest.mark.server
async def test_make_runs_rasa_server_refuses_a_huge_body(bot: Any) -> None:
    """The servers as ``make run`` starts them (the limit from the environment it passes)."""
    host, port = bot.base_url.removeprefix("http://").split(":")
    status, seconds = await declare_huge_body(host, int(port), "/webhooks/rest/webhook")
    assert status == 413 and seconds < 5


async def test_the_console_refuses_a_huge_body_before_reading_it(kit: Kit) -> None:
    server: TestServer = kit.server
    status, seconds = await declare_huge_body(str(server.host), int(server.port or 0), "/console/login")
    assert status == 413 and seconds < 5
    # A signed-in counselor's page sending 1 MB for real (no declared length): 413, not 500.
    browser = await kit.signed_in("mona")
    reference = kit.new_case()

    async def chunks() -> Any:
        for _ in range(16):
            yield b"x" * 65536

    reply = await browser.client.post(
        f"/console/cases/{reference}/message",
        data=chunks(),
        headers={"X-CSRF-Token": browser.csrf, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 413
    assert (await browser.get("/console")).status == 200

"""Shared pieces of the console tests: a movable clock, the delivery endpoint's stand-in (a real
HTTP server at the edge of the console's process that records what it is sent), the console app on
a real database (SQLite and PostgreSQL), and a browser-like client per counselor."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from cryptography.fernet import Fernet

from bot.cases import CaseUpdate, Conversation, generate_key
from bot.console.app import create_app
from bot.console.config import Console, ConsoleConfig
from bot.console.security import CONSOLE
from bot.settings import PROJECT_ROOT

PASSWORD = "correct horse battery"
TOKEN = "handover-test-token-0123456789abcdefghijklmnop"  # HANDOVER_TOKEN needs 32+ characters
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # argon2id, cheap for tests
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 8, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class DeliveryStandIn:
    """The Rasa server's ``/webhooks/handover/deliver``, as the console sees it from outside."""

    received: List[Dict[str, Any]] = field(default_factory=list)
    authorizations: List[Optional[str]] = field(default_factory=list)
    status: int = 200
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        self.received.append(await request.json())
        if self.status != 200:
            return web.json_response({"delivered": False}, status=self.status)
        return web.json_response({"delivered": True})

    def events(self) -> List[Tuple[str, str]]:
        return [(body["reference"], body["event"]) for body in self.received]


class Browser:
    """One counselor's browser: its own cookie jar, and the CSRF token of the last page it loaded."""

    def __init__(self, server: TestServer):
        self.client = TestClient(server)
        self.csrf = ""

    async def get(self, path: str, **kwargs: Any) -> Any:
        reply = await self.client.get(path, allow_redirects=False, **kwargs)
        if reply.content_type == "text/html":
            found = _CSRF.search(await reply.text())
            if found:
                self.csrf = found.group(1)
        return reply

    async def post(self, path: str, data: Optional[Dict[str, str]] = None, csrf: bool = True, **kwargs: Any) -> Any:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        return await self.client.post(path, data=form, allow_redirects=False, **kwargs)

    async def api(self, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        """A state-changing API call as the console's script makes it (JSON, CSRF header)."""
        headers = {"Accept": "application/json", "X-CSRF-Token": self.csrf}
        return await self.client.post(path, json=body or {}, headers=headers, allow_redirects=False)

    async def sign_in(self, username: str, password: str = PASSWORD) -> Any:
        await self.get("/console/login")
        reply = await self.post("/console/login", {"username": username, "password": password})
        if reply.status == 303:
            await self.get("/console")  # the new session's CSRF token
        return reply

    async def close(self) -> None:
        await self.client.close()


@dataclass
class Kit:
    server: TestServer
    console: Console
    clock: Clock
    delivery: DeliveryStandIn
    browsers: List[Browser] = field(default_factory=list)

    async def browser(self) -> Browser:
        browser = Browser(self.server)
        await browser.client.start_server()
        self.browsers.append(browser)
        return browser

    async def signed_in(self, username: str, role: str = "counselor") -> Browser:
        if self.console.accounts.get(username) is None:
            self.console.accounts.add(username, role, PASSWORD)
        browser = await self.browser()
        reply = await browser.sign_in(username)
        assert reply.status == 303, await reply.text()
        return browser

    def new_case(
        self, risk: str = "high", sender: str = "web-child-1", channel: str = "web", excerpt: Optional[str] = None
    ) -> str:
        update = CaseUpdate(origin="report", risk=risk, language="ar", audience="child", excerpt=excerpt)
        return self.console.store.record(Conversation(channel, sender), update).case.reference


def config_for(database_url: str, delivery_url: str, clock: Clock, **overrides: Any) -> ConsoleConfig:
    values: Dict[str, Any] = dict(
        database_url=database_url,
        case_keys=[generate_key()],
        secret_key=Fernet.generate_key().decode("ascii"),
        delivery_url=delivery_url,
        delivery_token=TOKEN,
        secure_cookies=False,
        poll_interval=0.05,
        heartbeat=0.0,
        clock=clock,
        hasher=FAST_HASHER,
        data_dir=PROJECT_ROOT / "data",
    )
    values.update(overrides)
    return ConsoleConfig(**values)


@pytest.fixture
async def delivery() -> AsyncIterator[DeliveryStandIn]:
    stand_in = DeliveryStandIn()
    app = web.Application()
    app.router.add_post("/webhooks/handover/deliver", stand_in.handle)
    server = TestServer(app)
    await server.start_server()
    stand_in.url = str(server.make_url("")).rstrip("/")
    yield stand_in
    await server.close()


@pytest.fixture
async def kit(database_url: str, delivery: DeliveryStandIn) -> AsyncIterator[Kit]:
    clock = Clock()
    app = create_app(config_for(database_url, delivery.url, clock))
    server = TestServer(app)
    await server.start_server()
    made = Kit(server, app[CONSOLE], clock, delivery)
    yield made
    for browser in made.browsers:
        await browser.client.session.close()
    await server.close()
    await settle()


async def settle() -> None:
    """Wait for database work a cancelled request left running in a thread (a closed live stream's
    last poll), so that the database fixture can drop its schema without a deadlock."""
    await asyncio.get_running_loop().shutdown_default_executor()


async def next_event(reply: Any, name: str, timeout: float = 15.0) -> Tuple[Dict[str, str], Any]:
    """The next server-sent event called ``name`` on a streaming reply: (fields, parsed data)."""

    async def read() -> Tuple[Dict[str, str], Any]:
        fields: Dict[str, str] = {}
        while True:
            line = (await reply.content.readline()).decode("utf-8")
            if line == "":
                raise AssertionError(f"the stream ended before an {name!r} event")
            line = line.rstrip("\n")
            if line == "":
                if fields.get("event") == name:
                    return fields, json.loads(fields.get("data", "null"))
                fields = {}
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            fields[key] = value

    return await asyncio.wait_for(read(), timeout)

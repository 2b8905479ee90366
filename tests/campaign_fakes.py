"""Telegram's Bot API and Twilio's Messages API faked at their HTTP boundary, for the campaign
worker's tests: a real HTTP server on localhost (so a worker in another process reaches it too)
that records every request with its arrival time and answers as the platform would, including
429 with ``retry_after``, 403 for a user who blocked the bot, and Twilio's error codes.

``telegram_users`` leaves Telegram users as the connector does: a hashed sender id, and the chat id
encrypted in the connector's own address book, which is where the worker finds it."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple
from urllib.parse import parse_qs, urlparse

from cryptography.fernet import MultiFernet

# The tests' own SENDER_ID_KEY: the worker never needs it (it reads the address book, not the id).
SENDER_ID_KEY = f"campaign-tests-{uuid.uuid4().hex}".encode()


def telegram_users(redis_url: str, cipher: Optional[MultiFernet], chats: Iterable[int]) -> List[str]:
    """The sender ids of Telegram users who wrote to the bot from ``chats``, left as the connector
    leaves them (``TelegramRuntime.sender_for`` and ``remember``): ``tg-<keyed hash of the chat id>``,
    and the chat id encrypted with ``cipher`` in ``channels.identity.AddressBook`` on ``redis_url``."""
    import redis
    import redis.asyncio

    from channels.identity import AddressBook, SenderIdentity
    from channels.state import KeyValue

    assert cipher is not None, "no ADDRESS_ENCRYPTION_KEY: the worker would find no address either"
    chats = list(chats)
    identity = SenderIdentity(SENDER_ID_KEY, "tg")
    senders = [identity.sender_id(str(chat)) for chat in chats]

    async def remember() -> None:
        # Without the channels' 2-second timeout: on a loaded machine a write that timed out would
        # be kept in memory only (``KeyValue``), and the worker would find no address.
        state = KeyValue(redis.asyncio.Redis.from_url(redis_url))
        book = AddressBook(state, cipher)
        for sender, chat in zip(senders, chats, strict=False):
            await book.remember(sender, str(chat))
        await state.close()

    # In a thread of its own, so that async tests (a loop already running) can call it too.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, remember()).result(timeout=60)
    with redis.Redis.from_url(redis_url) as client:
        assert client.exists(*(f"amaan:addr:{s}" for s in senders)) == len(senders), "addresses not in Redis"
    return senders


def whatsapp_users(redis_url: str, cipher: Optional[MultiFernet], numbers: Iterable[str], in_window: bool) -> List[str]:
    """WhatsApp users as the connector leaves them: ``wa-<keyed hash>``, the number encrypted in its
    ``AddressBook`` and, when they wrote within 24 hours, the window marked open."""
    import redis.asyncio

    from channels.identity import AddressBook, SenderIdentity
    from channels.state import KeyValue

    assert cipher is not None, "no ADDRESS_ENCRYPTION_KEY: the worker would find no address either"
    numbers = list(numbers)
    identity = SenderIdentity(SENDER_ID_KEY, "wa")
    senders = [identity.sender_id(n) for n in numbers]

    async def remember() -> None:
        state = KeyValue(redis.asyncio.Redis.from_url(redis_url))  # no 2-second timeout: see telegram_users
        book = AddressBook(state, cipher)
        for sender, number in zip(senders, numbers, strict=False):
            await book.remember(sender, number)
            if in_window:
                await state.put(f"wa:seen:{sender}", b"1", 3600)
        await state.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, remember()).result(timeout=60)
    return senders


@dataclass
class Recorded:
    at: float
    platform: str  # telegram | twilio
    to: str  # the chat id or the WhatsApp address
    body: Dict[str, Any]
    wall: float = field(default_factory=time.time)
    sid: str = ""


@dataclass
class FakePlatforms:
    """What the fake answers: ``blocked`` chats get 403; the first ``limited`` Telegram requests
    get 429 with ``retry_after``; ``twilio_errors`` maps an address to (HTTP status, Twilio code).

    ``hold(after)`` makes every request after the first ``after`` hang without an answer until
    ``release()``, as a platform does while a worker is killed with its requests on the wire: each
    held request has arrived (it is recorded, the user has it) or, with ``lose_every_other``, every
    second one never arrived (not recorded; the connection died before the platform read it).
    Twilio's ``GET Messages.json`` lists what arrived, filtered by ``To`` and ``From`` as Twilio does."""

    blocked: Set[int] = field(default_factory=set)
    limited: int = 0
    retry_after: int = 1
    twilio_errors: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    requests: List[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: Optional[ThreadingHTTPServer] = None
    hold_after: Optional[int] = None
    lose_every_other: bool = False
    held: int = 0
    posts: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    # Above 0: the threads answering requests run this much below the process's CPU priority
    # (bench/campaigns.py: the fake stands for Telegram's servers, which take no CPU from the bot's).
    nice: int = 0

    def hold(self, after: int, lose_every_other: bool = False) -> None:
        with self.lock:
            self.hold_after, self.lose_every_other = after, lose_every_other
            self.released.clear()

    def release(self) -> None:
        with self.lock:
            self.hold_after = None
        self.released.set()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def to(self, recipient: str) -> List[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.to == recipient]

    def sent(self) -> List[Recorded]:
        with self.lock:
            return list(self.requests)

    def answer(self, path: str, raw: bytes, content_type: str) -> Tuple[int, Dict[str, Any]]:
        with self.lock:
            self.posts += 1
            hold = self.hold_after is not None and self.posts > self.hold_after
            if hold:
                self.held += 1
            lose = hold and self.lose_every_other and self.held % 2 == 0
        if lose:
            self.released.wait(120)
            return 503, {"error": "never arrived"}
        answered = self._answer(path, raw)
        if hold:
            self.released.wait(120)
        return answered

    def listing(self, path: str, query: str) -> Tuple[int, Dict[str, Any]]:
        """Twilio's ``GET .../Messages.json?To=&From=``: what arrived, newest first."""
        if not path.endswith("/Messages.json"):
            return 404, {"error": "unknown path"}
        wanted = {k: v[0] for k, v in parse_qs(query).items()}
        with self.lock:
            found = [
                r
                for r in self.requests
                if r.platform == "twilio" and r.to == wanted.get("To") and r.body.get("From") == wanted.get("From")
            ]
        messages = [
            {
                "sid": r.sid,
                "to": r.to,
                "from": r.body.get("From"),
                "body": r.body.get("Body", ""),
                "direction": "outbound-api",
                "status": "sent",
                "date_created": format_datetime(datetime.fromtimestamp(int(r.wall), timezone.utc)),
            }
            for r in reversed(found)
        ]
        return 200, {"messages": messages[: int(wanted.get("PageSize") or 50)]}

    def _answer(self, path: str, raw: bytes) -> Tuple[int, Dict[str, Any]]:
        now = time.monotonic()
        if path.endswith("/sendMessage"):
            body = json.loads(raw or b"{}")
            chat = int(body.get("chat_id"))
            with self.lock:
                if self.limited > 0:
                    self.limited -= 1
                    self.requests.append(Recorded(now, "telegram-429", str(chat), body))
                    return 429, {
                        "ok": False,
                        "error_code": 429,
                        "description": "Too Many Requests",
                        "parameters": {"retry_after": self.retry_after},
                    }
                if chat in self.blocked:
                    return 403, {
                        "ok": False,
                        "error_code": 403,
                        "description": "Forbidden: bot was blocked by the user",
                    }
                self.requests.append(Recorded(now, "telegram", str(chat), body))
                return 200, {"ok": True, "result": {"message_id": len(self.requests), "chat": {"id": chat}}}
        if path.endswith("/Messages.json"):
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            to = form.get("To", "")
            with self.lock:
                if to in self.twilio_errors:
                    status, code = self.twilio_errors[to]
                    return status, {"code": code, "message": "error", "status": status}
                sid = "SM%032d" % (len(self.requests) + 1)
                self.requests.append(Recorded(now, "twilio", to, form, sid=sid))
                return 201, {"sid": sid, "status": "queued"}
        return 404, {"error": "unknown path"}

    def start(self) -> FakePlatforms:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as the real APIs: the workers' clients reuse their connections.
            # (without Nagle's delay: headers and body are two writes, and a kept-alive connection
            # would wait for the client's delayed ACK, 40 ms, between them).
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self) -> None:
                if fake.nice:  # this connection's thread only (Linux: a thread id is a process id here)
                    tid = threading.get_native_id()
                    os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + fake.nice))
                super().setup()

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.reply(*fake.answer(self.path, raw, self.headers.get("Content-Type", "")))

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlparse(self.path)
                self.reply(*fake.listing(url.path, url.query))

            def reply(self, status: int, body: Dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the worker was killed while its request was held

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

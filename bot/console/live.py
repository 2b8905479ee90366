"""Server-sent events: the queue and a case's conversation, live.

Each stream polls the database (the source of truth; no Redis needed) every ``poll_interval`` and
sends only what changed. Every ``heartbeat`` it sends a comment line, re-checks the session (a
stream is not activity, so an idle session still expires) and the counselor's right to the case,
and marks the counselor present.

Events: ``queue`` (data: the visible rows, JSON list), ``message`` (data: one message, id: its id),
``case`` (data: the case's metadata row), ``expired`` (the session ended), ``revoked`` (the case
was reassigned away).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Dict, Optional

from aiohttp import web

from bot.cases.reference import normalize_reference
from bot.console import queue as queue_rows
from bot.console.accounts import Account
from bot.console.cases import message_row, undelivered_ids
from bot.console.i18n import translator
from bot.console.pages import visible_queue
from bot.console.security import CONSOLE, client_ip, signed_in

__all__ = ["routes", "CLOSING"]

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()
CLOSING = web.AppKey("closing", asyncio.Event)


def _frame(event: str, data: Any, event_id: Optional[int] = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


async def _open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    await response.write(b"retry: 3000\n\n")
    return response


async def _heartbeat(request: web.Request, response: web.StreamResponse) -> bool:
    """True while the session is live; sends the keep-alive and touches presence."""
    console = request.app[CONSOLE]
    user: Account = request["user"]
    if await asyncio.to_thread(console.sessions.check, request["session_id"], False) is None:
        await response.write(_frame("expired", {}))
        return False
    if console.presence is not None:
        await asyncio.to_thread(console.presence.touch, user.username)
    await response.write(b": keep-alive\n\n")
    return True


@routes.get("/console/events")
@signed_in
async def queue_stream(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    closing = request.app[CLOSING]
    user: Account = request["user"]
    response = await _open_stream(request)
    last: Optional[str] = None
    beat = time.monotonic()
    try:
        while not closing.is_set():
            rows = await asyncio.to_thread(visible_queue, console, user)
            encoded = json.dumps(rows, sort_keys=True)
            if encoded != last:
                await response.write(_frame("queue", rows))
                last = encoded
            if time.monotonic() - beat >= console.config.heartbeat:
                beat = time.monotonic()
                if not await _heartbeat(request, response):
                    break
            await _wait(closing, console.config.poll_interval)
    except ConnectionResetError:
        pass  # the counselor closed the page
    return response


@routes.get("/console/cases/{reference}/events")
@signed_in
async def case_stream(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    closing = request.app[CLOSING]
    user: Account = request["user"]
    reference = normalize_reference(request.match_info["reference"])
    case = await asyncio.to_thread(console.store.get, reference) if reference else None
    if case is None:
        raise web.HTTPNotFound(text="No such case.")
    if not queue_rows.visible_to(case, user.username, user.supervisor):
        raise web.HTTPForbidden(text="This case is assigned to another counselor.")
    after = _after(request)
    # The stream shows the conversation, so opening it is a view of the case like the page.
    await asyncio.to_thread(
        console.audit.record, user.username, "open_case", case.reference, "live", client_ip(request)
    )
    response = await _open_stream(request)
    last_case: Optional[Dict[str, Any]] = None
    beat = time.monotonic()
    try:
        while not closing.is_set():
            case = await asyncio.to_thread(console.store.get, case.reference)
            if case is None or not queue_rows.visible_to(case, user.username, user.supervisor):
                await response.write(_frame("revoked", {}))
                break
            row = queue_rows.row(case) | {"outcome": case.outcome or ""}
            if row != last_case:
                await response.write(_frame("case", row))
                last_case = row
            messages = await asyncio.to_thread(console.handovers.messages, case.reference, after)
            if messages:
                undelivered = await asyncio.to_thread(undelivered_ids, console, case.reference)
                t = translator(request["lang"])
                for message in messages:
                    await response.write(_frame("message", message_row(message, undelivered, t), message.id))
                    after = message.id
            if time.monotonic() - beat >= console.config.heartbeat:
                beat = time.monotonic()
                if not await _heartbeat(request, response):
                    break
            await _wait(closing, console.config.poll_interval)
    except ConnectionResetError:
        pass
    return response


def _after(request: web.Request) -> int:
    raw = request.headers.get("Last-Event-ID") or request.query.get("after") or "0"
    try:
        return max(0, int(raw))
    except ValueError:
        return 0


async def _wait(closing: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(closing.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass

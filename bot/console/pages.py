"""The console's pages outside a case: health, sign-in and sign-out, the language switch, the
queue and the audit log."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from aiohttp import web
from aiohttp_session import get_session, new_session

from bot.cases.reference import normalize_reference
from bot.console import queue as queue_rows
from bot.console.accounts import Account
from bot.console.config import Console
from bot.console.i18n import LANGUAGES
from bot.console.render import console_of, db, render
from bot.console.security import client_ip, csrf_token, signed_in, supervisor_only, wants_json

__all__ = ["routes", "visible_queue"]

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()


# --- health, sign-in, language -----------------------------------------------------------------


@routes.get("/console/health")
async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/console")


@routes.get("/console/login")
async def login_page(request: web.Request) -> web.Response:
    if request["user"] is not None:
        raise web.HTTPSeeOther("/console")
    expired = request["expired"] or request.query.get("expired") == "1"
    return await render(request, "login.html", error="expired" if expired else None)


@routes.post("/console/login")
async def login(request: web.Request) -> web.Response:
    console = console_of(request)
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    ip = client_ip(request)
    known = await db(request, console.accounts.get, username) if username else None
    actor = username if known else "unknown"  # never store what was typed for an unknown name
    # The try is counted before the password is checked, so parallel guesses cannot overrun the limit.
    attempt = await db(request, console.limiter.attempt, username, ip)
    if attempt is None:
        await db(request, console.audit.record, actor, "sign_in_limited", None, None, ip)
        logger.warning("console.sign_in.limited")
        return await render(request, "login.html", status=429, error="limited", username=username)
    account = await db(request, console.accounts.verify, username, password)
    if account is None:
        await db(request, console.audit.record, actor, "sign_in_failed", None, None, ip)
        logger.info("console.sign_in.failed")
        return await render(request, "login.html", status=401, error="bad_login", username=username)
    await db(request, console.limiter.succeeded, attempt)
    session_id = await db(request, console.sessions.start, account.username)
    language = request["lang"]
    session = await new_session(request)  # a fresh cookie: nothing carries over from before sign-in
    session["sid"] = session_id
    session["lang"] = language
    await csrf_token(request)
    await db(request, console.audit.record, account.username, "sign_in", None, None, ip)
    if console.presence is not None:
        await db(request, console.presence.touch, account.username)
    logger.info("console.sign_in.ok")
    raise web.HTTPSeeOther("/console")


@routes.post("/console/logout")
async def logout(request: web.Request) -> web.Response:
    console = console_of(request)
    user: Optional[Account] = request["user"]
    if user is not None:
        await db(request, console.sessions.end, request["session_id"])
        await db(request, console.audit.record, user.username, "sign_out", None, None, client_ip(request))
        if console.presence is not None:
            await db(request, console.presence.leave, user.username)
    session = await get_session(request)
    language = request["lang"]
    session.invalidate()
    session = await new_session(request)
    session["lang"] = language
    raise web.HTTPSeeOther("/console/login")


@routes.post("/console/language")
async def set_language(request: web.Request) -> web.Response:
    form = await request.post()
    language = str(form.get("lang", ""))
    if language in LANGUAGES:
        session = await get_session(request)
        session["lang"] = language
    target = str(form.get("next", "/console"))
    if not target.startswith("/console") or target.startswith("//"):
        target = "/console"
    raise web.HTTPSeeOther(target)


# --- the queue -----------------------------------------------------------------------------------


def visible_queue(console: Console, user: Account) -> List[Dict[str, Any]]:
    cases = [c for c in console.handovers.open_cases() if queue_rows.visible_to(c, user.username, user.supervisor)]
    return [queue_rows.row(c) for c in queue_rows.ordered(cases)]


@routes.get("/console")
@signed_in
async def queue_page(request: web.Request) -> web.Response:
    rows = await db(request, visible_queue, console_of(request), request["user"])
    return await render(request, "queue.html", rows=rows)


@routes.get("/console/api/queue")
@signed_in
async def queue_api(request: web.Request) -> web.Response:
    rows = await db(request, visible_queue, console_of(request), request["user"])
    return web.json_response({"cases": rows})


# --- the audit log ------------------------------------------------------------------------------


@routes.get("/console/audit")
@supervisor_only
async def audit_page(request: web.Request) -> web.Response:
    console = console_of(request)
    user: Account = request["user"]
    reference = normalize_reference(request.query.get("reference", "")) if request.query.get("reference") else None
    actor = request.query.get("actor", "").strip().lower() or None
    detail = " ".join(f"{k}={v}" for k, v in (("reference", reference), ("actor", actor)) if v) or None
    await db(request, console.audit.record, user.username, "view_audit", reference, detail, client_ip(request))
    entries = await db(request, console.audit.entries, reference, actor)
    if wants_json(request):
        return web.json_response(
            {
                "entries": [
                    {
                        "at": e.at.isoformat(timespec="seconds"),
                        "actor": e.actor,
                        "action": e.action,
                        "reference": e.reference,
                        "detail": e.detail,
                    }
                    for e in entries
                ]
            }
        )
    return await render(request, "audit.html", entries=entries, reference=reference or "", actor=actor or "")

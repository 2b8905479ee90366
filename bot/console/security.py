"""The console's guards: security headers on every response, the signed-in user and language on
every request, CSRF on every state-changing request, and the "must be signed in" decorator."""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
import logging
import secrets
from typing import Any, Awaitable, Callable, Optional, Tuple

from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy.exc import SQLAlchemyError

from bot.cases.store import CaseStoreError
from bot.console.accounts import Account
from bot.console.config import Console

__all__ = [
    "CONSOLE",
    "add_security_headers",
    "auth_middleware",
    "signed_in",
    "supervisor_only",
    "csrf_token",
    "wants_json",
    "client_ip",
    "database_errors",
    "body_limit",
    "MAX_BODY_BYTES",
]

logger = logging.getLogger(__name__)

CONSOLE = web.AppKey("console", Console)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

# No inline script or style anywhere: everything comes from /console/static.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: also reaches streamed responses (SSE) and error pages."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if not request.path.startswith("/console/static/"):
        # Case pages and the queue must not stay in a browser's or a proxy's cache.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    if request.app[CONSOLE].config.secure_cookies:
        headers["Strict-Transport-Security"] = "max-age=31536000"


def client_ip(request: web.Request) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy (``CONSOLE_TRUSTED_PROXIES``);
    then the nearest address in ``X-Forwarded-For`` that is not itself a trusted proxy. A header from
    anyone else is ignored, so a client cannot choose the address it is limited and audited under."""
    peer = request.remote or "unknown"
    trusted = _trusted(request.app[CONSOLE].config.trusted_proxies)
    if not trusted or not _within(peer, trusted):
        return peer
    hops = [h.strip() for value in request.headers.getall("X-Forwarded-For", []) for h in value.split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _within(hop, trusted):
            return hop if _address(hop) is not None else peer
    return peer


@functools.lru_cache(maxsize=8)
def _trusted(networks: Tuple[str, ...]) -> Tuple[Any, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def _address(value: str) -> Any:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _within(value: str, networks: Tuple[Any, ...]) -> bool:
    address = _address(value)
    return address is not None and any(address in network for network in networks)


def wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "") or request.path.startswith("/console/api/")


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


async def _csrf_ok(request: web.Request) -> bool:
    session = await get_session(request)
    expected = session.get("csrf")
    if not expected:
        return False
    given: Optional[str] = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return bool(given) and hmac.compare_digest(str(given), str(expected))


MAX_BODY_BYTES = 64 * 1024  # the largest form or JSON the console takes (aiohttp's client_max_size too)


@web.middleware
async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """413 for a declared body past the limit, before anything reads it (aiohttp's ``client_max_size``
    stops an undeclared one once it passes the limit)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        logger.warning("console.request.too_large path=%s", request.path)
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length)
    return await handler(request)


@web.middleware
async def database_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The case database down or failing: an honest 503, logged by type (never by content)."""
    try:
        return await handler(request)
    except (CaseStoreError, SQLAlchemyError) as error:
        logger.error("console.database.failed path=%s error=%s", request.path, type(error).__name__)
        if wants_json(request):
            return web.json_response({"error": "database"}, status=503)
        return web.Response(status=503, text="The case database is not available. Try again in a minute.")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is signed in (``request["user"]``: an ``Account`` or None), in which language; CSRF."""
    console = request.app[CONSOLE]
    request["user"] = None
    request["expired"] = False
    if request.path.startswith("/console/static/") or request.path == "/console/health":
        return await handler(request)
    session = await get_session(request)
    language = session.get("lang")
    request["lang"] = language if language in ("ar", "en") else console.config.default_language
    session_id = session.get("sid")
    if session_id:
        streaming = request.path.endswith("/events")  # a live stream is not activity: it must not keep a session alive
        username = await asyncio.to_thread(console.sessions.check, str(session_id), not streaming)
        account = await asyncio.to_thread(console.accounts.get, username) if username else None
        if account is None:
            del session["sid"]
            request["expired"] = True
        else:
            request["user"] = account
            request["session_id"] = str(session_id)
            if console.presence is not None and not streaming:
                await asyncio.to_thread(console.presence.touch, account.username)
    if request.method not in SAFE_METHODS and not await _csrf_ok(request):
        logger.warning("console.csrf.rejected path=%s", request.path)
        if wants_json(request):
            raise web.HTTPForbidden(text='{"error": "csrf"}', content_type="application/json")
        raise web.HTTPForbidden(text="The form expired. Go back, reload the page and try again.")
    return await handler(request)


def signed_in(handler: Handler) -> Handler:
    """Only for a signed-in counselor: others get 401 (API, streams) or the sign-in page."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        if request["user"] is None:
            if wants_json(request) or request.path.endswith("/events"):
                raise web.HTTPUnauthorized(text='{"error": "sign in"}', content_type="application/json")
            suffix = "?expired=1" if request["expired"] else ""
            raise web.HTTPSeeOther(f"/console/login{suffix}")
        return await handler(request)

    return wrapper


def supervisor_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        user: Optional[Account] = request["user"]
        if user is None or not user.supervisor:
            raise web.HTTPForbidden(text="Supervisors only.")
        return await handler(request)

    return signed_in(wrapper)

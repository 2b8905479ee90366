"""The counselor console's aiohttp application, and ``python -m bot console`` to serve it."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Optional

from aiohttp import web
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from bot.console import analytics, campaigns, cases, live, pages, render
from bot.console.config import Console, ConsoleConfig, ConsoleConfigError
from bot.console.delivery import DELIVERY, Delivery
from bot.console.security import (
    CONSOLE,
    MAX_BODY_BYTES,
    add_security_headers,
    auth_middleware,
    body_limit,
    database_errors,
)
from bot.logging_redact import install as install_redaction

__all__ = ["create_app", "main", "COOKIE_NAME", "DELIVERY"]

logger = logging.getLogger(__name__)

COOKIE_NAME = "amaan_console"
STATIC = render.HERE / "static"


def create_app(config: ConsoleConfig) -> web.Application:
    """The console app; its database is migrated and its HTTP client opened when it starts."""
    console = Console(config)
    storage = EncryptedCookieStorage(
        config.secret_key,
        cookie_name=COOKIE_NAME,
        path="/console",
        secure=config.secure_cookies,
        httponly=True,
        samesite="Strict",
        max_age=12 * 3600,  # the cookie's own limit; idle expiry is enforced on the server
    )
    app = web.Application(
        middlewares=[body_limit, database_errors, session_middleware(storage), auth_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[CONSOLE] = console
    app[DELIVERY] = Delivery(config.delivery_url, config.delivery_token)
    app[live.CLOSING] = asyncio.Event()
    app[render.CANNED] = render.load_canned(config.data_dir)
    app.router.add_routes(pages.routes)
    app.router.add_routes(cases.routes)
    app.router.add_routes(live.routes)
    app.router.add_routes(campaigns.routes)
    app.router.add_routes(analytics.routes)
    app.router.add_static("/console/static", STATIC, append_version=True)
    app.on_response_prepare.append(add_security_headers)  # type: ignore[arg-type]  # aiosignal 1.4's types vs aiohttp 3.9
    app.on_startup.append(_start)  # type: ignore[arg-type]  # aiosignal 1.4's types vs aiohttp 3.9
    app.on_shutdown.append(_stop_streams)  # type: ignore[arg-type]  # aiosignal 1.4's types vs aiohttp 3.9
    app.on_cleanup.append(_close)  # type: ignore[arg-type]  # aiosignal 1.4's types vs aiohttp 3.9
    return app


async def _start(app: web.Application) -> None:
    console = app[CONSOLE]
    await asyncio.to_thread(console.migrate)
    if not await asyncio.to_thread(console.accounts.all):
        logger.warning("console.no_accounts hint='python -m bot counselors add NAME --role supervisor'")
    await app[DELIVERY].start()


async def _stop_streams(app: web.Application) -> None:
    app[live.CLOSING].set()  # the live streams end within one poll, so Ctrl-C is quick


async def _close(app: web.Application) -> None:
    await app[DELIVERY].close()
    await asyncio.to_thread(app[CONSOLE].close)


def main(port: Optional[int] = None, host: str = "127.0.0.1") -> int:
    """Serve the console until Ctrl-C or SIGTERM."""
    from bot.settings import get_settings

    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install_redaction()  # as in the Rasa and action servers: no message text, number or secret in a log line
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # URLs carry case references only, but keep it quiet
    try:
        config = ConsoleConfig.from_settings(settings)
    except ConsoleConfigError as error:
        print(f"The console cannot start: {error}", file=sys.stderr)
        return 2
    if not config.delivery_token:
        print("WARNING: HANDOVER_TOKEN is not set: counselor messages cannot be delivered.", file=sys.stderr)
    port = port or settings.console_port
    web.run_app(
        create_app(config),
        host=host,
        port=port,
        shutdown_timeout=5,
        print=lambda _: print(f"Counselor console listening on http://{host}:{port}/console", flush=True),
    )
    return 0

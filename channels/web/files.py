"""The files the widget needs, served by the web channel under ``/webhooks/web/``: its script and
styles (``static/``), the pinned socket.io client, its texts (``texts.json``, from
data/content/messages.yml), and the demo and exit pages under a strict CSP. Only these names are
served; nothing else in ``static/`` or beside it."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Callable, Coroutine, Dict, Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.content import LANGUAGES, ContentLibrary
from bot.settings import PROJECT_ROOT

__all__ = ["add_files", "DEMO_CSP", "STATIC_DIR", "frame_csp"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SOCKETIO_CLIENT = PROJECT_ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"

# The demo page runs the widget under the strictest policy a host page is likely to have: no inline
# script or style, nothing from anywhere but the bot's own origin.
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def frame_csp(allowed_origins: Tuple[str, ...]) -> str:
    """The conversation frame's policy: only the bot's own files and socket, and only the bot's own
    pages and ``WEB_ALLOWED_ORIGINS`` may embed it (no other site can frame a child's chat)."""
    ancestors = " ".join(("'self'", *allowed_origins))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    )


# name -> (file, content type, Cache-Control)
_ASSETS: Dict[str, Tuple[Path, str, str]] = {
    "widget.js": (STATIC_DIR / "widget.js", "text/javascript; charset=utf-8", "public, max-age=600"),
    "frame.js": (STATIC_DIR / "frame.js", "text/javascript; charset=utf-8", "public, max-age=600"),
    "widget.css": (STATIC_DIR / "widget.css", "text/css; charset=utf-8", "public, max-age=600"),
    "demo.css": (STATIC_DIR / "demo.css", "text/css; charset=utf-8", "public, max-age=600"),
    "socket.io.min.js": (SOCKETIO_CLIENT, "text/javascript; charset=utf-8", "public, max-age=86400"),
}
_PAGES: Dict[str, Path] = {
    "demo": STATIC_DIR / "demo.html",
    "weather": STATIC_DIR / "weather.html",
    "frame": STATIC_DIR / "frame.html",
}


def add_files(web: Blueprint, data_dir: Path, allowed_origins: Tuple[str, ...] = ()) -> None:
    """The widget's files, its texts from data/content/messages.yml, the conversation frame (which
    only the bot's own pages and ``allowed_origins`` may embed), the demo and exit pages."""

    @web.route("/", methods=["GET"])
    async def health(request: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    def serve(name: str) -> Callable[[Request], Coroutine[Any, Any, HTTPResponse]]:
        path, content_type, cache = _ASSETS[name]

        async def asset(request: Request) -> HTTPResponse:
            try:
                body = path.read_bytes()
            except OSError:
                logger.error("web.asset.missing name=%s (`make setup` runs `npm ci`)", name)
                return response.text("not found", status=404)
            return _cached(request, body, content_type, cache)

        return asset

    for name in _ASSETS:
        web.add_route(serve(name), f"/{name}", methods=["GET"], name=f"asset_{name.replace('.', '_')}")

    @web.route("/texts.json", methods=["GET"])
    async def texts(request: Request) -> HTTPResponse:
        library = ContentLibrary.load(data_dir)
        keys = [k for k in library.messages if k.startswith("web_")]
        body = json.dumps(
            {lang: {k[4:]: library.message(k, lang) for k in keys} for lang in LANGUAGES}, ensure_ascii=False
        ).encode()
        return _cached(request, body, "application/json; charset=utf-8", "public, max-age=600")

    @web.route("/demo", methods=["GET"])
    async def demo(request: Request) -> HTTPResponse:
        return _page(_PAGES["demo"])

    @web.route("/demo/weather", methods=["GET"])
    async def weather(request: Request) -> HTTPResponse:
        return _page(_PAGES["weather"])

    @web.route("/frame", methods=["GET"])
    async def frame(request: Request) -> HTTPResponse:
        return _page(_PAGES["frame"], frame_csp(allowed_origins))


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _cached(request: Request, body: bytes, content_type: str, cache: str) -> HTTPResponse:
    """A public asset: revalidated by ETag, loadable from any site that embeds the widget."""
    tag = _etag(body)
    headers = {
        "Cache-Control": cache,
        "ETag": tag,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",
    }
    if request.headers.get("If-None-Match") == tag:
        return response.empty(status=304, headers=headers)
    return response.raw(body, content_type=content_type, headers=headers)


def _page(path: Path, csp: str = DEMO_CSP) -> HTTPResponse:
    """An HTML page under the strict CSP, never cached (quick exit should leave nothing to reload)."""
    return response.raw(
        path.read_bytes(),
        content_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        },
    )

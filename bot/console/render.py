"""Rendering the console's pages (Jinja2, everything escaped) and its small shared helpers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List

import yaml
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.console.config import Console
from bot.console.i18n import LANGUAGES, direction, label, translator
from bot.console.security import CONSOLE, csrf_token, wants_json
from bot.helplines import HelplineDirectory

__all__ = ["HERE", "TEMPLATES", "CANNED", "load_canned", "console_of", "db", "render", "problem"]

HERE = Path(__file__).resolve().parent
TEMPLATES = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
CANNED = web.AppKey("canned", dict)


def load_canned(data_dir: Path) -> Dict[str, List[Dict[str, str]]]:
    """Canned responses by language, ``{"ar": [{"id", "text"}], "en": [...]}``, from
    data/console/canned.yml with the helpline placeholders filled from data/helplines.yml."""
    path = data_dir / "console" / "canned.yml"
    if not path.exists():
        return {lang: [] for lang in LANGUAGES}
    helplines = HelplineDirectory.from_file(data_dir / "helplines.yml")
    entries = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses", [])
    return {
        lang: [{"id": str(e["id"]), "text": helplines.render(str(e[lang]), lang)} for e in entries if e.get(lang)]
        for lang in LANGUAGES
    }


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]


async def db(request: web.Request, fn: Any, *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


async def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    lang = request.get("lang") or console_of(request).config.default_language
    t = translator(lang)
    html = TEMPLATES.get_template(template).render(
        t=t,
        label=lambda prefix, key: label(t, prefix, str(key)),
        lang=lang,
        dir=direction(lang),
        other_lang="en" if lang == "ar" else "ar",
        user=request.get("user"),
        csrf=await csrf_token(request),
        path=request.path_qs,
        **context,
    )
    return web.Response(text=html, content_type="text/html", status=status)


def problem(request: web.Request, status: int, code: str, message: str) -> web.Response:
    if wants_json(request):
        return web.json_response({"error": code}, status=status)
    return web.Response(status=status, text=message)

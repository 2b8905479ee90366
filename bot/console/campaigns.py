"""The console's Campaigns page, for supervisors only (counselors get 403), every action audited:
the tip series and their subscriber counts, what can be broadcast (with each language's text as
the channels will show it), a broadcast to a segment, its live progress, pause, resume, cancel,
and poll results as counts. The same as ``python -m bot campaigns`` (``bot.campaigns.cli``).

A broadcast is an item of ``data/campaigns/`` or text written here in both languages (each at most
``TEXT_LIMIT`` characters; on WhatsApp it goes out only inside the 24-hour window, having no approved
template), now or at a time (``send_at``, in ``CAMPAIGN_TIMEZONE`` unless it says its offset). The
page polls ``/console/campaigns/progress`` for the counts; that read is not audited (the page view
that started it was)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.campaigns.content import CampaignLibrary
from bot.campaigns.delivery import render as render_text
from bot.campaigns.store import CampaignStore, Segment
from bot.console.accounts import Account
from bot.console.render import console_of, db, render
from bot.console.security import client_ip, supervisor_only, wants_json
from bot.content import AUDIENCES, LANGUAGES
from bot.settings import get_settings

__all__ = ["routes"]

routes = web.RouteTableDef()

CHANNELS = ("telegram", "whatsapp")
TEXT_ITEM = "text"  # the item id of a broadcast written on the page
TEXT_LIMIT = 1000  # characters per language: under WhatsApp's 1,600 and Telegram's 4,096
FURTHEST = timedelta(days=90)
ACTIONS = {"pause": ("paused", ("scheduled", "running")), "cancel": ("cancelled", ("scheduled", "running", "paused"))}

_STORES: Dict[str, CampaignStore] = {}
_LOCK = threading.Lock()


def _store(request: web.Request) -> CampaignStore:
    url = console_of(request).config.database_url
    with _LOCK:
        if url not in _STORES:
            _STORES[url] = CampaignStore.from_url(url)
        return _STORES[url]


def _library(request: web.Request) -> CampaignLibrary:
    return CampaignLibrary.load(console_of(request).config.data_dir)


def _overview(store: CampaignStore, library: CampaignLibrary) -> Dict[str, Any]:
    broadcasts: List[Dict[str, Any]] = []
    for b in store.broadcasts():
        item = library.item(b.item_id)
        row: Dict[str, Any] = {
            "id": b.id,
            "item": b.item_id,
            "status": b.status,
            "send_at": b.send_at.isoformat(),
            "segment": {"channel": b.segment.channel, "language": b.segment.language, "audience": b.segment.audience},
            "progress": store.progress(b.id),
        }
        if item is not None and item.kind == "poll":
            counts = store.poll_counts(item.id)
            row["poll"] = {c["id"]: counts.get(c["id"], 0) for c in item.choices}
        broadcasts.append(row)
    return {"series": store.series_counts(), "broadcasts": broadcasts}


def _send_at(value: str, zone: str, now: datetime) -> Optional[datetime]:
    """The form's time (``2026-09-01T08:00``, in ``zone`` unless it carries an offset), or None for now;
    ValueError when it is not a time, is past, or is further than ``FURTHEST``."""
    if not value.strip():
        return None
    when = datetime.fromisoformat(value.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(zone))
    if when < now - timedelta(minutes=1) or when > now + FURTHEST:
        raise ValueError("out of range")
    return when.astimezone(timezone.utc)


def _texts(form: Any) -> Dict[str, str]:
    """Both languages' text, or ValueError."""
    texts = {lang: str(form.get(f"text_{lang}") or "").strip() for lang in LANGUAGES}
    if not all(texts.values()) or any(len(t) > TEXT_LIMIT for t in texts.values()):
        raise ValueError("both languages, each within the limit")
    return texts


@routes.get("/console/campaigns")
@supervisor_only
async def campaigns_page(request: web.Request) -> web.Response:
    user: Account = request["user"]
    console = console_of(request)
    await db(request, console.audit.record, user.username, "view_campaigns", None, None, client_ip(request))
    library = _library(request)
    overview = await db(request, _overview, _store(request), library)
    if wants_json(request):
        return web.json_response(overview)
    items = [
        {
            "id": i.id,
            "kind": i.kind,
            "preview": {lang: render_text(i, None, lang, library.reply("poll_hint", lang)) for lang in LANGUAGES},
            "template": (i.template or {}).get("content_sid"),
        }
        for i in library.items()
    ]
    return await render(
        request,
        "campaigns.html",
        items=items,
        overview=overview,
        channels=CHANNELS,
        languages=LANGUAGES,
        audiences=AUDIENCES,
        text_item=TEXT_ITEM,
        text_limit=TEXT_LIMIT,
        zone=get_settings().campaign_timezone,
    )


@routes.get("/console/campaigns/progress")
@supervisor_only
async def progress(request: web.Request) -> web.Response:
    """What the page polls: each broadcast's status, counts by state and poll results."""
    overview = await db(request, _overview, _store(request), _library(request))
    return web.json_response({"broadcasts": overview["broadcasts"]})


@routes.post("/console/campaigns")
@supervisor_only
async def launch(request: web.Request) -> web.StreamResponse:
    user: Account = request["user"]
    form = await request.post()
    library = _library(request)
    item_id = str(form.get("item") or "")
    choice = {name: str(form.get(name) or "") or None for name in ("channel", "language", "audience")}
    allowed = {"channel": CHANNELS, "language": LANGUAGES, "audience": AUDIENCES}
    written = item_id == TEXT_ITEM
    if (not written and library.item(item_id) is None) or any(
        v is not None and v not in allowed[k] for k, v in choice.items()
    ):
        raise web.HTTPBadRequest(text="Choose a message and a segment from the lists.")
    try:
        texts = _texts(form) if written else None
    except ValueError:
        raise web.HTTPBadRequest(
            text=f"Write the message in both Arabic and English, each at most {TEXT_LIMIT} characters."
        ) from None
    zone = get_settings().campaign_timezone
    try:
        send_at = _send_at(str(form.get("send_at") or ""), zone, datetime.now(timezone.utc))
    except ValueError:
        raise web.HTTPBadRequest(
            text=f"Give a time to send from now to {FURTHEST.days} days ahead, e.g. 2026-09-01T08:00 ({zone})."
        ) from None
    if not console_of(request).config.redis_url:
        raise web.HTTPServiceUnavailable(text="Campaign delivery needs Redis (REDIS_URL).")
    segment = Segment(choice["channel"], choice["language"], choice["audience"])
    broadcast_id = await db(request, _store(request).create_broadcast, item_id, segment, texts, send_at, user.username)
    from bot.campaigns.worker import fan_out

    await db(request, fan_out.send, broadcast_id)
    words = [f"item={item_id}", *(f"{k}={v}" for k, v in choice.items() if v)]
    if send_at is not None:
        words.append(f"at={send_at.isoformat(timespec='minutes')}")
    detail = " ".join(words)
    await db(
        request,
        console_of(request).audit.record,
        user.username,
        "campaign_send",
        None,
        detail.strip(),
        client_ip(request),
    )
    if wants_json(request):
        return web.json_response({"id": broadcast_id})
    raise web.HTTPSeeOther("/console/campaigns")


@routes.post("/console/campaigns/{broadcast_id}/{action:(pause|resume|cancel)}")
@supervisor_only
async def control(request: web.Request) -> web.StreamResponse:
    user: Account = request["user"]
    broadcast_id, action = request.match_info["broadcast_id"], request.match_info["action"]
    store = _store(request)
    if await db(request, store.broadcast, broadcast_id) is None:
        raise web.HTTPNotFound(text="No such broadcast.")
    if action == "resume":
        from bot.campaigns.worker import resume

        done = await db(request, resume, broadcast_id)
    else:
        status, only_from = ACTIONS[action]
        done = await db(request, store.set_status, broadcast_id, status, only_from)
    await db(
        request,
        console_of(request).audit.record,
        user.username,
        f"campaign_{action}",
        None,
        f"broadcast={broadcast_id}",
        client_ip(request),
    )
    if not done:
        raise web.HTTPConflict(text=f"This broadcast cannot be {action}d now.")
    if wants_json(request):
        return web.json_response({"id": broadcast_id, "done": True})
    raise web.HTTPSeeOther("/console/campaigns")

"""The console's Campaigns page, for supervisors only (counselors get 403), every action audited:
the tip series and their subscriber counts, what can be broadcast (with each language's text as
the channels will show it), a broadcast to a segment, its live progress, pause, resume, cancel,
and poll results as counts. The same as ``python -m bot campaigns`` (``bot.campaigns.cli``)."""

from __future__ import annotations

import threading
from typing import Any, Dict, List

from aiohttp import web

from bot.campaigns.content import CampaignLibrary
from bot.campaigns.delivery import render as render_text
from bot.campaigns.store import CampaignStore, Segment
from bot.console.accounts import Account
from bot.console.render import console_of, db, render
from bot.console.security import client_ip, supervisor_only, wants_json
from bot.content import AUDIENCES, LANGUAGES

__all__ = ["routes"]

routes = web.RouteTableDef()

CHANNELS = ("telegram", "whatsapp")
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
            "segment": {"channel": b.segment.channel, "language": b.segment.language, "audience": b.segment.audience},
            "progress": store.progress(b.id),
        }
        if item is not None and item.kind == "poll":
            row["poll"] = store.poll_counts(item.id)
        broadcasts.append(row)
    return {"series": store.series_counts(), "broadcasts": broadcasts}


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
        {"id": i.id, "kind": i.kind, "preview": {lang: render_text(i, None, lang, "") for lang in LANGUAGES}}
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
    )


@routes.post("/console/campaigns")
@supervisor_only
async def launch(request: web.Request) -> web.StreamResponse:
    user: Account = request["user"]
    form = await request.post()
    library = _library(request)
    item_id = str(form.get("item") or "")
    choice = {name: str(form.get(name) or "") or None for name in ("channel", "language", "audience")}
    allowed = {"channel": CHANNELS, "language": LANGUAGES, "audience": AUDIENCES}
    if library.item(item_id) is None or any(v is not None and v not in allowed[k] for k, v in choice.items()):
        raise web.HTTPBadRequest(text="Choose a message and a segment from the lists.")
    if not console_of(request).config.redis_url:
        raise web.HTTPServiceUnavailable(text="Campaign delivery needs Redis (REDIS_URL).")
    segment = Segment(choice["channel"], choice["language"], choice["audience"])
    broadcast_id = await db(request, _store(request).create_broadcast, item_id, segment, None, None, user.username)
    from bot.campaigns.worker import fan_out

    await db(request, fan_out.send, broadcast_id)
    detail = f"item={item_id} " + " ".join(f"{k}={v}" for k, v in choice.items() if v)
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

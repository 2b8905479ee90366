"""The console's pages and API: sign-in, the queue, a case (report, conversation, claim, chat,
notes, hand back, close, reassign) and the audit log. Database work runs in threads, never on the
event loop. Nothing here logs what anyone said."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set

import yaml
from aiohttp import web
from aiohttp_session import get_session, new_session
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.cases.handover import CaseClosed, HeldByAnother, Message
from bot.cases.models import OUTCOMES
from bot.cases.reference import normalize_reference
from bot.cases.store import CaseMeta
from bot.console import queue as queue_rows
from bot.console.accounts import Account
from bot.console.config import Console
from bot.console.i18n import LANGUAGES, direction, label, translator
from bot.console.schema import Undelivered
from bot.console.security import CONSOLE, client_ip, csrf_token, signed_in, supervisor_only, wants_json
from bot.helplines import HelplineDirectory

__all__ = ["routes", "TEMPLATES", "message_row", "undelivered_ids", "TEMPLATES_KEY", "load_canned"]

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
TEMPLATES_KEY = web.AppKey("canned", dict)
routes = web.RouteTableDef()


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


def shown_text(message: Message, t: Callable[[str], str]) -> str:
    """What the console shows for a message: system lines ("joined", "closed:advised") in words."""
    if message.author != "system":
        return message.text
    kind, _, argument = message.text.partition(":")
    if kind == "closed" and argument in OUTCOMES:
        return f"{t('system_closed')}: {t('outcome_' + argument)}"
    if kind == "reassigned":
        return f"{t('system_reassigned')} {argument}"
    if kind in ("joined", "left"):
        return t("system_" + kind)
    return message.text


def _console(request: web.Request) -> Console:
    return request.app[CONSOLE]


async def _db(request: web.Request, fn: Any, *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


async def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    lang = request.get("lang") or _console(request).config.default_language
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


def _problem(request: web.Request, status: int, code: str, message: str) -> web.Response:
    if wants_json(request):
        return web.json_response({"error": code}, status=status)
    return web.Response(status=status, text=message)


def message_row(message: Message, undelivered: Set[int], t: Callable[[str], str]) -> Dict[str, Any]:
    return {
        "id": message.id,
        "author": message.author,
        "counselor": message.counselor or "",
        "text": shown_text(message, t),
        "at": message.at.isoformat(timespec="seconds"),
        "delivered": message.id not in undelivered,
    }


def undelivered_ids(console: Console, reference: str) -> Set[int]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    with Session(console.store.engine, future=True) as session:
        query = select(Undelivered.message_id).where(Undelivered.reference == reference)
        return set(session.execute(query).scalars())


def _mark_undelivered(console: Console, message: Message, status: Optional[int]) -> None:
    from sqlalchemy.orm import Session

    with Session(console.store.engine, future=True) as session, session.begin():
        session.add(Undelivered(message_id=message.id, reference=message.reference, status=status, at=message.at))


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
    console = _console(request)
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    ip = client_ip(request)
    known = await _db(request, console.accounts.get, username) if username else None
    actor = username if known else "unknown"  # never store what was typed for an unknown name
    if await _db(request, console.limiter.blocked, username, ip):
        await _db(request, console.audit.record, actor, "sign_in_limited", None, None, ip)
        logger.warning("console.sign_in.limited")
        return await render(request, "login.html", status=429, error="limited", username=username)
    account = await _db(request, console.accounts.verify, username, password)
    if account is None:
        await _db(request, console.limiter.failed, username, ip)
        await _db(request, console.audit.record, actor, "sign_in_failed", None, None, ip)
        logger.info("console.sign_in.failed")
        return await render(request, "login.html", status=401, error="bad_login", username=username)
    await _db(request, console.limiter.succeeded, username)
    session_id = await _db(request, console.sessions.start, account.username)
    language = request["lang"]
    session = await new_session(request)  # a fresh cookie: nothing carries over from before sign-in
    session["sid"] = session_id
    session["lang"] = language
    await csrf_token(request)
    await _db(request, console.audit.record, account.username, "sign_in", None, None, ip)
    if console.presence is not None:
        await _db(request, console.presence.touch, account.username)
    logger.info("console.sign_in.ok")
    raise web.HTTPSeeOther("/console")


@routes.post("/console/logout")
async def logout(request: web.Request) -> web.Response:
    console = _console(request)
    user: Optional[Account] = request["user"]
    if user is not None:
        await _db(request, console.sessions.end, request["session_id"])
        await _db(request, console.audit.record, user.username, "sign_out", None, None, client_ip(request))
        if console.presence is not None:
            await _db(request, console.presence.leave, user.username)
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
    rows = await _db(request, visible_queue, _console(request), request["user"])
    return await render(request, "queue.html", rows=rows)


@routes.get("/console/api/queue")
@signed_in
async def queue_api(request: web.Request) -> web.Response:
    rows = await _db(request, visible_queue, _console(request), request["user"])
    return web.json_response({"cases": rows})


# --- a case ----------------------------------------------------------------------------------------


async def _case_for(request: web.Request, audit_refusal: bool = True) -> CaseMeta:
    """The case in the URL, if this user may see it; 404 or 403 (refusals are audited)."""
    console = _console(request)
    user: Account = request["user"]
    reference = normalize_reference(request.match_info["reference"])
    case = await _db(request, console.store.get, reference) if reference else None
    if case is None:
        raise web.HTTPNotFound(text="No such case.")
    if not queue_rows.visible_to(case, user.username, user.supervisor):
        if audit_refusal:
            await _db(request, console.audit.record, user.username, "open_case", case.reference, "refused",
                      client_ip(request))  # fmt: skip
        raise web.HTTPForbidden(text="This case is assigned to another counselor.")
    return case


def _case_view(console: Console, case: CaseMeta, language: str) -> Dict[str, Any]:
    undelivered = undelivered_ids(console, case.reference)
    t = translator(language)
    messages = [message_row(m, undelivered, t) for m in console.handovers.messages(case.reference)]
    return {
        "case": queue_rows.row(case) | {"outcome": case.outcome or "", "held": case.held},
        "report": console.store.contents(case.reference) or {},
        "messages": messages,
        "linked": console.store.conversation_of(case.reference) is not None,
    }


@routes.get("/console/cases/{reference}")
@signed_in
async def case_page(request: web.Request) -> web.Response:
    console = _console(request)
    user: Account = request["user"]
    case = await _case_for(request)
    await _db(request, console.audit.record, user.username, "open_case", case.reference, None, client_ip(request))
    view = await _db(request, _case_view, console, case, request["lang"])
    accounts = await _db(request, console.accounts.all) if user.supervisor else []
    lang = case.language if case.language in LANGUAGES else request["lang"]
    return await render(
        request,
        "case.html",
        **view,
        outcomes=OUTCOMES,
        canned=request.app[TEMPLATES_KEY].get(lang, []),
        counselors=[a.username for a in accounts if not a.disabled],
        mine=case.assignee == user.username,
        notice=request.query.get("notice"),
        last_id=view["messages"][-1]["id"] if view["messages"] else 0,
    )


@routes.get("/console/api/cases/{reference}")
@signed_in
async def case_api(request: web.Request) -> web.Response:
    console = _console(request)
    case = await _case_for(request)
    await _db(request, console.audit.record, request["user"].username, "open_case", case.reference, "api",
              client_ip(request))  # fmt: skip
    return web.json_response(await _db(request, _case_view, console, case, request["lang"]))


def _done(request: web.Request, reference: str, payload: Dict[str, Any], notice: Optional[str] = None) -> web.Response:
    if wants_json(request):
        return web.json_response(payload)
    raise web.HTTPSeeOther(f"/console/cases/{reference}" + (f"?notice={notice}" if notice else ""))


async def _publish(request: web.Request, before: CaseMeta, after: Optional[CaseMeta]) -> None:
    if after is not None and after.status != before.status:
        await _db(request, lambda: _console(request).events.publish("case.status_changed", after, before.status))


@routes.post("/console/cases/{reference}/claim")
@signed_in
async def claim(request: web.Request) -> web.Response:
    console = _console(request)
    user: Account = request["user"]
    case = await _case_for(request)
    try:
        claimed = await _db(request, console.handovers.claim, case.reference, user.username)
    except HeldByAnother:
        return _problem(request, 409, "held_by_another", "Another counselor has this case.")
    except CaseClosed:
        return _problem(request, 409, "closed", "This case is closed.")
    await _db(request, console.audit.record, user.username, "claim", case.reference, None, client_ip(request))
    await _publish(request, case, claimed)
    delivered = None
    # Tell the user once, not on every re-claim; an unlinked case (the user asked to be forgotten)
    # has no chat to hold and no one to tell.
    if claimed is not None and claimed.held and not (case.held and case.assignee == user.username):
        await _db(request, console.handovers.add_message, case.reference, "system", "joined", user.username)
        delivered = (await console_delivery(request).send(case.reference, "joined")).delivered
    logger.info("console.claim reference=%s", case.reference)
    return _done(
        request,
        case.reference,
        {"claimed": True, "delivered": delivered},
        None if delivered is not False else "not_told",
    )


def console_delivery(request: web.Request) -> Any:
    from bot.console.app import DELIVERY

    return request.app[DELIVERY]


async def _text(request: web.Request) -> str:
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            return ""
        value = body.get("text", "") if isinstance(body, dict) else ""
    else:
        value = (await request.post()).get("text", "")
    return str(value).strip() if isinstance(value, str) else ""


@routes.post("/console/cases/{reference}/message")
@signed_in
async def send_message(request: web.Request) -> web.Response:
    console = _console(request)
    user: Account = request["user"]
    case = await _case_for(request)
    text = await _text(request)
    if not text:
        return _problem(request, 400, "empty", "Write a message first.")
    if case.assignee != user.username or not case.held:
        return _problem(request, 409, "not_held", "Claim the case to talk with the user.")
    message = await _db(request, console.handovers.add_message, case.reference, "counselor", text, user.username)
    result = await console_delivery(request).send(case.reference, "message", text=text, counselor=user.username)
    if not result.delivered:
        await _db(request, _mark_undelivered, console, message, result.status)
    return _done(
        request,
        case.reference,
        {"id": message.id, "delivered": result.delivered},
        None if result.delivered else "not_delivered",
    )


@routes.post("/console/cases/{reference}/note")
@signed_in
async def add_note(request: web.Request) -> web.Response:
    """A private note: kept with the case, never sent to the user."""
    console = _console(request)
    user: Account = request["user"]
    case = await _case_for(request)
    text = await _text(request)
    if not text:
        return _problem(request, 400, "empty", "Write a note first.")
    if case.assignee != user.username and not user.supervisor:
        return _problem(request, 409, "not_yours", "Claim the case first.")
    note = await _db(request, console.handovers.add_message, case.reference, "note", text, user.username)
    return _done(request, case.reference, {"id": note.id})


@routes.post("/console/cases/{reference}/handback")
@signed_in
async def hand_back(request: web.Request) -> web.Response:
    console = _console(request)
    user: Account = request["user"]
    case = await _case_for(request)
    if case.assignee != user.username or not case.held:
        return _problem(request, 409, "not_held", "You do not hold this conversation.")
    await _db(request, console.handovers.release, case.reference)
    await _db(request, console.audit.record, user.username, "hand_back", case.reference, None, client_ip(request))
    await _db(request, console.handovers.add_message, case.reference, "system", "left", user.username)
    delivered = (await console_delivery(request).send(case.reference, "left")).delivered
    return _done(request, case.reference, {"released": True, "delivered": delivered}, None if delivered else "not_told")


@routes.post("/console/cases/{reference}/close")
@signed_in
async def close(request: web.Request) -> web.Response:
    console = _console(request)
    user: Account = request["user"]
    case = await _case_for(request)
    form = await request.post()
    outcome = str(form.get("outcome", ""))
    if outcome not in OUTCOMES:
        return _problem(request, 400, "outcome", "Choose an outcome.")
    if case.status == "closed":
        return _problem(request, 409, "closed", "This case is closed.")
    if case.assignee != user.username and not user.supervisor:
        return _problem(request, 409, "not_yours", "Claim the case first.")
    closed = await _db(request, console.handovers.release, case.reference, outcome)
    await _db(request, console.audit.record, user.username, "close", case.reference, outcome, client_ip(request))
    await _publish(request, case, closed)
    await _db(request, console.handovers.add_message, case.reference, "system", f"closed:{outcome}", user.username)
    delivered = None
    if await _db(request, console.store.conversation_of, case.reference) is not None:
        delivered = (await console_delivery(request).send(case.reference, "closed")).delivered
    return _done(
        request, case.reference, {"closed": True, "delivered": delivered}, "not_told" if delivered is False else None
    )


@routes.post("/console/cases/{reference}/reassign")
@supervisor_only
async def reassign(request: web.Request) -> web.Response:
    console = _console(request)
    user: Account = request["user"]
    case = await _case_for(request)
    form = await request.post()
    target = str(form.get("counselor", "")).strip().lower()
    account = await _db(request, console.accounts.get, target) if target else None
    if account is None or account.disabled:
        return _problem(request, 400, "counselor", "No such counselor.")
    try:
        moved = await _db(request, console.handovers.reassign, case.reference, account.username)
    except CaseClosed:
        return _problem(request, 409, "closed", "This case is closed.")
    await _publish(request, case, moved)
    detail = f"{case.assignee or '-'} -> {account.username}"
    await _db(request, console.audit.record, user.username, "reassign", case.reference, detail, client_ip(request))
    await _db(request, console.handovers.add_message, case.reference, "system", f"reassigned:{account.username}",
              user.username)  # fmt: skip
    return _done(request, case.reference, {"assignee": account.username})


# --- the audit log ------------------------------------------------------------------------------


@routes.get("/console/audit")
@supervisor_only
async def audit_page(request: web.Request) -> web.Response:
    console = _console(request)
    user: Account = request["user"]
    reference = normalize_reference(request.query.get("reference", "")) if request.query.get("reference") else None
    actor = request.query.get("actor", "").strip().lower() or None
    detail = " ".join(f"{k}={v}" for k, v in (("reference", reference), ("actor", actor)) if v) or None
    await _db(request, console.audit.record, user.username, "view_audit", reference, detail, client_ip(request))
    entries = await _db(request, console.audit.entries, reference, actor)
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

"""A case in the console: open it (audited), claim it, talk with the user, write private notes,
hand back or close it, reassign it (supervisors). Database work runs in threads; nothing here logs
what anyone said."""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Optional, Set

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases.handover import MAX_MESSAGE_CHARS, CaseClosed, HeldByAnother, Message
from bot.cases.models import OUTCOMES
from bot.cases.reference import normalize_reference
from bot.cases.store import CaseMeta
from bot.console import queue as queue_rows
from bot.console.accounts import Account
from bot.console.config import Console
from bot.console.delivery import DELIVERY
from bot.console.i18n import LANGUAGES, translator
from bot.console.render import CANNED, console_of, db, problem, render
from bot.console.schema import Undelivered
from bot.console.security import client_ip, signed_in, supervisor_only, wants_json

__all__ = ["routes", "message_row", "undelivered_ids", "shown_text"]

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()


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
    with Session(console.store.engine, future=True) as session:
        query = select(Undelivered.message_id).where(Undelivered.reference == reference)
        return set(session.execute(query).scalars())


def mark_undelivered(console: Console, message: Message, status: Optional[int]) -> None:
    with Session(console.store.engine, future=True) as session, session.begin():
        session.add(Undelivered(message_id=message.id, reference=message.reference, status=status, at=message.at))


async def _case_for(request: web.Request, audit_refusal: bool = True) -> CaseMeta:
    """The case in the URL, if this user may see it; 404 or 403 (refusals are audited)."""
    console = console_of(request)
    user: Account = request["user"]
    reference = normalize_reference(request.match_info["reference"])
    case = await db(request, console.store.get, reference) if reference else None
    if case is None:
        raise web.HTTPNotFound(text="No such case.")
    if not queue_rows.visible_to(case, user.username, user.supervisor):
        if audit_refusal:
            await db(request, console.audit.record, user.username, "open_case", case.reference, "refused",
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
    console = console_of(request)
    user: Account = request["user"]
    case = await _case_for(request)
    await db(request, console.audit.record, user.username, "open_case", case.reference, None, client_ip(request))
    view = await db(request, _case_view, console, case, request["lang"])
    accounts = await db(request, console.accounts.all) if user.supervisor else []
    lang = case.language if case.language in LANGUAGES else request["lang"]
    return await render(
        request,
        "case.html",
        **view,
        outcomes=OUTCOMES,
        canned=request.app[CANNED].get(lang, []),
        counselors=[a.username for a in accounts if not a.disabled],
        mine=case.assignee == user.username,
        notice=request.query.get("notice"),
        last_id=view["messages"][-1]["id"] if view["messages"] else 0,
    )


@routes.get("/console/api/cases/{reference}")
@signed_in
async def case_api(request: web.Request) -> web.Response:
    console = console_of(request)
    case = await _case_for(request)
    await db(request, console.audit.record, request["user"].username, "open_case", case.reference, "api",
              client_ip(request))  # fmt: skip
    return web.json_response(await db(request, _case_view, console, case, request["lang"]))


def _done(request: web.Request, reference: str, payload: Dict[str, Any], notice: Optional[str] = None) -> web.Response:
    if wants_json(request):
        return web.json_response(payload)
    raise web.HTTPSeeOther(f"/console/cases/{reference}" + (f"?notice={notice}" if notice else ""))


async def _publish(request: web.Request, before: CaseMeta, after: Optional[CaseMeta]) -> None:
    if after is not None and after.status != before.status:
        await db(request, lambda: console_of(request).events.publish("case.status_changed", after, before.status))


@routes.post("/console/cases/{reference}/claim")
@signed_in
async def claim(request: web.Request) -> web.Response:
    console = console_of(request)
    user: Account = request["user"]
    case = await _case_for(request)
    try:
        claimed = await db(request, console.handovers.claim, case.reference, user.username)
    except HeldByAnother:
        return problem(request, 409, "held_by_another", "Another counselor has this case.")
    except CaseClosed:
        return problem(request, 409, "closed", "This case is closed.")
    await db(request, console.audit.record, user.username, "claim", case.reference, None, client_ip(request))
    await _publish(request, case, claimed)
    delivered = None
    # Tell the user once, not on every re-claim; an unlinked case (the user asked to be forgotten)
    # has no chat to hold and no one to tell.
    if claimed is not None and claimed.held and not (case.held and case.assignee == user.username):
        await db(request, console.handovers.add_message, case.reference, "system", "joined", user.username)
        delivered = (await console_delivery(request).send(case.reference, "joined")).delivered
    logger.info("console.claim reference=%s", case.reference)
    return _done(
        request,
        case.reference,
        {"claimed": True, "delivered": delivered},
        None if delivered is not False else "not_told",
    )


def console_delivery(request: web.Request) -> Any:
    return request.app[DELIVERY]


async def _field(request: web.Request, name: str) -> str:
    """A field of the form, or of the JSON body the page's script sends; "" if absent or malformed."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            return ""
        value = body.get(name, "") if isinstance(body, dict) else ""
    else:
        value = (await request.post()).get(name, "")
    return value.strip() if isinstance(value, str) else ""


@routes.post("/console/cases/{reference}/message")
@signed_in
async def send_message(request: web.Request) -> web.Response:
    console = console_of(request)
    user: Account = request["user"]
    case = await _case_for(request)
    text = await _field(request, "text")
    if not text:
        return problem(request, 400, "empty", "Write a message first.")
    if len(text) > MAX_MESSAGE_CHARS:  # the delivery endpoint refuses longer ones
        return problem(request, 400, "too_long", f"A message has at most {MAX_MESSAGE_CHARS} characters.")
    if case.assignee != user.username or not case.held:
        return problem(request, 409, "not_held", "Claim the case to talk with the user.")
    message = await db(request, console.handovers.add_message, case.reference, "counselor", text, user.username)
    result = await console_delivery(request).send(case.reference, "message", text=text, counselor=user.username)
    if not result.delivered:
        await db(request, mark_undelivered, console, message, result.status)
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
    console = console_of(request)
    user: Account = request["user"]
    case = await _case_for(request)
    text = await _field(request, "text")
    if not text:
        return problem(request, 400, "empty", "Write a note first.")
    if case.assignee != user.username and not user.supervisor:
        return problem(request, 409, "not_yours", "Claim the case first.")
    note = await db(request, console.handovers.add_message, case.reference, "note", text, user.username)
    return _done(request, case.reference, {"id": note.id})


@routes.post("/console/cases/{reference}/handback")
@signed_in
async def hand_back(request: web.Request) -> web.Response:
    console = console_of(request)
    user: Account = request["user"]
    case = await _case_for(request)
    if case.assignee != user.username or not case.held:
        return problem(request, 409, "not_held", "You do not hold this conversation.")
    await db(request, console.handovers.release, case.reference)
    await db(request, console.audit.record, user.username, "hand_back", case.reference, None, client_ip(request))
    await db(request, console.handovers.add_message, case.reference, "system", "left", user.username)
    delivered = (await console_delivery(request).send(case.reference, "left")).delivered
    return _done(request, case.reference, {"released": True, "delivered": delivered}, None if delivered else "not_told")


@routes.post("/console/cases/{reference}/close")
@signed_in
async def close(request: web.Request) -> web.Response:
    console = console_of(request)
    user: Account = request["user"]
    case = await _case_for(request)
    outcome = await _field(request, "outcome")
    if outcome not in OUTCOMES:
        return problem(request, 400, "outcome", "Choose an outcome.")
    if case.status == "closed":
        return problem(request, 409, "closed", "This case is closed.")
    if case.assignee != user.username and not user.supervisor:
        return problem(request, 409, "not_yours", "Claim the case first.")
    closed = await db(request, console.handovers.release, case.reference, outcome)
    await db(request, console.audit.record, user.username, "close", case.reference, outcome, client_ip(request))
    await _publish(request, case, closed)
    await db(request, console.handovers.add_message, case.reference, "system", f"closed:{outcome}", user.username)
    delivered = None
    if await db(request, console.store.conversation_of, case.reference) is not None:
        delivered = (await console_delivery(request).send(case.reference, "closed")).delivered
    return _done(
        request, case.reference, {"closed": True, "delivered": delivered}, "not_told" if delivered is False else None
    )


@routes.post("/console/cases/{reference}/reassign")
@supervisor_only
async def reassign(request: web.Request) -> web.Response:
    console = console_of(request)
    user: Account = request["user"]
    case = await _case_for(request)
    target = (await _field(request, "counselor")).lower()
    account = await db(request, console.accounts.get, target) if target else None
    if account is None or account.disabled:
        return problem(request, 400, "counselor", "No such counselor.")
    try:
        moved = await db(request, console.handovers.reassign, case.reference, account.username)
    except CaseClosed:
        return problem(request, 409, "closed", "This case is closed.")
    await _publish(request, case, moved)
    detail = f"{case.assignee or '-'} -> {account.username}"
    await db(request, console.audit.record, user.username, "reassign", case.reference, detail, client_ip(request))
    await db(request, console.handovers.add_message, case.reference, "system", f"reassigned:{account.username}",
              user.username)  # fmt: skip
    return _done(request, case.reference, {"assignee": account.username})

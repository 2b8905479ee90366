"""Counselor → user delivery: ``POST /webhooks/handover/deliver`` on the Rasa server.

The counselor console (another process) calls it to reach a user on the user's own channel,
outside any request of that user's (see /work/notes/issue4-interface.md and docs/CHANNELS.md):

``Authorization: Bearer <HANDOVER_TOKEN>``; JSON ``{"reference", "event": "message", "text",
"counselor"}`` or ``{"reference", "event": "joined" | "left" | "closed"}`` (these three are rendered
here, in the case's language and age group, from data/content/messages.yml).

Answers: 200 ``{"delivered": true}`` (sent, and recorded in the Rasa tracker as a bot utterance
with metadata ``{"counselor": name}``, or ``{"handover": event}`` for the three notices);
200 ``{"delivered": false, "reason": "channel cannot push"}`` for the REST channel, which only
answers requests (recorded in the tracker all the same); 400 bad body; 401 missing or wrong token
(constant-time compare); 404 unknown case or one whose user asked to be forgotten; 409 a message
for a case that is not held; 502 the channel did not deliver (or is not served by this server);
503 no token is configured (production without ``HANDOVER_TOKEN``) or the case database is down.
The console writes the counselor's message into the case itself; this endpoint does not.

Each connector registers its way to push to one of its users (``offer_push``) when its blueprint
is built; the registry lives on the Sanic app, so two Rasa apps in one process never mix.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.cases.handover import MAX_MESSAGE_CHARS
from bot.cases.store import CaseMeta, CaseStoreError, Conversation
from bot.content import ContentLibrary
from bot.settings import Settings, get_settings, handover_token
from channels.gate import LOOKUP_TIMEOUT, handovers_for, record_in_tracker

__all__ = ["HandoverInput", "Pushed", "Push", "offer_push", "EVENTS", "NOTICES"]

logger = logging.getLogger(__name__)

EVENTS = ("message", "joined", "left", "closed")
NOTICES = {"joined": "handover_joined", "left": "handover_left", "closed": "handover_closed"}
MAX_BODY_BYTES = 64 * 1024
MAX_COUNSELOR_CHARS = 64
_REFERENCE = re.compile(r"^[A-Z0-9]{4,16}$")


@dataclass(frozen=True)
class Pushed:
    """What a connector's push did: sent, or why not (never a phone number or a message text)."""

    delivered: bool
    reason: Optional[str] = None


# (sender id, text) -> Pushed
Push = Callable[[str, str], Awaitable[Pushed]]
# A channel that only answers requests (REST) registers None: it cannot push, by design.
_PUSHERS = "amaan_handover_pushers"


def offer_push(blueprint: Blueprint, channel: str, push: Optional[Push]) -> None:
    """Register how the connector ``channel`` sends to one of its users outside a request; called
    in the connector's ``blueprint()``, effective when the server starts."""

    @blueprint.listener("before_server_start")
    async def register_handover_push(app: Any, loop: Any) -> None:
        pushers = getattr(app.ctx, _PUSHERS, None)
        if pushers is None:
            pushers = {}
            setattr(app.ctx, _PUSHERS, pushers)
        pushers[channel] = push


def _pushers(app: Any) -> Dict[str, Optional[Push]]:
    return getattr(app.ctx, _PUSHERS, None) or {}


@dataclass(frozen=True)
class _Delivery:
    reference: str
    event: str
    text: Optional[str] = None
    counselor: Optional[str] = None


def _parse(raw: bytes) -> Any:
    """A ``_Delivery``, or the error message for a 400."""
    try:
        body = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError):
        return "body must be JSON"
    if not isinstance(body, dict):
        return "body must be a JSON object"
    reference, event = body.get("reference"), body.get("event")
    if not isinstance(reference, str) or not _REFERENCE.match(reference):
        return "'reference' must be a case reference"
    if event not in EVENTS:
        return f"'event' must be one of {', '.join(EVENTS)}"
    if event != "message":
        return _Delivery(reference, event)
    text, counselor = body.get("text"), body.get("counselor")
    if not isinstance(text, str) or not text.strip():
        return "'text' must be a non-empty string"
    if len(text) > MAX_MESSAGE_CHARS:
        return f"'text' is over {MAX_MESSAGE_CHARS} characters"
    if not isinstance(counselor, str) or not counselor.strip() or len(counselor) > MAX_COUNSELOR_CHARS:
        return f"'counselor' must be a name of 1-{MAX_COUNSELOR_CHARS} characters"
    return _Delivery(reference, event, text.strip(), counselor.strip())


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


class HandoverInput(InputChannel):
    """Not a channel users write to: the console's way to reach them (see the module docs)."""

    @classmethod
    def name(cls) -> str:
        return "handover"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> HandoverInput:
        # The token comes from the environment (or .run/handover.token in development).
        return cls()

    def __init__(self, settings: Optional[Settings] = None):
        self.settings = settings or get_settings()
        self._token: Optional[str] = None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hub = Blueprint("amaan_handover", __name__)

        @hub.listener("before_server_start")
        async def read_token(app: Any, loop: Any) -> None:
            self._token = handover_token(self.settings)
            if self._token is None:
                logger.error("handover.deliver.no_token (set HANDOVER_TOKEN; deliveries are refused)")

        @hub.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self._token else "no token"})

        @hub.route("/deliver", methods=["POST"])
        async def deliver(request: Request) -> HTTPResponse:
            return await self._deliver(request)

        return hub

    def _authorized(self, request: Request) -> bool:
        supplied = request.headers.get("Authorization", "")
        expected = f"Bearer {self._token}"
        return hmac.compare_digest(supplied.encode(), expected.encode())

    async def _deliver(self, request: Request) -> HTTPResponse:
        if self._token is None:
            self._token = handover_token(self.settings)  # `make run` may have written it since
            if self._token is None:
                return _error(503, "no HANDOVER_TOKEN is configured")
        if not self._authorized(request):
            logger.warning("handover.deliver.rejected reason=token")
            return _error(401, "missing or wrong bearer token")
        if len(request.body or b"") > MAX_BODY_BYTES:
            return _error(400, f"body over {MAX_BODY_BYTES} bytes")
        delivery = _parse(request.body or b"")
        if isinstance(delivery, str):
            return _error(400, delivery)
        try:
            found = await asyncio.wait_for(
                asyncio.to_thread(_case_and_conversation, self.settings, delivery.reference), LOOKUP_TIMEOUT
            )
        except (CaseStoreError, asyncio.TimeoutError) as error:
            logger.error("handover.deliver.store_unavailable error=%s", type(error).__name__)
            return _error(503, "the case database is unavailable")
        if found is None:
            return _error(503, "the case database is not configured")
        case, conversation = found
        if case is None or conversation is None:
            return _error(404, "unknown case, or its user asked to be forgotten")
        if delivery.event == "message" and not case.held:
            return _error(409, "the case is not held by a counselor")
        text = delivery.text if delivery.event == "message" else self._notice(delivery.event, case)
        pushers = _pushers(request.app)
        if conversation.channel not in pushers:
            logger.warning("handover.deliver.failed reference=%s reason=channel_not_served", case.reference)
            return response.json(
                {"delivered": False, "reason": f"the {conversation.channel} channel is not served here"}, status=502
            )
        push = pushers[conversation.channel]
        if push is None:
            await self._record(request, conversation, delivery, text or "")
            logger.info("handover.deliver.not_pushed reference=%s channel=%s", case.reference, conversation.channel)
            return response.json({"delivered": False, "reason": "channel cannot push"})
        try:
            pushed = await push(conversation.sender_id, text or "")
        except Exception as error:  # noqa: BLE001 - the console must hear "not delivered"
            logger.error("handover.deliver.failed reference=%s error=%s", case.reference, type(error).__name__)
            pushed = Pushed(False, "the channel failed")
        if not pushed.delivered:
            logger.warning("handover.deliver.failed reference=%s reason=%s", case.reference, pushed.reason)
            return response.json({"delivered": False, "reason": pushed.reason or "not delivered"}, status=502)
        await self._record(request, conversation, delivery, text or "")
        logger.info(
            "handover.deliver.sent reference=%s channel=%s event=%s", case.reference, case.channel, delivery.event
        )
        return response.json({"delivered": True})

    def _notice(self, event: str, case: CaseMeta) -> str:
        language = case.language if case.language in ("ar", "en") else self.settings.default_language
        return ContentLibrary.load(self.settings.data_dir).message(NOTICES[event], language, case.audience)

    async def _record(self, request: Request, conversation: Conversation, delivery: _Delivery, text: str) -> None:
        """The delivered text in the conversation's history, as a bot utterance."""
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None:
            return
        if delivery.event == "message":
            metadata: Dict[str, Any] = {"counselor": delivery.counselor}
        else:
            metadata = {"handover": delivery.event}
        try:
            await record_in_tracker(agent, conversation.sender_id, [BotUttered(text, metadata=metadata)])
        except Exception as error:  # noqa: BLE001 - it was delivered; only the history misses it
            logger.error("handover.deliver.tracker_failed error=%s", type(error).__name__)
            logger.debug("handover.deliver.tracker_failed", exc_info=True)


def _case_and_conversation(
    settings: Settings, reference: str
) -> Optional[Tuple[Optional[CaseMeta], Optional[Conversation]]]:
    """(case, where to answer it) from the case database; None when there is no case database."""
    handovers = handovers_for(settings)
    if handovers is None:
        return None
    case = handovers.store.get(reference)
    if case is None:
        return None, None
    return case, handovers.store.conversation_of(reference)

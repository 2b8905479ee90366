"""The hand-over gate: while a counselor holds a conversation, the bot never sees its messages.

Every connector (REST, web widget, Telegram, WhatsApp) hands each user message to its
``HandoverGate`` instead of straight to Rasa. The gate asks the case database
(``Handovers.holder``) whether a counselor holds this conversation:

* **held**: the bot stays silent. The message is added to the case (encrypted) for the console,
  and recorded in the Rasa tracker as the user's utterance (understood by the NLU, as Rasa itself
  does for a paused conversation, but with no policy prediction and no session start), under the
  agent's lock store, so the history is complete when the bot takes over again. Nothing reaches
  Rasa's processor, so neither a typed ``/restart`` nor an expired session can end the hold; only
  the counselor's hand-back or close does. A disclosure the NLU's danger net reads in a held
  message is still caught: it is recorded in the case (whose risk goes up) and announced on the
  case stream, as the bot's own danger reply would have done; the counselor answers it.
* **not held**, or the case database unreachable or slow (for the lookup, or for adding the
  message to a held case): the message goes to the bot. A child must never get silence because a
  database is down; ``handover.gate.unavailable`` is logged (no text, no sender id).

Store calls are blocking SQLAlchemy: they run in a thread (``asyncio.to_thread``), within
``LOOKUP_TIMEOUT``.

All of this runs under the conversation's lock (``conversation_turn``): its ticket is taken when
the message arrives, before the look-up, so several servers serve one user's messages in the
order they reached them, however long each server's look-up takes. A connector that has awaits of
its own before the gate (REST, the widget) takes the turn itself as its first step; the gate's and
Rasa's own ``lock`` inside it are then that same turn (``bot.locks``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import nullcontext
from typing import Any, AsyncContextManager, Awaitable, Callable, Dict, Iterable, Optional, Tuple

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import Event, UserUttered
from sanic import Blueprint

from bot.action_fallback import reply_key
from bot.cases.conversations_outage import ConversationsUnavailable
from bot.cases.desk import CaseDesk, case_keys, database_url
from bot.cases.handover import Handovers
from bot.cases.store import CaseMeta, CaseStoreError, CaseUpdate, Conversation
from bot.cases.triage import triage
from bot.content import ContentLibrary
from bot.locks import AtomicRedisLockStore
from bot.safety.net import read_disclosure
from bot.settings import Settings, get_settings
from channels.campaigns import CampaignKeywords
from channels.common import reply_language
from channels.identity import channel_of

__all__ = [
    "HandoverGate",
    "conversation_turn",
    "desk_for",
    "handovers_for",
    "close_stores",
    "record_in_tracker",
    "LOOKUP_TIMEOUT",
]

logger = logging.getLogger(__name__)

# Longer than a healthy lookup ever takes; short enough that a child is not kept waiting.
LOOKUP_TIMEOUT = 5.0

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


_DESKS: Dict[Tuple[str, Tuple[str, ...]], CaseDesk] = {}
_DESKS_LOCK = threading.Lock()


def desk_for(settings: Settings) -> CaseDesk:
    """The process's ``CaseDesk`` on the case database (one per database and keys)."""
    key = (database_url(settings), tuple(case_keys(settings)))
    with _DESKS_LOCK:
        if key not in _DESKS:
            _DESKS[key] = CaseDesk.from_settings(settings)
        return _DESKS[key]


def handovers_for(settings: Settings) -> Optional[Handovers]:
    """``Handovers`` on the case database, or None when no case can be there (no encryption key, so
    no case was ever written; or a malformed key or URL, which ``CaseDesk`` logs)."""
    store = desk_for(settings).store
    return Handovers(store) if store is not None else None


def close_stores() -> None:
    """Close the case-database connections the channels opened (server stop, tests)."""
    with _DESKS_LOCK:
        for desk in _DESKS.values():
            desk.close()
        _DESKS.clear()


def conversation_turn(app: Any, sender_id: str) -> AsyncContextManager[Any]:
    """The conversation's lock, its ticket taken now: ``async with conversation_turn(app, sender):``
    as a connector's first await for a message. Calling it issues the ticket before anything else
    can run on the event loop; the block runs once the messages that arrived before it (on any
    server) are done, and Rasa's lock inside it is this one. Without the shared lock store (no
    Redis, or no model loaded yet) it holds nothing and Rasa locks as usual."""
    store = getattr(getattr(getattr(app, "ctx", None), "agent", None), "lock_store", None)
    if isinstance(store, AtomicRedisLockStore):
        return store.lock(sender_id)
    return nullcontext()


async def record_in_tracker(agent: Any, sender_id: str, events: Iterable[Event]) -> None:
    """Append ``events`` to the conversation's tracker, under the agent's lock for that sender,
    without running any action (no prediction, no session start)."""
    async with agent.lock_store.lock(sender_id):
        tracker = await agent.tracker_store.get_or_create_tracker(sender_id)
        for event in events:
            tracker.update(event, agent.domain)
        await agent.tracker_store.save(tracker)


class HandoverGate:
    """Stands between one connector and Rasa (see the module docs).

    Built in the connector's ``blueprint()``; the Sanic app (for its agent) is bound when the
    server starts. Call it like ``on_new_message``, or ask ``divert`` first when the connector has
    something to do only for messages the bot will answer (Telegram's "typing…").
    """

    def __init__(self, on_new_message: OnNewMessage, settings: Optional[Settings] = None):
        self._next = on_new_message
        self._settings = settings or get_settings()
        self._app: Any = None
        self._campaigns = CampaignKeywords(self._settings)

    @classmethod
    def around(cls, blueprint: Blueprint, on_new_message: OnNewMessage) -> HandoverGate:
        """A gate for the connector whose ``blueprint`` this is."""
        gate = cls(on_new_message)

        @blueprint.listener("before_server_start")
        async def bind_handover_gate(app: Any, loop: Any) -> None:
            gate._app = app

        return gate

    def turn(self, sender_id: str) -> AsyncContextManager[Any]:
        """``conversation_turn`` on this connector's server."""
        return conversation_turn(self._app, sender_id)

    async def __call__(self, message: UserMessage) -> None:
        async with self.turn(message.sender_id):  # the connector's, if it took it
            if not await self.divert(message):
                await self.to_bot(message)

    async def to_bot(self, message: UserMessage) -> None:
        """Hand ``message`` to Rasa without asking again (after ``divert`` said False); STOP, START
        and "quiz" go as their intents (``channels.campaigns``). When the conversation cannot be
        read (its database down, and no copy to trust), the answer is given here."""
        try:
            await self._next(await self._campaigns.rewrite(message))
        except ConversationsUnavailable:
            await self._unavailable(message)

    async def _unavailable(self, message: UserMessage) -> None:
        """Without the conversation: the helplines for a disclosure (the NLU still reads it), else
        an honest "please try again in a moment", in the message's language."""
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        parsed: Dict[str, Any] = {}
        if agent is not None:
            try:
                parsed = await agent.parse_message(message.text or "")
            except Exception:  # noqa: BLE001 - "try again" needs no reading
                logger.warning("handover.gate.unavailable_parse_failed")
        key = reply_key((parsed.get("intent") or {}).get("name"), parsed.get("entities") or [])
        lang = (message.metadata or {}).get("language") or await reply_language(None, message.sender_id, "")
        logger.error("conversations.unavailable reply=%s language=%s", key, lang)
        text = ContentLibrary.load(self._settings.data_dir).message(key, lang)
        await message.output_channel.send_text_message(message.sender_id, text)

    async def divert(self, message: UserMessage) -> bool:
        """True when a counselor holds the conversation: the message went to the case and the
        tracker, and the bot must stay silent. False: hand it to the bot."""
        # The channel whose namespace the sender id is in (channels.identity), not the one that
        # says it delivered the message.
        channel = channel_of(message.sender_id) or message.input_channel or "unknown"
        conversation = Conversation(channel, message.sender_id)

        def lookup() -> Tuple[Optional[Handovers], Optional[CaseMeta]]:
            handovers = handovers_for(self._settings)  # reads the dev key file: off the loop too
            return handovers, handovers.holder(conversation) if handovers is not None else None

        try:
            handovers, held = await asyncio.wait_for(asyncio.to_thread(lookup), LOOKUP_TIMEOUT)
        except (CaseStoreError, asyncio.TimeoutError) as error:
            logger.error("handover.gate.unavailable channel=%s error=%s", conversation.channel, type(error).__name__)
            return False  # fail open: the bot answers
        if handovers is None or held is None:
            return False
        await self._campaigns.while_held(message)
        try:
            await asyncio.wait_for(
                asyncio.to_thread(handovers.add_message, held.reference, "user", message.text or ""), LOOKUP_TIMEOUT
            )
        except (CaseStoreError, asyncio.TimeoutError) as error:
            # The counselor would never see it: better the bot answers than nobody does.
            logger.error("handover.gate.unavailable channel=%s error=%s stage=add", held.channel, type(error).__name__)
            return False
        logger.info("handover.gate.held channel=%s reference=%s", held.channel, held.reference)
        parse_data = await self._record(held, message)
        disclosure = _disclosure(parse_data)
        if disclosure is not None:
            await self._flag(held, conversation, message, disclosure)
        return True

    async def _flag(
        self,
        case: CaseMeta,
        conversation: Conversation,
        message: UserMessage,
        disclosure: Dict[str, str],
    ) -> None:
        """A disclosure said to a counselor still counts: the case records it (kind, source, the
        words, encrypted), its risk goes up as the danger net's would, and the console hears of it
        (``CaseDesk.record``: the case stream, and the counselors' group when it becomes urgent)."""
        update = CaseUpdate(
            origin="disclosure",
            risk=triage(disclosure_kinds=[disclosure["kind"]]),
            disclosure=disclosure,
            excerpt=message.text or None,
        )
        try:
            recorded = await asyncio.wait_for(
                asyncio.to_thread(desk_for(self._settings).record, conversation, update, case.reference),
                LOOKUP_TIMEOUT,
            )
        except (CaseStoreError, asyncio.TimeoutError) as error:
            logger.error(
                "handover.gate.disclosure_not_saved reference=%s error=%s", case.reference, type(error).__name__
            )
            return
        logger.warning(
            "handover.gate.disclosure kind=%s reference=%s risk=%s",
            disclosure["kind"],
            recorded.case.reference,
            recorded.case.risk,
        )

    async def _record(self, case: CaseMeta, message: UserMessage) -> Optional[Dict[str, Any]]:
        """The user's utterance in the tracker as Rasa would log it (intent and entities from the
        NLU, the danger net included), marked as said to a counselor; returns the NLU's reading."""
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        if agent is None:
            logger.warning("handover.gate.tracker_skipped reason=no_agent")
            return None
        try:
            parse_data: Dict[str, Any] = await agent.processor.parse_message(message)
            metadata = {**(message.metadata or {}), "handover": case.reference}
            said = UserUttered(
                message.text,
                parse_data.get("intent"),
                parse_data.get("entities"),
                parse_data,
                input_channel=message.input_channel,
                message_id=message.message_id,
                metadata=metadata,
            )
            await record_in_tracker(agent, message.sender_id, [said])
        except Exception as error:  # noqa: BLE001 - the case has the message; the tracker is history
            logger.error("handover.gate.tracker_failed error=%s", type(error).__name__)
            logger.debug("handover.gate.tracker_failed", exc_info=True)
            return None
        return parse_data


def _disclosure(parse_data: Optional[Dict[str, Any]]) -> Optional[Dict[str, str]]:
    """``{"kind", "source"}`` when the NLU read a disclosure (as ``ActionDangerSupport`` does)."""
    if not parse_data:
        return None
    return read_disclosure((parse_data.get("intent") or {}).get("name"), parse_data.get("entities") or [])

"""The campaign keyword check every connector runs, through its ``HandoverGate``, before the NLU.

* STOP words (``bot.campaigns.keywords``) end the subscription here, at once, and reach Rasa as
  ``/unsubscribe_tips`` with the outcome in the metadata, "quiz" as
  ``/start_quiz``, START as ``/resubscribe_tips`` only for someone who stopped (anyone else's
  "ابدأ" is an ordinary message), so none of them depends on the model's guess.
* A bare number answering a broadcast poll (the worker leaves ``camp:poll:<sender>`` in Redis)
  becomes ``/poll_answer{"poll_choice": "<poll>:<choice>"}``.
* While a counselor holds the conversation nothing is rewritten (the counselor reads the words), but
  STOP still ends campaign messages at once; the counselor's conversation goes on.

A database or Redis that does not answer leaves the message as it was: a child's message is never
lost or delayed for a campaign's sake.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from typing import Any, Optional, Tuple, Type

from rasa.core.channels.channel import UserMessage

from bot.campaigns.keywords import as_payload, campaign_command
from bot.campaigns.store import CampaignStoreError, campaign_store
from bot.settings import Settings
from channels.state import REDIS_ERRORS, open_redis

__all__ = ["CampaignKeywords", "POLL_KEY", "STOP_OUTCOME"]

logger = logging.getLogger(__name__)

TIMEOUT = 3.0
POLL_KEY = "amaan:camp:poll:{sender}"  # written by bot.campaigns.delivery when a poll goes out
STOP_OUTCOME = "campaign_stop"  # in the message's metadata: "stopped" or "not_subscribed"
_UNAVAILABLE: Tuple[Type[BaseException], ...] = (CampaignStoreError, asyncio.TimeoutError, ValueError, *REDIS_ERRORS)


class CampaignKeywords:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._redis: Any = None

    async def _stopped(self, sender_id: str) -> bool:
        store = campaign_store(self._settings)
        found = await asyncio.wait_for(asyncio.to_thread(store.get, sender_id), TIMEOUT)
        return found is not None and found.state == "stopped"

    async def _poll(self, sender_id: str, text: str) -> Optional[str]:
        if not self._settings.redis_url or not text.strip().isdigit() or len(text.strip()) > 1:
            return None
        if self._redis is None:
            self._redis = open_redis(self._settings.redis_url)
        raw = await asyncio.wait_for(self._redis.get(POLL_KEY.format(sender=sender_id)), TIMEOUT)
        if raw is None:
            return None
        poll = json.loads(raw)
        index = int(text.strip()) - 1
        choices = poll.get("choices") or []
        if not 0 <= index < len(choices):
            return None
        await self._redis.delete(POLL_KEY.format(sender=sender_id))
        return '/poll_answer{"poll_choice":"%s:%s"}' % (poll["id"], choices[index])

    async def rewrite(self, message: UserMessage) -> UserMessage:
        """``message`` with a campaign keyword turned into its intent payload (see the module docs)."""
        text = message.text or ""
        command = campaign_command(text)
        outcome = None
        try:
            if command == "stop":
                outcome = await self._stop(message.sender_id)
            if command == "start" and not await self._stopped(message.sender_id):
                command = None
            payload = as_payload(command) if command else await self._poll(message.sender_id, text)
        except _UNAVAILABLE as error:
            logger.warning("campaigns.keyword.unavailable error=%s", type(error).__name__)
            payload = as_payload(command) if command in ("stop", "quiz", "subscribe") else None
        if payload is None:
            return message
        logger.info("campaigns.keyword command=%s", command or "poll")
        rewritten = copy.copy(message)
        rewritten.text = payload
        if outcome is not None:
            # The action says what happened here rather than stopping a second time.
            rewritten.metadata = {**(message.metadata or {}), STOP_OUTCOME: outcome}
        return rewritten

    async def _stop(self, sender_id: str) -> str:
        """STOP takes effect here, before Rasa, whatever the conversation is in the middle of (a
        report form reads the word as a wrong answer and asks again; the subscription still ends)."""
        store = campaign_store(self._settings)
        stopped = await asyncio.wait_for(asyncio.to_thread(store.stop, sender_id), TIMEOUT)
        return "stopped" if stopped else "not_subscribed"

    async def while_held(self, message: UserMessage) -> None:
        """A STOP said to a counselor: campaign messages end; the conversation with them goes on."""
        if campaign_command(message.text) != "stop":
            return
        try:
            store = campaign_store(self._settings)
            await asyncio.wait_for(asyncio.to_thread(store.stop, message.sender_id), TIMEOUT)
            logger.info("campaigns.keyword command=stop held=true")
        except (CampaignStoreError, asyncio.TimeoutError) as error:
            logger.warning("campaigns.keyword.unavailable error=%s", type(error).__name__)

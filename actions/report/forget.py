""" "Delete my data": unlink this conversation from its cases; the conversation store then forgets
the conversation (``bot.cases.conversations``, triggered by this action's name)."""

from __future__ import annotations

import logging
from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cases import case_desk, conversation_of, off_loop
from actions.common import say
from actions.report.answers import reset_report
from bot.campaigns.forget import forget_subscription
from bot.cases import FORGET_ACTION, CaseStoreError

__all__ = ["ActionDeleteMyData"]

logger = logging.getLogger(__name__)


class ActionDeleteMyData(Action):
    """Unlinks this conversation from its cases; the conversation store then forgets the
    conversation (``bot.cases.conversations``, triggered by this action's name)."""

    def name(self) -> str:
        return FORGET_ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            unlinked = await off_loop(case_desk().unlink, conversation_of(tracker))
        except CaseStoreError:
            say(dispatcher, tracker, "delete_partial")
        else:
            logger.info("cases.conversation.unlinked count=%d", len(unlinked))
            say(dispatcher, tracker, "delete_done")
        await forget_subscription(tracker.sender_id)
        forget = ("case_reference", "escalation", "danger_kind", "topic", "audience")
        return [*reset_report(), *(SlotSet(slot, None) for slot in forget)]

"""Other copies of a conversation that "delete my data" must clear too.

The tracker store (``bot.cases.conversations``) calls ``forget_copies(sender_id)`` in the turn in
which the user's data is deleted; a channel that keeps something of its own about a conversation
(the widget's replay log, an encrypted phone number or chat id) registers with ``on_forget``.
Light on purpose: channels import it without Rasa's tracker stores.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, Dict

__all__ = ["OnForget", "on_forget", "forget_copies"]

logger = logging.getLogger(__name__)

OnForget = Callable[[str], Awaitable[None]]
_ON_FORGET: Dict[int, OnForget] = {}


def on_forget(owner: object, callback: OnForget) -> None:
    """Call ``callback(sender_id)`` whenever a user's data is deleted (one callback per ``owner``)."""
    _ON_FORGET[id(owner)] = callback


async def forget_copies(sender_id: str) -> None:
    """Run every registered callback; one failing does not keep the others from running."""
    for callback in list(_ON_FORGET.values()):
        try:
            await callback(sender_id)
        except Exception as error:  # noqa: BLE001 - every other copy must still go
            logger.error("conversation.copy_not_forgotten error=%s", type(error).__name__)

"""The case desk as the actions use it: one per process, called off the event loop within a time
limit, for this conversation. Shared by the report form (``actions.report``) and the safety net's
actions (``actions.safety``)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional, TypeVar

from rasa_sdk import Tracker

from bot.cases import CaseDesk, CaseStoreError, CaseUpdate, Conversation, Recorded
from bot.settings import get_settings

__all__ = ["STORE_TIMEOUT", "case_desk", "use_case_desk", "off_loop", "conversation_of", "record_case", "escalation"]

logger = logging.getLogger(__name__)

# How long a case may take to write before the user is told it could not be (seconds).
STORE_TIMEOUT = 5.0

T = TypeVar("T")
_desk: Optional[CaseDesk] = None


def case_desk() -> CaseDesk:
    """The process's case desk, built from settings on first use."""
    global _desk
    if _desk is None:
        _desk = CaseDesk.from_settings(get_settings())
    return _desk


def use_case_desk(desk: Optional[CaseDesk]) -> None:
    """Replace the process's case desk (tests); None builds it again from settings."""
    global _desk
    _desk = desk


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking case-store call in a thread, within ``STORE_TIMEOUT``; raises ``CaseStoreError``."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout=STORE_TIMEOUT)
    except asyncio.TimeoutError:
        logger.error("cases.store.timeout")
        raise CaseStoreError("case store timed out") from None


def conversation_of(tracker: Tracker) -> Conversation:
    return Conversation(tracker.get_latest_input_channel() or "unknown", tracker.sender_id)


async def record_case(tracker: Tracker, update: CaseUpdate) -> Recorded:
    """Commit ``update`` to this conversation's open case (or a new one). Raises ``CaseStoreError``."""
    return await off_loop(case_desk().record, conversation_of(tracker), update, tracker.get_slot("case_reference"))


def escalation(reason: str, **details: Any) -> Dict[str, Any]:
    """The ``escalation`` slot's value: why and when, and what the caller adds (never message text)."""
    return {"reason": reason, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **details}

"""What the Rasa server counts as it saves a conversation: a conversation started (by channel,
language and audience), a message the assistant did not understand (by channel and language), and
the user in the weekly distinct-users sketch.

Called from the conversation store's ``save`` (``bot.cases.conversations``), which Rasa calls once
per handled message: the turn is the events from the last user message on. Only the names of the
actions that answered, the channel's name and two slots are read; the text is not looked at. A turn is counted once even
if the tracker is saved again (the last few turns seen are remembered by a hash, in memory).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Any, Optional

from bot.analytics.counts import Counts

__all__ = ["observe_turn", "FALLBACK_ACTIONS", "FALLBACK_RESPONSES"]

logger = logging.getLogger(__name__)

# The replies that say "I did not understand": the rule for a low-confidence intent, and the
# policies' own fallback. A low-confidence answer that a form takes as its answer is not one, and
# neither is action_not_sure when it answers with the next steps or an app's guide: only its
# utter_not_sure reply (BotUttered metadata "utter_action") counts.
FALLBACK_ACTIONS = frozenset({"utter_not_sure", "action_default_fallback"})
FALLBACK_RESPONSES = frozenset({"utter_not_sure"})
_REMEMBERED = 10000
_counted: OrderedDict[str, None] = OrderedDict()


def _slot(tracker: Any, name: str) -> Optional[str]:
    value = tracker.get_slot(name)
    return str(value) if value else None


def observe_turn(tracker: Any, counts: Optional[Counts] = None) -> None:
    """Count the turn that ends ``tracker`` (a Rasa ``DialogueStateTracker``). Never raises."""
    try:
        _observe(tracker, counts)
    except Exception as error:  # noqa: BLE001 - counting must never stop a conversation being saved
        logger.error("analytics.turn.failed error=%s", type(error).__name__)


def _observe(tracker: Any, counts: Optional[Counts]) -> None:
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered

    events = list(tracker.events)
    last = next((i for i in range(len(events) - 1, -1, -1) if isinstance(events[i], UserUttered)), None)
    if last is None:
        return
    user = events[last]
    turn = hashlib.sha256(f"{tracker.sender_id}\x00{user.timestamp}".encode()).hexdigest()
    if turn in _counted:
        return
    _counted[turn] = None
    if len(_counted) > _REMEMBERED:
        _counted.popitem(last=False)
    if counts is None:
        from bot.analytics import default_counts

        counts = default_counts()
    channel = user.input_channel or "unknown"
    language = _slot(tracker, "language")
    previous = next((i for i in range(last - 1, -1, -1) if isinstance(events[i], UserUttered)), -1)
    if any(isinstance(e, SessionStarted) for e in events[previous + 1 : last]) or previous == -1:
        counts.count("conversations_started", channel=channel, language=language, audience=_slot(tracker, "audience"))
    after = events[last + 1 :]
    if any(isinstance(e, ActionExecuted) and e.action_name in FALLBACK_ACTIONS for e in after) or any(
        isinstance(e, BotUttered) and (e.metadata or {}).get("utter_action") in FALLBACK_RESPONSES for e in after
    ):
        counts.count("fallbacks", channel=channel, language=language)
    counts.seen(f"{channel}:{tracker.sender_id}")

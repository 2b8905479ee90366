"""Replies that need no action server, for when it cannot be reached.

Rasa 3.6 logs a failed custom action ("Bot will continue, but the actions events are lost") and
answers nothing: while the action server is down or restarting, a child who discloses harm would
get silence. ``install()`` wraps ``RemoteAction.run`` (in the Rasa server, when it loads our
channels): when the call fails (connection refused, timeout, a 5xx), the Rasa server answers
itself from the content library (``data/content/messages.yml``), once per message:

* a disclosure (the message the NLU read as one, or any message routed to ``action_danger_support``)
  gets the same reassurance and helplines as usual, in the user's language, for their audience;
* anything else gets an honest "please try again in a moment" (``try_again_shortly``), with the
  emergency number;
* ``action_session_start`` falls back to Rasa's default session start (no message).

A rejection (HTTP 400, a form's validation) is not a failure and goes on as before. The reply is
marked in its metadata (``amaan_fallback``), so a second failing action in the same turn adds
nothing.
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional

__all__ = ["FALLBACK_MARK", "fallback_events", "install", "reply_key"]

logger = logging.getLogger(__name__)

FALLBACK_MARK = "amaan_fallback"
_MARK = "_amaan_action_fallback"


def _already_answered(tracker: Any) -> bool:
    from rasa.shared.core.events import BotUttered, UserUttered

    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and (event.metadata or {}).get(FALLBACK_MARK):
            return True
    return False


def _language(tracker: Any) -> str:
    from bot.language import detect_language
    from bot.settings import get_settings

    slot = tracker.get_slot("language") if "language" in tracker.slots else None
    if slot in ("ar", "en"):
        return str(slot)
    return detect_language(tracker.latest_message.text or "") or get_settings().default_language


def reply_key(intent: Optional[str], entities: List[Any], danger: bool = False) -> str:
    """The message to answer with when the bot cannot do its work: the helplines for a disclosure
    (read by the danger net, or ``danger`` already decided), else "please try again in a moment"."""
    from bot.next_steps import support_message
    from bot.safety import read_disclosure

    read = read_disclosure(intent, entities)
    kind: Optional[str] = read["kind"] if read else ("unspecified" if danger else None)
    return "try_again_shortly" if kind is None else support_message(kind)


def fallback_events(tracker: Any, action_name: str) -> List[Any]:
    """The reply the Rasa server gives itself when ``action_name`` could not be run."""
    from rasa.shared.core.events import BotUttered

    from bot.content import ContentLibrary
    from bot.settings import get_settings

    if _already_answered(tracker):
        return []
    message = tracker.latest_message
    intent = (message.intent or {}).get("name") if message else None
    key = reply_key(intent, (message.entities if message else None) or [], action_name == "action_danger_support")
    audience = tracker.get_slot("audience") if "audience" in tracker.slots else None
    lang = _language(tracker)
    text = ContentLibrary.load(get_settings().data_dir).message(key, lang, audience)
    logger.error("actions.unreachable action=%s reply=%s language=%s", action_name, key, lang)
    return [BotUttered(text, metadata={FALLBACK_MARK: True})]


def install() -> None:
    """Wrap ``RemoteAction.run`` with the fallback above (idempotent)."""
    from rasa.core.actions.action import ActionExecutionRejection, ActionSessionStart, RemoteAction

    if getattr(RemoteAction.run, _MARK, False):
        return
    original = RemoteAction.run

    async def run(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Any]:
        try:
            return await original(self, output_channel, nlg, tracker, domain)
        except ActionExecutionRejection:
            raise
        except Exception:  # noqa: BLE001 - connection refused, timeout, 5xx: answer rather than go silent
            if self.name() == "action_session_start":
                logger.error("actions.unreachable action=action_session_start reply=default_session_start")
                return await ActionSessionStart().run(output_channel, nlg, tracker, domain)
            return fallback_events(tracker, self.name())

    setattr(run, _MARK, True)
    RemoteAction.run = run

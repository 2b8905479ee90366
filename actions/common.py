"""What every action needs: the reply language, who is chatting, the content library, buttons."""

from __future__ import annotations

from typing import Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.content import AUDIENCES, TOPICS, ContentLibrary
from bot.language import detect_language
from bot.settings import get_settings

__all__ = [
    "library",
    "reply_language",
    "audience_of",
    "fill",
    "say",
    "audience_buttons",
    "topic_buttons",
    "followup_buttons",
]


def library() -> ContentLibrary:
    return ContentLibrary.load(get_settings().data_dir)


def reply_language(tracker: Tracker) -> str:
    """The language slot, else the latest message's script, else the deployment default."""
    slot = tracker.get_slot("language")
    if slot in ("ar", "en"):
        return str(slot)
    return detect_language(tracker.latest_message.get("text") or "") or get_settings().default_language


def audience_of(tracker: Tracker) -> Optional[str]:
    value = tracker.get_slot("audience")
    return value if value in AUDIENCES else None


def fill(text: str, **values: str) -> str:
    """Put values into a message's ``<name>`` markers (helpline placeholders are already rendered)."""
    for name, value in values.items():
        text = text.replace(f"<{name}>", value)
    return text


def say(dispatcher: CollectingDispatcher, tracker: Tracker, key: str, **values: str) -> None:
    """Utter the content library's message ``key`` in the reply language, for this audience."""
    text = library().message(key, reply_language(tracker), audience_of(tracker))
    dispatcher.utter_message(text=fill(text, **values))


def audience_buttons(lang: str) -> List[Dict[str, str]]:
    lib = library()
    return [
        {"title": lib.message(f"button_{who}", lang), "payload": '/tell_audience{"audience":"%s"}' % who}
        for who in AUDIENCES
    ]


def topic_buttons(lang: str) -> List[Dict[str, str]]:
    lib = library()
    return [{"title": lib.title(topic, lang), "payload": f"/ask_{topic}"} for topic in TOPICS if topic in lib.topics]


def followup_buttons(lang: str, audience: Optional[str]) -> List[Dict[str, str]]:
    lib = library()
    keys = ["already_happened", "warning_signs", "talk_to_child", "more"]
    return [
        {"title": lib.message(f"button_followup_{key}", lang, audience), "payload": f"/followup_{key}"} for key in keys
    ]

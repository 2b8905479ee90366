"""What the Telegram and WhatsApp connectors share on the way out.

* ``split_text``: a reply longer than the platform allows (Telegram 4096, WhatsApp through
  Twilio 1600) becomes several messages, cut at a paragraph, line or sentence end (Arabic "؟"
  and "…" included), failing that at a clause or a space, and only as a last resort mid-word.
* ``numbered_choices`` / ``match_choice``: on WhatsApp, buttons are a numbered list, and a reply of
  "2", "٢", "2." or the button's own words is mapped back to that button's payload.
* ``button_list``: the (title, payload) pairs of Rasa's button dicts, skipping malformed ones.
* ``TextOnlyOutput``: what a text-only platform does with Rasa's richer messages.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from rasa.core.channels.channel import OutputChannel

from bot.language import normalize_for_matching

__all__ = [
    "Choice",
    "TextOnlyOutput",
    "utf16_len",
    "split_text",
    "button_list",
    "numbered_choices",
    "match_choice",
]

logger = logging.getLogger(__name__)

Choice = Tuple[str, str]  # (title, payload)

# Boundaries in order of preference; a cut goes after the match.
_BOUNDARIES = (
    re.compile(r"\n\s*\n"),  # paragraph
    re.compile(r"\n"),  # line
    re.compile(r"[.!?؟…۔。](?:[\"'”’»)\]]*)(?=\s)"),  # sentence end, Arabic and Latin
    re.compile(r"[,;،؛:](?=\s)"),  # clause
    re.compile(r"\s"),  # word
)
# A boundary this early in the window would leave a runt part; try a weaker boundary instead.
_MIN_FILL = 0.3


def utf16_len(text: str) -> int:
    """Length as Telegram and Twilio count it: UTF-16 code units (an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def _window(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """How many characters from the start of ``text`` fit in ``limit``."""
    if measure(text) <= limit:
        return len(text)
    used = 0
    for index, char in enumerate(text):
        used += measure(char)
        if used > limit:
            return index
    return len(text)


def _hard_cut(text: str, end: int) -> int:
    # Never separate a letter from its combining marks (Arabic harakat) or a joiner.
    while end > 1 and (unicodedata.combining(text[end]) or text[end] in "\u200d\u200c"):
        end -= 1
    return end


def _cut(window: str) -> int:
    fallback: Optional[int] = None
    for pattern in _BOUNDARIES:
        ends = [m.end() for m in pattern.finditer(window)]
        if not ends:
            continue
        if ends[-1] >= len(window) * _MIN_FILL:
            return ends[-1]
        fallback = fallback or ends[-1]
    return fallback or 0


def split_text(text: str, limit: int, measure: Callable[[str], int] = utf16_len) -> List[str]:
    """``text`` in parts of at most ``limit`` (by ``measure``), cut at the best boundary."""
    if limit < 1:
        raise ValueError("limit must be positive")
    parts: List[str] = []
    rest = text.strip()
    while rest:
        size = _window(rest, limit, measure)
        if size >= len(rest):
            parts.append(rest)
            break
        # One character more when it is a space, so a sentence ending right at the limit counts.
        window = rest[: size + 1] if rest[size].isspace() else rest[:size]
        cut = max(1, _cut(window) or _hard_cut(rest, size))
        part, rest = rest[:cut].strip(), rest[cut:].strip()
        if part:
            parts.append(part)
    return parts


def button_list(buttons: Optional[Iterable[Any]]) -> List[Choice]:
    """(title, payload) for each well-formed button; a missing payload falls back to the title."""
    found: List[Choice] = []
    for button in buttons or []:
        if not isinstance(button, dict):
            continue
        title = str(button.get("title") or "").strip()
        payload = str(button.get("payload") or title).strip()
        if title and payload:
            found.append((title, payload))
    return found


def numbered_choices(text: str, choices: Sequence[Choice], hint: str, first: int = 1) -> str:
    """The message text followed by "1. title" lines and a one-line hint ("Reply with a number.")."""
    lines = [f"{first + i}. {title}" for i, (title, _) in enumerate(choices)]
    body = text.strip()
    listing = "\n".join(lines)
    return f"{body}\n\n{listing}\n{hint}".strip() if body else f"{listing}\n{hint}"


def match_choice(reply: str, choices: Sequence[Choice]) -> Optional[str]:
    """The payload the user picked with ``reply`` ("1", "١", "1.", or a title), or None."""
    wanted = normalize_for_matching(reply)
    if not wanted:
        return None
    if wanted.isdigit():
        index = int(wanted) - 1
        return choices[index][1] if 0 <= index < len(choices) else None
    for title, payload in choices:
        if normalize_for_matching(title) == wanted:
            return payload
    return None


class TextOnlyOutput(OutputChannel):
    """Rasa's richer messages on a text-only platform (Telegram, WhatsApp): quick replies are
    buttons, an image or an attachment is sent as its link, elements and custom JSON are dropped."""

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, image)

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, str(attachment))

    async def send_elements(self, recipient_id: str, elements: Any, **kwargs: Any) -> None:
        logger.debug("%s.send.elements_ignored", self.name())

    async def send_custom_json(self, recipient_id: str, json_message: Any, **kwargs: Any) -> None:
        logger.debug("%s.send.custom_json_ignored", self.name())

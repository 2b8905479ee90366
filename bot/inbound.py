"""What every channel does to a user's text before Rasa sees it.

* Control characters are removed and the text is NFC-normalized.
* Text over the size limit is refused (the channel answers with the ``too_long`` message).
* **No shortcut around understanding**: Rasa treats ``/intent{"slot": "value"}`` as an already
  parsed message at confidence 1.0. Typed text of that shape is turned into plain text unless it
  is exactly the payload of a button the bot just offered this user. The shape is judged on what
  Rasa's ``RegexMessageHandler`` will see, i.e. after the NLU pipeline's own normalization
  (``bot.language.normalize_arabic``: NFKC, which makes a full-width ``／`` a ``/`` and ``｛`` a
  ``{``, then Arabic folding, which drops diacritics placed before a slash), and look-alike slashes
  (``⁄ ∕ ⧸ ╱``) count as slashes too (issue 13, docs/SECURITY.md).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Collection, Optional

from bot.language import normalize_arabic

__all__ = ["InboundText", "prepare_text", "looks_like_payload"]

# C0/C1 controls except tab and newline, plus bidi overrides and other format characters that
# can hide text; zero-width joiners (used in Arabic and emoji) are kept.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class InboundText:
    """The text to hand to Rasa, or why there is none (``empty`` or ``too_long``)."""

    text: str
    problem: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.problem is None


# The solidus and what looks like one; NFKC turns some into "/" (full-width ／), not all.
_SLASHES = frozenset("/\u2044\u2215\u29f8\uff0f\u2571\u27cb\u3033\u29c4")


def looks_like_payload(text: str) -> bool:
    """True for text Rasa would take as an intent payload ("/intent", "/intent{...}"), judged on
    the text as the NLU pipeline normalizes it, look-alike slashes included."""
    seen = normalize_arabic(text).strip()
    return bool(seen) and (seen[0] in _SLASHES or unicodedata.normalize("NFKC", seen[0]) == "/")


def _as_plain_text(text: str) -> str:
    """``text`` without what made it look like a payload: leading characters are dropped until the
    pipeline no longer sees a slash first (each round drops at least one)."""
    while looks_like_payload(text):
        text = text.strip()[1:]
    return text.strip()


def prepare_text(raw: object, max_chars: int, offered: Collection[str] = ()) -> InboundText:
    """Clean ``raw`` for Rasa.

    Args:
        raw: what the channel received as the message text (anything; non-strings are refused).
        max_chars: the size limit, counted after cleaning.
        offered: button payloads the bot has just offered this user; only these may pass as payloads.
    """
    if not isinstance(raw, str):
        return InboundText("", "empty")
    text = unicodedata.normalize("NFC", _CONTROL.sub("", raw)).replace("\r\n", "\n").replace("\r", "\n")
    text = _BLANK_LINES.sub("\n\n", text).strip()
    if not text:
        return InboundText("", "empty")
    if len(text) > max_chars:
        return InboundText("", "too_long")
    if looks_like_payload(text) and text not in offered:
        text = _as_plain_text(text)
        if not text:
            return InboundText("", "empty")
    return InboundText(text)

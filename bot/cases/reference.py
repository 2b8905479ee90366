"""Case references: 8 characters a child can read out or type without confusing look-alikes.

The alphabet leaves out every character with a look-alike in common fonts or handwriting: 0/O/Q/D,
1/I/L, 2/Z, 5/S, 8/B and U/V. 21 characters, 8 places: about 3.8e10 references. Every reference
has at least one letter and one digit, so that ordinary words ("ATTACHED") are never taken for one.
"""

from __future__ import annotations

import re
import secrets
from typing import List, Optional

__all__ = ["ALPHABET", "LENGTH", "new_reference", "normalize_reference", "find_references"]

ALPHABET = "ACEFGHJKMNPRTWXY34679"
LENGTH = 8
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{8}(?![A-Za-z0-9])")


def _valid(ref: str) -> bool:
    return (
        len(ref) == LENGTH
        and all(c in ALPHABET for c in ref)
        and any(c.isdigit() for c in ref)
        and any(c.isalpha() for c in ref)
    )


def new_reference() -> str:
    """A fresh random reference (uniqueness is the store's job)."""
    while True:
        ref = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if _valid(ref):
            return ref


def normalize_reference(text: str) -> Optional[str]:
    """The reference ``text`` spells (any case, Arabic-Indic digits, spaces or dashes), or None."""
    ref = re.sub(r"[\s\-]", "", (text or "").translate(_DIGITS)).upper()
    return ref if _valid(ref) else None


def find_references(text: str) -> List[str]:
    """Every reference written in a message ("status k7p2-xm94" counts once the dash is gone)."""
    cleaned = (text or "").translate(_DIGITS)
    # "K7P2-XM94" and "K7P2 XM94": join two groups of four.
    cleaned = re.sub(r"(?<![A-Za-z0-9])([A-Za-z0-9]{4})[\s\-]([A-Za-z0-9]{4})(?![A-Za-z0-9])", r"\1\2", cleaned)
    found: List[str] = []
    for match in _CANDIDATE.finditer(cleaned):
        ref = match.group(0).upper()
        if _valid(ref) and ref not in found:
            found.append(ref)
    return found

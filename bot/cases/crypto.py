"""Encryption at rest for case contents, with key rotation.

Keys are Fernet keys (AES-128-CBC with HMAC-SHA256) in ``CASE_ENCRYPTION_KEYS``, comma-separated,
**newest first**: ``MultiFernet`` encrypts with the first and decrypts with any, so a new key is
added in front, ``python -m bot rotate-keys`` re-encrypts every case with it, and the old key is
then removed. In development, ``make run`` creates one key in ``.run/case.key`` (see ``dev_key``).

The same keys seal conversations at rest (``CaseCipher.seal``: text in, ASCII text out, for a
store that keeps strings, e.g. the tracker stores in ``bot.cases.conversations`` and the web
widget's replay log).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = [
    "CaseCipher",
    "MissingKey",
    "parse_keys",
    "generate_key",
    "dev_key",
    "DEV_KEY_FILE",
    "SEALED_PREFIX",
    "InvalidToken",
]

logger = logging.getLogger(__name__)

DEV_KEY_FILE = "case.key"
SEALED_PREFIX = "sealed:1:"  # what CaseCipher.seal puts in front, so a reader can tell sealed from clear


class MissingKey(RuntimeError):
    """No encryption key is configured, so nothing may be stored."""


def generate_key() -> str:
    """A new random Fernet key (URL-safe base64 text)."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(raw: Optional[str]) -> List[str]:
    """Keys from a comma- or whitespace-separated string, newest first; invalid keys are an error."""
    keys = [k.strip() for k in (raw or "").replace("\n", ",").replace(" ", ",").split(",") if k.strip()]
    for i, key in enumerate(keys):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ValueError(f"CASE_ENCRYPTION_KEYS: key #{i + 1} is not a Fernet key") from None
    return keys


def dev_key(run_dir: Path) -> Tuple[str, bool]:
    """The development key in ``run_dir/case.key``, created (mode 0600) if missing.

    Returns:
        (key, created): ``created`` is True the first time, so the caller can warn.
    """
    path = run_dir / DEV_KEY_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip(), False
    run_dir.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    return key, True


class CaseCipher:
    """Encrypts and decrypts JSON documents with the configured keys."""

    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise MissingKey("no case encryption key: set CASE_ENCRYPTION_KEYS")
        self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in keys])

    def encrypt(self, document: Any) -> bytes:
        """The encrypted token of a JSON-serializable document."""
        return self._fernet.encrypt(json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8"))

    def decrypt(self, token: bytes) -> Any:
        """The document in ``token``; raises ``InvalidToken`` if no configured key opens it."""
        return json.loads(self._fernet.decrypt(bytes(token)).decode("utf-8"))

    def seal(self, text: str) -> str:
        """``text`` encrypted, as ASCII text marked with ``SEALED_PREFIX`` (Fernet: AES and HMAC)."""
        return SEALED_PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def unseal(self, sealed: Any) -> str:
        """The text ``seal`` sealed (str or bytes); ``InvalidToken`` if it is not sealed or no
        configured key opens it."""
        raw = sealed.decode("ascii", "replace") if isinstance(sealed, bytes | bytearray) else str(sealed)
        if not raw.startswith(SEALED_PREFIX):
            raise InvalidToken
        return self._fernet.decrypt(raw[len(SEALED_PREFIX) :].encode("ascii")).decode("utf-8")

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted with the newest key."""
        return self._fernet.rotate(bytes(token))

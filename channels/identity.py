"""Whose conversation a sender id names, and phone numbers and chat ids never stored in clear.

* **Namespaces**: each channel mints its sender ids under its own prefix (``NAMESPACES``:
  ``tg-`` Telegram, ``wa-`` WhatsApp, ``web-`` the widget), and no other channel can name one
  (the REST channel refuses them: ``belongs_elsewhere``), so no channel can speak in, or read, a
  conversation of another. The hand-over gate looks a case up under the channel the sender id
  belongs to (``channel_of``).
* **Sender ids**: the tracker store, the lock store and the logs only ever see
  ``wa-<keyed hash of the number>`` and ``tg-<keyed hash of the chat id>`` (HMAC-SHA256 under
  ``SENDER_ID_KEY``; a Telegram chat id is the user's Telegram id), stable for one user and
  useless to anyone without the key.
* **Addresses**: to answer (now, or later: a counselor's reply, a campaign) the connector needs the
  number or chat id again. ``AddressBook`` keeps it encrypted with Fernet under ``ADDRESS_ENCRYPTION_KEY`` (several
  comma-separated keys rotate: the first encrypts, all decrypt), in Redis when configured, for
  ``ADDRESS_TTL`` after the user's last message.
* **Keys**: from the environment. In development, missing keys are generated once into ``.run/``
  with a warning; in production a missing key stops the channel from starting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.cases.copies import on_forget
from bot.settings import PROJECT_ROOT, Settings
from channels.state import KeyValue

__all__ = [
    "ChannelKeys",
    "SenderIdentity",
    "AddressBook",
    "load_keys",
    "ADDRESS_TTL",
    "NAMESPACES",
    "channel_of",
    "belongs_elsewhere",
]

logger = logging.getLogger(__name__)

# Long enough for a counselor to answer and for campaign messages; refreshed by every message.
ADDRESS_TTL = 90 * 24 * 3600
MIN_SENDER_KEY_BYTES = 32


# channel name -> the prefix of the sender ids it mints (and only it may).
NAMESPACES = {"telegram": "tg-", "whatsapp": "wa-", "web": "web-"}


def channel_of(sender_id: str) -> Optional[str]:
    """The channel whose namespace ``sender_id`` is in, or None (the REST channel's own ids)."""
    return next((channel for channel, prefix in NAMESPACES.items() if sender_id.startswith(prefix)), None)


def belongs_elsewhere(sender_id: str) -> bool:
    """True for an id a client must not name: one in a channel's namespace, also when disguised by
    case, width or surrounding spaces ("TG-1", "ｔｇ-1", " wa-…")."""
    folded = unicodedata.normalize("NFKC", sender_id).strip().lower()
    return any(folded.startswith(prefix) for prefix in NAMESPACES.values())


@dataclass(frozen=True)
class ChannelKeys:
    sender_id_key: bytes
    address_cipher: MultiFernet


def _dev_key(run_dir: Path, name: str, make: bytes) -> bytes:
    path = run_dir / name
    if path.exists():
        return path.read_bytes().strip()
    run_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        f.write(make)
    logger.warning("channel.keys.generated_dev_key file=%s (set the variable in production)", path)
    return make


def load_keys(settings: Settings, run_dir: Optional[Path] = None) -> ChannelKeys:
    """The hashing and encryption keys from the settings; dev keys in ``.run/`` outside production."""
    run_dir = run_dir or PROJECT_ROOT / ".run"
    sender_key = settings.sender_id_key.encode() if settings.sender_id_key else None
    address_keys = settings.address_encryption_key
    if settings.production and (not sender_key or not address_keys):
        raise RuntimeError("SENDER_ID_KEY and ADDRESS_ENCRYPTION_KEY must be set in production (see docs/CHANNELS.md)")
    if sender_key is None:
        sender_key = _dev_key(run_dir, "sender_id.key", base64.urlsafe_b64encode(os.urandom(32)))
    if len(sender_key) < MIN_SENDER_KEY_BYTES:
        raise RuntimeError(f"SENDER_ID_KEY must be at least {MIN_SENDER_KEY_BYTES} characters")
    if not address_keys:
        address_keys = _dev_key(run_dir, "address.key", Fernet.generate_key()).decode()
    try:
        cipher = MultiFernet([Fernet(k.strip().encode()) for k in address_keys.split(",") if k.strip()])
    except (ValueError, TypeError):
        raise RuntimeError(
            "ADDRESS_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes), comma-separated"
        ) from None
    return ChannelKeys(sender_key, cipher)


class SenderIdentity:
    """The tracker's sender id for a channel address, without the address in it."""

    def __init__(self, key: bytes, prefix: str):
        self._key = key
        self._prefix = prefix

    def sender_id(self, address: str) -> str:
        digest = hmac.new(self._key, f"{self._prefix}:{address}".encode(), hashlib.sha256).hexdigest()
        return f"{self._prefix}-{digest[:32]}"


class AddressBook:
    """sender id → channel address (e.g. ``whatsapp:+9665…``), stored encrypted."""

    def __init__(self, state: KeyValue, cipher: MultiFernet, ttl: int = ADDRESS_TTL):
        self._state = state
        self._cipher = cipher
        self._ttl = ttl
        # "Delete my data" deletes the number (or chat id) too; the next message brings it back.
        on_forget(self, self.forget)

    async def remember(self, sender_id: str, address: str) -> None:
        await self._state.put(f"addr:{sender_id}", self._cipher.encrypt(address.encode()), self._ttl)

    async def forget(self, sender_id: str) -> None:
        """Drop the address kept for ``sender_id``."""
        await self._state.delete(f"addr:{sender_id}")

    async def lookup(self, sender_id: str) -> Optional[str]:
        token = await self._state.get(f"addr:{sender_id}")
        if token is None:
            return None
        try:
            return self._cipher.decrypt(token).decode()
        except InvalidToken:
            logger.warning("channel.address.undecryptable (was ADDRESS_ENCRYPTION_KEY rotated without the old key?)")
            return None

"""Where a subscriber is reached, for the campaign workers.

The WhatsApp and Telegram connectors keep each user's number or chat id encrypted (``channels.identity.AddressBook``:
Fernet under ``ADDRESS_ENCRYPTION_KEY``, Redis key ``amaan:addr:<sender id>``) and marks the
24-hour window open on every message (``amaan:wa:seen:<sender id>``); bot/ may not import
channels/, so this reads the same keys (a test writes with the one and reads with the other).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.settings import PROJECT_ROOT, Settings

__all__ = ["WhatsAppAddresses", "address_cipher"]

logger = logging.getLogger(__name__)


def address_cipher(settings: Settings, run_dir: Optional[Path] = None) -> Optional[MultiFernet]:
    """``ADDRESS_ENCRYPTION_KEY``; in development, the key the connector left in ``.run/address.key``."""
    keys = settings.address_encryption_key
    if not keys and not settings.production:
        path = (run_dir or PROJECT_ROOT / ".run") / "address.key"
        keys = path.read_text(encoding="utf-8").strip() if path.exists() else None
    if not keys:
        return None
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


class WhatsAppAddresses:
    def __init__(self, redis: Any, cipher: Optional[MultiFernet]):
        self._redis = redis
        self._cipher = cipher

    def address(self, sender_id: str) -> Optional[str]:
        if self._cipher is None:
            return None
        return self._decrypt(self._redis.get(f"amaan:addr:{sender_id}"))

    def addresses(self, sender_ids: Sequence[str]) -> Dict[str, Optional[str]]:
        """``address`` for a batch in one round trip (``MGET``)."""
        if self._cipher is None or not sender_ids:
            return {s: None for s in sender_ids}
        tokens = self._redis.mget([f"amaan:addr:{s}" for s in sender_ids])
        return {s: self._decrypt(t) for s, t in zip(sender_ids, tokens, strict=True)}

    def _decrypt(self, token: Optional[bytes]) -> Optional[str]:
        if token is None or self._cipher is None:
            return None
        try:
            return self._cipher.decrypt(bytes(token)).decode()
        except InvalidToken:
            logger.warning("campaigns.address.undecryptable")
            return None

    def in_window(self, sender_id: str) -> bool:
        """True while WhatsApp allows free text: the user wrote within (a little under) 24 hours."""
        return bool(self._redis.exists(f"amaan:wa:seen:{sender_id}"))

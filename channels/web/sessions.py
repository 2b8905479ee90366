"""The widget's sessions: the server assigns each conversation, and keeps what it sent for replay.

A browser never names a sender id. It shows the token the server issued before; a known token
resumes its conversation, anything else starts a new one with a new random sender id and a new
unguessable token. Only a hash of each token is stored. Every message to a user is numbered and
kept (the last ``REPLAY_LIMIT``, for ``SESSION_TTL_SECONDS``), so that a widget that reconnects
gets what it missed. In memory for one Rasa server, in Redis (``REDIS_URL``) for several.

The replay log holds what the bot and counselors said, so each kept message is sealed with the case
keys (``CaseCipher.seal``), and "delete my data" clears it (``forget``, registered with
``bot.cases.conversations.on_forget`` by the channel).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections import OrderedDict, deque
from typing import Any, Deque, Dict, List, Optional, Tuple

from bot.cases.crypto import CaseCipher, InvalidToken

__all__ = [
    "WebSessions",
    "MemoryWebSessions",
    "RedisWebSessions",
    "web_sessions",
    "SESSION_TTL_SECONDS",
    "REPLAY_LIMIT",
]

SESSION_TTL_SECONDS = 12 * 3600
REPLAY_LIMIT = 50


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _new_sender() -> str:
    return f"web-{secrets.token_hex(16)}"


def _seal(cipher: Optional[CaseCipher], message: Dict[str, Any]) -> str:
    text = json.dumps(message, ensure_ascii=False)
    return cipher.seal(text) if cipher is not None else text


def _open(cipher: Optional[CaseCipher], kept: Any) -> Optional[Dict[str, Any]]:
    """A kept message, or None when it cannot be opened (a retired key)."""
    try:
        text = cipher.unseal(kept) if cipher is not None else kept
        found = json.loads(text)
    except (InvalidToken, ValueError):
        return None
    return found if isinstance(found, dict) else None


class WebSessions:
    """Interface: issue and resolve resume tokens; number and keep what is sent to each user."""

    async def issue(self) -> Tuple[str, str]:
        """A new ``(token, sender_id)``."""
        raise NotImplementedError

    async def resolve(self, token: str) -> Optional[str]:
        """The sender id a token was issued for (extending its life), or None."""
        raise NotImplementedError

    async def revoke(self, token: str) -> None:
        raise NotImplementedError

    async def record(self, sender_id: str, message: Dict[str, Any]) -> Dict[str, Any]:
        """``message`` with its number in the user's conversation, kept for replay."""
        raise NotImplementedError

    async def replay(self, sender_id: str, after: int) -> List[Dict[str, Any]]:
        """The kept messages numbered above ``after``, oldest first."""
        raise NotImplementedError

    async def forget(self, sender_id: str) -> None:
        """Drop everything kept for the user's replay ("delete my data")."""
        raise NotImplementedError

    async def close(self) -> None:
        return None


class MemoryWebSessions(WebSessions):
    """Per-process sessions (one Rasa server), bounded in number and time."""

    def __init__(
        self, ttl: float = SESSION_TTL_SECONDS, max_sessions: int = 100_000, cipher: Optional[CaseCipher] = None
    ):
        self._ttl = ttl
        self._max = max_sessions
        self._cipher = cipher
        self._tokens: OrderedDict[str, Tuple[float, str]] = OrderedDict()
        self._logs: OrderedDict[str, Tuple[float, int, Deque[Tuple[int, str]]]] = OrderedDict()

    async def issue(self) -> Tuple[str, str]:
        token, sender = _new_token(), _new_sender()
        self._tokens[_token_key(token)] = (time.monotonic() + self._ttl, sender)
        self._trim(self._tokens)
        return token, sender

    async def resolve(self, token: str) -> Optional[str]:
        key = _token_key(token)
        entry = self._tokens.get(key)
        if entry is None or entry[0] < time.monotonic():
            self._tokens.pop(key, None)
            return None
        self._tokens[key] = (time.monotonic() + self._ttl, entry[1])
        self._tokens.move_to_end(key)
        return entry[1]

    async def revoke(self, token: str) -> None:
        entry = self._tokens.pop(_token_key(token), None)
        if entry:
            self._logs.pop(entry[1], None)

    async def record(self, sender_id: str, message: Dict[str, Any]) -> Dict[str, Any]:
        _, last, log = self._logs.get(sender_id) or (0.0, 0, deque(maxlen=REPLAY_LIMIT))
        numbered = {"id": last + 1, **message}
        log.append((last + 1, _seal(self._cipher, numbered)))
        self._logs[sender_id] = (time.monotonic() + self._ttl, last + 1, log)
        self._logs.move_to_end(sender_id)
        self._trim(self._logs)
        return numbered

    async def replay(self, sender_id: str, after: int) -> List[Dict[str, Any]]:
        entry = self._logs.get(sender_id)
        if entry is None or entry[0] < time.monotonic():
            return []
        kept = [_open(self._cipher, sealed) for number, sealed in entry[2] if number > after]
        return [m for m in kept if m is not None]

    async def forget(self, sender_id: str) -> None:
        self._logs.pop(sender_id, None)

    def _trim(self, data: OrderedDict) -> None:
        while len(data) > self._max:
            data.popitem(last=False)


class RedisWebSessions(WebSessions):
    """Sessions shared by every Rasa server through Redis (``REDIS_URL``)."""

    def __init__(
        self, url: str, ttl: int = SESSION_TTL_SECONDS, prefix: str = "amaan:web:", cipher: Optional[CaseCipher] = None
    ):
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._cipher = cipher
        self._ttl = ttl
        self._prefix = prefix

    async def issue(self) -> Tuple[str, str]:
        token, sender = _new_token(), _new_sender()
        await self._redis.set(f"{self._prefix}token:{_token_key(token)}", sender, ex=self._ttl)
        return token, sender

    async def resolve(self, token: str) -> Optional[str]:
        key = f"{self._prefix}token:{_token_key(token)}"
        sender = await self._redis.getex(key, ex=self._ttl)
        return sender.decode() if sender else None

    async def revoke(self, token: str) -> None:
        key = f"{self._prefix}token:{_token_key(token)}"
        sender = await self._redis.getdel(key)
        if sender:
            await self._redis.delete(f"{self._prefix}log:{sender.decode()}", f"{self._prefix}seq:{sender.decode()}")

    async def record(self, sender_id: str, message: Dict[str, Any]) -> Dict[str, Any]:
        seq_key, log_key = f"{self._prefix}seq:{sender_id}", f"{self._prefix}log:{sender_id}"
        numbered = {"id": int(await self._redis.incr(seq_key)), **message}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(log_key, _seal(self._cipher, numbered))
            pipe.ltrim(log_key, -REPLAY_LIMIT, -1)
            pipe.expire(log_key, self._ttl)
            pipe.expire(seq_key, self._ttl)
            await pipe.execute()
        return numbered

    async def replay(self, sender_id: str, after: int) -> List[Dict[str, Any]]:
        kept = [_open(self._cipher, raw) for raw in await self._redis.lrange(f"{self._prefix}log:{sender_id}", 0, -1)]
        return [m for m in kept if m is not None and m["id"] > after]

    async def forget(self, sender_id: str) -> None:
        # The numbering goes on (a widget still open must not see old numbers again).
        await self._redis.delete(f"{self._prefix}log:{sender_id}")

    async def close(self) -> None:
        await self._redis.close()


def web_sessions(redis_url: Optional[str], cipher: Optional[CaseCipher] = None) -> WebSessions:
    """Redis-backed sessions when ``REDIS_URL`` is set, else in memory; kept messages sealed with
    ``cipher``."""
    return RedisWebSessions(redis_url, cipher=cipher) if redis_url else MemoryWebSessions(cipher=cipher)

"""An optional notice to the counselors' Telegram group when a case needs them.

Switched on by ``COUNSELOR_TELEGRAM_CHAT_ID`` (with ``COUNSELOR_TELEGRAM_BOT_TOKEN``, or the
channel's ``TELEGRAM_BOT_TOKEN``). The notice holds metadata only: reference, risk, language,
channel and since when the case has waited; never what the user said. A Telegram group is not a
safe place for a child's words, and the console is where counselors read them.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import httpx

from bot.cases.store import CaseMeta

__all__ = ["CounselorNotifier", "notice_text"]

logger = logging.getLogger(__name__)

_TITLES = {
    "case.opened": "New case",
    "case.escalated": "A user asked for a counselor",
    "case.updated": "Case now urgent",
}
_MARKS = {"urgent": "🔴", "high": "🟠", "normal": "🟢"}


def notice_text(kind: str, case: CaseMeta) -> str:
    """The notice: metadata only (tested: no field of the report can reach it)."""
    title = _TITLES.get(kind, "Case update")
    waiting = case.created_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{_MARKS.get(case.risk, '')} {title}: {case.reference}\n"
        f"Risk: {case.risk}\n"
        f"Language: {case.language or 'unknown'}\n"
        f"Channel: {case.channel}\n"
        f"Waiting since: {waiting}"
    ).strip()


class CounselorNotifier:
    """Sends notices through the Telegram Bot API (``sendMessage``); off without a chat id and token."""

    def __init__(
        self,
        token: Optional[str],
        chat_id: Optional[str],
        api_base_url: str = "https://api.telegram.org",
        transport: Optional[httpx.BaseTransport] = None,
        timeout: float = 5.0,
    ):
        self._token = token
        self._chat_id = chat_id
        self._base = api_base_url.rstrip("/")
        self._transport = transport
        self._timeout = timeout

    @property
    def enabled(self) -> bool:
        return bool(self._token and self._chat_id)

    def notify(self, kind: str, case: CaseMeta) -> bool:
        """Send one notice; True if Telegram accepted it. Failures are logged, never raised."""
        if not self.enabled:
            return False
        body: dict[str, Any] = {
            "chat_id": self._chat_id,
            "text": notice_text(kind, case),
            # Urgent cases ring; the rest arrive silently.
            "disable_notification": case.risk != "urgent",
        }
        try:
            with httpx.Client(transport=self._transport, timeout=self._timeout) as client:
                reply = client.post(f"{self._base}/bot{self._token}/sendMessage", json=body)
        except httpx.HTTPError as error:
            logger.warning("cases.notice.failed error=%s", type(error).__name__)
            return False
        if reply.status_code != 200:
            logger.warning("cases.notice.rejected status=%s", reply.status_code)
            return False
        return True

"""The campaign workers' own clients for the Telegram Bot API and Twilio's Messages API.

Thin, synchronous (a worker thread sends one message at a time) and on their own connections, so
a broadcast never shares a connection pool with the replies the Rasa servers send. Each send is
built first (``prepare``) and sent after (``send``), so that the delivery can claim its row in
between and nothing slow stands between the claim and the request leaving (``bot.campaigns.delivery``).

Outcomes: ``sent`` (with the provider's id), ``retry`` (5xx or network: try again with backoff),
``limited`` (429: wait ``retry_after``), ``blocked`` (Telegram 403, Twilio 21610: unsubscribe),
``failed`` (any other 4xx: never retried). ``left`` says whether the request may have reached the
platform: False when the connection was never made or the platform refused it (429), so that the
delivery can give its claim back before waiting (``bot.campaigns.delivery``).

``TwilioSender.find`` looks a message up after the fact (Twilio's ``GET Messages.json`` by ``To``
and ``From``): the delivery resolves a send that a killed worker left unconfirmed. Telegram's Bot
API has nothing like it (a bot cannot read its own messages back, and ``sendMessage`` takes no
idempotency key).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Dict, List, Optional

import httpx

__all__ = ["SendResult", "TelegramSender", "TwilioSender", "TIMEOUT"]

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(15.0, connect=5.0)


@dataclass(frozen=True)
class SendResult:
    outcome: str  # sent | retry | limited | blocked | failed
    provider_id: Optional[str] = None
    retry_after: float = 0.0
    code: Optional[str] = None
    left: bool = True  # the request may have reached the platform


_NEVER_LEFT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _json(response: httpx.Response) -> Dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class TelegramSender:
    def __init__(self, token: str, api_base_url: str, client: Optional[httpx.Client] = None):
        self._url = f"{api_base_url.rstrip('/')}/bot{token}/sendMessage"
        self._client = client or httpx.Client(timeout=TIMEOUT)

    def close(self) -> None:
        self._client.close()

    def prepare(self, chat_id: int, text: str, buttons: Optional[List[Dict[str, str]]] = None) -> httpx.Request:
        body: Dict[str, Any] = {"chat_id": chat_id, "text": text}
        if buttons:
            body["reply_markup"] = {"inline_keyboard": [[b] for b in buttons]}
        return self._client.build_request("POST", self._url, json=body)

    def send(self, request: httpx.Request) -> SendResult:
        try:
            response = self._client.send(request)
        except httpx.HTTPError as error:
            logger.warning(
                "campaigns.telegram.network error=%s", type(error).__name__
            )  # never the URL: it has the token
            return SendResult("retry", left=not isinstance(error, _NEVER_LEFT))
        body = _json(response)
        if response.status_code == 200 and body.get("ok"):
            return SendResult("sent", str((body.get("result") or {}).get("message_id") or ""))
        code = str(response.status_code)
        if response.status_code == 429:
            retry_after = float((body.get("parameters") or {}).get("retry_after") or 1)
            return SendResult("limited", retry_after=retry_after, code=code, left=False)
        if response.status_code == 403:
            return SendResult("blocked", code=code)
        if response.status_code >= 500:
            return SendResult("retry", code=code)
        return SendResult("failed", code=code)


class TwilioSender:
    """Twilio's ``POST /2010-04-01/Accounts/{sid}/Messages.json``: ``Body`` inside WhatsApp's
    24-hour window, an approved template (``ContentSid``, ``ContentVariables``) outside it."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        status_callback: Optional[str],
        api_base_url: str,
        client: Optional[httpx.Client] = None,
    ):
        self._url = f"{api_base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = (account_sid, auth_token)
        self.sender = sender
        self._status_callback = status_callback
        self._client = client or httpx.Client(timeout=TIMEOUT)

    def close(self) -> None:
        self._client.close()

    def prepare(
        self,
        to: str,
        body: Optional[str] = None,
        content_sid: Optional[str] = None,
        variables: Optional[Dict[str, str]] = None,
    ) -> httpx.Request:
        form: Dict[str, str] = {"To": to, "From": self.sender}
        if content_sid:
            form["ContentSid"] = content_sid
            form["ContentVariables"] = json.dumps(variables or {}, ensure_ascii=False)
        else:
            form["Body"] = body or ""
        if self._status_callback:
            form["StatusCallback"] = self._status_callback
        return self._client.build_request("POST", self._url, data=form)

    def send(self, request: httpx.Request) -> SendResult:
        try:
            response = self._client.send(request, auth=self._auth)
        except httpx.HTTPError as error:
            logger.warning("campaigns.twilio.network error=%s", type(error).__name__)
            return SendResult("retry", left=not isinstance(error, _NEVER_LEFT))
        body = _json(response)
        if response.status_code in (200, 201):
            return SendResult("sent", str(body.get("sid") or ""))
        code = str(body.get("code") or response.status_code)
        if response.status_code == 429:
            return SendResult("limited", retry_after=1.0, code=code, left=False)
        if response.status_code >= 500:
            return SendResult("retry", code=code)
        if code == "21610":
            return SendResult("blocked", code=code)
        return SendResult("failed", code=code)

    def find(self, to: str, since: datetime, body: Optional[str]) -> SendResult:
        """A message from this sender to ``to`` created at or after ``since`` (and with ``body``, when
        given): ``sent`` with its sid, ``failed`` when there is none, ``retry`` when Twilio could not say."""
        params = {"To": to, "From": self.sender, "PageSize": "50"}
        try:
            response = self._client.get(self._url, params=params, auth=self._auth)
        except httpx.HTTPError as error:
            logger.warning("campaigns.twilio.lookup_network error=%s", type(error).__name__)
            return SendResult("retry")
        if response.status_code != 200:
            return SendResult("retry", code=str(response.status_code))
        for message in _json(response).get("messages") or []:
            if not str(message.get("direction") or "").startswith("outbound"):
                continue
            try:
                created = parsedate_to_datetime(str(message.get("date_created") or ""))
            except (TypeError, ValueError):
                continue
            if created.tzinfo is None:
                created = created.replace(tzinfo=timezone.utc)
            if since.tzinfo is None:
                since = since.replace(tzinfo=timezone.utc)
            if created >= since and (body is None or message.get("body") == body):
                return SendResult("sent", str(message.get("sid") or ""))
        return SendResult("failed", code="not_found", left=False)

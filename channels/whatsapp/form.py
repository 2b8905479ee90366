"""Twilio's webhook requests: a form, posted and signed.

``X-Twilio-Signature`` must verify (Twilio's algorithm, constant-time compare) against
``PUBLIC_BASE_URL`` + the path, because behind a proxy the URL the server sees is not the one
Twilio signed; the ``AccountSid`` must be ours. Twilio is answered with empty TwiML.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, Dict, List, Union
from urllib.parse import parse_qs, urlparse

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator, add_port, remove_port

from bot.settings import Settings
from channels.common import error_response

__all__ = ["TwilioForm", "read_form", "media_count", "twiml", "SIGNATURE_HEADER", "EMPTY_TWIML"]

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
MAX_BODY_BYTES = 64 * 1024


class TwilioForm:
    """Posted parameters with ``getlist``, the shape ``RequestValidator`` reads repeated keys from."""

    def __init__(self, values: Dict[str, List[str]]):
        self._values = values

    def __iter__(self) -> Any:
        return iter(self._values)

    def getlist(self, name: str) -> List[str]:
        return self._values.get(name, [])

    def first(self, name: str) -> str:
        found = self._values.get(name) or [""]
        return found[0]


def read_form(
    request: Request, settings: Settings, validator: RequestValidator, *required: str
) -> Union[TwilioForm, HTTPResponse]:
    """The posted form if the request is Twilio's and has the ``required`` fields, else the error
    response to send (413, 415, 400; 403 for a bad signature or another account)."""
    if len(request.body or b"") > MAX_BODY_BYTES:
        return error_response(413, f"body over {MAX_BODY_BYTES} bytes")
    if not (request.content_type or "").lower().startswith("application/x-www-form-urlencoded"):
        return error_response(415, "body must be application/x-www-form-urlencoded")
    try:
        values = parse_qs((request.body or b"").decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return error_response(400, "body must be a UTF-8 form")
    form = TwilioForm(values)
    if not _signed(request, form, settings, validator):
        logger.warning("whatsapp.request.rejected reason=signature")
        return error_response(403, "missing or invalid X-Twilio-Signature")
    if form.first("AccountSid") != settings.twilio_account_sid:
        logger.warning("whatsapp.request.rejected reason=account")
        return error_response(403, "unexpected AccountSid")
    if not all(form.first(name) for name in required):
        return error_response(400, f"{' and '.join(required)} are required")
    return form


def _signed(request: Request, form: TwilioForm, settings: Settings, validator: RequestValidator) -> bool:
    supplied = request.headers.get(SIGNATURE_HEADER, "")
    if not supplied:
        return False
    url = f"{settings.public_base_url}{request.path}"
    if request.query_string:
        url += f"?{request.query_string}"
    parsed = urlparse(url)
    # Twilio signs the URL as configured, with or without the port; accept either.
    for candidate in {remove_port(parsed), add_port(parsed)}:
        expected = validator.compute_signature(candidate, form)
        if hmac.compare_digest(expected.encode(), supplied.encode()):
            return True
    return False


def media_count(form: TwilioForm) -> int:
    """How many media a message carries (never fetched: ``MediaUrl*`` are only looked at)."""
    raw = form.first("NumMedia").strip()
    count = int(raw) if raw.isdigit() else 0
    # A malformed NumMedia with media attached still counts as media.
    return count or (1 if form.first("MediaUrl0") else 0)


def twiml() -> HTTPResponse:
    """The empty TwiML answer: received, nothing to say in reply."""
    return response.text(EMPTY_TWIML, content_type="text/xml")

"""The WhatsApp webhooks: ``POST /webhooks/whatsapp/webhook`` for messages, ``.../status`` for
Twilio's status callbacks; both answered with empty TwiML before anything slow happens.

A message: Twilio's signed form (``form.read_form``: 413, 415, 400, 403) → ``From`` a WhatsApp
number (else ignored) → 503 until the server has started → the sender id, a keyed hash of the
number → de-duplicated on the signed ``MessageSid`` → the message queued on its sender (``ChatSequencer``) for the ``MessageHandler`` → TwiML.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Optional, Union

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.http import AsyncHttpClient
from twilio.request_validator import RequestValidator

from bot.campaigns.callbacks import apply_twilio_status
from bot.campaigns.store import CampaignStoreError, campaign_store
from bot.settings import Settings, get_settings
from channels.common import error_response
from channels.identity import SenderIdentity, load_keys
from channels.platform import OnNewMessage, PlatformInput
from channels.whatsapp.form import TwilioForm, read_form, twiml
from channels.whatsapp.messages import MessageHandler
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.runtime import WhatsAppRuntime, close_runtime, open_runtime

__all__ = ["WhatsAppInput", "IDEMPOTENCY_HEADER"]

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"  # unsigned: never what a delivery is known by


class WhatsAppInput(PlatformInput[WhatsAppRuntime]):
    """Twilio WhatsApp webhook; enabled when the ``TWILIO_*`` variables and ``PUBLIC_BASE_URL`` are set.

    Recipient ids are ``wa-<hash>``; the number is decrypted from the ``AddressBook`` for a push."""

    title = "WhatsApp"

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def __init__(
        self,
        settings: Optional[Settings] = None,
        http_client: Optional[Callable[[], AsyncHttpClient]] = None,
    ):
        """
        Args:
            settings: defaults to ``get_settings()``.
            http_client: makes the SDK's HTTP client at server start (tests pass a recording fake);
                defaults to ``AsyncTwilioHttpClient``.
        """
        super().__init__()
        self.settings = settings or get_settings()
        if not self.settings.whatsapp_enabled:
            raise ValueError(
                "the WhatsApp channel needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_FROM and PUBLIC_BASE_URL"
            )
        if not (self.settings.twilio_whatsapp_from or "").startswith("whatsapp:+"):
            raise ValueError("TWILIO_WHATSAPP_FROM must look like whatsapp:+14155238886")
        self._keys = load_keys(self.settings)  # fails at start-up, not at the first message
        self._validator = RequestValidator(self.settings.twilio_auth_token or "")
        self._http_client = http_client
        self._messages = MessageHandler(self.settings, self.name())

    async def _open(self) -> WhatsAppRuntime:
        return await open_runtime(self.settings, self._keys, self._http_client, self.name())

    async def _close(self, runtime: WhatsAppRuntime) -> None:
        await close_runtime(runtime)

    def _output(self, runtime: WhatsAppRuntime) -> WhatsAppOutput:
        return WhatsAppOutput(runtime)

    def sender_id(self, address: str) -> str:
        """The tracker's sender id for a ``whatsapp:+…`` address."""
        return SenderIdentity(self._keys.sender_id_key, "wa").sender_id(address)

    # --- webhooks ------------------------------------------------------------------------------

    def _add_routes(self, webhook: Blueprint) -> None:
        @webhook.route("/status", methods=["POST"])
        async def status(request: Request) -> HTTPResponse:
            return await self._status(request)

    def _form(self, request: Request, *required: str) -> Union[TwilioForm, HTTPResponse]:
        return read_form(request, self.settings, self._validator, *required)

    def _receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        form = self._form(request, "From", "MessageSid")
        if isinstance(form, HTTPResponse):
            return form
        address, message_sid = form.first("From"), form.first("MessageSid")
        if not address.startswith("whatsapp:+") or not address[10:].isdigit():
            logger.info("whatsapp.message.ignored reason=not_whatsapp")
            return twiml()
        runtime = self._runtime
        if runtime is None:
            return error_response(503, "starting")
        sender = runtime.identity.sender_id(address)
        # De-duplicated on the MessageSid, which the signature covers: Twilio's idempotency header is
        # not signed, so a captured request replayed with a new header would otherwise be taken again.
        delivery = message_sid
        app = request.app
        runtime.channel.sequencer.submit(
            sender, lambda: self._messages.handle(app, runtime, form, sender, address, delivery, on_new_message)
        )
        return twiml()

    async def _status(self, request: Request) -> HTTPResponse:
        form = self._form(request, "MessageSid", "MessageStatus")
        if isinstance(form, HTTPResponse):
            return form
        sid, status = form.first("MessageSid"), form.first("MessageStatus")
        runtime = self._runtime
        if runtime is not None and not await runtime.channel.dedup.first_time(f"tw:st:{sid}:{status}"):
            return twiml()
        code = form.first("ErrorCode")
        if status in ("failed", "undelivered"):
            # 63016: outside WhatsApp's 24-hour window, only an approved template may be sent.
            logger.warning("whatsapp.status status=%s error_code=%s", status[:20], code[:10])
        else:
            logger.info("whatsapp.status status=%s", status[:20])
        await self._campaign_status(sid, status, code)
        return twiml()

    async def _campaign_status(self, sid: str, status: str, code: str) -> None:
        """A campaign message's progress (``bot.campaigns.callbacks``); a reply's matches nothing."""
        if status not in ("delivered", "read", "failed", "undelivered"):
            return
        try:
            store = campaign_store(self.settings)
            await asyncio.wait_for(asyncio.to_thread(apply_twilio_status, store, sid, status, code), 5.0)
        except (CampaignStoreError, asyncio.TimeoutError) as error:
            logger.warning("whatsapp.status.campaign_not_recorded error=%s", type(error).__name__)

"""Rasa's replies through Twilio: long texts split at 1600 characters (``PlatformOutput``), buttons
as a numbered list, ``messages.create_async`` retried on 429 and 5xx, and never a phone number in
the log."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional

from twilio.base.exceptions import TwilioException, TwilioRestException

from bot.language import detect_language
from channels.outgoing import Choice, button_list, numbered_choices
from channels.platform import PlatformOutput
from channels.whatsapp.choices import remember_choices
from channels.whatsapp.runtime import WhatsAppRuntime

__all__ = ["WhatsAppOutput"]

logger = logging.getLogger(__name__)

MAX_TEXT = 1600
SEND_ATTEMPTS = 3


class WhatsAppOutput(PlatformOutput[str]):
    """Sends Rasa's replies through Twilio; recipient ids are ``wa-<hash>``, never numbers.

    Inside a turn the number comes from the request being answered; a push outside a turn
    (counselor reply) decrypts it from the ``AddressBook``; STOP ends campaign messages only
    (``bot.campaigns``), never a counselor's replies. Twilio accepting a pushed message is all that is known then: outside WhatsApp's
    24-hour window it fails later (error 63016), and the status callback logs it.
    """

    max_text = MAX_TEXT
    no_address = "no WhatsApp address for this user (not seen recently)"
    not_accepted = "Twilio did not accept the message"

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def __init__(self, runtime: WhatsAppRuntime, sender_id: Optional[str] = None, address: Optional[str] = None):
        self._rt = runtime
        self._sender_id = sender_id
        self._address = address
        self._choices: Dict[str, List[Choice]] = {}

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        choices = button_list(buttons)
        if not choices:
            await self.send_text_message(recipient_id, text)
            return
        # Numbering runs on across one turn, so "3" is never ambiguous between two lists.
        offered = self._choices.setdefault(recipient_id, [])
        language = detect_language(text) or self._rt.default_language
        hint = self._rt.library.message("reply_with_number", language)
        await self.send_text_message(recipient_id, numbered_choices(text, choices, hint, first=len(offered) + 1))
        offered += choices
        await remember_choices(self._rt.channel, recipient_id, offered)

    async def _address_of(self, recipient_id: str) -> Optional[str]:
        if recipient_id == self._sender_id and self._address:
            return self._address
        address = await self._rt.addresses.lookup(recipient_id)
        if address is None:
            logger.warning("whatsapp.push.skipped reason=unknown_recipient")
        return address

    async def _send(self, address: str, body: str) -> bool:
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                await self._rt.client.messages.create_async(
                    to=address, from_=self._rt.sender_from, body=body, status_callback=self._rt.status_callback
                )
                return True
            except TwilioRestException as error:
                # Never the message: Twilio's error texts can quote the number.
                retry = error.status == 429 or error.status >= 500
                if retry and attempt < SEND_ATTEMPTS:
                    logger.info("whatsapp.send.retrying status=%s", error.status)
                    await asyncio.sleep(attempt)
                    continue
                logger.warning("whatsapp.send.failed status=%s code=%s", error.status, error.code)
                return False
            except (TwilioException, OSError, asyncio.TimeoutError) as error:
                logger.warning("whatsapp.send.failed error=%s", type(error).__name__)
                return False
        return False

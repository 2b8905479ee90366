"""One accepted WhatsApp message, handled in the background in its sender's turn: de-duplicated on
the signed ``MessageSid``, the address kept encrypted, media refused
unfetched, STOP/START handled, a numbered-list choice mapped back to its button, the text cleaned
(``bot.inbound``), one ``UserMessage`` to Rasa. STOP and START are the gate's, as on every channel
(``channels.campaigns``): they end campaign messages, never a counselor's replies."""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.channel import UserMessage

from bot.inbound import prepare_text
from bot.language import detect_language
from bot.settings import Settings
from channels.common import agent_language, refusal_text
from channels.outgoing import match_choice
from channels.platform import OnNewMessage
from channels.whatsapp.choices import current_choices
from channels.whatsapp.form import TwilioForm, media_count
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.runtime import WhatsAppRuntime

__all__ = ["MessageHandler", "WINDOW_TTL"]

logger = logging.getLogger(__name__)

# A little under 24 hours, so that a campaign message never reaches Twilio just after the window shut.
WINDOW_TTL = 23 * 3600 + 30 * 60


class MessageHandler:
    """What the ``WhatsAppInput`` does with a message once it has answered Twilio (see the module
    docs). ``name`` is the input channel the ``UserMessage`` comes from."""

    def __init__(self, settings: Settings, name: str):
        self.settings = settings
        self.name = name

    async def handle(
        self,
        app: Any,
        rt: WhatsAppRuntime,
        form: TwilioForm,
        sender: str,
        address: str,
        delivery: str,
        on_new_message: OnNewMessage,
    ) -> None:
        if not await rt.channel.dedup.first_time(f"tw:in:{delivery}"):
            logger.info("whatsapp.message.duplicate")
            return
        await rt.addresses.remember(sender, address)
        # WhatsApp's 24-hour window: campaign workers send free text only while this key lives.
        await rt.channel.state.put(f"wa:seen:{sender}", b"1", WINDOW_TTL)
        output = WhatsAppOutput(rt, sender, address)
        body = form.first("Body")
        if media_count(form) > 0:
            # Never fetched: MediaUrl* are not even read.
            logger.info("whatsapp.media.refused")
            language = await agent_language(app, sender, body)
            await output.send_text_message(sender, rt.library.message("media_policy", language))
            if not body.strip():
                return
        offered = await rt.channel.offered.current(sender)
        chosen = form.first("ButtonPayload")
        if not chosen or chosen not in offered:
            chosen = match_choice(body, await current_choices(rt.channel, sender)) or ""
        text = chosen if chosen in offered else body
        inbound = prepare_text(text, self.settings.max_message_chars, offered)
        if not inbound.ok:
            logger.info("whatsapp.message.refused problem=%s", inbound.problem)
            language = await agent_language(app, sender, body)
            await output.send_text_message(sender, refusal_text(inbound.problem, language))
            return
        await on_new_message(
            UserMessage(
                inbound.text,
                output,
                sender,
                input_channel=self.name,
                metadata={"language": detect_language(body)},
            )
        )

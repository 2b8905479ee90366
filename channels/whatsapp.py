"""WhatsApp through Twilio at ``/webhooks/whatsapp/webhook`` (status callbacks at ``.../status``).

The recipe: ``X-Twilio-Signature`` must verify (Twilio's algorithm, constant-time compare) against
``PUBLIC_BASE_URL`` + the path, because behind a proxy the URL the server sees is not the one
Twilio signed (403 otherwise) → the form is checked → an empty TwiML answer at once; the message is
then handled in the background, in arrival order per user: de-duplicated on
``I-Twilio-Idempotency-Token`` (else ``MessageSid``), media refused unfetched, STOP/START handled,
a numbered-list choice mapped back to its button, the text cleaned (``bot.inbound``), one
``UserMessage`` to Rasa, the replies sent with ``messages.create_async`` through the SDK's async
HTTP client opened when the server starts.

The phone number never reaches Rasa: the sender id is ``wa-<keyed hash>`` (``channels.identity``)
and the number needed to answer later is kept encrypted in the ``AddressBook``.

Better than Rasa's own Twilio connector: it verifies signatures, never blocks the event loop with
the synchronous client, answers a retried delivery once, refuses media, splits replies over 1600
characters and keeps phone numbers out of the tracker store and the logs.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence
from urllib.parse import parse_qs, urlparse, urlunparse

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator, add_port, remove_port
from twilio.rest import Client

from bot.content import ContentLibrary
from bot.inbound import prepare_text
from bot.language import detect_language, normalize_for_matching
from bot.settings import Settings, get_settings
from channels.common import platform_webhook, refusal_text, reply_language
from channels.handover import Pushed
from channels.identity import AddressBook, SenderIdentity, load_keys
from channels.outgoing import Choice, TextOnlyOutput, button_list, match_choice, numbered_choices, split_text
from channels.state import ChannelState

__all__ = ["WhatsAppInput", "WhatsAppOutput", "SIGNATURE_HEADER", "IDEMPOTENCY_HEADER", "EMPTY_TWIML"]

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
DEFAULT_API = "https://api.twilio.com"
MAX_BODY_BYTES = 64 * 1024
MAX_TEXT = 1600
CHOICES_TTL = 24 * 3600  # the WhatsApp customer-service window
OPT_OUT_TTL = 5 * 365 * 24 * 3600
SEND_ATTEMPTS = 3
TWILIO_TIMEOUT = 15.0
STOP_WORDS = frozenset(normalize_for_matching(w) for w in ("stop", "stopall", "unsubscribe", "إيقاف", "توقف"))
START_WORDS = frozenset(normalize_for_matching(w) for w in ("start", "unstop", "ابدأ", "بدء"))


class _Form:
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


class _RebasedClient(Client):
    """The Twilio REST client, sending to ``TWILIO_API_BASE_URL`` instead of api.twilio.com."""

    def __init__(self, *args: Any, api_base_url: str = DEFAULT_API, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._api_base = urlparse(api_base_url)

    def get_hostname(self, uri: str) -> str:
        uri = super().get_hostname(uri)
        if urlunparse(self._api_base) == DEFAULT_API:
            return uri
        parsed = urlparse(uri)
        base_path = self._api_base.path.rstrip("/")
        return urlunparse(
            parsed._replace(scheme=self._api_base.scheme, netloc=self._api_base.netloc, path=base_path + parsed.path)
        )


@dataclass
class _Runtime:
    client: _RebasedClient
    http: AsyncHttpClient
    channel: ChannelState
    identity: SenderIdentity
    addresses: AddressBook
    sender_from: str
    status_callback: str
    library: ContentLibrary
    default_language: str


class WhatsAppOutput(TextOnlyOutput):
    """Sends Rasa's replies through Twilio; recipient ids are ``wa-<hash>``, never numbers.

    Inside a turn the number comes from the request being answered; a push outside a turn
    (counselor reply, campaign) decrypts it from the ``AddressBook`` and is skipped for users who
    sent STOP.
    """

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def __init__(self, runtime: _Runtime, sender_id: Optional[str] = None, address: Optional[str] = None):
        self._rt = runtime
        self._sender_id = sender_id
        self._address = address
        self._choices: Dict[str, List[Choice]] = {}

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        address = await self._address_of(recipient_id)
        if address is None:
            return
        for part in split_text(text, MAX_TEXT):
            await self._send(address, part)

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
        await _remember_choices(self._rt, recipient_id, offered)

    async def push_text(self, recipient_id: str, text: str) -> Pushed:
        """``send_text_message`` that says whether Twilio took every part (hand-over delivery).

        Twilio accepting a message is all that is known here: outside WhatsApp's 24-hour window
        it fails later (error 63016), and the status callback logs it."""
        address = await self._address_of(recipient_id)
        if address is None:
            return Pushed(False, "no WhatsApp address for this user (opted out, or not seen recently)")
        for part in split_text(text, MAX_TEXT):
            if not await self._send(address, part):
                return Pushed(False, "Twilio did not accept the message")
        return Pushed(True)

    async def _address_of(self, recipient_id: str) -> Optional[str]:
        if recipient_id == self._sender_id and self._address:
            return self._address
        if await self._rt.channel.state.get(f"wa:optout:{recipient_id}") is not None:
            logger.info("whatsapp.push.skipped reason=opted_out")
            return None
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


async def _remember_choices(rt: _Runtime, sender_id: str, choices: Sequence[Choice]) -> None:
    await rt.channel.state.put(f"wa:choices:{sender_id}", json.dumps(list(choices)).encode(), CHOICES_TTL)
    await rt.channel.offered.remember(sender_id, [payload for _, payload in choices])


async def _current_choices(rt: _Runtime, sender_id: str) -> List[Choice]:
    raw = await rt.channel.state.get(f"wa:choices:{sender_id}")
    try:
        return [(str(t), str(p)) for t, p in json.loads(raw)] if raw else []
    except (ValueError, TypeError):
        return []


class WhatsAppInput(InputChannel):
    """Twilio WhatsApp webhook; enabled when the ``TWILIO_*`` variables and ``PUBLIC_BASE_URL`` are set."""

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> WhatsAppInput:
        # Secrets come from the environment, never from credentials.yml.
        return cls()

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
        self._runtime: Optional[_Runtime] = None

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the Twilio HTTP client and the shared state; called when the server starts."""
        settings = self.settings
        http = self._http_client() if self._http_client else AsyncTwilioHttpClient(timeout=TWILIO_TIMEOUT)
        client = _RebasedClient(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            http_client=http,
            api_base_url=settings.twilio_api_base_url,
        )
        channel = ChannelState.open("whatsapp", settings.redis_url)
        if channel.state.redis is None:
            logger.warning("whatsapp.addresses.memory_only (set REDIS_URL so pushes survive a restart)")
        self._runtime = _Runtime(
            client=client,
            http=http,
            channel=channel,
            identity=SenderIdentity(self._keys.sender_id_key, "wa"),
            addresses=AddressBook(channel.state, self._keys.address_cipher),
            sender_from=settings.twilio_whatsapp_from or "",
            status_callback=f"{settings.public_base_url}/webhooks/{self.name()}/status",
            library=ContentLibrary.load(settings.data_dir),
            default_language=settings.default_language,
        )
        logger.info("whatsapp.started")

    async def stop(self) -> None:
        """Finish the messages in hand, then close the HTTP client; called when the server stops."""
        runtime, self._runtime = self._runtime, None
        if runtime is None:
            return
        await runtime.channel.close()
        close = getattr(runtime.http, "close", None)
        if close is not None:
            await close()
        logger.info("whatsapp.stopped")

    async def idle(self) -> None:
        """Wait until every accepted message has been handled (tests and graceful stops)."""
        if self._runtime is not None:
            await self._runtime.channel.sequencer.drain()

    def sender_id(self, address: str) -> str:
        """The tracker's sender id for a ``whatsapp:+…`` address."""
        return SenderIdentity(self._keys.sender_id_key, "wa").sender_id(address)

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Pushes to a ``wa-<hash>`` sender outside a turn (counselor replies, campaigns)."""
        return WhatsAppOutput(self._runtime) if self._runtime is not None else None

    async def push(self, sender_id: str, text: str) -> Pushed:
        """A counselor's message (or hand-over notice) to a ``wa-<hash>`` user; the number is
        decrypted from the ``AddressBook``."""
        if self._runtime is None:
            return Pushed(False, "the WhatsApp channel is not started")
        return await WhatsAppOutput(self._runtime).push_text(sender_id, text)

    # --- webhooks ------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook, gate = platform_webhook(self, "amaan_whatsapp_webhook", on_new_message)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return self._receive(request, gate)

        @webhook.route("/status", methods=["POST"])
        async def status(request: Request) -> HTTPResponse:
            return await self._status(request)

        return webhook

    def _verified_form(self, request: Request) -> Any:
        """The posted form if the request is Twilio's, else the error response to send."""
        if len(request.body or b"") > MAX_BODY_BYTES:
            return _error(413, f"body over {MAX_BODY_BYTES} bytes")
        if not (request.content_type or "").lower().startswith("application/x-www-form-urlencoded"):
            return _error(415, "body must be application/x-www-form-urlencoded")
        try:
            values = parse_qs((request.body or b"").decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            return _error(400, "body must be a UTF-8 form")
        form = _Form(values)
        if not self._signed(request, form):
            logger.warning("whatsapp.request.rejected reason=signature")
            return _error(403, "missing or invalid X-Twilio-Signature")
        if form.first("AccountSid") != self.settings.twilio_account_sid:
            logger.warning("whatsapp.request.rejected reason=account")
            return _error(403, "unexpected AccountSid")
        return form

    def _signed(self, request: Request, form: _Form) -> bool:
        supplied = request.headers.get(SIGNATURE_HEADER, "")
        if not supplied:
            return False
        url = f"{self.settings.public_base_url}{request.path}"
        if request.query_string:
            url += f"?{request.query_string}"
        parsed = urlparse(url)
        # Twilio signs the URL as configured, with or without the port; accept either.
        for candidate in {remove_port(parsed), add_port(parsed)}:
            expected = self._validator.compute_signature(candidate, form)
            if hmac.compare_digest(expected.encode(), supplied.encode()):
                return True
        return False

    def _receive(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        # Synchronous on purpose: nothing may await before the message is queued for its sender,
        # or two quick messages could swap places.
        form = self._verified_form(request)
        if isinstance(form, HTTPResponse):
            return form
        address, message_sid = form.first("From"), form.first("MessageSid")
        if not address or not message_sid:
            return _error(400, "From and MessageSid are required")
        if not address.startswith("whatsapp:+") or not address[10:].isdigit():
            logger.info("whatsapp.message.ignored reason=not_whatsapp")
            return _twiml()
        runtime = self._runtime
        if runtime is None:
            return _error(503, "starting")
        sender = runtime.identity.sender_id(address)
        delivery = request.headers.get(IDEMPOTENCY_HEADER) or message_sid
        app = request.app
        runtime.channel.sequencer.submit(
            sender, lambda: self._handle(app, runtime, form, sender, address, delivery, on_new_message)
        )
        return _twiml()

    async def _status(self, request: Request) -> HTTPResponse:
        form = self._verified_form(request)
        if isinstance(form, HTTPResponse):
            return form
        sid, status = form.first("MessageSid"), form.first("MessageStatus")
        if not sid or not status:
            return _error(400, "MessageSid and MessageStatus are required")
        runtime = self._runtime
        if runtime is not None and not await runtime.channel.dedup.first_time(f"tw:st:{sid}:{status}"):
            return _twiml()
        code = form.first("ErrorCode")
        if status in ("failed", "undelivered"):
            # 63016: outside WhatsApp's 24-hour window, only an approved template may be sent.
            logger.warning("whatsapp.status status=%s error_code=%s", status[:20], code[:10])
        else:
            logger.info("whatsapp.status status=%s", status[:20])
        return _twiml()

    # --- handling, in the background -----------------------------------------------------------

    async def _handle(
        self,
        app: Any,
        rt: _Runtime,
        form: _Form,
        sender: str,
        address: str,
        delivery: str,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        if not await rt.channel.dedup.first_time(f"tw:in:{delivery}"):
            logger.info("whatsapp.message.duplicate")
            return
        await rt.addresses.remember(sender, address)
        output = WhatsAppOutput(rt, sender, address)
        body = form.first("Body")
        if _media_count(form) > 0:
            # Never fetched: MediaUrl* are not even read.
            logger.info("whatsapp.media.refused")
            language = await self._language(app, sender, body)
            await output.send_text_message(sender, rt.library.message("media_policy", language))
            if not body.strip():
                return
        keyword = normalize_for_matching(body)
        if keyword in STOP_WORDS:
            await rt.channel.state.put(f"wa:optout:{sender}", b"1", OPT_OUT_TTL)
            logger.info("whatsapp.opt_out")
            language = detect_language(body) or await self._language(app, sender, "")
            await output.send_text_message(sender, rt.library.message("opted_out", language))
            return
        if keyword in START_WORDS:
            await rt.channel.state.delete(f"wa:optout:{sender}")
            logger.info("whatsapp.opt_in")
            body = "مرحبا" if detect_language(body) == "ar" else "hello"
        offered = await rt.channel.offered.current(sender)
        chosen = form.first("ButtonPayload")
        if not chosen or chosen not in offered:
            chosen = match_choice(body, await _current_choices(rt, sender)) or ""
        text = chosen if chosen in offered else body
        inbound = prepare_text(text, self.settings.max_message_chars, offered)
        if not inbound.ok:
            logger.info("whatsapp.message.refused problem=%s", inbound.problem)
            language = await self._language(app, sender, body)
            await output.send_text_message(sender, refusal_text(inbound.problem, language))
            return
        await on_new_message(
            UserMessage(
                inbound.text,
                output,
                sender,
                input_channel=self.name(),
                metadata={"language": detect_language(body)},
            )
        )

    async def _language(self, app: Any, sender: str, text: str) -> str:
        return await reply_language(getattr(app.ctx, "agent", None), sender, text)


def _media_count(form: _Form) -> int:
    raw = form.first("NumMedia").strip()
    count = int(raw) if raw.isdigit() else 0
    # A malformed NumMedia with media attached still counts as media.
    return count or (1 if form.first("MediaUrl0") else 0)


def _twiml() -> HTTPResponse:
    return response.text(EMPTY_TWIML, content_type="text/xml")


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)

"""The frame of a phone-platform connector (Telegram, WhatsApp): the state it opens when the server
starts, and the lifecycle, webhook and push the two share.

Each platform is a package (``channels/telegram/``, ``channels/whatsapp/``) built the same way, so
that reading one never means reading the other:

* ``input.py``, the ``PlatformInput``: the webhook, synchronous so that nothing can overtake:
  authenticate (constant-time, 403) → check and parse the body → queue the work on the chat's
  ``ChatSequencer`` → answer at once. Kinds we do not handle get 200 and are ignored.
* a handler for one message, run in the background in arrival order per chat: de-duplicate →
  refuse media unopened → clean the text (``bot.inbound``) → one ``UserMessage`` through the
  ``HandoverGate`` to Rasa.
* ``output.py``, the ``PlatformOutput``: the replies, split to the platform's limit, and
  ``push_text`` for a counselor's message outside a turn.
* ``runtime.py``: the platform's client and the ``ChannelState``, opened when the server starts
  and closed when it stops.
* the platform's own shapes: Telegram's keyboards and updates, WhatsApp's numbered choices and
  Twilio's form.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Generic, Optional, Protocol, TypeVar

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.offered import OfferedPayloads
from channels.dedup import Deduplicator
from channels.gate import HandoverGate
from channels.handover import Pushed, offer_push
from channels.ordering import ChatSequencer
from channels.outgoing import TextOnlyOutput, split_text
from channels.state import KeyValue, KeyValueOfferedPayloads, open_redis

__all__ = ["ChannelState", "OnNewMessage", "PlatformInput", "PlatformOutput", "PlatformRuntime"]

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


@dataclass
class ChannelState:
    """What a connector opens at server start and closes at stop: its key/value store,
    de-duplication, the buttons it offered, and per-chat ordering."""

    state: KeyValue
    dedup: Deduplicator
    offered: OfferedPayloads
    sequencer: ChatSequencer

    @classmethod
    def open(cls, name: str, redis_url: Optional[str]) -> ChannelState:
        redis = open_redis(redis_url)
        state = KeyValue(redis)
        return cls(state, Deduplicator(redis), KeyValueOfferedPayloads(state), ChatSequencer(name))

    async def close(self, drain_timeout: float = 30.0) -> None:
        await self.sequencer.drain(drain_timeout)
        await self.state.close()


class PlatformRuntime(Protocol):
    """What a platform opens at server start (its client...), the ``ChannelState`` among it."""

    channel: ChannelState


A = TypeVar("A")


class PlatformOutput(TextOnlyOutput, Generic[A], abc.ABC):
    """A phone platform's replies: each text split to the platform's limit and sent part by part to
    the recipient's address (a Telegram chat id, a WhatsApp number); a push (``push_text``) stops
    at the first part the platform does not take and says so."""

    max_text: int
    # Why a push was not delivered, as the console shows it: no address, or a part not taken.
    no_address: str
    not_accepted: str

    @abc.abstractmethod
    async def _address_of(self, recipient_id: str) -> Optional[A]:
        """Where to send to ``recipient_id``, or None (logged by the platform where it matters)."""

    @abc.abstractmethod
    async def _send(self, address: A, text: str) -> bool:
        """Send one part; True when the platform took it."""

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        address = await self._address_of(recipient_id)
        if address is None:
            return
        for part in split_text(text, self.max_text):
            await self._send(address, part)

    async def push_text(self, recipient_id: str, text: str) -> Pushed:
        """``send_text_message`` that says whether the platform took every part (hand-over delivery)."""
        address = await self._address_of(recipient_id)
        if address is None:
            return Pushed(False, self.no_address)
        for part in split_text(text, self.max_text):
            if not await self._send(address, part):
                return Pushed(False, self.not_accepted)
        return Pushed(True)


R = TypeVar("R", bound=PlatformRuntime)


class PlatformInput(InputChannel, Generic[R], abc.ABC):
    """A phone platform's Rasa input channel (see the module docs). Its runtime exists between the
    server's start and stop; before and after, the webhook answers 503 and pushes are refused."""

    # The channel's name in what an operator reads ("the Telegram channel is not started").
    title = "platform"

    def __init__(self) -> None:
        self._runtime: Optional[R] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        # Secrets come from the environment, never from credentials.yml.
        return cls()

    # --- what each platform provides -----------------------------------------------------------

    @abc.abstractmethod
    async def _open(self) -> R:
        """Create the platform's client and the shared state."""

    @abc.abstractmethod
    async def _close(self, runtime: R) -> None:
        """Close the platform's client (the ``ChannelState`` is already closed)."""

    @abc.abstractmethod
    def _output(self, runtime: R) -> PlatformOutput[Any]:
        """An output channel on ``runtime``, for a push outside any turn."""

    @abc.abstractmethod
    def _receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """The webhook: synchronous on purpose, so that nothing may await before the message is
        queued for its chat, or two quick messages could swap places."""

    def _add_routes(self, webhook: Blueprint) -> None:
        """Routes beside ``/`` (health) and ``/webhook``, if the platform has more."""

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the platform's client and the shared state; called when the server starts."""
        self._runtime = await self._open()
        logger.info("%s.started", self.name())

    async def stop(self) -> None:
        """Finish the messages in hand, then close the client; called when the server stops."""
        runtime, self._runtime = self._runtime, None
        if runtime is None:
            return
        await runtime.channel.close()
        await self._close(runtime)
        logger.info("%s.stopped", self.name())

    async def idle(self) -> None:
        """Wait until every accepted message has been handled (tests and graceful stops)."""
        if self._runtime is not None:
            await self._runtime.channel.sequencer.drain()

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Pushes to one of this channel's senders outside a turn (counselor replies, campaigns)."""
        return self._output(self._runtime) if self._runtime is not None else None

    async def push(self, sender_id: str, text: str) -> Pushed:
        """A counselor's message (or hand-over notice) to one of this channel's users."""
        if self._runtime is None:
            return Pushed(False, f"the {self.title} channel is not started")
        return await self._output(self._runtime).push_text(sender_id, text)

    # --- webhook -------------------------------------------------------------------------------

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The runtime opened and closed with the server, a health route, the counselor hand-over
        (the gate in front of the bot, and ``push`` registered for deliveries) and the webhook."""
        webhook = Blueprint(f"amaan_{self.name()}_webhook", __name__)

        @webhook.listener("before_server_start")
        async def started(app: Any, loop: Any) -> None:
            await self.start()

        @webhook.listener("before_server_stop")
        async def stopping(app: Any, loop: Any) -> None:
            await self.stop()

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self._runtime else "starting"})

        # While a counselor holds a conversation, its messages go to the case, not to the bot.
        gate = HandoverGate.around(webhook, on_new_message)
        offer_push(webhook, self.name(), self.push)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return self._receive(request, gate)

        self._add_routes(webhook)
        return webhook

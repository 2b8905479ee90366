"""What the WhatsApp channel opens when the server starts and closes when it stops: the Twilio REST
client on the SDK's async HTTP client, the shared state, and the sender ids and address book."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlparse, urlunparse

from twilio.http import AsyncHttpClient
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.content import ContentLibrary
from bot.settings import Settings
from channels.identity import AddressBook, ChannelKeys, SenderIdentity
from channels.platform import ChannelState

__all__ = ["WhatsAppRuntime", "open_runtime", "close_runtime"]

logger = logging.getLogger(__name__)

DEFAULT_API = "https://api.twilio.com"
TWILIO_TIMEOUT = 15.0


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
class WhatsAppRuntime:
    client: Client
    http: AsyncHttpClient
    channel: ChannelState
    identity: SenderIdentity
    addresses: AddressBook
    sender_from: str
    status_callback: str
    library: ContentLibrary
    default_language: str


async def open_runtime(
    settings: Settings, keys: ChannelKeys, http_client: Optional[Callable[[], AsyncHttpClient]], name: str
) -> WhatsAppRuntime:
    """Open the Twilio HTTP client (``http_client()``, else ``AsyncTwilioHttpClient``) and the
    shared state; Twilio's status callbacks for what is sent go to ``/webhooks/<name>/status``."""
    http = http_client() if http_client else AsyncTwilioHttpClient(timeout=TWILIO_TIMEOUT)
    client = _RebasedClient(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        http_client=http,
        api_base_url=settings.twilio_api_base_url,
    )
    channel = ChannelState.open(name, settings.redis_url)
    if channel.state.redis is None:
        logger.warning("whatsapp.addresses.memory_only (set REDIS_URL so pushes survive a restart)")
    return WhatsAppRuntime(
        client=client,
        http=http,
        channel=channel,
        identity=SenderIdentity(keys.sender_id_key, "wa"),
        addresses=AddressBook(channel.state, keys.address_cipher),
        sender_from=settings.twilio_whatsapp_from or "",
        status_callback=f"{settings.public_base_url}/webhooks/{name}/status",
        library=ContentLibrary.load(settings.data_dir),
        default_language=settings.default_language,
    )


async def close_runtime(runtime: WhatsAppRuntime) -> None:
    """Close the HTTP client (the messages in hand are finished first, by ``ChannelState.close``)."""
    close = getattr(runtime.http, "close", None)
    if close is not None:
        await close()

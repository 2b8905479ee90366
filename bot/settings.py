"""One frozen settings object, read from the environment once.

Nothing here does I/O at import time; ``get_settings()`` reads the environment on first use and
tests call ``get_settings.cache_clear()`` after changing it.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from bot.hours import CounselorHours

__all__ = [
    "Settings",
    "get_settings",
    "handover_token",
    "write_dev_handover_token",
    "PROJECT_ROOT",
    "REQUEST_MAX_BYTES",
    "sanic_limits",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _origins(name: str) -> Tuple[str, ...]:
    """Exact ``scheme://host[:port]`` origins; "*" is refused, since it would let any site talk to
    the bot as its visitors."""
    found = []
    for item in re.split(r"[,\s]+", os.environ.get(name, "")):
        origin = item.strip().rstrip("/")
        if not origin:
            continue
        if not _ORIGIN.match(origin):
            raise ValueError(f"{name} takes origins like https://www.example.gov, got {origin!r}")
        found.append(origin)
    return tuple(found)


def _networks(name: str) -> Tuple[str, ...]:
    """IP addresses or networks (``10.0.0.5``, ``10.1.0.0/24``), checked when the settings are read."""
    import ipaddress

    found = []
    for item in re.split(r"[,\s]+", os.environ.get(name, "")):
        if item.strip():
            try:
                found.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError:
                raise ValueError(f"{name} takes IP addresses or networks, got {item.strip()!r}") from None
    return tuple(found)


@dataclass(frozen=True)
class Settings:
    """Deployment settings. Every field comes from the environment variable named in brackets."""

    environment: str = "development"  # [AMAAN_ENV] development | production
    default_language: str = "ar"  # [DEFAULT_LANGUAGE] replies before the user's language is known
    max_message_chars: int = 2000  # [MAX_MESSAGE_CHARS] longer messages get a polite refusal
    rest_token: Optional[str] = None  # [REST_CHANNEL_TOKEN] bearer token the REST channel requires
    rasa_api_token: Optional[str] = None  # [RASA_API_TOKEN] turns on Rasa's HTTP API, behind this token
    redis_url: Optional[str] = None  # [REDIS_URL] shared state across replicas; in-memory without
    action_server_url: str = "http://localhost:5055/webhook"  # [ACTION_SERVER_URL]
    # [ACTION_SERVER_TOKEN] the secret the Rasa server shows the action server (>= 32 characters);
    # dev: `make run` writes .run/action_server.token
    action_server_token: Optional[str] = field(default=None, repr=False)
    action_server_host: str = "127.0.0.1"  # [ACTION_SERVER_HOST] interface the action server listens on
    model_cache_dir: Path = Path.home() / ".cache" / "amaan" / "models"  # [AMAAN_MODEL_DIR]
    data_dir: Path = PROJECT_ROOT / "data"  # [AMAAN_DATA_DIR]
    # [WEB_ALLOWED_ORIGINS] comma-separated origins that may open the web widget's socket; empty
    # means the bot's own origin only (python-socketio's same-origin check)
    web_allowed_origins: Tuple[str, ...] = ()
    public_base_url: Optional[str] = None  # [PUBLIC_BASE_URL] public https origin that Telegram and Twilio call
    # [TELEGRAM_BOT_TOKEN] from BotFather
    telegram_bot_token: Optional[str] = field(default=None, repr=False)
    # [TELEGRAM_WEBHOOK_SECRET] 1-256 of A-Z a-z 0-9 _ -
    telegram_webhook_secret: Optional[str] = field(default=None, repr=False)
    telegram_api_base_url: str = "https://api.telegram.org"  # [TELEGRAM_API_BASE_URL]
    twilio_account_sid: Optional[str] = None  # [TWILIO_ACCOUNT_SID]
    # [TWILIO_AUTH_TOKEN] also verifies X-Twilio-Signature
    twilio_auth_token: Optional[str] = field(default=None, repr=False)
    twilio_whatsapp_from: Optional[str] = None  # [TWILIO_WHATSAPP_FROM] e.g. whatsapp:+14155238886
    twilio_api_base_url: str = "https://api.twilio.com"  # [TWILIO_API_BASE_URL]
    # [SENDER_ID_KEY] keys the hash that replaces phone numbers
    sender_id_key: Optional[str] = field(default=None, repr=False)
    # [ADDRESS_ENCRYPTION_KEY] Fernet key(s), comma-separated
    address_encryption_key: Optional[str] = field(default=None, repr=False)
    # Reporting and cases (docs/REPORTING.md).
    database_url: Optional[str] = field(default=None, repr=False)  # [DATABASE_URL] cases; SQLite .run/cases.db without
    # [CASE_ENCRYPTION_KEYS] Fernet keys, comma-separated, newest first
    case_encryption_keys: Optional[str] = field(default=None, repr=False)
    cases_stream: str = "amaan:cases"  # [CASES_STREAM] Redis stream of case events (needs REDIS_URL)
    case_retention_days: int = 90  # [CASE_RETENTION_DAYS] closed cases are purged after this many days
    conversation_retention_days: int = 30  # [CONVERSATION_RETENTION_DAYS] idle conversations are forgotten
    counselor_telegram_chat_id: Optional[str] = None  # [COUNSELOR_TELEGRAM_CHAT_ID] group for case notices
    # [COUNSELOR_TELEGRAM_BOT_TOKEN] bot that posts the notices (default TELEGRAM_BOT_TOKEN)
    counselor_telegram_bot_token: Optional[str] = field(default=None, repr=False)
    # Counselor hand-over (issue 4): the console delivers counselors' messages through the Rasa server.
    # [HANDOVER_TOKEN] bearer token of POST /webhooks/handover/deliver; dev: `make run` writes .run/handover.token
    handover_token: Optional[str] = field(default=None, repr=False)
    rasa_server_url: str = "http://localhost:5005"  # [RASA_SERVER_URL] where the console reaches the Rasa server
    # [COUNSELOR_HOURS] when counselors are on duty, e.g. "Sun-Thu 08:00-20:00; Sat 10:00-14:00"
    counselor_hours: str = "Sun-Sat 00:00-24:00"
    counselor_timezone: str = "Asia/Riyadh"  # [COUNSELOR_TIMEZONE] IANA zone of COUNSELOR_HOURS
    # The counselor console (docs/CONSOLE.md).
    console_port: int = 8080  # [CONSOLE_PORT]
    # [CONSOLE_SECRET_KEY] Fernet key that encrypts the console's session cookie; required in
    # production, in development `make run` keeps one in .run/console.key
    console_secret_key: Optional[str] = field(default=None, repr=False)
    console_idle_minutes: int = 30  # [CONSOLE_IDLE_MINUTES] a session without a request ends after this
    # [CONSOLE_PUBLIC_URL] the console's public origin, e.g. https://console.example.gov; cookies are
    # Secure unless this is plain http in development (the default in development is http://localhost)
    console_public_url: Optional[str] = None
    # [CONSOLE_TRUSTED_PROXIES] addresses or networks of the reverse proxies in front of the console,
    # comma-separated (e.g. "10.0.0.5, 10.1.0.0/24"); only their X-Forwarded-For is believed
    console_trusted_proxies: Tuple[str, ...] = ()
    # Campaigns (docs/CAMPAIGNS.md): delivery pacing, quiet hours and the worker's broker.
    campaign_quiet_hours: str = "21:00-07:00"  # [CAMPAIGN_QUIET_HOURS] local time; empty turns it off
    campaign_timezone: str = "Asia/Riyadh"  # [CAMPAIGN_TIMEZONE] subscribers' default IANA zone
    campaign_telegram_rate: float = 25.0  # [CAMPAIGN_TELEGRAM_RATE] messages/s over all chats
    campaign_whatsapp_rate: float = 10.0  # [CAMPAIGN_WHATSAPP_RATE] messages/s per Twilio sender
    campaign_heartbeat_ms: int = 60_000  # [CAMPAIGN_HEARTBEAT_MS] a dead worker's jobs return after this
    campaign_worker_nice: int = 10  # [CAMPAIGN_WORKER_NICE] the workers' CPU priority below the servers' (0: same)
    # Anonymous analytics (docs/ANALYTICS.md): daily counters in the case database.
    analytics_enabled: bool = True  # [ANALYTICS_ENABLED] 0 turns counting off (make bench compares)
    analytics_flush_seconds: float = 5.0  # [ANALYTICS_FLUSH_SECONDS] how often counters are written

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def hours(self) -> CounselorHours:
        """``COUNSELOR_HOURS`` in ``COUNSELOR_TIMEZONE`` (already checked when the settings were read)."""
        return CounselorHours.parse(self.counselor_hours, self.counselor_timezone)

    @property
    def rest_enabled(self) -> bool:
        """The REST channel lets whoever names a sender id read that user's replies, so in
        production it is on only behind a token."""
        return not self.production or bool(self.rest_token)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_webhook_secret)

    @property
    def whatsapp_enabled(self) -> bool:
        return bool(
            self.twilio_account_sid and self.twilio_auth_token and self.twilio_whatsapp_from and self.public_base_url
        )

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        language = env.get("DEFAULT_LANGUAGE", "ar").strip().lower() or "ar"
        if language not in ("ar", "en"):
            raise ValueError(f"DEFAULT_LANGUAGE must be 'ar' or 'en', got {language!r}")
        environment = env.get("AMAAN_ENV", "development").strip().lower() or "development"
        if environment not in ("development", "production"):
            raise ValueError(f"AMAAN_ENV must be 'development' or 'production', got {environment!r}")
        _check_production_secrets(environment, env)
        return cls(
            environment=environment,
            default_language=language,
            max_message_chars=_int("MAX_MESSAGE_CHARS", 2000),
            rest_token=env.get("REST_CHANNEL_TOKEN") or None,
            rasa_api_token=env.get("RASA_API_TOKEN") or None,
            redis_url=env.get("REDIS_URL") or None,
            action_server_url=env.get("ACTION_SERVER_URL", cls.action_server_url),
            action_server_token=(env.get("ACTION_SERVER_TOKEN") or "").strip() or None,
            action_server_host=(env.get("ACTION_SERVER_HOST") or "").strip() or cls.action_server_host,
            model_cache_dir=Path(env.get("AMAAN_MODEL_DIR") or cls.model_cache_dir).expanduser(),
            data_dir=Path(env.get("AMAAN_DATA_DIR") or cls.data_dir),
            web_allowed_origins=_origins("WEB_ALLOWED_ORIGINS"),
            public_base_url=(env.get("PUBLIC_BASE_URL") or "").strip().rstrip("/") or None,
            telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
            telegram_api_base_url=(env.get("TELEGRAM_API_BASE_URL") or cls.telegram_api_base_url).rstrip("/"),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM") or None,
            twilio_api_base_url=(env.get("TWILIO_API_BASE_URL") or cls.twilio_api_base_url).rstrip("/"),
            sender_id_key=env.get("SENDER_ID_KEY") or None,
            address_encryption_key=env.get("ADDRESS_ENCRYPTION_KEY") or None,
            database_url=env.get("DATABASE_URL") or None,
            case_encryption_keys=env.get("CASE_ENCRYPTION_KEYS") or None,
            cases_stream=env.get("CASES_STREAM") or cls.cases_stream,
            case_retention_days=_int("CASE_RETENTION_DAYS", cls.case_retention_days),
            conversation_retention_days=_int("CONVERSATION_RETENTION_DAYS", cls.conversation_retention_days),
            counselor_telegram_chat_id=env.get("COUNSELOR_TELEGRAM_CHAT_ID") or None,
            counselor_telegram_bot_token=env.get("COUNSELOR_TELEGRAM_BOT_TOKEN") or None,
            **_handover_settings(env),
            console_port=_int("CONSOLE_PORT", cls.console_port),
            console_secret_key=env.get("CONSOLE_SECRET_KEY") or None,
            console_idle_minutes=_int("CONSOLE_IDLE_MINUTES", cls.console_idle_minutes),
            console_public_url=(env.get("CONSOLE_PUBLIC_URL") or "").strip().rstrip("/") or None,
            console_trusted_proxies=_networks("CONSOLE_TRUSTED_PROXIES"),
            **_campaign_settings(env),
            analytics_enabled=(env.get("ANALYTICS_ENABLED") or "1").strip().lower() not in ("0", "false", "no", "off"),
            analytics_flush_seconds=float(env.get("ANALYTICS_FLUSH_SECONDS") or cls.analytics_flush_seconds),
        )


def _check_production_secrets(environment: str, env: Mapping[str, str]) -> None:
    """In production, refuse to start with a guessable Telegram webhook secret (the only thing that
    tells Telegram's calls from an attacker's); HANDOVER_TOKEN is checked in any environment."""
    secret = (env.get("TELEGRAM_WEBHOOK_SECRET") or "").strip()
    if environment == "production" and secret and len(secret) < MIN_WEBHOOK_SECRET_CHARS:
        raise ValueError(
            f"TELEGRAM_WEBHOOK_SECRET must be at least {MIN_WEBHOOK_SECRET_CHARS} characters in production"
        )


def sanic_limits() -> Dict[str, str]:
    """The environment that sets the Rasa server's Sanic limits (Sanic reads ``SANIC_*`` when the
    app is made, whichever channels are configured)."""
    return {"SANIC_REQUEST_MAX_SIZE": str(REQUEST_MAX_BYTES), "SANIC_WEBSOCKET_MAX_SIZE": str(REQUEST_MAX_BYTES)}


def _campaign_settings(env: Mapping[str, str]) -> Dict[str, Any]:
    from bot.campaigns.quiet import QuietHours  # checked at start, not when a tip is due

    quiet = env.get("CAMPAIGN_QUIET_HOURS", Settings.campaign_quiet_hours).strip()
    zone = (env.get("CAMPAIGN_TIMEZONE") or "").strip() or Settings.campaign_timezone
    QuietHours.parse(quiet, zone)
    rates = {}
    for field_name, name, default in (
        ("campaign_telegram_rate", "CAMPAIGN_TELEGRAM_RATE", Settings.campaign_telegram_rate),
        ("campaign_whatsapp_rate", "CAMPAIGN_WHATSAPP_RATE", Settings.campaign_whatsapp_rate),
    ):
        raw = (env.get(name) or "").strip()
        try:
            rates[field_name] = float(raw) if raw else default
        except ValueError:
            raise ValueError(f"{name} must be a number of messages per second, got {raw!r}") from None
        if rates[field_name] <= 0:
            raise ValueError(f"{name} must be above 0")
    return {
        "campaign_quiet_hours": quiet,
        "campaign_timezone": zone,
        "campaign_heartbeat_ms": _int("CAMPAIGN_HEARTBEAT_MS", Settings.campaign_heartbeat_ms),
        "campaign_worker_nice": min(19, max(0, _int("CAMPAIGN_WORKER_NICE", Settings.campaign_worker_nice))),
        **rates,
    }


def _handover_settings(env: Mapping[str, str]) -> Dict[str, Any]:
    hours = (env.get("COUNSELOR_HOURS") or "").strip() or Settings.counselor_hours
    zone = (env.get("COUNSELOR_TIMEZONE") or "").strip() or Settings.counselor_timezone
    CounselorHours.parse(hours, zone)  # a wrong value stops the server at start, not at a child's request
    token = (env.get("HANDOVER_TOKEN") or "").strip() or None
    if token is not None and len(token) < MIN_HANDOVER_TOKEN_CHARS:
        raise ValueError(f"HANDOVER_TOKEN must be at least {MIN_HANDOVER_TOKEN_CHARS} characters")
    port = (env.get("PORT") or "").strip() or "5005"
    url = (env.get("RASA_SERVER_URL") or "").strip().rstrip("/") or f"http://localhost:{port}"
    return {"handover_token": token, "rasa_server_url": url, "counselor_hours": hours, "counselor_timezone": zone}


MIN_HANDOVER_TOKEN_CHARS = 32
MIN_WEBHOOK_SECRET_CHARS = 32  # TELEGRAM_WEBHOOK_SECRET, in production

# The largest request body the Rasa server reads (Sanic's REQUEST_MAX_SIZE, default 100 MB) and the
# largest WebSocket message: every channel's own limit is 64 KB (REST, the widget's socket.io, Twilio
# and Telegram bodies are a few KB), so anything past this is refused with 413 before it is read.
REQUEST_MAX_BYTES = 256 * 1024
HANDOVER_TOKEN_FILE = "handover.token"  # noqa: S105 - a file name, not a secret


def handover_token(settings: Settings, run_dir: Optional[Path] = None) -> Optional[str]:
    """The bearer token of the hand-over delivery endpoint, for the Rasa server and the console.

    ``HANDOVER_TOKEN``; outside production only, the one ``make run`` wrote into
    ``.run/handover.token``. None when there is neither (the endpoint then refuses everything).
    """
    if settings.handover_token:
        return settings.handover_token
    if settings.production:
        return None
    path = (run_dir or PROJECT_ROOT / ".run") / HANDOVER_TOKEN_FILE
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return token if len(token) >= MIN_HANDOVER_TOKEN_CHARS else None


def write_dev_handover_token(run_dir: Path) -> Path:
    """Create ``.run/handover.token`` (owner-only) unless it exists; ``make run`` calls it in development."""
    path = run_dir / HANDOVER_TOKEN_FILE
    if path.exists():
        return path
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path  # another process made it first
    with os.fdopen(descriptor, "w", encoding="utf-8") as f:
        f.write(secrets.token_urlsafe(32))
    return path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings.from_env()

"""Everything the console needs, resolved from settings once when it starts: the case store, the
console's own tables, the session key, the delivery endpoint and its token."""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Optional, Tuple

from argon2 import PasswordHasher
from cryptography.fernet import Fernet

from bot.cases.crypto import CaseCipher
from bot.cases.desk import RUN_DIR, case_keys, database_url
from bot.cases.events import CaseEvents
from bot.cases.handover import Handovers
from bot.cases.models import utcnow
from bot.cases.store import CaseStore, engine_for
from bot.console.accounts import Accounts
from bot.console.audit import AuditLog
from bot.console.ratelimit import LoginLimiter
from bot.console.schema import migrate_console
from bot.console.sessions import SessionStore
from bot.settings import Settings

__all__ = ["ConsoleConfig", "Console", "console_secret_key", "presence_for", "ConsoleConfigError"]

logger = logging.getLogger(__name__)

SECRET_KEY_FILE = "console.key"  # noqa: S105 - a file name
HANDOVER_TOKEN_FILE = "handover.token"  # noqa: S105 - a file name


class ConsoleConfigError(RuntimeError):
    """The console cannot start as configured (a missing key in production, for example)."""


def console_secret_key(settings: Settings, run_dir: Path = RUN_DIR) -> str:
    """``CONSOLE_SECRET_KEY``; in development a key kept in ``.run/console.key`` (created, mode 0600)."""
    if settings.console_secret_key:
        try:
            Fernet(settings.console_secret_key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ConsoleConfigError("CONSOLE_SECRET_KEY is not a Fernet key (python -m bot new-key)") from None
        return settings.console_secret_key
    if settings.production:
        raise ConsoleConfigError("CONSOLE_SECRET_KEY is required in production (python -m bot new-key)")
    path = run_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    run_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    return key


def _handover_token(settings: Settings, run_dir: Path) -> Optional[str]:
    """The delivery endpoint's token: the settings field the Rasa-server side adds, ``HANDOVER_TOKEN``,
    or in development the file ``make run`` leaves in ``.run/handover.token``."""
    token = getattr(settings, "handover_token", None) or os.environ.get("HANDOVER_TOKEN")
    if not token and not settings.production and (run_dir / HANDOVER_TOKEN_FILE).exists():
        token = (run_dir / HANDOVER_TOKEN_FILE).read_text(encoding="ascii").strip()
    return token or None


def _rasa_server_url(settings: Settings) -> str:
    url = getattr(settings, "rasa_server_url", None) or os.environ.get("RASA_SERVER_URL")
    return str(url or f"http://localhost:{os.environ.get('PORT') or 5005}").rstrip("/")


def _secure_cookies(settings: Settings) -> bool:
    """Secure cookies, except for a plain-http console in development."""
    if settings.production:
        return True
    return bool(settings.console_public_url and settings.console_public_url.startswith("https://"))


@dataclass
class ConsoleConfig:
    database_url: str
    case_keys: list
    secret_key: str
    delivery_url: str
    delivery_token: Optional[str]
    idle: timedelta = timedelta(minutes=30)
    secure_cookies: bool = True
    redis_url: Optional[str] = None
    cases_stream: str = "amaan:cases"
    default_language: str = "ar"
    data_dir: Path = Path("data")
    poll_interval: float = 1.0  # seconds between the SSE handlers' looks at the database
    heartbeat: float = 15.0  # seconds between SSE keep-alives (presence touch, session check)
    clock: Callable[[], datetime] = field(default=utcnow)
    hasher: Optional[PasswordHasher] = None
    trusted_proxies: Tuple[str, ...] = ()  # CONSOLE_TRUSTED_PROXIES: whose X-Forwarded-For is believed

    @classmethod
    def from_settings(cls, settings: Settings, run_dir: Path = RUN_DIR) -> ConsoleConfig:
        keys = case_keys(settings, run_dir)
        if not keys:
            raise ConsoleConfigError("no case encryption key (CASE_ENCRYPTION_KEYS): the console cannot read cases")
        return cls(
            database_url=database_url(settings, run_dir),
            case_keys=keys,
            secret_key=console_secret_key(settings, run_dir),
            delivery_url=_rasa_server_url(settings),
            delivery_token=_handover_token(settings, run_dir),
            idle=timedelta(minutes=settings.console_idle_minutes),
            secure_cookies=_secure_cookies(settings),
            redis_url=settings.redis_url,
            cases_stream=settings.cases_stream,
            default_language=settings.default_language,
            data_dir=settings.data_dir,
            trusted_proxies=settings.console_trusted_proxies,
        )


def presence_for(store: CaseStore) -> Any:
    """``bot.cases.availability.Presence(store)``, built by the Rasa-server side of the hand-over;
    None while that module is not there (the console works without it)."""
    try:
        module = importlib.import_module("bot.cases.availability")
    except ImportError:
        return None
    return module.Presence(store)


class Console:
    """The console's services, over one database engine."""

    def __init__(self, config: ConsoleConfig):
        self.config = config
        self.store = CaseStore(engine_for(config.database_url), CaseCipher(config.case_keys), clock=config.clock)
        engine = self.store.engine
        self.handovers = Handovers(self.store)
        self.accounts = Accounts(engine, config.hasher, clock=config.clock)
        self.audit = AuditLog(engine, clock=config.clock)
        self.limiter = LoginLimiter(engine, clock=config.clock)
        self.sessions = SessionStore(engine, config.idle, clock=config.clock)
        self.events = CaseEvents(config.redis_url, config.cases_stream)
        self.presence = presence_for(self.store)

    def migrate(self) -> None:
        self.store.migrate()
        migrate_console(self.store.engine)

    def close(self) -> None:
        self.events.close()
        self.store.close()

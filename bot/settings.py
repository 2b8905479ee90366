"""One frozen settings object, read from the environment once.

Nothing here does I/O at import time; ``get_settings()`` reads the environment on first use and
tests call ``get_settings.cache_clear()`` after changing it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

__all__ = ["Settings", "get_settings", "PROJECT_ROOT"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


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
    model_cache_dir: Path = Path.home() / ".cache" / "amaan" / "models"  # [AMAAN_MODEL_DIR]
    data_dir: Path = PROJECT_ROOT / "data"  # [AMAAN_DATA_DIR]

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def rest_enabled(self) -> bool:
        """The REST channel lets whoever names a sender id read that user's replies, so in
        production it is on only behind a token."""
        return not self.production or bool(self.rest_token)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        language = env.get("DEFAULT_LANGUAGE", "ar").strip().lower() or "ar"
        if language not in ("ar", "en"):
            raise ValueError(f"DEFAULT_LANGUAGE must be 'ar' or 'en', got {language!r}")
        environment = env.get("AMAAN_ENV", "development").strip().lower() or "development"
        if environment not in ("development", "production"):
            raise ValueError(f"AMAAN_ENV must be 'development' or 'production', got {environment!r}")
        return cls(
            environment=environment,
            default_language=language,
            max_message_chars=_int("MAX_MESSAGE_CHARS", 2000),
            rest_token=env.get("REST_CHANNEL_TOKEN") or None,
            rasa_api_token=env.get("RASA_API_TOKEN") or None,
            redis_url=env.get("REDIS_URL") or None,
            action_server_url=env.get("ACTION_SERVER_URL", cls.action_server_url),
            model_cache_dir=Path(env.get("AMAAN_MODEL_DIR") or cls.model_cache_dir).expanduser(),
            data_dir=Path(env.get("AMAAN_DATA_DIR") or cls.data_dir),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings.from_env()

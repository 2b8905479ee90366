"""Where the tests find Redis and PostgreSQL: ``TEST_REDIS_URL`` and ``TEST_DATABASE_URL``.

Defaults are the services of a developer machine (Redis 127.0.0.1:6379, PostgreSQL 127.0.0.1:5432
with trust authentication). When one does not answer, ``conftest.py`` starts a throwaway one
(``bot.services``) before the tests are collected and puts its URL in these variables, so every
test reads them at call or import time, never a hard-coded address.
"""

from __future__ import annotations

import os
from typing import Optional, Tuple
from urllib.parse import urlparse, urlunparse

__all__ = ["DEFAULT_DATABASE_URL", "DEFAULT_REDIS_URL", "postgres_url", "redis_address", "redis_url"]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def redis_url(db: Optional[int] = None) -> str:
    """The tests' Redis, on database ``db`` when given (tests keep to their own numbers)."""
    url = os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL
    if db is None:
        return url
    return urlunparse(urlparse(url)._replace(path=f"/{db}"))


def redis_address() -> Tuple[str, int]:
    """(host, port) of the tests' Redis, for stores that take them apart."""
    parsed = urlparse(redis_url())
    return parsed.hostname or "127.0.0.1", parsed.port or 6379


def postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_DATABASE_URL

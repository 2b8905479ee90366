"""``make test`` on a fresh machine: throwaway Redis and PostgreSQL when none answers (bot/services.py).

The machine's own services are never touched: these point at ports where nothing listens.
"""

from __future__ import annotations

import psycopg2
import redis

from bot.services import ensure_postgres, ensure_redis, free_port, postgres_reachable, redis_reachable
from bot.settings import PROJECT_ROOT
from tests.services import postgres_url, redis_url


def test_a_redis_that_answers_is_used_as_it_is() -> None:
    service = ensure_redis(redis_url(), PROJECT_ROOT)
    assert service.url == redis_url() and not service.started_here
    service.stop()  # does nothing to a service it did not start
    assert redis_reachable(redis_url())


def test_without_redis_a_throwaway_one_is_started_and_stopped() -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/5"
    assert not redis_reachable(nowhere)
    service = ensure_redis(nowhere, PROJECT_ROOT)
    try:
        assert service.started_here and service.url.endswith("/5") and service.url != nowhere
        client = redis.Redis.from_url(service.url)
        assert client.set("amaan:probe", "1") and client.get("amaan:probe") == b"1"
    finally:
        service.stop()
    assert not redis_reachable(service.url)
    assert service.directory is not None and not service.directory.exists()


def test_without_postgresql_a_throwaway_one_is_started_with_the_database_and_stopped() -> None:
    assert postgres_reachable(postgres_url())
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/amaan_fresh"
    assert not postgres_reachable(nowhere)
    service = ensure_postgres(nowhere, PROJECT_ROOT)
    try:
        assert service.started_here and service.url.endswith("/amaan_fresh")
        with psycopg2.connect(service.url) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone() == ("amaan_fresh",)
    finally:
        service.stop()
    assert not postgres_reachable(service.url)
    assert postgres_reachable(postgres_url())  # the machine's own server is still there

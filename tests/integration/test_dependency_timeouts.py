"""Every call to PostgreSQL and Redis is bounded: against a server that accepts connections
and never answers, the driver gives up after its timeouts instead of waiting for good; the
timeouts can be overridden from the URL."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from lily_adapters.queue.redis import SOCKET_CONNECT_TIMEOUT, SOCKET_TIMEOUT, RedisJitterQueue
from lily_adapters.sql.uow import (
    PG_CONNECT_TIMEOUT_S,
    PG_STATEMENT_TIMEOUT_MS,
    POOL_TIMEOUT_S,
    create_engine_for,
)
from lily_core.ports.queue import QueueUnavailable
from tests.faults import SilentServer


def test_a_hung_postgresql_fails_the_connection_after_connect_timeout() -> None:
    with SilentServer() as hung:
        engine = create_engine_for(f"postgresql+psycopg://postgres@127.0.0.1:{hung.port}/lily")
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="timeout"), engine.connect():
            pass
        elapsed = time.monotonic() - started
        engine.dispose()
    print(f"\nhung PostgreSQL: connection given up after {elapsed:.1f} s")
    assert elapsed < 3 * PG_CONNECT_TIMEOUT_S  # bounded (not forever)


def test_a_hung_redis_is_queue_unavailable_after_its_socket_timeouts() -> None:
    with SilentServer() as hung:
        queue = RedisJitterQueue.from_url(f"redis://127.0.0.1:{hung.port}/0")
        started = time.monotonic()
        with pytest.raises(QueueUnavailable, match="Timeout"):
            queue.stats()
        elapsed = time.monotonic() - started
        queue.close()
    print(f"\nhung Redis: QueueUnavailable after {elapsed:.1f} s")
    assert elapsed < 3 * (SOCKET_CONNECT_TIMEOUT + SOCKET_TIMEOUT)  # bounded (not forever)


def test_postgresql_urls_get_connect_statement_and_pool_timeouts() -> None:
    engine = create_engine_for("postgresql+psycopg://lily@db.internal/lily")
    assert engine.url.query["connect_timeout"] == str(PG_CONNECT_TIMEOUT_S)
    assert engine.url.query["options"] == f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS}"
    assert engine.pool.timeout() == POOL_TIMEOUT_S  # type: ignore[attr-defined]


def test_timeouts_already_in_the_url_win_and_other_options_are_kept() -> None:
    url = "postgresql+psycopg://lily@db/lily?connect_timeout=10&options=-c%20statement_timeout%3D0"
    query = create_engine_for(url).url.query
    assert (query["connect_timeout"], query["options"]) == ("10", "-c statement_timeout=0")
    query = create_engine_for(
        "postgresql+psycopg://lily@db/lily?options=-csearch_path%3Dx"
    ).url.query
    assert query["options"] == f"-csearch_path=x -c statement_timeout={PG_STATEMENT_TIMEOUT_MS}"


@pytest.mark.postgres
def test_the_statement_timeout_reaches_the_server(postgres_url: str) -> None:
    engine = create_engine_for(postgres_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "5s"
        with pytest.raises(sa.exc.OperationalError, match="statement timeout"):
            conn.exec_driver_sql("SET statement_timeout = 100")  # shortened, so the test is quick
            conn.exec_driver_sql("SELECT pg_sleep(1)")
    engine.dispose()


def test_redis_clients_get_timeouts_unless_the_url_sets_them() -> None:
    kwargs = RedisJitterQueue.from_url("redis://127.0.0.1:6379/0")._redis.get_connection_kwargs()
    assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (
        SOCKET_CONNECT_TIMEOUT,
        SOCKET_TIMEOUT,
    )
    assert kwargs["retry"].get_retries() == 1
    overridden = RedisJitterQueue.from_url("redis://127.0.0.1:6379/0?socket_timeout=9")
    assert overridden._redis.get_connection_kwargs()["socket_timeout"] == 9.0

"""Where the real services come from: LILY_TEST_DATABASE_URL / LILY_TEST_REDIS_URL when set
(CI sets them), else testcontainers when a Docker engine answers, else the tests that need
them skip — except under CI=true, where a missing service is a failure, not a skip."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


def _unavailable(what: str) -> None:
    message = f"{what} is not available: set LILY_TEST_{what.upper()}_URL or run Docker"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of an empty PostgreSQL database for this test session."""
    url = os.environ.get("LILY_TEST_DATABASE_URL")
    if url:
        yield url
        return
    try:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="psycopg") as pg:
            yield pg.get_connection_url()
    except Exception:  # no Docker engine: skip (or fail in CI)
        _unavailable("database")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis URL whose database the tests may flush."""
    url = os.environ.get("LILY_TEST_REDIS_URL")
    if url:
        yield url
        return
    try:
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as rc:
            host, port = rc.get_container_host_ip(), rc.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
    except Exception:  # no Docker engine: skip (or fail in CI)
        _unavailable("redis")

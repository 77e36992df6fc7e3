"""Where the real services come from, in this order:

1. `LILY_TEST_DATABASE_URL` / `LILY_TEST_REDIS_URL` when set (CI sets them);
2. the machine's own PostgreSQL and Redis on 127.0.0.1 (a fresh database is created for the
   session and dropped after it; Redis gets an empty database index, flushed after);
3. testcontainers, when a Docker engine answers.

When none of these can be had the tests that need the service fail and say so. Only an
explicit SQLite-only run (`pytest --sqlite-only`, or `LILY_TEST_SQLITE_ONLY=1`) skips them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any

import pytest

LOCAL_POSTGRES_URLS = (
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql://root@127.0.0.1:5432/postgres",
)
LOCAL_REDIS = "redis://127.0.0.1:6379"


@pytest.fixture(autouse=True)
def _plain_loguru() -> None:
    """Each test starts with loguru unpatched: `configure_logging` and the CLI's `run()`
    install the masking patcher process-wide, which would leak into the tests after them."""
    from loguru import logger

    logger.configure(patcher=lambda record: None)  # None would leave the patcher as it is


# The tests' keys of the fields encrypted at rest (fixed, so a test may compute what a
# ciphertext or blind index reads); a container built by a test installs its own.
TEST_ENCRYPTION_KEYS = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
TEST_BLIND_INDEX_KEY = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"


@pytest.fixture(autouse=True)
def _field_keys() -> None:
    """Each test starts with the tests' keys installed for the SQL adapter's encrypted
    columns, as the composition root installs the configured ones."""
    from lily_adapters.crypto import FieldCrypto
    from lily_adapters.sql.encrypted import install_field_crypto

    install_field_crypto(FieldCrypto.parse(TEST_ENCRYPTION_KEYS, TEST_BLIND_INDEX_KEY))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--sqlite-only",
        action="store_true",
        help="skip the tests that need PostgreSQL or Redis instead of failing without them",
    )


def _sqlite_only(config: pytest.Config) -> bool:
    return bool(config.getoption("--sqlite-only")) or os.environ.get("LILY_TEST_SQLITE_ONLY") in (
        "1",
        "true",
    )


def _unavailable(config: pytest.Config, what: str, tried: list[str]) -> None:
    message = (
        f"{what} is not available (tried: {'; '.join(tried)}). Set LILY_TEST_"
        f"{'DATABASE' if what == 'PostgreSQL' else 'REDIS'}_URL, start it on 127.0.0.1, run "
        "Docker, or ask for a SQLite-only run with --sqlite-only"
    )
    if _sqlite_only(config):
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def _local_postgres() -> tuple[str, Callable[[], None]] | None:
    """A fresh database on the machine's own PostgreSQL, and how to drop it."""
    import psycopg

    for admin_url in LOCAL_POSTGRES_URLS:
        try:
            admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=2)
        except psycopg.Error:
            continue
        name = f"lily_test_{uuid.uuid4().hex[:12]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        user = admin_url.split("//", 1)[1].split("@", 1)[0]

        def drop(admin: psycopg.Connection[Any] = admin, name: str = name) -> None:
            with suppress(psycopg.Error):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

        return f"postgresql+psycopg://{user}@127.0.0.1:5432/{name}", drop
    return None


def _local_redis() -> tuple[str, Callable[[], None]] | None:
    """An empty database index of the machine's own Redis, and how to flush it."""
    import redis

    client = redis.Redis.from_url(LOCAL_REDIS, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
        count = int(client.config_get("databases").get("databases", 16))
        for index in range(count - 1, 0, -1):  # from the last: the ones nobody else uses
            client.execute_command("SELECT", index)
            if client.dbsize() == 0:
                url = f"{LOCAL_REDIS}/{index}"
                return url, partial(_flush_redis, url)
    except redis.RedisError:
        return None
    finally:
        client.close()
    return None


def _flush_redis(url: str) -> None:
    import redis

    with redis.Redis.from_url(url, socket_timeout=2) as client:
        client.flushdb()


def _serve(local: tuple[str, Callable[[], None]]) -> Iterator[str]:
    url, cleanup = local
    try:
        yield url
    finally:
        with suppress(Exception):
            cleanup()


APP_ROLE = "lily_app"


def as_app_role(url: str) -> str:
    """`url`, connecting as the role Lily should run as in production: not a superuser, so
    that PostgreSQL's row-level security holds for it (a superuser passes every policy).
    The role is made if missing and given the database; the connection still logs
    in as `url`'s user and switches role at once (`-c role=`), which works with any auth."""
    import psycopg
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as admin:
        admin.execute(
            "DO $$ BEGIN"
            f" CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;"
            " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
        admin.execute(f'ALTER DATABASE "{parsed.database}" OWNER TO {APP_ROLE}')
        admin.execute(f"ALTER SCHEMA public OWNER TO {APP_ROLE}")
    options = f"{parsed.query.get('options', '')} -c role={APP_ROLE}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def in_schema(url: str, schema: str) -> str:
    """`url` with its tables looked up in (and made in) `schema`, keeping its other options
    (the role of `as_app_role`)."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    options = f"{parsed.query.get('options', '')} -csearch_path={schema}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def empty_database(request: pytest.FixtureRequest, tmp_path: Path, schema: str) -> Iterator[str]:
    """For a fixture with the params "sqlite" and "postgres": the URL of an empty database,
    a fresh SQLite file or a fresh `schema` of the PostgreSQL test database, dropped
    afterwards (so that suites sharing that database do not see each other's tables)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / schema}.db"
        return
    from lily_adapters.sql.uow import create_engine_for

    base: str = request.getfixturevalue("postgres_url")
    admin = create_engine_for(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield in_schema(base, schema)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """A SQLAlchemy URL of an empty PostgreSQL database for this test session, connecting
    as a role that row-level security applies to (see `as_app_role`)."""
    if _sqlite_only(pytestconfig):
        pytest.skip("a SQLite-only run (--sqlite-only)")
    url = os.environ.get("LILY_TEST_DATABASE_URL")
    if url:
        yield as_app_role(url)
        return
    local = _local_postgres()
    if local is not None:
        url, drop = local
        yield from _serve((as_app_role(url), drop))
        return
    try:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="psycopg") as pg:
            yield as_app_role(pg.get_connection_url())
            return
    except Exception as exc:  # no Docker engine
        docker = f"Docker: {type(exc).__name__}"
    _unavailable(pytestconfig, "PostgreSQL", ["LILY_TEST_DATABASE_URL", "127.0.0.1:5432", docker])


@pytest.fixture(scope="session")
def redis_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """A Redis URL whose database the tests may flush."""
    if _sqlite_only(pytestconfig):
        pytest.skip("a SQLite-only run (--sqlite-only)")
    url = os.environ.get("LILY_TEST_REDIS_URL")
    if url:
        yield url
        return
    local = _local_redis()
    if local is not None:
        yield from _serve(local)
        return
    try:
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as rc:
            host, port = rc.get_container_host_ip(), rc.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
            return
    except Exception as exc:  # no Docker engine
        docker = f"Docker: {type(exc).__name__}"
    _unavailable(pytestconfig, "Redis", ["LILY_TEST_REDIS_URL", "127.0.0.1:6379", docker])

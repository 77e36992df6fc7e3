"""The tenant cache of the webhooks (issue 17): an answer is kept for its TTL, and dropped
as soon as a tenant is committed, in this process and, through Redis, in the others."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from lily_adapters.sql import migrate
from lily_adapters.sql.uow import SqlUnitOfWork, create_engine_for, make_session_factory
from lily_adapters.tenant_cache import TenantCache, TenantChanges
from lily_core.testing import FakeClock
from lily_core.use_cases.tenants import OnboardTenant

PHONE = "+12145550100"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(url)
    engine = create_engine_for(url)
    yield engine
    engine.dispose()


def selects(engine: sa.Engine) -> list[str]:
    """The SELECTs `engine` runs from now on."""
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    return statements


def rename(engine: sa.Engine, changes: TenantChanges, name: str) -> None:
    """Another process's `lily tenant update`: its own session factory, its own changes."""
    factory = make_session_factory(engine)
    changes.watch(factory)
    uow = SqlUnitOfWork(factory)
    with uow.across_tenants():
        tenant = uow.tenants.get_by_phone(PHONE)
        assert tenant is not None
        tenant.name = name
        uow.commit()


def test_answers_come_from_the_cache_until_a_tenant_is_committed(engine: sa.Engine) -> None:
    changes = TenantChanges()
    factory = make_session_factory(engine)
    changes.watch(factory)
    cache = TenantCache(lambda: SqlUnitOfWork(factory), changes, ttl=60)
    statements = selects(engine)

    assert cache.get(phone=PHONE) is None  # no such tenant yet: that is cached too
    assert cache.peek(phone=PHONE) == (True, None)
    OnboardTenant(SqlUnitOfWork(factory), FakeClock())(name="Acme", phone=PHONE)
    assert cache.peek(phone=PHONE) == (False, None)  # the commit emptied the cache

    first = cache.get(phone=PHONE)
    assert first is not None and first.name == "Acme"
    reads = len(statements)
    assert cache.get(phone=PHONE) is first
    assert cache.get(slug="acme") is not None and cache.get(slug="acme") is not None
    assert len(statements) == reads + 1  # the slug's first lookup only

    uow = SqlUnitOfWork(factory)
    with uow.across_tenants():  # a read that changes nothing keeps the cache
        uow.tenants.list()
        uow.commit()
    assert cache.peek(phone=PHONE) == (True, first)

    rename(engine, changes, "Acme Wash")  # the same process, another unit of work
    renamed = cache.get(phone=PHONE)
    assert renamed is not None and renamed.name == "Acme Wash"


def test_a_zero_ttl_reads_the_database_every_time(engine: sa.Engine) -> None:
    factory = make_session_factory(engine)
    OnboardTenant(SqlUnitOfWork(factory), FakeClock())(name="Acme", phone=PHONE)
    cache = TenantCache(lambda: SqlUnitOfWork(factory), TenantChanges(), ttl=0)
    statements = selects(engine)
    for _ in range(3):
        assert cache.get(phone=PHONE) is not None
    assert cache.peek(phone=PHONE) == (False, None)
    assert len(statements) == 3


def test_the_ttl_bounds_how_long_a_change_elsewhere_goes_unseen_without_redis(
    engine: sa.Engine,
) -> None:
    factory = make_session_factory(engine)
    OnboardTenant(SqlUnitOfWork(factory), FakeClock())(name="Acme", phone=PHONE)
    cache = TenantCache(lambda: SqlUnitOfWork(factory), TenantChanges(), ttl=0.5)
    assert cache.get(phone=PHONE).name == "Acme"  # type: ignore[union-attr]
    rename(engine, TenantChanges(), "Acme Wash")  # another process, no Redis between them
    assert cache.get(phone=PHONE).name == "Acme"  # type: ignore[union-attr]
    time.sleep(0.6)
    assert cache.get(phone=PHONE).name == "Acme Wash"  # type: ignore[union-attr]


@pytest.mark.redis
def test_with_redis_a_commit_in_one_process_empties_the_others_caches(
    engine: sa.Engine, redis_url: str
) -> None:
    factory = make_session_factory(engine)
    OnboardTenant(SqlUnitOfWork(factory), FakeClock())(name="Acme", phone=PHONE)
    here, there = TenantChanges(redis_url), TenantChanges(redis_url)
    try:
        cache = TenantCache(lambda: SqlUnitOfWork(factory), here, ttl=3600)
        deadline = time.monotonic() + 5
        while cache.peek(phone=PHONE) == (False, None) and time.monotonic() < deadline:
            cache.get(phone=PHONE)  # the listener empties it once on subscribing
            time.sleep(0.05)
        assert cache.get(phone=PHONE).name == "Acme"  # type: ignore[union-attr]

        rename(engine, there, "Acme Wash")  # "there" publishes the change

        deadline = time.monotonic() + 5
        while cache.peek(phone=PHONE)[0] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cache.get(phone=PHONE).name == "Acme Wash"  # type: ignore[union-attr]
    finally:
        here.close()
        there.close()


@pytest.mark.redis
def test_the_listener_survives_losing_redis_and_empties_the_cache_when_back(
    engine: sa.Engine, redis_url: str
) -> None:
    import redis

    factory = make_session_factory(engine)
    OnboardTenant(SqlUnitOfWork(factory), FakeClock())(name="Acme", phone=PHONE)
    changes = TenantChanges(redis_url)
    try:
        cache = TenantCache(lambda: SqlUnitOfWork(factory), changes, ttl=3600)
        time.sleep(0.5)  # subscribed
        assert cache.get(phone=PHONE) is not None
        admin = redis.Redis.from_url(redis_url)
        for client in admin.client_list():
            if client.get("name") == "" and "subscribe" in client.get("cmd", ""):
                admin.client_kill_filter(_id=client["id"])
        deadline = time.monotonic() + 10  # back after a second of back-off, and empties it
        while cache.peek(phone=PHONE)[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cache.peek(phone=PHONE) == (False, None)
        admin.close()
    finally:
        changes.close()

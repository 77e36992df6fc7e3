"""The SMS usage counter (SmsUsageRepository) on the fake, SQLite and PostgreSQL; and on the
real databases, its atomicity: writers racing at the allowance never count past it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from lily_adapters.sql.uow import SqlUnitOfWork, make_session_factory
from lily_core.ports.repositories import UnitOfWork
from lily_core.testing import InMemoryDatabase, InMemoryUnitOfWork
from tests.contract.dashboard_backends import postgres_engine, sqlite_engine
from tests.contract.test_unit_of_work import tenant

__all__ = ["postgres_engine", "sqlite_engine"]  # fixtures

PERIOD = "2026-06"


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_uow(request: pytest.FixtureRequest) -> Callable[[], UnitOfWork]:
    if request.param == "memory":
        db = InMemoryDatabase()
        return lambda: InMemoryUnitOfWork(db)
    engine: sa.Engine = request.getfixturevalue(f"{request.param}_engine")
    factory = make_session_factory(engine)
    return lambda: SqlUnitOfWork(factory)


def new_tenant(make_uow: Callable[[], UnitOfWork]) -> str:
    t = tenant()
    with make_uow().across_tenants() as uow:
        uow.tenants.add(t)
        uow.commit()
    return t.id


def test_counts_start_at_zero_and_stop_at_the_limit(make_uow: Callable[[], UnitOfWork]) -> None:
    tenant_id = new_tenant(make_uow)
    with make_uow().for_tenant(tenant_id) as uow:
        assert (
            uow.sms_usage.get(tenant_id, PERIOD).automated,
            uow.sms_usage.get(tenant_id, PERIOD).manual,
        ) == (0, 0)
        assert [uow.sms_usage.reserve(tenant_id, PERIOD, 2) for _ in range(3)] == [
            True,
            True,
            False,
        ]
        uow.sms_usage.count_manual(tenant_id, PERIOD)
        assert uow.sms_usage.reserve(tenant_id, PERIOD, None)  # no limit: always counted
        uow.commit()
    with make_uow().for_tenant(tenant_id) as uow:
        usage = uow.sms_usage.get(tenant_id, PERIOD)
        assert (usage.automated, usage.manual) == (3, 1)
        assert uow.sms_usage.get(tenant_id, "2026-07").automated == 0  # a new month
        uow.sms_usage.refund(tenant_id, PERIOD)
        uow.sms_usage.refund(tenant_id, PERIOD, manual=True)
        uow.sms_usage.refund(tenant_id, PERIOD, manual=True)  # never below zero
        uow.commit()
    with make_uow().for_tenant(tenant_id) as uow:
        usage = uow.sms_usage.get(tenant_id, PERIOD)
        assert (usage.automated, usage.manual) == (2, 0)


def test_a_count_not_committed_is_not_counted(make_uow: Callable[[], UnitOfWork]) -> None:
    tenant_id = new_tenant(make_uow)
    with make_uow().for_tenant(tenant_id) as uow:
        assert uow.sms_usage.reserve(tenant_id, PERIOD, 1)
    with make_uow().for_tenant(tenant_id) as uow:
        assert uow.sms_usage.get(tenant_id, PERIOD).automated == 0


def test_each_tenant_has_its_own_count(make_uow: Callable[[], UnitOfWork]) -> None:
    ours, theirs = new_tenant(make_uow), new_tenant(make_uow)
    for tenant_id in (ours, theirs):
        with make_uow().for_tenant(tenant_id) as uow:
            assert uow.sms_usage.reserve(tenant_id, PERIOD, 1)
            uow.commit()
    with make_uow().for_tenant(ours) as uow:
        assert uow.sms_usage.get(ours, PERIOD).automated == 1


@pytest.mark.parametrize(
    "engine_name", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_writers_racing_at_the_limit_count_exactly_the_limit(
    request: pytest.FixtureRequest, engine_name: str
) -> None:
    engine: sa.Engine = request.getfixturevalue(f"{engine_name}_engine")
    factory = make_session_factory(engine)
    tenant_id = new_tenant(lambda: SqlUnitOfWork(factory))
    limit, writers, each = 25, 8, 10
    start = threading.Barrier(writers)

    def write() -> int:
        start.wait()
        counted = 0
        for _ in range(each):
            with SqlUnitOfWork(factory).for_tenant(tenant_id) as uow:
                if uow.sms_usage.reserve(tenant_id, PERIOD, limit):
                    counted += 1
                uow.commit()
        return counted

    with ThreadPoolExecutor(writers) as pool:
        counted = sum(pool.map(lambda _: write(), range(writers)))
    assert counted == limit
    with SqlUnitOfWork(factory).for_tenant(tenant_id) as uow:
        assert uow.sms_usage.get(tenant_id, PERIOD).automated == limit

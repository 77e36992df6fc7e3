"""The backends of the dashboard queries' contract tests: the in-memory doubles, SQLite and
PostgreSQL (the schema built by the migrations), each empty at the start of a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import attrs
import pytest
import sqlalchemy as sa

from lily_adapters.sql import migrate
from lily_adapters.sql.metadata import metadata
from lily_adapters.sql.stats import SqlStatsRepository
from lily_adapters.sql.uow import (
    SqlUnitOfWork,
    create_engine_for,
    make_session_factory,
    set_tenant_scope,
)
from lily_core.ports.repositories import UnitOfWork
from lily_core.ports.stats import StatsRepository
from lily_core.testing import InMemoryDatabase, InMemoryUnitOfWork
from lily_core.testing.stats import InMemoryStatsRepository
from tests.conftest import in_schema

__all__ = [
    "Backend",
    "backend",
    "clear_tables",
    "migrated_schema",
    "postgres_engine",
    "sqlite_engine",
]


@attrs.frozen
class Backend:
    uow: Callable[[], UnitOfWork]
    stats: StatsRepository

    def save(self, *entities: Any) -> None:
        uow = self.uow()
        with uow.across_tenants():
            for entity in entities:
                repository = {
                    "Tenant": uow.tenants,
                    "Lead": uow.leads,
                    "Quote": uow.quotes,
                    "Booking": uow.bookings,
                    "Call": uow.calls,
                    "Message": uow.messages,
                    "PriceBookVersion": uow.pricebooks,
                }[type(entity).__name__]
                repository.add(entity)  # type: ignore[attr-defined]
            uow.commit()


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'lily.db'}"
    migrate.upgrade(url)
    engine = create_engine_for(url)
    yield engine
    engine.dispose()


def migrated_schema(postgres_url: str, schema: str) -> Iterator[sa.Engine]:
    """An engine on the migrated schema, made afresh in a private PostgreSQL `schema` of the
    test database, so that suites sharing the database (and the migration stairway) do not
    see each other's tables."""
    admin = create_engine_for(postgres_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    url_text = in_schema(postgres_url, schema)
    migrate.upgrade(url_text)
    engine = create_engine_for(url_text)
    yield engine
    engine.dispose()


def clear_tables(engine: sa.Engine) -> None:
    """Every table emptied, of every tenant's rows (row-level security would have an
    unscoped transaction delete none)."""
    with engine.begin() as conn:
        set_tenant_scope(conn, None)
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(scope="module")
def postgres_engine(postgres_url: str) -> Iterator[sa.Engine]:
    """The migrated schema in a private PostgreSQL schema of the test database."""
    yield from migrated_schema(postgres_url, "lily_dashboard_queries")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        db = InMemoryDatabase()
        return Backend(
            lambda: cast(UnitOfWork, InMemoryUnitOfWork(db)), InMemoryStatsRepository(db)
        )
    engine: sa.Engine = request.getfixturevalue(f"{request.param}_engine")
    clear_tables(engine)
    factory = make_session_factory(engine)
    return Backend(lambda: SqlUnitOfWork(factory), SqlStatsRepository(engine))

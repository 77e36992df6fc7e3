"""migrate.is_at_head: whether a database is at this Lily's head revision, on SQLite and on
PostgreSQL, given a URL or an Engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from lily_adapters.sql import migrate
from lily_adapters.sql.uow import create_engine_for
from tests.conftest import empty_database

SCHEMA = "lily_migration_check"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a fresh SQLite file, or a fresh schema of the PostgreSQL test
    database."""
    yield from empty_database(request, tmp_path, SCHEMA)


def test_a_database_is_at_head_only_once_upgraded(db_url: str) -> None:
    assert migrate.is_at_head(db_url) is False  # never migrated: no alembic_version
    migrate.upgrade(db_url)
    assert migrate.is_at_head(db_url) is True
    migrate.downgrade(db_url, "base")
    assert migrate.is_at_head(db_url) is False  # behind: alembic_version is empty


def test_another_revision_is_not_head(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'from_the_future'")
        assert migrate.is_at_head(engine) is False
    finally:
        engine.dispose()


def test_an_engine_is_checked_and_left_usable(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        assert migrate.is_at_head(engine) is False
        migrate.upgrade(db_url)
        assert migrate.is_at_head(engine) is True
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_an_unreachable_database_is_an_error_not_a_verdict(tmp_path: Path) -> None:
    with pytest.raises(sa.exc.OperationalError):
        migrate.is_at_head(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'lily.db'}")

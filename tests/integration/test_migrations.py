"""The migrations build exactly the schema the code declares, and can be walked down and up
again (the "stairway"), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from lily_adapters.sql import migrate
from lily_adapters.sql.metadata import metadata
from lily_adapters.sql.uow import create_engine_for
from tests.conftest import empty_database

SCHEMA = "lily_sql_migrations"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a fresh SQLite file, or a fresh schema of the PostgreSQL test
    database (so other suites sharing that database are not disturbed)."""
    yield from empty_database(request, tmp_path, SCHEMA)


def _tables(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _differences(url: str) -> list[object]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_there_is_one_linear_history_starting_at_0001() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(script.get_heads()) == 1
    revisions = [rev.revision for rev in script.walk_revisions()]
    assert revisions[-1] == "0001"
    assert migrate.head() == revisions[0]


def test_stairway_up_down_up(db_url: str) -> None:
    """Every revision goes up, comes back down and goes up again cleanly."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    ordered = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert migrate.current(db_url) is None
    for revision in ordered:
        down = script.get_revision(revision).down_revision or "base"
        migrate.upgrade(db_url, revision)
        assert migrate.current(db_url) == revision
        migrate.downgrade(db_url, str(down))
        migrate.upgrade(db_url, revision)
        assert migrate.current(db_url) == revision

    migrate.downgrade(db_url, "base")
    assert migrate.current(db_url) is None
    assert _tables(db_url) <= {"alembic_version"}

    migrate.upgrade(db_url)
    assert migrate.current(db_url) == migrate.head()
    assert set(metadata.tables) <= _tables(db_url)


def test_the_migrated_schema_matches_the_tables_declared_in_code(db_url: str) -> None:
    migrate.upgrade(db_url)
    assert _differences(db_url) == []


def test_the_comparison_notices_a_schema_that_drifted(db_url: str) -> None:
    """Guards the test above against passing vacuously."""
    migrate.upgrade(db_url)
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_messages_status_created_at")
            conn.exec_driver_sql("ALTER TABLE leads ADD COLUMN nickname VARCHAR(20)")
    finally:
        engine.dispose()
    kinds = {diff[0] for diff in _differences(db_url) if isinstance(diff, tuple)}
    assert {"add_index", "remove_column"} <= kinds

"""Alembic environment. The database comes from the Config, never from the environment:
`config.attributes["connection"]` (an open Connection to run on), else
`config.attributes["url"]`, else the `sqlalchemy.url` main option. Build the Config with
lily_adapters.sql.migrate, which also points script_location at this package."""

from __future__ import annotations

from typing import Any

from alembic import context

from lily_adapters.sql.tables import metadata
from lily_adapters.sql.uow import create_engine_for

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set config.attributes['url'] or sqlalchemy.url")
    return str(url)


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=kwargs.pop("dialect_name", "") == "sqlite",
        **kwargs,
    )


def run_offline() -> None:
    url = _url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        dialect_name=url.split(":", 1)[0].split("+", 1)[0],
    )
    with context.begin_transaction():
        context.run_migrations()


def _foreign_keys(conn: Any, *, on: bool) -> None:
    """SQLite: batch mode rebuilds a table (copy, drop, rename), and dropping a referenced
    table that has rows orphans its children for good (SQLite's deferred-violation count is
    not undone by the rename), so migrations run with foreign keys off -- as SQLite's own
    ALTER TABLE procedure says -- and are checked once done. On the driver's connection,
    outside any transaction (inside one the pragma does nothing)."""
    conn.commit()
    raw = conn.connection.dbapi_connection
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    if on and (broken := raw.execute("PRAGMA foreign_key_check").fetchall()):
        raise RuntimeError(f"the migration left rows without their parent: {broken[:5]}")


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection, dialect_name=connection.dialect.name)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine_for(_url())
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":  # a migration may take longer than a request
                conn.exec_driver_sql("SET statement_timeout = 0")  # for the session
                conn.commit()  # alembic leaves a transaction it did not begin uncommitted
            if conn.dialect.name == "sqlite":
                _foreign_keys(conn, on=False)
            _configure(connection=conn, dialect_name=conn.dialect.name)
            with context.begin_transaction():
                context.run_migrations()
            if conn.dialect.name == "sqlite":
                _foreign_keys(conn, on=True)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

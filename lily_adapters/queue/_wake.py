"""How SqlJitterQueue.wait_for_work learns that a task arrived: LISTEN on PostgreSQL (the
enqueue's transaction NOTIFYs `channel_for(engine)`), a short poll of the file's
data_version on SQLite."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa

from lily_adapters.sql.queue_table import tasks
from lily_core.ports.queue import QueueUnavailable

CHANNEL = "lily_tasks"
SQLITE_POLL_SECONDS = 0.02  # PRAGMA data_version reads no table: microseconds a poll
PG_CONNECT_TIMEOUT_S = 5
# A listener only reads, so a peer that vanished (no RST) would go unnoticed for ever:
# TCP keepalives close the connection after about 10 + 3 * 5 s of silence.
PG_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                 "keepalives_count": 3}  # fmt: skip


def channel_for(engine: sa.Engine) -> str:
    """The NOTIFY channel of the `tasks` table `engine` sees: one per schema, so queues in
    schemas of their own (tests) do not wake each other."""
    translate = engine.get_execution_options().get("schema_translate_map") or {}
    schema = translate.get(None)
    return (CHANNEL if schema is None else f"{CHANNEL}.{schema}")[:63]  # NAMEDATALEN - 1


class PostgresListener:
    """A connection of its own, in autocommit, LISTENing on the queue's channel."""

    def __init__(self, engine: sa.Engine) -> None:
        self._url = engine.url
        self._dialect = engine.dialect
        self._channel = channel_for(engine)
        self._conn: Any = None  # a psycopg.Connection (imported when first needed)

    def wait(self, timeout: float) -> bool:
        import psycopg

        timeout = max(timeout, 0.0)
        try:
            if self._conn is None:
                self._conn = self._listen()
                return True  # what was notified before LISTEN took effect is unknown
            # Run each generator out: it holds the connection's lock until it ends.
            if list(self._conn.notifies(timeout=timeout, stop_after=1)):
                list(self._conn.notifies(timeout=0))  # those already here: one wake for all
                return True
            if self._conn.closed:
                raise psycopg.OperationalError("the listening connection is closed")
            return False
        except psycopg.Error as exc:
            self.close()
            raise QueueUnavailable(f"database: {str(exc).strip() or type(exc).__name__}") from exc

    def _listen(self) -> Any:
        import psycopg
        from psycopg import sql

        args, params = self._dialect.create_connect_args(self._url)  # as the engine connects
        defaults: dict[str, Any] = {"connect_timeout": PG_CONNECT_TIMEOUT_S, **PG_KEEPALIVES}
        params = {**defaults, **params, "autocommit": True, "application_name": "lily-worker-wake"}
        conn = psycopg.connect(*args, **params)
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class SqliteWatcher:
    """A connection of its own that reads PRAGMA data_version every SQLITE_POLL_SECONDS: it
    changes when another connection commits a change to the file. Then, and only then, it
    reads when the first scheduled task is due (an index seek): a change there is an
    arrival (or a claim: a spurious wake costs a claim that finds nothing), while the
    webhooks' and handlers' other writes wake nobody. An in-memory database has one
    connection for all: there, its total_changes() counts every write."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._in_memory = engine.url.database in (None, "", ":memory:")
        self._conn: Any = None  # a detached pool connection (sqlite3, autocommit)
        self._version: int | None = None
        self._first_due: object = _UNKNOWN

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(timeout, 0.0)
        try:
            while True:
                version = self._read()
                if version != self._version:
                    self._version = version
                    first_due = self._read_first_due()
                    if first_due != self._first_due:  # on the first read too
                        self._first_due = first_due
                        return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                time.sleep(min(SQLITE_POLL_SECONDS, left))
        except (sqlite3.Error, sa.exc.DBAPIError) as exc:
            self.close()
            raise QueueUnavailable(f"database: {exc}") from exc

    def _read(self) -> int:
        return int(self._query("PRAGMA data_version", "SELECT total_changes()"))

    def _read_first_due(self) -> object:
        return self._query(_FIRST_DUE, _FIRST_DUE)

    def _query(self, on_file: str, in_memory: str) -> Any:
        if self._in_memory:  # the one shared connection: borrow it for a moment
            conn = self._engine.raw_connection()
            try:
                return conn.cursor().execute(in_memory).fetchone()[0]
            finally:
                conn.close()
        if self._conn is None:
            self._conn = self._engine.raw_connection()
            self._conn.detach()  # ours alone: data_version counts other connections' commits
        return self._conn.cursor().execute(on_file).fetchone()[0]

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._version, self._first_due = None, _UNKNOWN
        if conn is not None:
            conn.close()


_UNKNOWN = object()
_FIRST_DUE = f"SELECT min(run_at) FROM {tasks.name} WHERE state = 'scheduled'"

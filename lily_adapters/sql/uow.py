"""Engine construction and the SQLAlchemy UnitOfWork."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy import orm

from lily_adapters.sql import repositories as r
from lily_adapters.sql.mapping import flag_json_changes, start_mappers, watch_json_changes
from lily_core.ports.repositories import UnitOfWork

SQLITE_BUSY_TIMEOUT_MS = 15_000

# PostgreSQL timeouts. Twilio gives a webhook 15 s before it plays the caller an error, and a
# request may wait for a pooled connection, then open one, then run a few statements: these
# keep the worst case of the first two under 10 s, so a database that hangs costs a fast 500
# with its reason in the log instead of a request stuck for good. A healthy database connects
# in milliseconds and answers Lily's statements (short, indexed) well inside 5 s.
PG_CONNECT_TIMEOUT_S = 3  # libpq's connect_timeout (whole seconds, at least 2)
PG_STATEMENT_TIMEOUT_MS = 5_000  # server-side, per statement
POOL_OVERFLOW = 10  # connections past pool_size, closed when returned
POOL_TIMEOUT_S = 5.0  # waiting for a free pooled connection (SQLAlchemy's default is 30)


def create_engine_for(url: str, *, pool_size: int | None = None, **kwargs: Any) -> sa.Engine:
    """An Engine for `url`. SQLite: WAL journal, foreign keys enforced, transactions that
    take the write lock when they begin and wait for it up to a busy timeout (instead of an
    instant "database is locked"), and usable from several threads (the API's thread pool,
    worker threads). PostgreSQL and others: pooled connections checked before use, so a
    restarted database costs no failed request. PostgreSQL: the connect, statement and pool
    timeouts above; a `connect_timeout`, or a `statement_timeout` in `options`, already in
    the URL's query wins (migrations lift the statement timeout themselves). Errors never
    carry bound parameters: those are customers' numbers and texts, and errors get logged."""
    parsed = sa.make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "postgresql":
        parsed = _with_pg_timeouts(parsed)
        if "poolclass" not in kwargs:  # NullPool and StaticPool take no pool_timeout
            kwargs.setdefault("pool_timeout", POOL_TIMEOUT_S)
            if pool_size is not None:
                kwargs.setdefault("pool_size", pool_size)
                kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True, **kwargs)
    connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:
        # One connection for every thread: otherwise each thread would see its own, empty,
        # database. Fine for tests and demos, not for concurrent writers.
        kwargs.setdefault("poolclass", sa.StaticPool)
    engine = sa.create_engine(parsed, connect_args=connect_args, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:  # an in-memory database has no journal file to switch
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()
        # Let SQLAlchemy, not the driver, open transactions (see _begin_immediate).
        dbapi_connection.isolation_level = None

    writer = _OneWriter(SQLITE_BUSY_TIMEOUT_MS / 1000)
    sa.event.listen(engine, "begin", writer.begin)
    writer.watch(engine)
    return engine


class _OneWriter:
    """SQLite's write lock, taken in this process first.

    Every transaction begins with BEGIN IMMEDIATE: a deferred one that reads and then writes
    fails at once with "database is locked" (no busy wait) when another connection committed
    in between — two worker threads updating rows they just read. But SQLite's busy handler
    makes a connection that waits for the lock sleep and retry (up to 100 ms a nap), so under
    load the database sits idle between one writer's COMMIT and the next one's wake-up, and
    the unlucky wait for seconds. So this process's threads queue on a lock of their own,
    handed over the moment a COMMIT or ROLLBACK is done; other processes (the CLI, a
    separate worker) still meet on SQLite's lock and its busy timeout."""

    def __init__(self, timeout: float) -> None:
        self._lock = threading.Lock()
        self._timeout = timeout
        self._holder: int | None = None  # id() of the DBAPI connection in a transaction

    def begin(self, conn: sa.Connection) -> None:
        if not self._lock.acquire(timeout=self._timeout):
            raise sqlite3.OperationalError("database is locked")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        self._holder = id(conn.connection.dbapi_connection)

    def watch(self, engine: sa.Engine) -> None:
        """Release the lock after the dialect's COMMIT or ROLLBACK (SQLAlchemy's own commit
        and rollback events fire before them), or when the connection is closed or
        invalidated in the middle of its transaction."""
        dialect = engine.dialect
        for name in ("do_commit", "do_rollback"):
            setattr(dialect, name, self._then_release(getattr(dialect, name)))
        for event in ("close", "invalidate"):
            sa.event.listen(engine.pool, event, lambda dbapi, *_: self._release(dbapi))

    def _then_release(self, end: Callable[[Any], None]) -> Callable[[Any], None]:
        def ended(dbapi_connection: Any) -> None:
            try:
                end(dbapi_connection)
            finally:
                self._release(dbapi_connection)

        return ended

    def _release(self, connection: Any) -> None:
        # the dialect is handed the pool's proxy of the connection, pool events the driver's
        if self._holder is not None and self._holder == id(
            getattr(connection, "dbapi_connection", connection)
        ):
            self._holder = None
            self._lock.release()


def _with_pg_timeouts(url: sa.URL) -> sa.URL:
    """`url` with libpq's connect_timeout and a statement_timeout (sent in the startup
    packet's `options`, so it holds from the first statement), unless it sets them."""
    query = dict(url.query)
    query.setdefault("connect_timeout", str(PG_CONNECT_TIMEOUT_S))
    options = str(query.get("options", ""))
    if "statement_timeout" not in options:
        query["options"] = f"{options} -c statement_timeout={PG_STATEMENT_TIMEOUT_MS}".strip()
    return url.set(query=query)


def make_session_factory(engine: sa.Engine) -> orm.sessionmaker[orm.Session]:
    """The session factory SqlUnitOfWork expects (maps the entities if not done yet)."""
    start_mappers()
    return orm.sessionmaker(bind=engine, expire_on_commit=False)


# Row-level security (migration 0004) shows a transaction the rows whose tenant_id is
# `lily.tenant_id`, or every row when `lily.all_tenants` is on. set_config(..., true) is
# transaction-local: a pooled connection carries no scope into its next transaction.
_SET_SCOPE = sa.text(
    "SELECT set_config('lily.tenant_id', :tenant_id, true),"
    " set_config('lily.all_tenants', :all_tenants, true)"
)


def set_tenant_scope(connection: sa.Connection, tenant_id: str | None) -> None:
    """Scope `connection`'s current transaction to one tenant (None: to every tenant) for
    PostgreSQL's row-level security; nothing on databases without it."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            _SET_SCOPE,
            {"tenant_id": tenant_id or "", "all_tenants": "off" if tenant_id else "on"},
        )


def bypasses_row_security(engine: sa.Engine) -> bool:
    """Whether `engine` connects as a PostgreSQL role that row-level security does not
    apply to (a superuser, or BYPASSRLS): then the second wall between tenants is down."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        return bool(
            conn.scalar(
                sa.text(
                    "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
                )
            )
        )


class SqlUnitOfWork(UnitOfWork):
    """A UnitOfWork on one SQLAlchemy Session per `with` block.

    - `with uow:` opens a fresh session (expire_on_commit=False); leaving the block closes
      it, which rolls back whatever was not committed. Entities returned inside the block
      are detached, not expired, so they stay readable afterwards.
    - `commit()` flushes and commits; a uniqueness (or foreign-key) violation raises
      lily_core.errors.Conflict, with the transaction rolled back: nothing of it is written.
      `rollback()` and a Conflict detach every entity of the block (readable, no longer
      tracked: add one back to change it further).
      Queries autoflush pending changes, so a Conflict can also surface from a lookup.
    - `for_tenant(id)` / `across_tenants()` scope the block (see the port); each
      transaction the block begins gets the scope, and leaving the block drops it.
    - The same object may be used for several blocks one after another; it is not for
      sharing between threads (make one per use case: it is cheap).
    """

    _ALL = object()  # the scope of across_tenants()

    def __init__(self, session_factory: orm.sessionmaker[orm.Session]) -> None:
        start_mappers()
        self._factory = session_factory
        self._current: orm.Session | None = None
        self._scope: str | object | None = None  # a tenant id, _ALL, or None: no rows
        self.committed = False
        get = self._require_session
        self.tenants = r.SqlTenantRepository(get)
        self.users = r.SqlUserRepository(get)
        self.api_keys = r.SqlApiKeyRepository(get)
        self.leads = r.SqlLeadRepository(get)
        self.conversations = r.SqlConversationRepository(get)
        self.messages = r.SqlMessageRepository(get)
        self.calls = r.SqlCallRepository(get)
        self.quotes = r.SqlQuoteRepository(get)
        self.bookings = r.SqlBookingRepository(get)
        self.subscriptions = r.SqlSubscriptionRepository(get)
        self.sms_usage = r.SqlSmsUsageRepository(get)
        self.consent = r.SqlConsentLedger(get)
        self.pricebooks = r.SqlPriceBookRepository(get)
        self.webhooks = r.SqlWebhookRepository(get)
        self.owner_alerts = r.SqlOwnerAlertRepository(get)

    @property
    def session(self) -> orm.Session:
        """The current block's session (for adapters sharing this transaction)."""
        return self._require_session()

    def _require_session(self) -> orm.Session:
        if self._current is None:
            raise RuntimeError("SqlUnitOfWork used outside a `with uow:` block")
        return self._current

    def __enter__(self) -> Self:
        if self._current is not None:
            raise RuntimeError("SqlUnitOfWork is not re-entrant: its block is already open")
        session = self._factory(expire_on_commit=False)
        watch_json_changes(session)
        sa.event.listen(session, "after_begin", self._scope_transaction)
        self._current = session
        return self

    def for_tenant(self, tenant_id: str) -> Self:
        return self._scope_to(tenant_id)

    def across_tenants(self) -> Self:
        return self._scope_to(self._ALL)

    def _scope_to(self, scope: str | object) -> Self:
        self._scope = scope
        session = self._current
        if session is not None and session.in_transaction():
            self._scope_transaction(session, None, session.connection())
        return self

    def _scope_transaction(self, session: orm.Session, transaction: Any, conn: Any) -> None:
        if self._scope is not None:
            set_tenant_scope(conn, None if self._scope is self._ALL else str(self._scope))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._current, self._scope = self._current, None, None
        if session is not None:
            # close() rolls back what is uncommitted and detaches every object without
            # expiring it (rollback() would expire them and make them unreadable here).
            session.close()

    def commit(self) -> None:
        session = self._require_session()
        with r.integrity_as_conflict(session):
            flag_json_changes(session)  # before_flush does not run when nothing else changed
            session.commit()
        self.committed = True

    def rollback(self) -> None:
        """Drop what is not committed; entities already returned stay readable (detached)."""
        r.discard(self._require_session())

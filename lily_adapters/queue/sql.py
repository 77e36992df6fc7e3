from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lily_adapters.clock import SystemClock
from lily_adapters.queue._unavailable import unavailable_on
from lily_adapters.queue._wake import PostgresListener, SqliteWatcher, channel_for
from lily_adapters.sql.queue_table import tasks as t
from lily_core.domain.ids import new_id
from lily_core.ports.clock import Clock
from lily_core.ports.queue import JitterQueue, LeaseLost, QueueStats, Task, WakingQueue

SCHEDULED, INFLIGHT, DEAD = "scheduled", "inflight", "dead"


def _reason(exc: BaseException) -> str:
    """The driver's own message (SQLAlchemy's adds the statement and a link)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"database: {lines[0] if lines else type(orig).__name__}"


# OperationalError: refused, timed out (connect_timeout, statement_timeout), connection lost,
# SQLite locked; TimeoutError: no pooled connection free within the pool's timeout.
_unavailable = unavailable_on(sa.exc.OperationalError, sa.exc.TimeoutError, describe=_reason)


class SqlJitterQueue(JitterQueue, WakingQueue):
    """The JitterQueue in the `tasks` table (lily_adapters.sql.queue_table).

    PostgreSQL: claimers lock the rows they pick with FOR UPDATE SKIP LOCKED, so concurrent
    workers never wait on, or share, a task. SQLite (one node): every write is a single
    statement in its own transaction, so it takes the database's write lock before it reads
    and concurrent claimers queue up on the busy timeout instead of failing.

    An expired lease is claimable as a task due at the moment the lease ran out. Each claim
    writes a fresh `lease_token` (one per claim statement: a task is claimed at most once
    in it); a fenced ack, retry, dead-letter or renewal matches the row on its id, its token
    and an unexpired lease in the same statement, so a stale claim changes nothing. A
    database that cannot be reached raises QueueUnavailable."""

    def __init__(self, engine: sa.Engine, *, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock = clock or SystemClock()
        self._skip_locked = self._notify = engine.dialect.name == "postgresql"
        self._channel = channel_for(engine)
        self._waiter: PostgresListener | SqliteWatcher | None = None

    @_unavailable
    def enqueue(
        self,
        task_type: str,
        *,
        tenant_id: str | None,
        payload: Mapping[str, Any],
        run_at: datetime,
        dedupe_key: str | None = None,
        request_id: str | None = None,
    ) -> str | None:
        task_id = new_id()
        row = {
            "id": task_id,
            "type": task_type,
            "tenant_id": tenant_id,
            "payload": dict(payload),
            "state": SCHEDULED,
            "run_at": run_at,
            "attempts": 0,
            "dedupe_key": dedupe_key,
            "request_id": request_id,
            "enqueued_at": self._clock.now(),
        }
        insert = t.insert().values(row)
        statement: sa.Executable = insert
        if self._notify:  # one statement: the insert, and a wake for the workers on commit
            statement = sa.select(sa.func.pg_notify(self._channel, "")).add_cte(insert.cte())
        try:
            with self._engine.begin() as conn:
                conn.execute(statement)
        except sa.exc.IntegrityError:
            if dedupe_key is None:
                raise
            return None  # the live-dedupe-key unique index refused it
        return task_id

    @_unavailable
    def claim(self, limit: int, lease_seconds: float) -> list[Task]:
        if limit <= 0:
            return []
        now = self._clock.now()
        claimable = sa.or_(
            sa.and_(t.c.state == SCHEDULED, t.c.run_at <= now),
            sa.and_(t.c.state == INFLIGHT, t.c.lease_until <= now),
        )
        due_since = sa.case((t.c.state == INFLIGHT, t.c.lease_until), else_=t.c.run_at)
        picked = sa.select(t.c.id).where(claimable).order_by(due_since, t.c.id).limit(limit)
        claim = sa.update(t).values(
            state=INFLIGHT,
            run_at=due_since,  # right-hand sides see the row as it was
            lease_until=now + timedelta(seconds=lease_seconds),
            lease_token=new_id(),
            attempts=t.c.attempts + 1,
        )
        with self._engine.begin() as conn:
            if self._skip_locked:
                # Two steps: lock the picked rows (skipping rows another claimer holds),
                # then update exactly those.
                ids = conn.scalars(picked.with_for_update(skip_locked=True)).all()
                if not ids:
                    return []
                rows = conn.execute(claim.where(t.c.id.in_(ids)).returning(*t.c)).all()
            else:
                rows = conn.execute(claim.where(t.c.id.in_(picked)).returning(*t.c)).all()
        return sorted((_task(row) for row in rows), key=lambda task: (task.run_at, task.id))

    @_unavailable
    def renew(self, task_id: str, lease: str, lease_seconds: float) -> None:
        now = self._clock.now()
        renew = t.update().values(lease_until=now + timedelta(seconds=lease_seconds))
        self._fenced(renew, task_id, lease, now)

    @_unavailable
    def ack(self, task_id: str, lease: str | None = None) -> None:
        self._fenced(t.delete(), task_id, lease, self._clock.now())

    @_unavailable
    def retry(self, task_id: str, run_at: datetime, error: str, lease: str | None = None) -> None:
        retry = t.update().values(
            state=SCHEDULED, run_at=run_at, lease_until=None, lease_token=None, last_error=error
        )
        self._fenced(retry.where(t.c.state != DEAD), task_id, lease, self._clock.now())

    @_unavailable
    def defer(self, task_id: str, run_at: datetime, reason: str, lease: str | None = None) -> None:
        uncounted = sa.case((t.c.attempts > 0, t.c.attempts - 1), else_=0)
        defer = t.update().values(
            state=SCHEDULED, run_at=run_at, lease_until=None, lease_token=None,
            last_error=reason, attempts=uncounted,
        )  # fmt: skip
        self._fenced(defer.where(t.c.state != DEAD), task_id, lease, self._clock.now())

    @_unavailable
    def dead_letter(self, task_id: str, error: str, lease: str | None = None) -> None:
        now = self._clock.now()
        dead = t.update().values(
            state=DEAD, run_at=now, dead_at=now, lease_until=None, lease_token=None,
            last_error=error,
        )  # fmt: skip
        self._fenced(dead.where(t.c.state != DEAD), task_id, lease, now)

    def _fenced(
        self, statement: sa.Update | sa.Delete, task_id: str, lease: str | None, now: datetime
    ) -> None:
        """Run `statement` on the task; with a `lease`, only while that claim is current
        (else LeaseLost: the row is untouched)."""
        statement = statement.where(t.c.id == task_id)
        if lease is not None:
            statement = statement.where(
                t.c.state == INFLIGHT, t.c.lease_token == lease, t.c.lease_until > now
            )
        with self._engine.begin() as conn:
            changed = conn.execute(statement).rowcount
        if lease is not None and not changed:
            raise LeaseLost(f"task {task_id}: the claim {lease} is no longer current")

    @_unavailable
    def stats(self) -> QueueStats:
        now = self._clock.now()

        def count(*where: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
            return sa.select(sa.func.count()).select_from(t).where(*where).scalar_subquery()

        query = sa.select(
            count(t.c.state == SCHEDULED, t.c.run_at > now),
            count(t.c.state == SCHEDULED, t.c.run_at <= now),
            count(t.c.state == INFLIGHT, t.c.lease_until <= now),  # claimable again
            count(t.c.state == INFLIGHT, t.c.lease_until > now),
            count(t.c.state == DEAD),
        )
        with self._engine.connect() as conn:
            scheduled, due, expired, in_flight, dead = conn.execute(query).one()
        return QueueStats(scheduled=scheduled, due=due + expired, in_flight=in_flight, dead=dead)

    @_unavailable
    def depth_by_type(self) -> dict[tuple[str, str], int]:
        """(state, task type) -> tasks, as in stats(): scheduled, due (an expired lease
        counts as due), in_flight, dead. For the metrics' queue gauges."""
        now = self._clock.now()
        state = sa.case(
            (sa.and_(t.c.state == SCHEDULED, t.c.run_at > now), "scheduled"),
            (t.c.state == SCHEDULED, "due"),
            (sa.and_(t.c.state == INFLIGHT, t.c.lease_until <= now), "due"),
            (t.c.state == INFLIGHT, "in_flight"),
            else_="dead",
        ).label("state")
        query = sa.select(state, t.c.type, sa.func.count()).group_by(state, t.c.type)
        with self._engine.connect() as conn:
            return {(s, kind): n for s, kind, n in conn.execute(query)}

    @_unavailable
    def dead(self, limit: int = 100) -> list[Task]:
        query = (
            sa.select(t)
            .where(t.c.state == DEAD)
            .order_by(t.c.dead_at.desc(), t.c.id.desc())
            .limit(max(limit, 0))
        )
        with self._engine.connect() as conn:
            return [_task(row) for row in conn.execute(query)]

    @_unavailable
    def requeue_dead(self, task_id: str | None = None) -> int:
        query = sa.select(t.c.id).where(t.c.state == DEAD).order_by(t.c.dead_at, t.c.id)
        if task_id is not None:
            query = query.where(t.c.id == task_id)
        with self._engine.connect() as conn:
            ids = conn.scalars(query).all()
        # One task per statement, oldest dead first: each takes its dedupe key back unless
        # a live task (or one requeued just before it) holds it now.
        return sum(self._requeue_one(dead_id) for dead_id in ids)

    @_unavailable
    def next_due_at(self) -> datetime | None:
        """When the earliest waiting task (or in-flight lease) falls due; None if empty."""
        query = sa.select(
            sa.select(sa.func.min(t.c.run_at)).where(t.c.state == SCHEDULED).scalar_subquery(),
            sa.select(sa.func.min(t.c.lease_until)).where(t.c.state == INFLIGHT).scalar_subquery(),
        )
        with self._engine.connect() as conn:
            times = [moment for moment in conn.execute(query).one() if moment is not None]
        return min(times, default=None)

    def _requeue_one(self, task_id: str) -> int:
        other = t.alias("other")
        key_taken = sa.exists().where(other.c.dedupe_key == t.c.dedupe_key, other.c.state != DEAD)
        requeue = (
            t.update()
            .where(t.c.id == task_id, t.c.state == DEAD)
            .values(state=SCHEDULED, run_at=self._clock.now(), attempts=0, dead_at=None)
        )
        try:
            with self._engine.begin() as conn:
                keep_key = sa.case((key_taken, None), else_=t.c.dedupe_key)
                return self._woken(conn, conn.execute(requeue.values(dedupe_key=keep_key)))
        except sa.exc.IntegrityError:  # a task with the key was enqueued concurrently
            with self._engine.begin() as conn:
                return self._woken(conn, conn.execute(requeue.values(dedupe_key=None)))

    def _woken(self, conn: sa.Connection, result: sa.CursorResult[Any]) -> int:
        """`result`'s row count, having NOTIFYed the waiters if it changed rows."""
        if result.rowcount and self._notify:
            conn.execute(sa.select(sa.func.pg_notify(self._channel, "")))
        return result.rowcount

    def wait_for_work(self, timeout: float) -> bool:
        if self._waiter is None:
            self._waiter = (
                PostgresListener(self._engine) if self._notify else SqliteWatcher(self._engine)
            )
        return self._waiter.wait(timeout)

    def stop_waiting(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.close()


def _task(row: sa.Row[Any]) -> Task:
    return Task(
        id=row.id,
        type=row.type,
        tenant_id=row.tenant_id,
        payload=row.payload,
        run_at=row.run_at,
        attempts=row.attempts,
        dedupe_key=row.dedupe_key,
        request_id=row.request_id,
        last_error=row.last_error,
        lease=row.lease_token if row.state == INFLIGHT else None,
    )

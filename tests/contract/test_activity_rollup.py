"""PostgreSQL's stats rollup (migration 0010) always says what the rows say: after any mix
of inserts, updates and deletes, through the ORM or not, several to a transaction,
`activity_days` and `lead_bookings` equal what `lily_rebuild_activity` works out again from
the rows; and a tenant that changes time zone has its days moved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lily_adapters.sql import tables as t
from lily_adapters.sql.stats import SqlStatsRepository
from lily_adapters.sql.uow import SqlUnitOfWork, make_session_factory, set_tenant_scope
from lily_core.domain.records import BookingStatus
from tests.contract.dashboard_backends import Backend, clear_tables, migrated_schema
from tests.unit.dashboard_world import booking, lead, missed_call, quote, tenant, text_back

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # a day before Chicago springs forward


@pytest.fixture(scope="module")
def engine(postgres_url: str) -> Iterator[sa.Engine]:
    yield from migrated_schema(postgres_url, "lily_activity_rollup")


@pytest.fixture
def backend(engine: sa.Engine) -> Backend:
    clear_tables(engine)
    factory = make_session_factory(engine)  # maps the entities before the test makes any
    return Backend(lambda: SqlUnitOfWork(factory), SqlStatsRepository(engine))


def _rollup(engine: sa.Engine) -> tuple[list[Any], list[Any]]:
    with engine.connect() as conn:
        set_tenant_scope(conn, None)
        days = conn.execute(sa.select(t.activity_days).order_by("tenant_id", "day")).all()
        # a lead whose bookings were all cancelled may keep a row at 0: the same as none
        leads = conn.execute(
            sa.select(t.lead_bookings)
            .where(t.lead_bookings.c.active > 0)
            .order_by("tenant_id", "lead_id")
        ).all()
    return [tuple(row) for row in days if any(row[2:])], [tuple(row) for row in leads]


def _rebuilt(engine: sa.Engine) -> tuple[list[Any], list[Any]]:
    """The rollup worked out again from the rows (in a transaction rolled back)."""
    with engine.connect() as conn:
        set_tenant_scope(conn, None)
        conn.execute(sa.text("SELECT lily_rebuild_activity(NULL)"))
        days = conn.execute(sa.select(t.activity_days).order_by("tenant_id", "day")).all()
        leads = conn.execute(sa.select(t.lead_bookings).order_by("tenant_id", "lead_id")).all()
        conn.rollback()
    return [tuple(row) for row in days], [tuple(row) for row in leads]


def _execute(engine: sa.Engine, *statements: sa.Executable) -> None:
    with engine.begin() as conn:
        set_tenant_scope(conn, None)
        for statement in statements:
            conn.execute(statement)


# A step: ("lead", minutes after T0) | ("quote"|"call"|"text", lead no., minutes, flag)
# | ("book", lead no., minutes, cancelled) | ("cancel"|"rebook", booking no.)
# | ("send", text no.) | ("drop", booking no.) ; a batch of steps is one transaction.
_minutes = st.integers(min_value=-3000, max_value=3000)
_step = st.one_of(
    st.tuples(st.just("lead"), _minutes),
    st.tuples(
        st.sampled_from(["quote", "call", "text", "book"]),
        st.integers(0, 9),
        _minutes,
        st.booleans(),
    ),
    st.tuples(st.sampled_from(["cancel", "rebook", "send", "drop"]), st.integers(0, 9)),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.lists(_step, min_size=1, max_size=6), min_size=1, max_size=6))
def test_the_rollup_equals_the_rows_after_any_writes(
    backend: Backend, engine: sa.Engine, batches: list[list[tuple[Any, ...]]]
) -> None:
    clear_tables(engine)
    acme, other = tenant(timezone="America/Chicago"), tenant(timezone="Asia/Kolkata")
    backend.save(acme, other)
    leads = [lead(acme, T0), lead(other, T0)]
    backend.save(*leads)
    bookings: list[Any] = []
    texts: list[Any] = []
    for batch in batches:
        entities: list[Any] = []
        statements: list[sa.Executable] = []
        for step in batch:
            kind, at = step[0], T0 + timedelta(minutes=step[2] if len(step) > 2 else 0)
            if kind == "lead":
                owner = acme if step[1] % 2 else other
                leads.append(lead(owner, T0 + timedelta(minutes=step[1])))
                entities.append(leads[-1])
                continue
            if kind in ("quote", "call", "text", "book"):
                target = leads[step[1] % len(leads)]
                if target in entities:
                    continue  # made in this batch: saved after its children otherwise
                owner = acme if target.tenant_id == acme.id else other
                if kind == "quote":
                    entities.append(quote(owner, target, at, in_service_area=step[3]))
                elif kind == "call":
                    entities.append(missed_call(owner, target, at, texted_back=step[3]))
                elif kind == "text":
                    texts.append(text_back(owner, target, at, sent_after=30 if step[3] else None))
                    entities.append(texts[-1])
                else:
                    status = BookingStatus.CANCELLED if step[3] else BookingStatus.BOOKED
                    bookings.append(booking(owner, target, at, at=at, status=status))
                    entities.append(bookings[-1])
                continue
            pool = texts if kind == "send" else bookings
            chosen = [x for x in pool if x not in entities]
            if not chosen:
                continue
            row = chosen[step[1] % len(chosen)]
            if kind == "send":
                statements.append(
                    sa.update(t.messages)
                    .where(t.messages.c.id == row.id)
                    .values(sent_at=row.created_at + timedelta(seconds=42))
                )
            elif kind == "drop":
                bookings.remove(row)
                statements.append(sa.delete(t.bookings).where(t.bookings.c.id == row.id))
            else:
                status = BookingStatus.CANCELLED if kind == "cancel" else BookingStatus.RESCHEDULED
                statements.append(
                    sa.update(t.bookings).where(t.bookings.c.id == row.id).values(status=status)
                )
        backend.save(*entities)  # one flush: rows of a table in one INSERT
        _execute(engine, *statements)

    assert _rollup(engine) == _rebuilt(engine)


def test_a_tenant_that_changes_time_zone_has_its_days_moved(
    backend: Backend, engine: sa.Engine
) -> None:
    acme = tenant(timezone="UTC")
    late = lead(acme, datetime(2026, 6, 1, 23, 30, tzinfo=UTC))  # 18:30 on June 1 in Chicago
    early = lead(acme, datetime(2026, 6, 2, 3, 0, tzinfo=UTC))  # 22:00 on June 1 in Chicago
    backend.save(acme)
    backend.save(late, early)

    def days() -> list[tuple[date, int]]:
        with engine.connect() as conn:
            set_tenant_scope(conn, acme.id)
            a = t.activity_days.c
            return [tuple(r) for r in conn.execute(sa.select(a.day, a.leads).order_by(a.day))]  # type: ignore[misc]

    assert days() == [(date(2026, 6, 1), 1), (date(2026, 6, 2), 1)]
    _execute(
        engine,
        sa.update(t.tenants).where(t.tenants.c.id == acme.id).values(timezone="America/Chicago"),
    )
    assert days() == [(date(2026, 6, 1), 2)]
    assert _rollup(engine) == _rebuilt(engine)

"""The dashboard's lists in the UnitOfWork contract: leads by activity (filters, search,
keyset pages) and a lead's messages oldest first, on the fake, SQLite and PostgreSQL alike.
On PostgreSQL the leads list is also checked to walk its index, with no sort step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from lily_adapters.sql.encrypted import phone_search_keys
from lily_adapters.sql.mapping import start_mappers
from lily_adapters.sql.tables import lead_phone_keys
from lily_adapters.sql.tables import leads as leads_table
from lily_adapters.sql.uow import SqlUnitOfWork, make_session_factory, set_tenant_scope
from lily_core.domain.ids import new_id
from lily_core.domain.lead_search import LeadSearch
from lily_core.domain.leads import Direction, Lead, LeadStatus
from lily_core.domain.pagination import Cursor
from lily_core.errors import InvalidInput
from lily_core.ports.repositories import UnitOfWork
from tests.contract.dashboard_backends import postgres_engine, sqlite_engine
from tests.contract.test_unit_of_work import (
    T0,
    _ids,
    _save,
    _walk,
    lead,
    make_uow,
    message,
    tenant,
    uow,
)

UowFactory = Callable[[], UnitOfWork]
__all__ = ["make_uow", "postgres_engine", "sqlite_engine", "uow"]  # shared fixtures


def _active(t: Any, seconds: int | None, **kw: Any) -> Lead:
    at = None if seconds is None else T0 + timedelta(seconds=seconds)
    return lead(t, last_activity_at=at, **kw)


def test_leads_by_activity_newest_first_then_the_quiet_ones(uow: UnitOfWork) -> None:
    t, other = tenant(), tenant()
    # pairs share an instant (the id decides), three have no activity at all
    leads = [_active(t, i // 2) for i in range(7)] + [_active(t, None) for _ in range(3)]
    _save(uow, t, other, *leads, _active(other, 99))
    expected = sorted(
        leads, key=lambda x: (x.last_activity_at is not None, x.last_activity_at or T0, x.id)
    )[::-1]
    with uow.across_tenants():
        pages = _walk(lambda c: uow.leads.list_by_activity(t.id, limit=3, after=c))
        exact = uow.leads.list_by_activity(t.id, limit=10)
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert [i for p in pages for i in p] == _ids(expected)
    assert exact.next_cursor is None and _ids(exact.items) == _ids(expected)


def test_a_walk_misses_nothing_and_repeats_nothing_while_leads_arrive(
    make_uow: UowFactory,
) -> None:
    t = tenant()
    leads = [_active(t, i) for i in range(8)]
    _save(make_uow(), t, *leads)
    seen: list[str] = []
    cursor: Cursor | None = None
    for n in range(20):
        with make_uow().across_tenants() as uow:
            page = uow.leads.list_by_activity(t.id, limit=3, after=cursor)
        seen += _ids(page.items)
        _save(make_uow(), _active(t, 100 + n), _active(t, None))  # newer, and a quiet one
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor)
    assert seen[:8] == _ids(reversed(leads))
    assert len(seen) == len(set(seen))


def test_lead_filters_and_search(uow: UnitOfWork) -> None:
    t = tenant()
    jane = _active(t, 3, name="Jane O'Hara", email="jane@example.com", phone="+12145550123")
    john = _active(
        t, 2, name="JOHN SMITH", email="J.Smith@Mail.test", phone="+14695550222", opted_out=False
    )
    nameless = _active(t, 1, name=None, email=None, phone="+12145550333", status=LeadStatus.NEW)
    percent = _active(t, None, name="100% Clean", email=None, phone=None, opted_out=False)
    _save(uow, t, jane, john, nameless, percent)

    def found(q: str | None = None, **kw: Any) -> list[str]:
        return _ids(uow.leads.list_by_activity(t.id, search=LeadSearch.parse(q), **kw).items)

    with uow.across_tenants():
        assert found("jo") == [john.id]
        assert found("JANE") == [jane.id]
        assert found("o'h") == [jane.id]
        assert found("mail.TEST") == [john.id]
        # a number by its end or its start, with or without the country code
        assert found("0123") == [jane.id]
        assert found("5550123") == [jane.id]
        assert found("214555") == [jane.id, nameless.id]
        assert found("(214) 555") == [jane.id, nameless.id]
        assert found("+1 214") == [jane.id, nameless.id]
        assert found("(469) 555-0222") == [john.id]
        assert found("+12145550333") == [nameless.id]
        assert found("5550") == []  # the middle of a number
        assert found("100") == []  # written like a number: names and emails are not read
        assert found("100%") == [percent.id]
        assert found("%") == [percent.id]  # literal, not a wildcard
        assert found("_") == []
        assert found(status=LeadStatus.NEW) == [nameless.id]
        assert found(opted_out=True) == [jane.id, nameless.id]
        assert found(opted_out=False) == [john.id, percent.id]
        assert found("214", status=LeadStatus.QUOTED) == [jane.id]
        assert found() == [jane.id, john.id, nameless.id, percent.id]


def test_locate_finds_a_lead_in_any_tenant(uow: UnitOfWork) -> None:
    t = tenant()
    le = lead(t)
    _save(uow, t, le)
    with uow.across_tenants():
        found = uow.leads.locate(le.id)
        assert found is not None and found.tenant_id == t.id
        assert uow.leads.locate("nope") is None


def test_messages_oldest_first_and_what_the_lead_sent_first_at_one_instant(
    uow: UnitOfWork,
) -> None:
    t = tenant()
    le, other_lead = lead(t), lead(t)
    stamps = [T0 + timedelta(seconds=i // 2) for i in range(7)]
    directions = [Direction.OUTBOUND, Direction.INBOUND] * 4
    msgs = [
        message(t, le, created_at=at, direction=d, provider_sid=None)
        for at, d in zip(stamps, directions, strict=False)
    ]
    _save(uow, t, le, other_lead, *msgs, message(t, other_lead, provider_sid=None))
    expected = sorted(msgs, key=lambda m: (m.created_at, m.direction, m.id))
    with uow.across_tenants():
        pages = _walk(
            lambda c: uow.messages.list_for_lead(t.id, le.id, limit=3, after=c, oldest_first=True)
        )
        elsewhere = Cursor(T0, _ids(uow.messages.list_for_lead(t.id, other_lead.id).items)[0])
        with pytest.raises(InvalidInput):
            uow.messages.list_for_lead(t.id, le.id, after=elsewhere, oldest_first=True)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == _ids(expected)
    assert [m.direction for m in expected[:2]] == [Direction.INBOUND, Direction.OUTBOUND]


def _fill(
    engine: sa.Engine, count: int, columns: Callable[[int], dict[str, Any]]
) -> tuple[str, orm.sessionmaker[orm.Session]]:
    """Two tenants, `count` leads shared between them (numbers +1214000nnnn, a tenth without
    activity; `columns(n)` adds to or overrides the n-th's columns), analysed: our tenant's
    id, and a session factory."""
    start_mappers()
    factory = make_session_factory(engine)
    ours, other = tenant(), tenant()
    _save(SqlUnitOfWork(factory), ours, other)
    rows = [
        {
            "id": new_id(),
            "tenant_id": (ours, other)[n % 2].id,
            "phone": f"+1214{n:07d}",
            "status": LeadStatus.NEW,
            "opted_out": False,
            "created_at": T0,
            "last_activity_at": None if n % 7 == 0 else T0 + timedelta(seconds=n),
            **columns(n),
        }
        for n in range(count)
    ]
    with engine.begin() as conn:
        set_tenant_scope(conn, None)
        conn.execute(sa.insert(leads_table), rows)
        conn.exec_driver_sql("ANALYZE leads")
    return ours.id, factory


def _plans(
    engine: sa.Engine,
    factory: orm.sessionmaker[orm.Session],
    tenant_id: str,
    query: Callable[[UnitOfWork], Any],
) -> tuple[Any, list[str]]:
    """What `query` answers in a unit of work scoped to the tenant, as the dashboard asks,
    and the plans of the statements on leads it made (EXPLAIN under the same scope)."""
    statements: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "FROM leads" in statement:
            statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        with SqlUnitOfWork(factory).for_tenant(tenant_id) as uow:
            answer = query(uow)
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)
    with engine.connect() as conn:
        set_tenant_scope(conn, tenant_id)
        plans = [
            "\n".join(line for (line,) in conn.exec_driver_sql("EXPLAIN " + sql, parameters))
            for sql, parameters in statements
        ]
    return answer, plans


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("status", "index"),
    [(None, "ix_leads_tenant_activity"), (LeadStatus.NEW, "ix_leads_tenant_status_activity")],
)
def test_postgres_pages_leads_by_walking_the_index(
    postgres_engine: sa.Engine, status: LeadStatus | None, index: str
) -> None:
    statuses = list(LeadStatus)
    ours, factory = _fill(postgres_engine, 4000, lambda n: {"status": statuses[n % len(statuses)]})

    def two_pages(uow: UnitOfWork) -> None:
        for after in (None, Cursor(T0 + timedelta(seconds=2000), "f" * 32)):
            uow.leads.list_by_activity(ours, status=status, limit=3, after=after)

    _, plans = _plans(postgres_engine, factory, ours, two_pages)

    assert len(plans) == 2  # a page each: the quiet leads were not reached
    for plan in plans:
        assert f"Index Scan Backward using {index}" in plan, plan
        assert "Sort" not in plan, plan


def _spread(n: int) -> str:
    """The n-th of numbers spread over the whole plan, as a tenant's customers are (not
    one exchange's, which would all share a key): +13234003702 for n = 1234."""
    return f"+1{2000000000 + (n * 1000003) % 8000000000}"


@pytest.mark.postgres
@pytest.mark.parametrize("q", ["3702", "(323) 400-3702", "3234003", "1323400370"])
def test_postgres_finds_leads_by_phone_digits_in_the_phone_indexes(
    postgres_engine: sa.Engine, q: str
) -> None:
    """Under row-level security (the app role, scoped to a tenant): the numbers are
    encrypted, so the leads whose number starts or ends so are found by their blind keys in
    the (tenant_id, key) index of lead_phone_keys, the few candidates then sorted and (for
    a search longer than its keys) matched -- not a walk of the tenant's activity index
    reading (and decrypting) every row."""
    ours, factory = _fill(
        postgres_engine, 20000, lambda n: {"name": f"Customer {n}", "phone": _spread(n)}
    )
    with postgres_engine.begin() as conn:  # the keys the mapping keeps for leads it writes
        set_tenant_scope(conn, None)
        c = leads_table.c
        keyed = sa.select(lead_phone_keys.c.lead_id).where(lead_phone_keys.c.lead_id == c.id)
        rows = conn.execute(sa.select(c.id, c.tenant_id, c.phone).where(~keyed.exists()))
        keys = [
            {"tenant_id": tenant_id, "lead_id": lead_id, "key": key}
            for lead_id, tenant_id, phone in rows
            for key in phone_search_keys(tenant_id, phone)
        ]
        conn.execute(sa.insert(lead_phone_keys), keys)
        conn.exec_driver_sql("ANALYZE lead_phone_keys")

    found, plans = _plans(
        postgres_engine,
        factory,
        ours,
        lambda uow: uow.leads.list_by_activity(ours, search=LeadSearch.parse(q), limit=50),
    )

    search = LeadSearch.parse(q)
    assert search is not None
    assert _spread(1234) in {le.phone for le in found.items}  # one of ours (n even)
    assert all(le.tenant_id == ours for le in found.items)
    assert all(search.matches(None, None, le.phone) for le in found.items)
    assert plans
    for plan in plans:
        assert "ix_lead_phone_keys_tenant_id_key" in plan, plan
        assert "ix_leads_tenant_activity" not in plan, plan

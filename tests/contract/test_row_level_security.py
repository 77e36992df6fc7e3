"""The second wall between tenants: a unit of work's tenant scope, enforced on PostgreSQL by
row-level security (migration 0004) and mirrored by the in-memory fake. A repository query
that forgets its tenant filter must still return nothing of another tenant."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from lily_adapters.sql import repositories as r
from lily_adapters.sql.uow import SqlUnitOfWork, make_session_factory
from lily_core.domain.leads import Lead
from lily_core.ports.repositories import TENANT_OWNED_TABLES
from lily_core.testing import InMemoryDatabase, InMemoryUnitOfWork
from tests.contract.dashboard_backends import postgres_engine
from tests.contract.test_unit_of_work import lead, pricebook, tenant

__all__ = ["postgres_engine"]  # a fixture


class ForgetfulLeads(r.SqlLeadRepository):
    """A lead repository with the bug the wall is for: it looks a lead up by id alone."""

    def get(self, tenant_id: str, lead_id: str) -> Lead | None:
        return self._session().get(Lead, lead_id)


TwoTenants = tuple[orm.sessionmaker[orm.Session], Lead, Lead]


@pytest.fixture
def two_tenants(postgres_engine: sa.Engine) -> TwoTenants:
    """Our tenant and theirs, a lead each, on PostgreSQL; and the session factory."""
    factory = make_session_factory(postgres_engine)  # maps the entities: make them after
    ours, theirs = tenant(), tenant()
    our_lead, their_lead = lead(ours), lead(theirs)
    with SqlUnitOfWork(factory).across_tenants() as uow:
        for entity in (ours, theirs):
            uow.tenants.add(entity)
        for entity in (our_lead, their_lead):
            uow.leads.add(entity)
        uow.pricebooks.add(pricebook(theirs))
        uow.commit()
    return factory, our_lead, their_lead


def forgetful(factory: orm.sessionmaker[orm.Session]) -> SqlUnitOfWork:
    uow = SqlUnitOfWork(factory)
    uow.leads = ForgetfulLeads(uow._require_session)
    return uow


def test_a_query_that_forgot_its_tenant_filter_finds_nothing_of_another_tenant(
    two_tenants: TwoTenants,
) -> None:
    factory, our_lead, their_lead = two_tenants

    with forgetful(factory).for_tenant(our_lead.tenant_id) as uow:
        assert uow.leads.get(our_lead.tenant_id, their_lead.id) is None  # the wall held
        found = uow.leads.get(our_lead.tenant_id, our_lead.id)  # our own: still found
        assert found is not None and found.id == our_lead.id
        everything = uow.session.execute(sa.text("SELECT tenant_id FROM leads")).all()
        assert {row.tenant_id for row in everything} == {our_lead.tenant_id}


def test_without_a_scope_no_tenant_owned_row_is_visible_but_the_directory_is(
    two_tenants: TwoTenants,
) -> None:
    factory, our_lead, their_lead = two_tenants

    with forgetful(factory) as uow:
        assert uow.leads.get(their_lead.tenant_id, their_lead.id) is None
        assert uow.pricebooks.current(their_lead.tenant_id) is None
        # how a request finds its tenant (by slug, by business number) stays reachable
        assert uow.tenants.get(their_lead.tenant_id) is not None

    with forgetful(factory).across_tenants() as uow:  # said explicitly: every tenant
        assert uow.leads.get(our_lead.tenant_id, their_lead.id) is not None


def test_another_tenants_row_cannot_be_written_or_changed(
    two_tenants: TwoTenants,
) -> None:
    factory, our_lead, their_lead = two_tenants

    with SqlUnitOfWork(factory).for_tenant(our_lead.tenant_id) as uow:
        uow.leads.add(lead(tenant(id=their_lead.tenant_id)))
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
            uow.commit()

    with SqlUnitOfWork(factory).for_tenant(our_lead.tenant_id) as uow:
        changed = uow.session.execute(
            sa.text("UPDATE leads SET name = 'hijacked' WHERE id = :id"), {"id": their_lead.id}
        )
        assert changed.rowcount == 0  # type: ignore[attr-defined]
        uow.commit()
    with SqlUnitOfWork(factory).across_tenants() as uow:
        theirs = uow.leads.get(their_lead.tenant_id, their_lead.id)
        assert theirs is not None and theirs.name != "hijacked"


def test_the_scope_holds_across_commits_and_ends_with_the_block(
    two_tenants: TwoTenants,
) -> None:
    factory, our_lead, their_lead = two_tenants
    uow = forgetful(factory)

    with uow.for_tenant(our_lead.tenant_id):
        found = uow.leads.get(our_lead.tenant_id, our_lead.id)
        assert found is not None
        found.name = "renamed"
        uow.commit()  # a new transaction begins after this one: it is scoped too
        assert uow.leads.get(our_lead.tenant_id, their_lead.id) is None
        assert uow.leads.get(our_lead.tenant_id, our_lead.id) is not None
    with uow:  # the same object, a new block: no scope, nothing visible
        assert uow.leads.get(our_lead.tenant_id, our_lead.id) is None


def test_every_table_with_a_tenant_has_the_policy(postgres_engine: sa.Engine) -> None:
    with postgres_engine.connect() as conn:
        with_tenant = set(
            conn.scalars(
                sa.text(
                    "SELECT table_name FROM information_schema.columns"
                    " WHERE column_name = 'tenant_id' AND table_schema = current_schema()"
                )
            )
        )
        policed = set(
            conn.scalars(
                sa.text(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema()"
                    " AND c.relrowsecurity AND c.relforcerowsecurity"
                    " AND EXISTS (SELECT FROM pg_policies p WHERE p.schemaname = n.nspname"
                    "  AND p.tablename = c.relname AND p.policyname = 'tenant_isolation')"
                )
            )
        )
        superuser = conn.scalar(
            sa.text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        )
    # Two tables with a tenant_id are shared machinery, not a tenant's data: the webhook
    # ledger, keyed by provider event id (Stripe's arrive before the tenant is known), and
    # the SQL queue's tasks, which a worker claims whatever their tenant (a task carries
    # ids, never a customer's number or text).
    # The stats rollup (migration 0010) is a tenant's data too, read by the stats read
    # model and written by triggers, not by a repository of the unit of work.
    rollup = {"activity_days", "lead_bookings"}
    assert with_tenant - {"webhooks", "tasks"} == policed == TENANT_OWNED_TABLES | rollup
    assert superuser is False  # the suite connects as a role the policies apply to


def test_the_fake_hides_and_refuses_other_tenants_rows_as_postgresql_does() -> None:
    db = InMemoryDatabase()
    ours, theirs = tenant(), tenant()
    their_lead = lead(theirs)
    with InMemoryUnitOfWork(db).across_tenants() as uow:
        for entity in (ours, theirs):
            uow.tenants.add(entity)
        uow.leads.add(their_lead)
        uow.commit()

    uow = InMemoryUnitOfWork(db)
    with uow.for_tenant(ours.id):
        assert uow.leads.locate(their_lead.id) is None  # a lookup with no tenant filter
        with pytest.raises(PermissionError):
            uow.leads.add(lead(theirs))
    with uow:
        assert uow.leads.locate(their_lead.id) is None
        assert uow.tenants.get(theirs.id) is not None
    with uow.across_tenants():
        assert uow.leads.locate(their_lead.id) is not None

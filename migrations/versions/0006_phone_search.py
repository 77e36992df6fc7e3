"""The dashboard's search by phone digits (bench/dashboard.py): a number is found by how it
starts or how it ends, each a range of an index that row-level security lets PostgreSQL use
(text comparisons are LEAKPROOF; LIKE is not). The start is served by the (tenant_id, phone)
unique index; the end by `phone_reversed`, the number backwards, bytewise ("C") on
PostgreSQL, indexed with tenant_id and filled here for the existing leads (from then on the
SQL mapping keeps it).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_INDEX = "ix_leads_tenant_phone_reversed"
_BATCH = 1000


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    column_type = sa.String(length=20, collation="C") if postgres else sa.String(length=20)
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("phone_reversed", column_type, nullable=True))
    if postgres:
        # Under 0004's row-level security an unscoped transaction sees no lead.
        op.execute("SELECT set_config('lily.all_tenants', 'on', true)")
        op.execute("UPDATE leads SET phone_reversed = reverse(phone) WHERE phone IS NOT NULL")
    else:
        _fill_in_batches(bind)
    op.create_index(_INDEX, "leads", ["tenant_id", "phone_reversed"])


def _fill_in_batches(bind: sa.Connection) -> None:
    """SQLite has no reverse(): Python reverses the numbers, a batch of leads at a time."""
    leads = sa.table("leads", sa.column("id"), sa.column("phone"), sa.column("phone_reversed"))
    update = (
        sa.update(leads)
        .where(leads.c.id == sa.bindparam("lead_id"))
        .values(phone_reversed=sa.bindparam("reversed"))
    )
    last = ""
    while True:
        rows = bind.execute(
            sa.select(leads.c.id, leads.c.phone)
            .where(leads.c.phone.is_not(None), leads.c.id > last)
            .order_by(leads.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        bind.execute(update, [{"lead_id": id_, "reversed": phone[::-1]} for id_, phone in rows])
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="leads")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("phone_reversed")

"""Billing (DESIGN §2.4): the source time of a subscription's state (`state_as_of`, so that a
late or out-of-order Stripe event is recognised as older news), and `sms_usage`, the SMS a
tenant sent per allowance period, counted atomically against the plan's allowance. The new
table is a tenant's data: on PostgreSQL it gets 0004's row-level security policy.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# As in 0004: an unscoped transaction sees no row.
_RULE = (
    "current_setting('lily.all_tenants', true) = 'on'"
    " OR tenant_id = current_setting('lily.tenant_id', true)"
)


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("state_as_of", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sms_usage",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("automated", sa.Integer(), nullable=False),
        sa.Column("manual", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sms_usage_tenant_id_tenants"),
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_usage")),
        sa.UniqueConstraint("tenant_id", "period", name=op.f("uq_sms_usage_tenant_id_period")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE sms_usage ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE sms_usage FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON sms_usage USING ({_RULE}) WITH CHECK ({_RULE})"
        )


def downgrade() -> None:
    op.drop_table("sms_usage")  # its policy goes with it
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("state_as_of")

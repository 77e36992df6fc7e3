"""Compliance by the recipient's law (issue 16): `consent_ledger`, every opt-out and opt-in a
tenant's customer made, with its evidence (the keyword, Twilio's OptOutType or the carrier's
21610), the message SID, the time and the channel. A tenant's data, so on PostgreSQL it gets
0004's row-level security policy; no foreign key to leads, so a deleted lead's record stays.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# As in 0004 (each setting read once per query, an InitPlan): an unscoped transaction sees
# no row.
_RULE = (
    "(SELECT current_setting('lily.all_tenants', true)) = 'on'"
    " OR tenant_id = (SELECT current_setting('lily.tenant_id', true))"
)


def upgrade() -> None:
    op.create_table(
        "consent_ledger",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("lead_id", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.String(length=64), nullable=False),
        sa.Column("message_sid", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_consent_ledger_tenant_id_tenants"),
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_ledger")),
    )
    op.create_index(
        op.f("ix_consent_ledger_tenant_id_phone_created_at"),
        "consent_ledger",
        ["tenant_id", "phone", "created_at"],
    )
    op.create_index(
        op.f("ix_consent_ledger_tenant_id_created_at"),
        "consent_ledger",
        ["tenant_id", "created_at"],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE consent_ledger ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE consent_ledger FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON consent_ledger USING ({_RULE}) WITH CHECK ({_RULE})"
        )


def downgrade() -> None:
    op.drop_table("consent_ledger")  # its indexes and policy go with it

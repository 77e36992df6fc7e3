"""The dashboard API: per-lead automation pause and read state, the activity order of the
leads list, indexes for the dashboard's lists and stats, and the sign-in throttle table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(
            sa.Column(
                "automations_paused", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("last_activity_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("last_inbound_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("last_read_at", sa.DateTime(timezone=True)))
    # Existing leads: their newest message (in or out), else when they were created.
    op.execute(
        """
        UPDATE leads SET
          last_activity_at = COALESCE(
            (SELECT MAX(m.created_at) FROM messages m WHERE m.lead_id = leads.id),
            leads.created_at),
          last_inbound_at = (SELECT MAX(m.created_at) FROM messages m
                             WHERE m.lead_id = leads.id AND m.direction = 'inbound')
        """
    )
    op.create_index(
        "ix_leads_tenant_activity", "leads", ["tenant_id", "last_activity_at", "id"]
    )
    op.create_index(
        "ix_leads_tenant_status_activity",
        "leads",
        ["tenant_id", "status", "last_activity_at", "id"],
    )
    op.create_index("ix_bookings_tenant_start", "bookings", ["tenant_id", "start_at", "id"])
    op.create_index("ix_calls_tenant_created", "calls", ["tenant_id", "created_at"])
    op.create_table(
        "signin_failures",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_signin_failures")),
    )


def downgrade() -> None:
    op.drop_table("signin_failures")
    op.drop_index("ix_calls_tenant_created", table_name="calls")
    op.drop_index("ix_bookings_tenant_start", table_name="bookings")
    op.drop_index("ix_leads_tenant_status_activity", table_name="leads")
    op.drop_index("ix_leads_tenant_activity", table_name="leads")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("last_read_at")
        batch.drop_column("last_inbound_at")
        batch.drop_column("last_activity_at")
        batch.drop_column("automations_paused")

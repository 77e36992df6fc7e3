"""Indexes the dashboard's stats were missing, found by bench/dashboard.py: the text-backs
of a window (median speed to lead) and a lead's bookings (the conversion rate).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The stats' text-backs: one kind of message in a window. sent_at last, so the median's
    # scan reads the index alone (PostgreSQL's index-only scan) instead of every row.
    op.create_index(
        "ix_messages_tenant_kind_created",
        "messages",
        ["tenant_id", "kind", "created_at", "sent_at"],
    )
    # The stats' booked leads: EXISTS a booking of this lead that is not cancelled.
    op.create_index("ix_bookings_tenant_lead", "bookings", ["tenant_id", "lead_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_bookings_tenant_lead", table_name="bookings")
    op.drop_index("ix_messages_tenant_kind_created", table_name="messages")

"""Crash-proof calendar syncs (issue 13): `bookings.calendar_synced_at`, the `updated_at` of
the booking state the tenant's Google Calendar last took, so the reconciler can re-queue a
CALENDAR_SYNC task a flushed Redis lost (a booking whose state is ahead of its calendar);
`ix_bookings_updated` serves its look at recent changes. Bookings already there count as
synced (their tasks ran under the Lily before this one), so upgrading re-queues nothing.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("calendar_synced_at", sa.DateTime(timezone=True)))
    op.create_index("ix_bookings_updated", "bookings", ["updated_at"])
    # Last: on PostgreSQL an UPDATE queues deferred checks that forbid altering the table
    # in the same transaction afterwards. Under 0004 an unscoped UPDATE sees no row.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT set_config('lily.all_tenants', 'on', true)")
    op.execute("UPDATE bookings SET calendar_synced_at = updated_at")


def downgrade() -> None:
    op.drop_index("ix_bookings_updated", table_name="bookings")
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("calendar_synced_at")

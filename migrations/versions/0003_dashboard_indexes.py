"""Indexes for the dashboard's stats, found by bench/dashboard.py: each count reads one
index alone (an index-only scan on PostgreSQL), never the rows, and only the rows it counts.

- messages (tenant_id, kind, created_at, sent_at): the text-backs of a window, and the
  median speed to lead from created_at and sent_at;
- calls (tenant_id, missed, created_at) instead of (tenant_id, created_at): only missed
  calls are counted, and nothing else lists calls by time;
- leads (tenant_id, created_at, id), quotes (tenant_id, created_at, in_service_area) and
  bookings (tenant_id, created_at, status), each instead of its (tenant_id, created_at):
  the new leads, quotes in the service area and bookings not cancelled of each day; the
  newest-first lists use them as they used the narrower ones;
- bookings (tenant_id, lead_id, status): the booked leads (EXISTS a booking of the lead
  that is not cancelled), matched to the window's leads by the id in the leads index.

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

# (old name or None, new name, table, new columns), applied in order, undone in reverse
_CHANGES = [
    (None, "ix_messages_tenant_kind_created", "messages",
     ["tenant_id", "kind", "created_at", "sent_at"]),
    ("ix_calls_tenant_created", "ix_calls_tenant_missed_created", "calls",
     ["tenant_id", "missed", "created_at"]),
    ("ix_leads_tenant_id_created_at", "ix_leads_tenant_created_id", "leads",
     ["tenant_id", "created_at", "id"]),
    ("ix_quotes_tenant_id_created_at", "ix_quotes_tenant_created_area", "quotes",
     ["tenant_id", "created_at", "in_service_area"]),
    ("ix_bookings_tenant_id_created_at", "ix_bookings_tenant_created_status", "bookings",
     ["tenant_id", "created_at", "status"]),
    (None, "ix_bookings_tenant_lead", "bookings", ["tenant_id", "lead_id", "status"]),
]
# what the replaced indexes were (0001 and 0002), for downgrade
_OLD_COLUMNS = ["tenant_id", "created_at"]


def upgrade() -> None:
    for old, new, table, columns in _CHANGES:
        op.create_index(new, table, columns)
        if old is not None:
            op.drop_index(old, table_name=table)


def downgrade() -> None:
    for old, new, table, _ in reversed(_CHANGES):
        if old is not None:
            op.create_index(old, table, _OLD_COLUMNS)
        op.drop_index(new, table_name=table)

"""Alerts to the owner's phones and the daily digest (issue 18): the tenant's alert settings
(`notify_to`, a switch per kind of event, the owner's own quiet hours, the hourly limit, the
numbers that replied STOP) and digest settings; `owner_alerts` (each event, pending until a
text carries it) and `owner_alert_texts` (each text, with how many SMS went: alerts are
counted apart from the plan's customer allowance). Both tables are a tenant's data, so on
PostgreSQL they get 0004's row-level security policy.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# As in 0004 (each setting read once per query, an InitPlan): an unscoped transaction sees
# no row.
_RULE = (
    "(SELECT current_setting('lily.all_tenants', true)) = 'on'"
    " OR tenant_id = (SELECT current_setting('lily.tenant_id', true))"
)
_SWITCHES = ("alert_new_lead", "alert_quote", "alert_booking", "alert_needs_reply", "alert_opt_out")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
        deferrable=True,
        initially="DEFERRED",
    )


def _row_security(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING ({_RULE}) WITH CHECK ({_RULE})"
        )


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("notify_to", sa.JSON(), nullable=False, server_default="[]"))
        for switch in _SWITCHES:
            batch.add_column(
                sa.Column(switch, sa.Boolean(), nullable=False, server_default=sa.true())
            )
        batch.add_column(sa.Column("alert_quiet_start", sa.Time(), nullable=True))
        batch.add_column(sa.Column("alert_quiet_end", sa.Time(), nullable=True))
        batch.add_column(
            sa.Column("alerts_per_hour", sa.Integer(), nullable=False, server_default="10")
        )
        batch.add_column(sa.Column("alert_stops", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("digest_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("digest_time", sa.Time(), nullable=False, server_default="07:00:00")
        )
        batch.add_column(sa.Column("digest_email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("digest_sent_on", sa.Date(), nullable=True))

    op.create_table(
        "owner_alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("lead_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("text_id", sa.String(length=32), nullable=True),
        _tenant_fk("owner_alerts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owner_alerts")),
    )
    op.create_index(
        op.f("ix_owner_alerts_tenant_id_status_occurred_at"),
        "owner_alerts",
        ["tenant_id", "status", "occurred_at"],
    )
    op.create_index(op.f("ix_owner_alerts_tenant_id_ref"), "owner_alerts", ["tenant_id", "ref"])
    op.create_index(
        op.f("ix_owner_alerts_tenant_id_text_id"), "owner_alerts", ["tenant_id", "text_id"]
    )
    _row_security("owner_alerts")

    op.create_table(
        "owner_alert_texts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Boolean(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        _tenant_fk("owner_alert_texts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owner_alert_texts")),
    )
    op.create_index(
        op.f("ix_owner_alert_texts_tenant_id_created_at"),
        "owner_alert_texts",
        ["tenant_id", "created_at"],
    )
    _row_security("owner_alert_texts")


def downgrade() -> None:
    op.drop_table("owner_alert_texts")  # indexes and policies go with the tables
    op.drop_table("owner_alerts")
    with op.batch_alter_table("tenants") as batch:
        for name in (
            "digest_sent_on",
            "digest_email",
            "digest_time",
            "digest_enabled",
            "alert_stops",
            "alerts_per_hour",
            "alert_quiet_end",
            "alert_quiet_start",
            *reversed(_SWITCHES),
            "notify_to",
        ):
            batch.drop_column(name)

"""CTIA per tenant (issue 16): the HELP answer's contact (`help_contact`, a phone number or an
email; none means the business number) and a sentence of the tenant's own (`help_message`),
and whether the first text-back says how to opt out (`opt_out_notice`, on by default) with
when the tenant last chose (`opt_out_notice_changed_at`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("help_contact", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("help_message", sa.String(length=160), nullable=True))
        batch.add_column(
            sa.Column("opt_out_notice", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("opt_out_notice_changed_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("opt_out_notice_changed_at")
        batch.drop_column("opt_out_notice")
        batch.drop_column("help_message")
        batch.drop_column("help_contact")

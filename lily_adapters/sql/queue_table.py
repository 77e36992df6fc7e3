from __future__ import annotations

import sqlalchemy as sa

from lily_adapters.sql.metadata import UtcDateTime, metadata

# The SQL jitter queue's one table. `state` is scheduled | inflight | dead; a dedupe key
# is unique among live (scheduled or in-flight) tasks only.
tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("tenant_id", sa.String(32), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("run_at", UtcDateTime, nullable=False),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("lease_token", sa.String(32), nullable=True),  # the current claim's fencing token
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("dedupe_key", sa.String(200), nullable=True),
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("enqueued_at", UtcDateTime, nullable=False),
    sa.Column("dead_at", UtcDateTime, nullable=True),
    sa.Index("ix_tasks_state_run_at", "state", "run_at"),
    sa.Index("ix_tasks_state_lease_until", "state", "lease_until"),
    sa.Index(
        "uq_tasks_live_dedupe_key",
        "dedupe_key",
        unique=True,
        postgresql_where=sa.text("state <> 'dead'"),
        sqlite_where=sa.text("state <> 'dead'"),
    ),
)

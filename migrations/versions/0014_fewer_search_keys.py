"""Six search keys a lead, not seventeen (issue 14): `lead_phone_keys` keeps a number's
starts of 3 to 7 digits and its end of 4; a longer search is narrowed by those and decided
on the decrypted numbers (lily_core.domain.lead_search). Each new lead wrote 17 rows into
the random (tenant_id, key) index, the larger part of what encryption added to a missed
call's webhook on SQLite.

Every lead's rows are rewritten a batch at a time, in id order, under the newest
blind-index key, so a run that stopped half way (SQLite has no transactional DDL) is simply
run again. The keys are the application's, read only when there are leads. The downgrade
writes the seventeen back.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from lily_adapters.crypto import FieldCrypto

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_BATCH = 500


def _six(digits: str) -> set[str]:
    """The keys of this revision (lily_core.domain.lead_search.phone_index_keys of its day,
    frozen): "^" and each start of 3 to 7 digits, "$" and the end of 4."""
    starts = {f"^{digits[:n]}" for n in range(3, min(7, len(digits)) + 1)}
    return starts | ({f"${digits[-4:]}"} if len(digits) >= 4 else set())


def _seventeen(digits: str) -> set[str]:
    """The keys of 0012: "^" and each start of 3 digits or more, "$" and each end of 4 or
    more."""
    starts = {f"^{digits[:n]}" for n in range(3, len(digits) + 1)}
    return starts | {f"${digits[-n:]}" for n in range(4, len(digits) + 1)}


def _keys() -> FieldCrypto:
    """The application's keys, as 0012 reads them."""
    from lily_adapters.settings import load_settings
    from lily_adapters.sql import encrypted

    try:
        return encrypted.field_crypto()
    except encrypted.NoKeys:
        return encrypted.field_crypto_for(load_settings())


def _rewrite(rule: Callable[[str], set[str]]) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # under 0004 an unscoped query sees no row
        op.execute("SELECT set_config('lily.all_tenants', 'on', true)")
    leads = sa.table("leads", sa.column("id"), sa.column("tenant_id"), sa.column("phone"))
    keys_of = sa.table(
        "lead_phone_keys", sa.column("tenant_id"), sa.column("lead_id"), sa.column("key")
    )
    crypto: FieldCrypto | None = None
    last = ""
    while rows := bind.execute(
        sa.select(leads).where(leads.c.id > last).order_by(leads.c.id).limit(_BATCH)
    ).all():
        crypto = crypto or _keys()
        bind.execute(sa.delete(keys_of).where(keys_of.c.lead_id.in_([r.id for r in rows])))
        inserts: list[dict[str, str]] = []
        for row in rows:
            if row.phone is None:
                continue
            digits = crypto.cipher.decrypt(row.phone, "leads.phone").removeprefix("+")
            inserts += [
                {
                    "tenant_id": row.tenant_id,
                    "lead_id": row.id,
                    "key": crypto.indexer.digest("phone_key", row.tenant_id, key),
                }
                for key in sorted(rule(digits))
            ]
        if inserts:
            bind.execute(sa.insert(keys_of), inserts)
        last = rows[-1].id
    if bind.dialect.name == "postgresql":
        # the deferred foreign-key checks of those rows now, not at the commit: a later
        # revision of the same run (0012's downgrade) could not drop the table before them
        op.execute("SET CONSTRAINTS ALL IMMEDIATE")


def upgrade() -> None:
    _rewrite(_six)


def downgrade() -> None:
    _rewrite(_seventeen)

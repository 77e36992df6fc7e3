"""Customers' data and tenants' secrets encrypted at rest (issue 14, DESIGN §6): the columns
become text holding `<key id>$<AES-GCM>` (lily_adapters.crypto), and what is looked up by
value gets a blind index (an HMAC under its own key): `leads.phone_bidx` (unique per tenant:
lead-by-phone, dedupe, opt-out, Cal.com matching), `leads.email_bidx`,
`consent_ledger.phone_bidx`, and `lead_phone_keys`, a row per start and end of a lead's
number, for the dashboard's search by digits. `leads.phone_reversed` (0006), the number in
clear, goes with its index.

Existing rows are encrypted a batch at a time, in id order, and a value the key ring
already opens is left as it is: a run that stopped half way (SQLite has no transactional
DDL) is simply run again. The keys are the application's (LILY_ENCRYPTION_KEYS and
LILY_BLIND_INDEX_KEY, else the ones generated into LILY_DATA_DIR), read only when there are
rows to encrypt. The downgrade decrypts every row and puts the plaintext schema back.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from lily_adapters.crypto import DecryptionError, FieldCrypto

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BATCH = 500
_RULE = (
    "(SELECT current_setting('lily.all_tenants', true)) = 'on'"
    " OR tenant_id = (SELECT current_setting('lily.tenant_id', true))"
)

# table -> {column: its plaintext type}; JSON values are encrypted as their JSON text
ENCRYPTED: dict[str, dict[str, sa.types.TypeEngine[Any]]] = {
    "tenants": {
        "calcom_secret": sa.String(128),
        "sandbox_auth_token": sa.String(128),
        "twilio_auth_token": sa.String(128),
        "chatwoot_secret": sa.String(128),
    },
    "leads": {"phone": sa.String(20), "name": sa.String(200), "email": sa.String(254)},
    "conversations": {"service_text": sa.Text()},
    "messages": {"body": sa.Text(), "media": sa.JSON()},
    "calls": {"from_phone": sa.String(20)},
    "bookings": {
        "title": sa.String(500),
        "address": sa.Text(),
        "attendee_name": sa.String(200),
        "attendee_email": sa.String(254),
        "attendee_phone": sa.String(20),
    },
    "consent_ledger": {"phone": sa.String(20)},
}


def _keys() -> FieldCrypto:
    """The application's keys: those installed in this process (the app, the tests), else
    the ones the settings name, as the container reads them."""
    from lily_adapters.settings import load_settings
    from lily_adapters.sql import encrypted

    try:
        return encrypted.field_crypto()
    except encrypted.NoKeys:
        return encrypted.field_crypto_for(load_settings())


def _all_tenants() -> None:
    if op.get_bind().dialect.name == "postgresql":  # under 0004 an unscoped one sees nothing
        op.execute("SELECT set_config('lily.all_tenants', 'on', true)")


def _checks_now() -> None:
    """PostgreSQL: run the deferred checks the row updates queued (foreign keys, the
    rollup's triggers), which would otherwise forbid indexing those tables in this
    transaction ("pending trigger events")."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _batches(table: str, columns: list[str]) -> Iterator[Sequence[sa.Row[Any]]]:
    """Every row's id, tenant_id and `columns`, a batch at a time in id order."""
    bind = op.get_bind()
    rows_of = sa.table(table, *(sa.column(c) for c in ["id", "tenant_id", *columns]))
    if table == "tenants":
        rows_of = sa.table(table, *(sa.column(c) for c in ["id", *columns]))
    last = ""
    while True:
        rows = bind.execute(
            sa.select(rows_of).where(rows_of.c.id > last).order_by(rows_of.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _update(table: str, changes: list[dict[str, Any]]) -> None:
    if not changes:
        return
    columns = [c for c in changes[0] if c != "row_id"]
    target = sa.table(table, sa.column("id"), *(sa.column(c) for c in columns))
    stmt = (
        sa.update(target)
        .where(target.c.id == sa.bindparam("row_id"))
        .values({c: sa.bindparam(c) for c in columns})
    )
    op.get_bind().execute(stmt, changes)


def _opened(keys: FieldCrypto, stored: str, purpose: str) -> str | None:
    try:
        return keys.cipher.decrypt(stored, purpose)
    except DecryptionError:
        return None


def _plain(value: Any) -> str | None:
    """A stored plaintext as the text to encrypt (JSON values as their JSON)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _encrypt_table(table: str, keys_of: Callable[[], FieldCrypto]) -> None:
    columns = list(ENCRYPTED[table])
    extra = {"leads": ["phone_bidx", "email_bidx"], "consent_ledger": ["phone_bidx"]}
    keys: FieldCrypto | None = None
    for rows in _batches(table, columns):
        keys = keys or keys_of()
        changes, phones = [], []
        for row in rows:
            change: dict[str, Any] = {"row_id": row.id}
            plain: dict[str, str | None] = {}
            for column in columns:
                purpose = f"{table}.{column}"
                stored = _plain(getattr(row, column))
                opened = None if stored is None else _opened(keys, stored, purpose)
                plain[column] = opened if opened is not None else stored
                if stored is not None and opened is None:
                    change[column] = keys.cipher.encrypt(stored, purpose)
                else:
                    change[column] = stored
            if table in extra:
                _blind(keys, table, row.tenant_id, plain, change)
            changes.append(change)
            phones.append(plain.get("phone"))
        _update(table, changes)
        if table == "leads":
            _phone_keys(keys, rows, phones)


def _blind(
    keys: FieldCrypto,
    table: str,
    tenant_id: str,
    plain: dict[str, str | None],
    change: dict[str, Any],
) -> None:
    phone, email = plain.get("phone"), plain.get("email")
    digest = keys.indexer.digest
    change["phone_bidx"] = None if phone is None else digest("phone", tenant_id, phone)
    if table == "leads":
        change["email_bidx"] = None if email is None else digest("email", tenant_id, email.lower())


def _phone_index_keys(phone: str) -> frozenset[str]:
    """The search keys of a number as they were when this migration was written (a copy of
    lily_core.domain.lead_search.phone_index_keys of that day, frozen so that a later change
    of the live rule does not change what this migration writes): "^" and each start of the
    digits of 3 or more, "$" and each end of 4 or more."""
    digits = phone.removeprefix("+")
    starts = {f"^{digits[:n]}" for n in range(3, len(digits) + 1)}
    ends = {f"${digits[-n:]}" for n in range(4, len(digits) + 1)}
    return frozenset(starts | ends)


def _phone_keys(keys: FieldCrypto, rows: Sequence[sa.Row[Any]], phones: list[str | None]) -> None:
    """Rewrite the batch's rows of lead_phone_keys (so a second run changes nothing)."""
    bind = op.get_bind()
    table = sa.table(
        "lead_phone_keys", sa.column("tenant_id"), sa.column("lead_id"), sa.column("key")
    )
    ids = [row.id for row in rows]
    bind.execute(sa.delete(table).where(table.c.lead_id.in_(ids)))
    inserts = []
    for row, phone in zip(rows, phones, strict=True):
        for key in sorted(_phone_index_keys(phone) if phone else ()):
            digest = keys.indexer.digest("phone_key", row.tenant_id, key)
            inserts.append({"tenant_id": row.tenant_id, "lead_id": row.id, "key": digest})
    if inserts:
        bind.execute(sa.insert(table), inserts)


def _to_text(table: str) -> None:
    with op.batch_alter_table(table) as batch:
        for column, plain_type in ENCRYPTED[table].items():
            json_text = f"{column}::text" if isinstance(plain_type, sa.JSON) else None
            batch.alter_column(
                column, existing_type=plain_type, type_=sa.Text(), postgresql_using=json_text
            )


def upgrade() -> None:
    _all_tenants()
    # the plaintext's indexes first: nothing rebuilds them while the rows change
    op.drop_index("ix_leads_tenant_phone_reversed", table_name="leads")
    op.drop_index("ix_leads_tenant_id_email", table_name="leads")
    op.drop_index("ix_consent_ledger_tenant_id_phone_created_at", table_name="consent_ledger")
    with op.batch_alter_table("leads") as batch:
        batch.drop_constraint("uq_leads_tenant_id_phone", type_="unique")
        batch.drop_column("phone_reversed")
        batch.add_column(sa.Column("phone_bidx", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("email_bidx", sa.String(length=32), nullable=True))
    with op.batch_alter_table("consent_ledger") as batch:
        batch.add_column(sa.Column("phone_bidx", sa.String(length=32), nullable=True))
    for table in ENCRYPTED:
        _to_text(table)
    op.create_table(
        "lead_phone_keys",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("lead_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_lead_phone_keys_tenant_id_tenants"),
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_phone_keys_lead_id_leads"),
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("lead_id", "key", name=op.f("pk_lead_phone_keys")),
    )
    op.create_index(
        op.f("ix_lead_phone_keys_tenant_id_key"), "lead_phone_keys", ["tenant_id", "key"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE lead_phone_keys ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE lead_phone_keys FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON lead_phone_keys USING ({_RULE}) WITH CHECK ({_RULE})"
        )

    for table in ENCRYPTED:
        _encrypt_table(table, _keys)

    _checks_now()
    with op.batch_alter_table("consent_ledger") as batch:
        batch.alter_column("phone_bidx", existing_type=sa.String(length=32), nullable=False)
    with op.batch_alter_table("leads") as batch:
        batch.create_unique_constraint(
            op.f("uq_leads_tenant_id_phone_bidx"), ["tenant_id", "phone_bidx"]
        )
    op.create_index(op.f("ix_leads_tenant_id_email_bidx"), "leads", ["tenant_id", "email_bidx"])
    op.create_index(
        op.f("ix_consent_ledger_tenant_id_phone_bidx_created_at"),
        "consent_ledger",
        ["tenant_id", "phone_bidx", "created_at"],
    )


def _decrypt_table(table: str, keys_of: Callable[[], FieldCrypto]) -> None:
    columns = list(ENCRYPTED[table])
    keys: FieldCrypto | None = None
    for rows in _batches(table, columns):
        keys = keys or keys_of()
        changes = []
        for row in rows:
            change: dict[str, Any] = {"row_id": row.id}
            for column in columns:
                stored = getattr(row, column)
                opened = None if stored is None else _opened(keys, stored, f"{table}.{column}")
                change[column] = stored if opened is None else opened
            changes.append(change)
        _update(table, changes)


def downgrade() -> None:
    _all_tenants()
    for table in ENCRYPTED:
        _decrypt_table(table, _keys)
    op.drop_index(
        op.f("ix_consent_ledger_tenant_id_phone_bidx_created_at"), table_name="consent_ledger"
    )
    op.drop_index(op.f("ix_leads_tenant_id_email_bidx"), table_name="leads")
    op.drop_table("lead_phone_keys")  # its index and policy go with it
    with op.batch_alter_table("leads") as batch:
        batch.drop_constraint(op.f("uq_leads_tenant_id_phone_bidx"), type_="unique")
        batch.drop_column("phone_bidx")
        batch.drop_column("email_bidx")
    with op.batch_alter_table("consent_ledger") as batch:
        batch.drop_column("phone_bidx")
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, columns in ENCRYPTED.items():
        with op.batch_alter_table(table) as batch:
            for column, plain_type in columns.items():
                to_json = f"{column}::json" if isinstance(plain_type, sa.JSON) else None
                batch.alter_column(
                    column, existing_type=sa.Text(), type_=plain_type, postgresql_using=to_json
                )
    reversed_type = sa.String(length=20, collation="C") if postgres else sa.String(length=20)
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("phone_reversed", reversed_type, nullable=True))
        batch.create_unique_constraint(op.f("uq_leads_tenant_id_phone"), ["tenant_id", "phone"])
    if postgres:
        op.execute("UPDATE leads SET phone_reversed = reverse(phone) WHERE phone IS NOT NULL")
    else:
        leads = sa.table("leads", sa.column("id"), sa.column("phone"), sa.column("phone_reversed"))
        update = (
            sa.update(leads)
            .where(leads.c.id == sa.bindparam("row_id"))
            .values(phone_reversed=sa.bindparam("reversed"))
        )
        for rows in _batches("leads", ["phone"]):
            if reversed_ := [{"row_id": r.id, "reversed": r.phone[::-1]} for r in rows if r.phone]:
                op.get_bind().execute(update, reversed_)
    _checks_now()
    op.create_index("ix_leads_tenant_phone_reversed", "leads", ["tenant_id", "phone_reversed"])
    op.create_index(op.f("ix_leads_tenant_id_email"), "leads", ["tenant_id", "email"])
    op.create_index(
        op.f("ix_consent_ledger_tenant_id_phone_created_at"),
        "consent_ledger",
        ["tenant_id", "phone", "created_at"],
    )

"""Re-encryption under the newest key (`lily keys reencrypt`), online and resumable.

Every column typed Encrypted or EncryptedJson is read raw, a batch of rows at a time in id
order, each in its own short transaction; a value under an older key is decrypted and
encrypted again under the newest, and written only if the row still holds what was read
(`UPDATE ... WHERE id = :id AND col = :old`). So the service keeps running: a row the
application rewrote meanwhile is left as it wrote it (under the newest key too, once every
process runs the new ring), and nothing is lost. A run that stops is simply run again: what
is under the newest key already is skipped.

Blind indexes are under keys of their own, recomputed by `reindex` (`lily keys reindex`)
after a new blind-index key was put in front of the ring: a batch of rows at a time, in id
order, each batch one short transaction holding its rows (FOR UPDATE on PostgreSQL; SQLite
has one writer), so a lead whose number the application changes meanwhile is either
recomputed before or rewritten after, never half. Lookups ask for every key of the ring
meanwhile (lily_adapters.sql.encrypted), so every row is found throughout. Rerun, a row
already under the newest key is left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import sqlalchemy as sa

from lily_adapters.crypto import FieldCrypto
from lily_adapters.sql import tables as t
from lily_adapters.sql.encrypted import Encrypted, EncryptedJson
from lily_adapters.sql.metadata import metadata
from lily_adapters.sql.uow import set_tenant_scope
from lily_core.domain.lead_search import phone_index_keys

__all__ = [
    "Reindexed",
    "Rekeyed",
    "encrypted_columns",
    "reencrypt",
    "reindex",
    "rows_to_reindex",
    "rows_to_visit",
    "stale_values",
]

DEFAULT_BATCH = 500


@attrs.frozen
class Rekeyed:
    """What a run did: rows read, values re-encrypted, values skipped because the row
    changed while it was being re-encrypted (the application's write stands)."""

    rows: int = 0
    values: int = 0
    raced: int = 0

    def __add__(self, other: Rekeyed) -> Rekeyed:
        return Rekeyed(self.rows + other.rows, self.values + other.values, self.raced + other.raced)


def encrypted_columns() -> dict[str, list[str]]:
    """table -> its encrypted columns, from the declared schema."""
    found: dict[str, list[str]] = {}
    for table in metadata.sorted_tables:
        columns = [c.name for c in table.columns if isinstance(c.type, Encrypted | EncryptedJson)]
        if columns:
            found[table.name] = columns
    return found


def _purpose(table: str, column: str) -> str:
    declared = metadata.tables[table].columns[column].type
    assert isinstance(declared, Encrypted | EncryptedJson)
    return declared.purpose


def rows_to_visit(engine: sa.Engine) -> int:
    """How many rows a run reads (for a progress bar)."""
    total = 0
    with engine.begin() as conn:
        set_tenant_scope(conn, None)
        for table in encrypted_columns():
            total += conn.scalar(sa.select(sa.func.count()).select_from(sa.table(table))) or 0
    return total


def stale_values(engine: sa.Engine, keys: FieldCrypto) -> int:
    """How many stored values are not under the ring's newest key (0: rotation done)."""
    stale = 0
    for table, columns in encrypted_columns().items():
        for rows in _batches(engine, table, columns, DEFAULT_BATCH):
            for row in rows:
                stale += sum(
                    1
                    for column in columns
                    if (value := getattr(row, column)) is not None
                    and not keys.cipher.is_current(value)
                )
    return stale


def _batches(
    engine: sa.Engine, table: str, columns: list[str], size: int
) -> Iterator[list[sa.Row[Any]]]:
    raw = sa.table(table, sa.column("id"), *(sa.column(c) for c in columns))
    last = ""
    while True:
        with engine.begin() as conn:
            set_tenant_scope(conn, None)
            rows = list(
                conn.execute(
                    sa.select(raw).where(raw.c.id > last).order_by(raw.c.id).limit(size)
                ).all()
            )
        if not rows:
            return
        yield rows
        last = rows[-1].id


def reencrypt(
    engine: sa.Engine,
    keys: FieldCrypto,
    *,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int], None] = lambda rows: None,
) -> Rekeyed:
    """Re-encrypt every value not under the ring's newest key; `progress(n)` after each
    batch of n rows read. A value no key of the ring opens raises DecryptionError."""
    done = Rekeyed()
    cipher = keys.cipher
    for table, columns in encrypted_columns().items():
        raw = sa.table(table, sa.column("id"), *(sa.column(c) for c in columns))
        for rows in _batches(engine, table, columns, batch):
            changes: dict[str, list[dict[str, str]]] = {c: [] for c in columns}
            for row in rows:
                for column in columns:
                    old = getattr(row, column)
                    if old is None or cipher.is_current(old):
                        continue
                    purpose = _purpose(table, column)
                    new = cipher.encrypt(cipher.decrypt(old, purpose), purpose)
                    changes[column].append({"row_id": row.id, "old": old, "new": new})
            written = 0
            wanted = sum(len(v) for v in changes.values())
            with engine.begin() as conn:
                set_tenant_scope(conn, None)
                for column, values in changes.items():
                    col = raw.c[column]
                    for value in values:  # one at a time: rowcount says if it still held
                        result = conn.execute(
                            sa.update(raw)
                            .where(raw.c.id == value["row_id"], col == value["old"])
                            .values({column: value["new"]})
                        )
                        written += result.rowcount
            done += Rekeyed(len(rows), written, wanted - written)
            progress(len(rows))
    return done


@attrs.frozen
class Reindexed:
    """What a reindex did: rows read, rows whose blind indexes were rewritten."""

    rows: int = 0
    changed: int = 0

    def __add__(self, other: Reindexed) -> Reindexed:
        return Reindexed(self.rows + other.rows, self.changed + other.changed)


def rows_to_reindex(engine: sa.Engine) -> int:
    """How many rows a reindex reads (leads and consent records)."""
    with engine.begin() as conn:
        set_tenant_scope(conn, None)
        count = sa.select(sa.func.count())
        leads = conn.scalar(count.select_from(t.leads)) or 0
        return leads + (conn.scalar(count.select_from(t.consent_ledger)) or 0)


def reindex(
    engine: sa.Engine,
    keys: FieldCrypto,
    *,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int], None] = lambda rows: None,
) -> Reindexed:
    """Recompute every blind index (leads' phone and email, their lead_phone_keys, the
    consent ledger's phone) under the newest blind-index key; `progress(n)` after each
    batch of n rows."""
    done = Reindexed()
    for step in (_reindex_leads, _reindex_consent):
        last = ""
        while True:
            with engine.begin() as conn:
                set_tenant_scope(conn, None)
                rows, changed = step(conn, keys, last, batch)
            if not rows:
                break
            done += Reindexed(len(rows), changed)
            progress(len(rows))
            last = rows[-1].id
    return done


def _locked_batch(
    conn: sa.Connection, table: str, columns: list[str], after: str, size: int
) -> list[sa.Row[Any]]:
    """The next rows after `after`, read raw (the ciphertexts), locked until the commit."""
    raw = sa.table(table, *(sa.column(c) for c in ["id", "tenant_id", *columns]))
    stmt = sa.select(raw).where(raw.c.id > after).order_by(raw.c.id).limit(size)
    return list(conn.execute(stmt.with_for_update()).all())  # FOR UPDATE: nothing on SQLite


def _opened(keys: FieldCrypto, stored: str | None, purpose: str) -> str | None:
    return None if stored is None else keys.cipher.decrypt(stored, purpose)


def _reindex_leads(
    conn: sa.Connection, keys: FieldCrypto, after: str, size: int
) -> tuple[list[sa.Row[Any]], int]:
    rows = _locked_batch(conn, "leads", ["phone", "email", "phone_bidx", "email_bidx"], after, size)
    if not rows:
        return rows, 0
    digest = keys.indexer.digest
    updates, wanted = [], {}
    for row in rows:
        phone = _opened(keys, row.phone, "leads.phone")
        email = _opened(keys, row.email, "leads.email")
        phone_bidx = None if phone is None else digest("phone", row.tenant_id, phone)
        email_bidx = None if email is None else digest("email", row.tenant_id, email.lower())
        if (phone_bidx, email_bidx) != (row.phone_bidx, row.email_bidx):
            updates.append({"row_id": row.id, "new_phone": phone_bidx, "new_email": email_bidx})
        wanted[row.id] = {
            digest("phone_key", row.tenant_id, key)
            for key in (phone_index_keys(phone) if phone else ())
        }
    if updates:
        leads = t.leads
        conn.execute(
            sa.update(leads)
            .where(leads.c.id == sa.bindparam("row_id"))
            .values(phone_bidx=sa.bindparam("new_phone"), email_bidx=sa.bindparam("new_email")),
            updates,
        )
    pk = t.lead_phone_keys
    held: dict[str, set[str]] = {lead_id: set() for lead_id in wanted}
    for lead_id, key in conn.execute(
        sa.select(pk.c.lead_id, pk.c.key).where(pk.c.lead_id.in_(list(wanted)))
    ):
        held[lead_id].add(key)
    stale = [lead_id for lead_id, want in wanted.items() if held[lead_id] != want]
    if stale:
        tenant_of = {row.id: row.tenant_id for row in rows}
        conn.execute(sa.delete(pk).where(pk.c.lead_id.in_(stale)))
        new_rows = [
            {"tenant_id": tenant_of[lead_id], "lead_id": lead_id, "key": key}
            for lead_id in stale
            for key in sorted(wanted[lead_id])
        ]
        if new_rows:
            conn.execute(sa.insert(pk), new_rows)
    return rows, len({u["row_id"] for u in updates} | set(stale))


def _reindex_consent(
    conn: sa.Connection, keys: FieldCrypto, after: str, size: int
) -> tuple[list[sa.Row[Any]], int]:
    rows = _locked_batch(conn, "consent_ledger", ["phone", "phone_bidx"], after, size)
    updates = []
    for row in rows:
        phone = keys.cipher.decrypt(row.phone, "consent_ledger.phone")
        if (bidx := keys.indexer.digest("phone", row.tenant_id, phone)) != row.phone_bidx:
            updates.append({"row_id": row.id, "bidx": bidx})
    if updates:
        ledger = t.consent_ledger
        conn.execute(
            sa.update(ledger)
            .where(ledger.c.id == sa.bindparam("row_id"))
            .values(phone_bidx=sa.bindparam("bidx")),
            updates,
        )
    return rows, len(updates)

"""Re-encryption under the newest key (`lily keys reencrypt`), online and resumable.

Every column typed Encrypted or EncryptedJson is read raw, a batch of rows at a time in id
order, each in its own short transaction; a value under an older key is decrypted and
encrypted again under the newest, and written only if the row still holds what was read
(`UPDATE ... WHERE id = :id AND col = :old`). So the service keeps running: a row the
application rewrote meanwhile is left as it wrote it (under the newest key too, once every
process runs the new ring), and nothing is lost. A run that stops is simply run again: what
is under the newest key already is skipped. Blind indexes are under their own key and do
not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import sqlalchemy as sa

from lily_adapters.crypto import FieldCrypto
from lily_adapters.sql.encrypted import Encrypted, EncryptedJson
from lily_adapters.sql.metadata import metadata
from lily_adapters.sql.uow import set_tenant_scope

__all__ = ["Rekeyed", "encrypted_columns", "reencrypt", "rows_to_visit", "stale_values"]

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

"""Columns encrypted at rest, and the blind indexes that look them up (DESIGN §6).

The SQL adapter encrypts at the boundary: a column typed `Encrypted("leads.phone")` takes and
gives plain strings, and holds `<key id>$<AES-GCM>` (lily_adapters.crypto). The keys are the
process's: the composition root installs them once (`install_field_crypto`), before the
engine is built, as the mappers are started once; a migration or a command without a
container reads them the way the app does (`field_crypto_for`).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import sqlalchemy as sa

from lily_adapters import crypto
from lily_adapters.crypto import DecryptionError, FieldCrypto
from lily_core.domain.lead_search import phone_index_keys

__all__ = [
    "BLIND_INDEX",
    "Encrypted",
    "EncryptedJson",
    "NoKeys",
    "email_bidx",
    "email_bidx_is",
    "field_crypto",
    "field_crypto_for",
    "install_field_crypto",
    "phone_bidx",
    "phone_bidx_is",
    "phone_search_keys",
    "search_key_bidxs",
]

# a blind index: 32 hex characters (lily_adapters.crypto.BlindIndexer)
BLIND_INDEX = sa.String(32)

_lock = threading.Lock()
_installed: FieldCrypto | None = None


class NoKeys(RuntimeError):
    """An encrypted column was read or written before any keys were installed."""


def install_field_crypto(keys: FieldCrypto) -> None:
    """The keys every Encrypted column and blind index of this process uses from now on."""
    global _installed
    with _lock:
        _installed = keys


def field_crypto() -> FieldCrypto:
    if _installed is None:
        raise NoKeys("no encryption keys installed (the composition root installs them)")
    return _installed


def field_crypto_for(settings: Any) -> FieldCrypto:
    """The keys `settings` (lily_adapters.settings.Settings) name: LILY_ENCRYPTION_KEYS and
    LILY_BLIND_INDEX_KEY, else the ones generated into LILY_DATA_DIR."""
    ring, blind = crypto.load_or_create(
        settings.data_dir,
        settings.encryption_keys.get_secret_value() if settings.encryption_keys else None,
        settings.blind_index_key.get_secret_value() if settings.blind_index_key else None,
    )
    return FieldCrypto.from_keys(ring, blind)


class Encrypted(sa.types.TypeDecorator[str]):
    """A string stored encrypted; `purpose` (the column, "leads.phone") is bound into the
    ciphertext, so a value moved to another column does not decrypt. A value that does not
    decrypt raises DecryptionError: never garbage, never the ciphertext as if plain."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        return None if value is None else field_crypto().cipher.encrypt(str(value), self.purpose)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        return None if value is None else field_crypto().cipher.decrypt(value, self.purpose)


class EncryptedJson(sa.types.TypeDecorator[Any]):
    """A JSON value stored encrypted (its text, as Encrypted)."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        return field_crypto().cipher.encrypt(json.dumps(value), self.purpose)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        return json.loads(field_crypto().cipher.decrypt(value, self.purpose))


def is_encrypted(stored: str, keys: FieldCrypto, purpose: str) -> bool:
    """Whether `stored` is a value the ring opens (as opposed to plaintext, which a
    migration or `lily keys reencrypt` still has to encrypt)."""
    try:
        keys.cipher.decrypt(stored, purpose)
    except DecryptionError:
        return False
    return True


# Blind indexes. The kinds differ, so a number's index never equals an email's or a key's.
# Written under the newest blind-index key; looked up under every key of the ring (while
# `lily keys reindex` recomputes them, a row may still hold its index under an older one).


def phone_bidx(tenant_id: str, phone: str | None) -> str | None:
    """The lookup of a number (E.164, as the domain normalised it)."""
    return None if phone is None else field_crypto().indexer.digest("phone", tenant_id, phone)


def email_bidx(tenant_id: str, email: str | None) -> str | None:
    """The lookup of an email, whatever its case."""
    if email is None:
        return None
    return field_crypto().indexer.digest("email", tenant_id, email.lower())


def phone_search_keys(tenant_id: str, phone: str | None) -> list[str]:
    """The blind indexes of what a number is found by in the dashboard's search by digits
    (lily_core.domain.lead_search.phone_index_keys), sorted."""
    if phone is None:
        return []
    return sorted(search_key_bidx(tenant_id, key) for key in phone_index_keys(phone))


def search_key_bidx(tenant_id: str, key: str) -> str:
    return field_crypto().indexer.digest("phone_key", tenant_id, key)


def search_key_bidxs(tenant_id: str, key: str) -> list[str]:
    """A search key's blind index under every key of the ring (the lookup)."""
    return field_crypto().indexer.digests("phone_key", tenant_id, key)


def _is_one_of(column: sa.ColumnElement[Any], digests: list[str]) -> sa.ColumnElement[bool]:
    # one key (nearly always): a plain equality, as before rotations existed
    return column == digests[0] if len(digests) == 1 else column.in_(digests)


def phone_bidx_is(
    column: sa.ColumnElement[Any], tenant_id: str, phone: str
) -> sa.ColumnElement[bool]:
    """`column` (a phone_bidx) holds the index of `phone` under some key of the ring."""
    return _is_one_of(column, field_crypto().indexer.digests("phone", tenant_id, phone))


def email_bidx_is(
    column: sa.ColumnElement[Any], tenant_id: str, email: str
) -> sa.ColumnElement[bool]:
    """`column` (an email_bidx) holds the index of `email`, whatever its case, under some
    key of the ring."""
    digests = field_crypto().indexer.digests("email", tenant_id, email.lower())
    return _is_one_of(column, digests)

"""Field encryption at rest and blind indexes (DESIGN §6), with `cryptography`'s AES-GCM.

Why AES-256-GCM rather than Fernet: a Fernet token is base64 of 57+ bytes of framing and
AES-CBC with an HMAC (two passes); AES-GCM is one AEAD pass, its token is 28 bytes longer
than the plaintext, and it takes associated data, which binds each value to its column (a
ciphertext copied from `tenants.calcom_secret` into `leads.name` does not decrypt).

A stored value reads `<key id>$<base64url(nonce ‖ ciphertext ‖ tag)>`. The key ring maps
ids to 256-bit keys; the newest key (the first of LILY_ENCRYPTION_KEYS) encrypts and every
key decrypts, so rotating is: add a key in front, re-encrypt the rows (`lily keys
reencrypt`), then drop the old key.

A blind index is HMAC-SHA256, under a key of its own, of what a query looks up (a
normalised phone number, a lower-cased email, the last four digits of a number...), with the
tenant and the kind of value in the MAC: equal values of one tenant index equally, while
the same number at two tenants, or as two kinds, does not. Its key can be rotated too
(`lily keys rotate-index`, then `lily keys reindex`): LILY_BLIND_INDEX_KEY is then a ring,
`id:key,id:key` newest first (a bare key is the ring of one key, `b1`); the newest key
indexes what is written, and a lookup asks for the value's index under every key of the
ring (one `IN` of the same indexed column), so rows not yet recomputed are still found.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from pathlib import Path

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "BlindIndexer",
    "BlindKeys",
    "DecryptionError",
    "FieldCipher",
    "FieldCrypto",
    "InvalidKeys",
    "KeyRing",
    "format_blind_keys",
    "format_keys",
    "load_or_create",
    "new_key",
    "parse_blind_keys",
    "parse_keys",
    "rotated_blind_keys",
]

_NONCE_BYTES = 12
_KEY_BYTES = 32
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
_SEPARATOR = "$"


class InvalidKeys(ValueError):
    """A key ring or blind-index key that cannot be used (the message names what is wrong,
    never a key)."""


class DecryptionError(Exception):
    """A stored value that no key of the ring opens: an unknown key id, a wrong key, or a
    value altered at rest. Never a garbled plaintext."""


def new_key() -> bytes:
    return os.urandom(_KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded, altchars=b"-_", validate=True)  # no character skipped


@attrs.frozen
class KeyRing:
    """Key id -> 256-bit key, newest first (`keys[0]` encrypts)."""

    keys: tuple[tuple[str, bytes], ...]

    def __attrs_post_init__(self) -> None:
        if not self.keys:
            raise InvalidKeys("the key ring is empty")
        ids = [kid for kid, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise InvalidKeys("two keys have the same id")
        for kid, key in self.keys:
            if not _KEY_ID.fullmatch(kid):
                raise InvalidKeys(f"key id {kid!r}: letters, digits, - and _, at most 16")
            if len(key) != _KEY_BYTES:
                raise InvalidKeys(f"key {kid!r} is not {_KEY_BYTES} bytes")

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def rotated(self, kid: str | None = None, key: bytes | None = None) -> KeyRing:
        """This ring with a new key in front (a fresh random one unless given); its id is
        the next `kN` free unless given."""
        taken = {k for k, _ in self.keys}
        if kid is None:
            n = len(self.keys) + 1
            while f"k{n}" in taken:
                n += 1
            kid = f"k{n}"
        return KeyRing(((kid, key or new_key()), *self.keys))


def parse_keys(text: str) -> KeyRing:
    """`id:base64url-key[,id:base64url-key...]`, newest first."""
    keys = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        kid, sep, encoded = item.partition(":")
        if not sep:
            raise InvalidKeys("each key must read id:base64url-key")
        try:
            keys.append((kid.strip(), _unb64(encoded.strip())))
        except (binascii.Error, ValueError):
            raise InvalidKeys(f"key {kid.strip()!r} is not base64url") from None
    return KeyRing(tuple(keys))


def format_keys(ring: KeyRing) -> str:
    return ",".join(f"{kid}:{_b64(key)}" for kid, key in ring.keys)


class FieldCipher:
    """Encrypts with the ring's newest key, decrypts with whichever key a value names.
    `purpose` (the column, "leads.phone") is the associated data."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._aead = {kid: AESGCM(key) for kid, key in ring.keys}
        self._current = ring.current_id

    def encrypt(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead[self._current].encrypt(nonce, plaintext.encode(), purpose.encode())
        return f"{self._current}{_SEPARATOR}{_b64(nonce + sealed)}"

    def decrypt(self, stored: str, purpose: str) -> str:
        kid, sep, body = stored.partition(_SEPARATOR)
        if not sep:
            raise DecryptionError(f"{purpose}: not an encrypted value")
        aead = self._aead.get(kid)
        if aead is None:
            raise DecryptionError(f"{purpose}: encrypted under key {kid!r}, not in the ring")
        try:
            raw = _unb64(body)
            plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise DecryptionError(
                f"{purpose}: does not decrypt under key {kid!r} (wrong key or altered)"
            ) from None
        return plain.decode()

    @staticmethod
    def key_id(stored: str) -> str | None:
        """The id of the key `stored` was encrypted under (None: not an encrypted value)."""
        kid, sep, _ = stored.partition(_SEPARATOR)
        return kid if sep else None

    def is_current(self, stored: str) -> bool:
        return self.key_id(stored) == self._current


# the blind-index keys: (id, key), newest first
BlindKeys = tuple[tuple[str, bytes], ...]
_BARE_BLIND_ID = "b1"


def parse_blind_keys(text: str) -> BlindKeys:
    """LILY_BLIND_INDEX_KEY: a bare base64url key (the ring of one key, `b1`), or a ring
    `id:base64url-key,...` newest first (base64url has no ':', so the two never mix up)."""
    if ":" not in text:
        try:
            return ((_BARE_BLIND_ID, _unb64(text.strip())),)
        except (binascii.Error, ValueError):
            raise InvalidKeys("the blind-index key is not base64url") from None
    keys = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        kid, sep, encoded = item.partition(":")
        if not sep:
            raise InvalidKeys("each blind-index key must read id:base64url-key")
        try:
            keys.append((kid.strip(), _unb64(encoded.strip())))
        except (binascii.Error, ValueError):
            raise InvalidKeys(f"blind-index key {kid.strip()!r} is not base64url") from None
    return tuple(keys)


def format_blind_keys(keys: BlindKeys) -> str:
    return ",".join(f"{kid}:{_b64(key)}" for kid, key in keys)


def rotated_blind_keys(keys: BlindKeys) -> BlindKeys:
    """`keys` with a fresh random key in front, named the next `bN` free."""
    taken = {kid for kid, _ in keys}
    n = len(keys) + 1
    while f"b{n}" in taken:
        n += 1
    return ((f"b{n}", new_key()), *keys)


class BlindIndexer:
    """Deterministic, keyed digests of looked-up values (32 hex characters, 128 bits), under
    the newest key of a small ring (a bare key is a ring of one); `digests` gives a value's
    index under every key, newest first, for lookups while the indexes are recomputed."""

    def __init__(self, keys: bytes | BlindKeys) -> None:
        ring: BlindKeys = ((_BARE_BLIND_ID, keys),) if isinstance(keys, bytes) else tuple(keys)
        if not ring:
            raise InvalidKeys("the blind-index key ring is empty")
        ids = [kid for kid, _ in ring]
        if len(set(ids)) != len(ids):
            raise InvalidKeys("two blind-index keys have the same id")
        for kid, key in ring:
            if not _KEY_ID.fullmatch(kid):
                raise InvalidKeys(f"blind-index key id {kid!r}: letters, digits, - and _")
            if len(key) < _KEY_BYTES:
                raise InvalidKeys(f"the blind-index key must be at least {_KEY_BYTES} bytes")
        self.keys = ring
        # keyed once, copied for each digest
        self._keyed = [hmac.new(key, digestmod=hashlib.sha256) for _, key in ring]

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def digest(self, kind: str, tenant_id: str, value: str) -> str:
        """The index under the newest key: what is written."""
        return self._mac(self._keyed[0], kind, tenant_id, value)

    def digests(self, kind: str, tenant_id: str, value: str) -> list[str]:
        """The index under every key, newest first: what a lookup asks for."""
        return [self._mac(keyed, kind, tenant_id, value) for keyed in self._keyed]

    @staticmethod
    def _mac(keyed: hmac.HMAC, kind: str, tenant_id: str, value: str) -> str:
        mac = keyed.copy()
        mac.update(f"{kind}\0{tenant_id}\0{value}".encode())
        return mac.hexdigest()[:32]


@attrs.frozen
class FieldCrypto:
    """What the SQL adapter needs: the cipher for columns, the indexer for lookups."""

    cipher: FieldCipher
    indexer: BlindIndexer

    @classmethod
    def from_keys(cls, ring: KeyRing, blind_key: bytes | BlindKeys) -> FieldCrypto:
        return cls(FieldCipher(ring), BlindIndexer(blind_key))

    @classmethod
    def parse(cls, keys: str, blind_key: str) -> FieldCrypto:
        """From the settings' texts: the ring ("id:key,...") and the blind-index key (a
        base64url key, or a ring of them)."""
        return cls.from_keys(parse_keys(keys), parse_blind_keys(blind_key))


def _read_or_create(path: Path, make: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(make + "\n")
    return path.read_text().strip()


KEYS_FILE = "encryption_keys"
BLIND_KEY_FILE = "blind_index_key"


def load_or_create(
    data_dir: Path, keys: str | None = None, blind_key: str | None = None
) -> tuple[KeyRing, BlindKeys]:
    """The ring and blind-index keys from the given values, else from files in `data_dir`
    (each made once, 0600, like the signing key) -- the embedded default."""
    ring_text = keys or _read_or_create(data_dir / KEYS_FILE, f"k1:{_b64(new_key())}")
    blind_text = blind_key or _read_or_create(data_dir / BLIND_KEY_FILE, _b64(new_key()))
    return parse_keys(ring_text), parse_blind_keys(blind_text)


def keys_file(data_dir: Path) -> Path:
    return data_dir / KEYS_FILE


def blind_keys_file(data_dir: Path) -> Path:
    return data_dir / BLIND_KEY_FILE


def write_keys_file(data_dir: Path, ring: KeyRing) -> None:
    """Replace the generated ring (atomically: a new file renamed over the old)."""
    _replace(keys_file(data_dir), format_keys(ring))


def write_blind_keys_file(data_dir: Path, keys: BlindKeys) -> None:
    """Replace the generated blind-index keys (atomically, as write_keys_file)."""
    _replace(blind_keys_file(data_dir), format_blind_keys(keys))


def _replace(path: Path, text: str) -> None:
    tmp = path.with_suffix(".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    tmp.replace(path)

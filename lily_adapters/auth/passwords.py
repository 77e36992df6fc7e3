"""Password hashes: argon2id through pwdlib, still reading the scrypt hashes Lily stored
before (`scrypt$<salt>$<digest>`), which a successful sign-in replaces."""

from __future__ import annotations

import functools
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.base import HasherProtocol, ensure_str

from lily_core.ports.auth import PasswordCheck, PasswordHasher
from lily_core.use_cases.access import hash_password, verify_password


class _LegacyScryptHasher(HasherProtocol):
    """pwdlib's view of Lily's old scrypt format (defined in the core): it verifies, and
    every hash of it needs a rehash, to argon2."""

    @classmethod
    def identify(cls, hash: str | bytes) -> bool:
        return ensure_str(hash).startswith("scrypt$")

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        return hash_password(ensure_str(password))

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        return verify_password(ensure_str(password), ensure_str(hash))

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return True


class Argon2PasswordHasher(PasswordHasher):
    """Hashes with argon2id (argon2-cffi's default parameters: 64 MiB, 3 passes); verifies
    argon2 and legacy scrypt hashes and asks for a rehash of scrypt ones and of argon2 ones
    made with other parameters."""

    def __init__(self, argon2: Argon2Hasher | None = None) -> None:
        self._hash = PasswordHash((argon2 or Argon2Hasher(), _LegacyScryptHasher()))

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, stored: str | None) -> PasswordCheck:
        if stored is None or not any(h.identify(stored) for h in self._hash.hashers):
            # No user (or a hash nobody can read): the same work as a real check, no match.
            self._hash.verify(password, self._dummy_hash)
            return PasswordCheck(False)
        valid, new_hash = self._hash.verify_and_update(password, stored)
        return PasswordCheck(valid, new_hash if valid else None)

    @functools.cached_property
    def _dummy_hash(self) -> str:
        return self._hash.hash(secrets.token_urlsafe(16))

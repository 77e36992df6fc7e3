"""What signing users in needs from the outside: password hashing, token signing and a
throttle on failed sign-ins."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import attrs

from lily_core.errors import LilyError

__all__ = [
    "PasswordCheck",
    "PasswordHasher",
    "SignInThrottle",
    "ThrottlePolicy",
    "ThrottleUnavailable",
    "TokenClaims",
    "TokenSigner",
]


@attrs.frozen
class PasswordCheck:
    """The outcome of checking a password: whether it matched, and the hash to store in
    place of the old one when that is in an outdated scheme or with outdated parameters."""

    valid: bool
    new_hash: str | None = None


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str:
        """A salted hash of `password` in the current scheme, to store."""
        ...

    def verify(self, password: str, stored: str | None) -> PasswordCheck:
        """Whether `password` matches the `stored` hash (any scheme Lily ever stored; an
        unknown or garbled one does not match). With `stored` None (no such user) it spends
        the time of a real check and answers invalid, so that timing does not tell an
        attacker which emails exist."""
        ...


@attrs.frozen(kw_only=True)
class TokenClaims:
    """What a user token says: whose it is (user and tenant), and from when to when."""

    user_id: str
    tenant_id: str
    issued_at: datetime
    expires_at: datetime


class TokenSigner(Protocol):
    def sign(self, claims: TokenClaims) -> str:
        """A token carrying `claims` that only this signer's key can have made."""
        ...

    def read(self, token: str) -> TokenClaims:
        """The claims of a token this signer's key made; Unauthenticated for anything else
        (forged, altered, another algorithm, malformed). Expiry is the caller's to check,
        against its clock."""
        ...


class ThrottleUnavailable(LilyError):
    """The throttle's store could not be reached; nothing was counted."""


@attrs.frozen
class ThrottlePolicy:
    """`max_failures` failed sign-ins for one key within `window` block it for `block`."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    block: timedelta = timedelta(minutes=15)


class SignInThrottle(Protocol):
    """Counts failed sign-ins per key (an email, a client address) under a ThrottlePolicy.
    Counting is atomic across processes sharing the store."""

    def blocked_for(self, key: str) -> int:
        """Whole seconds (rounded up) until `key` may try again; 0 when it is not blocked."""
        ...

    def record_failure(self, key: str) -> None:
        """Count a failure for `key`; the one that reaches the policy's limit within its
        window blocks the key for the policy's block time."""
        ...

    def reset(self, key: str) -> None:
        """Forget `key`'s failures (after a successful sign-in)."""
        ...

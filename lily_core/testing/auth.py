"""Doubles of the sign-in ports: a transparent password hasher, a token signer with a
memory instead of a key, and the throttle's rules over a dict."""

from __future__ import annotations

import itertools
import math

import attrs

from lily_core.errors import Unauthenticated
from lily_core.ports.auth import (
    PasswordCheck,
    PasswordHasher,
    SignInThrottle,
    ThrottlePolicy,
    TokenClaims,
    TokenSigner,
)
from lily_core.ports.clock import Clock


class FakePasswordHasher(PasswordHasher):
    """Hashes `pw` as `fake$pw`. A stored `old$pw` stands for an outdated scheme: it matches
    `pw` and asks for a rehash. `checks` counts every verification, dummy ones included."""

    def __init__(self) -> None:
        self.checks = 0

    def hash(self, password: str) -> str:
        return f"fake${password}"

    def verify(self, password: str, stored: str | None) -> PasswordCheck:
        self.checks += 1
        if stored == f"old${password}":
            return PasswordCheck(True, self.hash(password))
        return PasswordCheck(stored == self.hash(password))


class FakeTokenSigner(TokenSigner):
    """Hands out opaque tokens and remembers their claims; any other token is forged."""

    def __init__(self) -> None:
        self.issued: dict[str, TokenClaims] = {}
        self._numbers = itertools.count(1)

    def sign(self, claims: TokenClaims) -> str:
        token = f"fake-token-{next(self._numbers)}"
        self.issued[token] = claims
        return token

    def read(self, token: str) -> TokenClaims:
        try:
            return self.issued[token]
        except KeyError:
            raise Unauthenticated("invalid or expired token") from None


@attrs.define
class _Failures:
    count: int
    window_started_at: float  # POSIX seconds
    blocked_until: float | None = None


class InMemorySignInThrottle(SignInThrottle):
    """The throttle's rules, for one process."""

    def __init__(self, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self.clock, self.policy = clock, policy or ThrottlePolicy()
        self.failures: dict[str, _Failures] = {}

    def blocked_for(self, key: str) -> int:
        entry = self.failures.get(key)
        if entry is None or entry.blocked_until is None:
            return 0
        return max(0, math.ceil(entry.blocked_until - self._now()))

    def record_failure(self, key: str) -> None:
        now = self._now()
        entry = self.failures.get(key)
        if entry is None or now - entry.window_started_at >= self.policy.window.total_seconds():
            entry = self.failures[key] = _Failures(0, now, entry.blocked_until if entry else None)
        entry.count += 1
        still_blocked = entry.blocked_until is not None and entry.blocked_until > now
        if entry.count >= self.policy.max_failures and not still_blocked:
            entry.blocked_until = now + self.policy.block.total_seconds()

    def reset(self, key: str) -> None:
        self.failures.pop(key, None)

    def _now(self) -> float:
        return self.clock.now().timestamp()

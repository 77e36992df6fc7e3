"""Users sign in with email and password for a short-lived token, which then stands for
them on every call (DESIGN §4.2)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import attrs

from lily_core.domain.principal import Principal, Role
from lily_core.domain.sanitize import clean_text
from lily_core.errors import RateLimited, Unauthenticated
from lily_core.ports.auth import PasswordHasher, SignInThrottle, TokenClaims, TokenSigner
from lily_core.ports.clock import Clock
from lily_core.ports.repositories import UnitOfWork

# One message for an unknown email and a wrong password: which one it was is the attacker's.
WRONG_CREDENTIALS = "wrong email or password"
DEFAULT_TOKEN_LIFETIME = timedelta(hours=12)


def throttle_key(kind: str, value: str) -> str:
    """The throttle's key for an email or a client address: hashed, so that what attackers
    type (and users' emails) is not kept in the throttle's store."""
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


@attrs.frozen
class IssuedToken:
    access_token: str
    expires_in: int  # seconds


class SignIn:
    """Exchange an email and password for a user token.

    Failed attempts are counted per email and per client address; while either is blocked
    the attempt is refused (RateLimited) before the password is looked at. A wrong password
    and an unknown email are the same Unauthenticated, after the same hashing work. A
    success forgets the email's failures and, when the stored hash is outdated (scrypt, or
    old parameters), stores a fresh one."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        hasher: PasswordHasher,
        signer: TokenSigner,
        throttle: SignInThrottle,
        lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
    ) -> None:
        self.uow, self.clock, self.hasher = uow, clock, hasher
        self.signer, self.throttle, self.lifetime = signer, throttle, lifetime

    def __call__(self, email: str, password: str, client: str | None = None) -> IssuedToken:
        email = clean_text(email).strip().lower()  # storable: a NUL is no address anyway
        email_key = throttle_key("email", email)
        keys = [email_key] + ([throttle_key("client", client)] if client else [])
        wait = max(self.throttle.blocked_for(key) for key in keys)
        if wait > 0:
            raise RateLimited("too many failed sign-ins; try again later", retry_after=wait)
        # A user is found by email before their tenant is known: across tenants, on purpose.
        with self.uow.across_tenants():
            user = self.uow.users.get_by_email(email)
        # The hash is checked outside the transaction: it takes a while, on purpose.
        check = self.hasher.verify(password, user.password_hash if user else None)
        if user is None or not check.valid:
            for key in keys:
                self.throttle.record_failure(key)
            raise Unauthenticated(WRONG_CREDENTIALS)
        self.throttle.reset(email_key)
        if check.new_hash is not None:
            self._store_hash(user.tenant_id, user.id, check.new_hash)
        now = self.clock.now()
        claims = TokenClaims(
            user_id=user.id, tenant_id=user.tenant_id, issued_at=now, expires_at=now + self.lifetime
        )
        return IssuedToken(self.signer.sign(claims), int(self.lifetime.total_seconds()))

    def _store_hash(self, tenant_id: str, user_id: str, new_hash: str) -> None:
        with self.uow.for_tenant(tenant_id):
            user = self.uow.users.get(tenant_id, user_id)
            if user is None:  # removed meanwhile: nothing to upgrade
                return
            user.password_hash = new_hash
            self.uow.users.add(user)
            self.uow.commit()


class AuthenticateUserToken:
    """The Principal a user token stands for, with the user's current role; Unauthenticated
    for a token that is forged, expired, or whose user or tenant no longer exists."""

    def __init__(self, uow: UnitOfWork, clock: Clock, signer: TokenSigner) -> None:
        self.uow, self.clock, self.signer = uow, clock, signer

    def __call__(self, token: str) -> Principal:
        claims = self.signer.read(token)
        if claims.expires_at <= self.clock.now():
            raise Unauthenticated("invalid or expired token")
        with self.uow.for_tenant(claims.tenant_id):
            user = self.uow.users.get(claims.tenant_id, claims.user_id)
            tenant = self.uow.tenants.get(claims.tenant_id)
        if user is None or tenant is None:
            raise Unauthenticated("invalid or expired token")
        return Principal(tenant=tenant, role=Role(user.role), user=user)

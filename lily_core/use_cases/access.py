"""Who may use a tenant's dashboard API: users with passwords and API keys."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets

from lily_core.domain.principal import Principal, Role
from lily_core.domain.records import ApiKey, User
from lily_core.domain.sanitize import clean_text
from lily_core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from lily_core.ports.auth import PasswordCheck, PasswordHasher
from lily_core.ports.clock import Clock
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.tenants import find_tenant

API_KEY_PREFIX = "lily_"
API_KEY_NAME_MAX = 200  # the api_keys.name column
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """A `scrypt$<salt>$<digest>` hash: the format Lily stored before argon2, which
    ScryptPasswordHasher still produces and every PasswordHasher still reads."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a `scrypt$...` hash (False for any other string)."""
    try:
        scheme, salt, digest = stored.split("$")
        salt_bytes = bytes.fromhex(salt)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=salt_bytes, **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


class ScryptPasswordHasher(PasswordHasher):
    """A PasswordHasher on the standard library's scrypt: pure, so the core's default and
    a stand-in in tests. Production wires the argon2 one (lily_adapters.auth)."""

    def hash(self, password: str) -> str:
        return hash_password(password)

    def verify(self, password: str, stored: str | None) -> PasswordCheck:
        return PasswordCheck(verify_password(password, stored or _dummy_scrypt_hash()))


@functools.cache
def _dummy_scrypt_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def hash_api_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AddUser:
    """Add a dashboard user to a tenant; the password is kept only as `hasher`'s hash."""

    def __init__(self, uow: UnitOfWork, clock: Clock, hasher: PasswordHasher | None = None) -> None:
        self.uow, self.clock = uow, clock
        self.hasher = hasher or ScryptPasswordHasher()

    def __call__(self, slug: str, email: str, password: str, role: str = "owner") -> User:
        email = email.strip().lower()
        if not _EMAIL_RE.match(email):
            raise InvalidInput(f"{email!r} is not an email address", field="email")
        if len(password) < 10:
            raise InvalidInput("must be at least 10 characters", field="password")
        if role not in ("owner", "operator"):
            raise InvalidInput("must be owner or operator", field="role")
        password_hash = self.hasher.hash(password)  # slow on purpose: outside the transaction
        with self.uow:
            # An email signs in to one tenant: it must be free in every tenant.
            if self.uow.across_tenants().users.get_by_email(email):
                raise Conflict(f"a user with email {email} exists")
            tenant = find_tenant(self.uow, slug)
            user = User(
                tenant_id=tenant.id,
                email=email,
                password_hash=password_hash,
                role=role,
                created_at=self.clock.now(),
            )
            self.uow.users.add(user)
            self.uow.commit()
        return user


class CreateApiKey:
    """Make a tenant API key; the token is returned once and only its hash is kept."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, slug: str, name: str = "default") -> tuple[ApiKey, str]:
        name = clean_text(name).strip()  # storable: no NUL, no lone surrogate
        if not name or len(name) > API_KEY_NAME_MAX:
            raise InvalidInput(f"must be 1 to {API_KEY_NAME_MAX} characters", field="name")
        token = API_KEY_PREFIX + secrets.token_urlsafe(32)
        with self.uow:
            tenant = find_tenant(self.uow, slug)
            key = ApiKey(
                tenant_id=tenant.id,
                name=name,
                prefix=token[:12],
                key_hash=hash_api_key(token),
                created_at=self.clock.now(),
            )
            self.uow.api_keys.add(key)
            self.uow.commit()
        return key, token


class ListApiKeys:
    """The caller's tenant's API keys that are not revoked, newest first (owners only)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(self, caller: Principal) -> list[ApiKey]:
        caller.require_owner()
        with self.uow.for_tenant(caller.tenant.id):
            keys = self.uow.api_keys.list(caller.tenant.id)
        live = [key for key in keys if key.revoked_at is None]
        return sorted(live, key=lambda k: (k.created_at, k.id), reverse=True)


class RevokeApiKey:
    """Revoke an API key: it stops authenticating at once. NotFound for a key that is
    unknown, already revoked, or (given `tenant_id`) another tenant's."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, key_id: str, *, tenant_id: str | None = None) -> ApiKey:
        # Repositories find keys by hash or by tenant; the operator's CLI, which gives no
        # tenant, looks through every tenant's (few) keys.
        with self.uow.for_tenant(tenant_id) if tenant_id else self.uow.across_tenants():
            tenant_ids = [tenant_id] if tenant_id else [t.id for t in self.uow.tenants.list()]
            key = next(
                (
                    key
                    for tid in tenant_ids
                    for key in self.uow.api_keys.list(tid)
                    if key.id == key_id and key.revoked_at is None
                ),
                None,
            )
            if key is None:
                raise NotFound(f"no API key {key_id}")
            key.revoked_at = self.clock.now()
            self.uow.api_keys.add(key)
            self.uow.commit()
        return key


class AuthenticateApiKey:
    """The Principal a tenant API key stands for (an owner), or Unauthenticated for a key
    that is unknown or revoked."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(self, token: str) -> Principal:
        # A key is found by its hash before its tenant is known: across tenants, on purpose.
        with self.uow.across_tenants():
            key = self.uow.api_keys.get_by_hash(hash_api_key(token))
            tenant = self.uow.tenants.get(key.tenant_id) if key else None
        if key is None or key.revoked_at is not None or tenant is None:
            raise Unauthenticated("invalid or expired token")
        return Principal(tenant=tenant, role=Role.OWNER, api_key=key)

"""Who may use a tenant's dashboard API: users with passwords and API keys."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from lily_core.domain.principal import Principal, Role
from lily_core.domain.records import ApiKey, User
from lily_core.errors import Conflict, InvalidInput, Unauthenticated
from lily_core.ports.clock import Clock
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.tenants import find_tenant

API_KEY_PREFIX = "lily_"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


def hash_api_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AddUser:
    """Add a dashboard user to a tenant."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, slug: str, email: str, password: str, role: str = "owner") -> User:
        email = email.strip().lower()
        if not _EMAIL_RE.match(email):
            raise InvalidInput(f"{email!r} is not an email address", field="email")
        if len(password) < 10:
            raise InvalidInput("must be at least 10 characters", field="password")
        if role not in ("owner", "operator"):
            raise InvalidInput("must be owner or operator", field="role")
        with self.uow:
            tenant = find_tenant(self.uow, slug)
            if self.uow.users.get_by_email(email):
                raise Conflict(f"a user with email {email} exists")
            user = User(
                tenant_id=tenant.id,
                email=email,
                password_hash=hash_password(password),
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


class AuthenticateApiKey:
    """The Principal a tenant API key stands for (an owner), or Unauthenticated for a key
    that is unknown or revoked."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(self, token: str) -> Principal:
        with self.uow:
            key = self.uow.api_keys.get_by_hash(hash_api_key(token))
            tenant = self.uow.tenants.get(key.tenant_id) if key else None
        if key is None or key.revoked_at is not None or tenant is None:
            raise Unauthenticated("invalid or expired token")
        return Principal(tenant=tenant, role=Role.OWNER, api_key=key)

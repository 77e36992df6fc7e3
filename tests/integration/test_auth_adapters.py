"""The sign-in adapters on their own: argon2 hashes (and the scrypt ones before them), JWTs,
and the throttle when Redis is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa
from pwdlib.hashers.argon2 import Argon2Hasher

from lily_adapters.auth import (
    Argon2PasswordHasher,
    FallbackSignInThrottle,
    JwtTokenSigner,
    RedisSignInThrottle,
    SqlSignInThrottle,
)
from lily_adapters.sql.tables import signin_failures
from lily_adapters.sql.uow import create_engine_for
from lily_core.errors import Unauthenticated
from lily_core.ports.auth import ThrottleUnavailable, TokenClaims
from lily_core.testing import FakeClock
from lily_core.use_cases.access import hash_password
from tests.faults import closed_port

PASSWORD = "correct horse battery"
SECRET = "s" * 64
# Cheap parameters: these tests are about formats, not cost.
FAST = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(FAST)


def test_argon2_hashes_verify_and_need_no_rehash(hasher: Argon2PasswordHasher) -> None:
    stored = hasher.hash(PASSWORD)

    assert stored.startswith("$argon2id$")
    assert hasher.verify(PASSWORD, stored).valid
    assert hasher.verify(PASSWORD, stored).new_hash is None
    assert not hasher.verify("wrong password", stored).valid


def test_a_scrypt_hash_verifies_and_asks_to_become_argon2(hasher: Argon2PasswordHasher) -> None:
    stored = hash_password(PASSWORD)

    check = hasher.verify(PASSWORD, stored)

    assert check.valid
    assert check.new_hash is not None and check.new_hash.startswith("$argon2id$")
    assert hasher.verify(PASSWORD, check.new_hash).valid
    assert hasher.verify("wrong password", stored).new_hash is None


def test_an_argon2_hash_with_other_parameters_is_replaced(hasher: Argon2PasswordHasher) -> None:
    stored = Argon2PasswordHasher(Argon2Hasher(time_cost=2, memory_cost=1024)).hash(PASSWORD)

    assert hasher.verify(PASSWORD, stored).new_hash is not None


@pytest.mark.parametrize("stored", [None, "", "garbage", "scrypt$zz$00", "$argon2id$v=19$m=x"])
def test_no_hash_or_an_unreadable_one_never_matches(
    hasher: Argon2PasswordHasher, stored: str | None
) -> None:
    assert hasher.verify(PASSWORD, stored).valid is False


# -- tokens --------------------------------------------------------------------------------

NOW = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
CLAIMS = TokenClaims(
    user_id="u1", tenant_id="t1", issued_at=NOW, expires_at=NOW + timedelta(hours=1)
)


def test_a_token_round_trips_its_claims() -> None:
    signer = JwtTokenSigner(SECRET)

    assert signer.read(signer.sign(CLAIMS)) == CLAIMS
    # Expiry is the use case's to check, on Lily's clock: an expired token still reads.
    old = TokenClaims(user_id="u1", tenant_id="t1", issued_at=NOW, expires_at=NOW)
    assert signer.read(signer.sign(old)) == old


def test_tokens_of_another_key_another_algorithm_or_altered_are_refused() -> None:
    signer = JwtTokenSigner(SECRET)
    header, _, signature = signer.sign(CLAIMS).split(".")
    payload = {"sub": "u1", "tid": "t1", "iat": 1, "exp": 2**40}
    tampered_body = jwt.encode({**payload, "tid": "t2"}, SECRET, "HS256").split(".")[1]

    for bad in (
        JwtTokenSigner("another" + SECRET).sign(CLAIMS),
        jwt.encode(payload, None, algorithm="none"),
        jwt.encode(payload, SECRET, algorithm="HS256"),  # the raw secret is not the key
        jwt.encode(payload, SECRET, algorithm="HS512"),
        f"{header}.{tampered_body}.{signature}",
        "not a token",
    ):
        with pytest.raises(Unauthenticated):
            signer.read(bad)


@pytest.mark.parametrize(
    "claims",
    [
        {"tid": "t1", "iat": 1, "exp": 2},
        {"sub": "u1", "iat": 1, "exp": 2},
        {"sub": "u1", "tid": "t1", "iat": 1},
        {"sub": 1, "tid": "t1", "iat": 1, "exp": 2},
        {"sub": "u1", "tid": "t1", "iat": 1, "exp": 10**20},
    ],
)
def test_tokens_missing_or_mistyping_a_claim_are_refused(claims: dict[str, object]) -> None:
    signer = JwtTokenSigner(SECRET)
    token = jwt.encode(claims, signer._key, algorithm="HS256")

    with pytest.raises(Unauthenticated):
        signer.read(token)


# -- the throttle while Redis is down ------------------------------------------------------


def test_with_redis_down_the_database_counts_and_blocks(tmp_path: Path) -> None:
    clock = FakeClock()
    engine = create_engine_for(f"sqlite:///{tmp_path / 'throttle.db'}")
    signin_failures.create(engine)
    down = RedisSignInThrottle.from_url(f"redis://127.0.0.1:{closed_port()}/0", clock)
    throttle = FallbackSignInThrottle(down, fallback=SqlSignInThrottle(engine, clock))

    with pytest.raises(ThrottleUnavailable):
        down.blocked_for("email:x")
    for _ in range(5):
        throttle.record_failure("email:x")

    assert throttle.blocked_for("email:x") == 15 * 60
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(signin_failures)).scalar() == 1
    throttle.reset("email:x")
    assert throttle.blocked_for("email:x") == 0
    engine.dispose()

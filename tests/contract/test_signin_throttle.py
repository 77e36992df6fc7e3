"""One contract for every SignInThrottle: the in-memory fake, SQL on SQLite and PostgreSQL,
and Redis. Time comes from a FakeClock; the stores keep no time of their own that matters."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from lily_adapters.auth.throttles import REDIS_PREFIX, RedisSignInThrottle, SqlSignInThrottle
from lily_adapters.sql.tables import signin_failures
from lily_adapters.sql.uow import create_engine_for
from lily_core.ports.auth import SignInThrottle, ThrottlePolicy
from lily_core.testing import FakeClock, InMemorySignInThrottle

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]
POLICY = ThrottlePolicy(max_failures=5, window=timedelta(minutes=15), block=timedelta(minutes=10))
BLOCK = int(POLICY.block.total_seconds())
KEY_PREFIX = "contract-"
MakeThrottle = Callable[[ThrottlePolicy], SignInThrottle]
SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def throttle_engine(url: str) -> Iterator[sa.Engine]:
    """An engine on an empty `signin_failures` table; on PostgreSQL in a schema of its own,
    dropped afterwards (the session's database is migrated by other tests)."""
    engine = create_engine_for(url)
    if engine.dialect.name != "postgresql":
        signin_failures.create(engine)
        yield engine
        engine.dispose()
        return
    schema = f"throttle_{uuid.uuid4().hex}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = engine.execution_options(schema_translate_map={None: schema})
        signin_failures.create(scoped)
        yield scoped
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def make_throttle(
    request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path
) -> Iterator[MakeThrottle]:
    """Throttles (one per call, as several processes would have) on one shared store."""
    backend = request.param
    if backend == "memory":
        shared: dict[str, InMemorySignInThrottle] = {}

        def memory(policy: ThrottlePolicy) -> SignInThrottle:
            # The fake is one process: "another process" is the same object.
            return shared.setdefault("one", InMemorySignInThrottle(clock, policy))

        yield memory
    elif backend in ("sqlite", "postgres"):
        url = (
            f"sqlite:///{tmp_path / 'throttle.db'}"
            if backend == "sqlite"
            else request.getfixturevalue("postgres_url")
        )
        with throttle_engine(url) as engine:
            yield lambda policy: SqlSignInThrottle(engine, clock, policy)
    else:
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
        yield lambda policy: RedisSignInThrottle(client, clock, policy)
        # The Redis database may be shared with other tests: delete this suite's keys only.
        for name in client.scan_iter(match=f"{REDIS_PREFIX}{KEY_PREFIX}*"):
            client.delete(name)
        client.close()


@pytest.fixture
def throttle(make_throttle: MakeThrottle) -> SignInThrottle:
    return make_throttle(POLICY)


@pytest.fixture
def key() -> str:
    """A key no other test uses."""
    return f"{KEY_PREFIX}{uuid.uuid4().hex}"


def fail(throttle: SignInThrottle, key: str, times: int) -> None:
    for _ in range(times):
        throttle.record_failure(key)


def test_a_key_never_seen_is_not_blocked(throttle: SignInThrottle, key: str) -> None:
    assert throttle.blocked_for(key) == 0
    throttle.reset(key)  # forgetting nothing is fine
    assert throttle.blocked_for(key) == 0


def test_the_limit_within_the_window_blocks_for_the_block_time(
    throttle: SignInThrottle, key: str, clock: FakeClock
) -> None:
    fail(throttle, key, 4)
    assert throttle.blocked_for(key) == 0

    clock.advance(60)
    throttle.record_failure(key)

    assert throttle.blocked_for(key) == BLOCK
    clock.advance(BLOCK - 1.5)
    assert throttle.blocked_for(key) == 2  # whole seconds, rounded up
    clock.advance(1.5)
    assert throttle.blocked_for(key) == 0


def test_failures_further_apart_than_the_window_do_not_add_up(
    throttle: SignInThrottle, key: str, clock: FakeClock
) -> None:
    fail(throttle, key, 4)
    clock.advance(POLICY.window.total_seconds())
    fail(throttle, key, 4)

    assert throttle.blocked_for(key) == 0  # 8 failures, but not within one window
    throttle.record_failure(key)
    assert throttle.blocked_for(key) == BLOCK  # the new window's fifth


def test_a_block_is_not_stretched_and_counting_starts_afresh_after_it(
    throttle: SignInThrottle, key: str, clock: FakeClock
) -> None:
    fail(throttle, key, 5)
    clock.advance(60)
    fail(throttle, key, 3)  # racing attempts that got past the check
    assert throttle.blocked_for(key) == BLOCK - 60

    clock.advance(POLICY.window.total_seconds())
    throttle.record_failure(key)
    assert throttle.blocked_for(key) == 0


def test_reset_forgets_the_failures_and_the_block(throttle: SignInThrottle, key: str) -> None:
    fail(throttle, key, 4)
    throttle.reset(key)
    fail(throttle, key, 4)
    assert throttle.blocked_for(key) == 0

    throttle.record_failure(key)
    throttle.reset(key)
    assert throttle.blocked_for(key) == 0


def test_keys_are_counted_apart(throttle: SignInThrottle, key: str) -> None:
    other = key + ":other"
    fail(throttle, key, 5)

    assert throttle.blocked_for(key) == BLOCK
    assert throttle.blocked_for(other) == 0


def test_the_count_is_shared_by_every_process(make_throttle: MakeThrottle, key: str) -> None:
    first, second = make_throttle(POLICY), make_throttle(POLICY)
    fail(first, key, 3)
    fail(second, key, 2)

    assert first.blocked_for(key) == second.blocked_for(key) == BLOCK
    second.reset(key)
    assert first.blocked_for(key) == 0


@pytest.mark.parametrize("make_throttle", BACKENDS[1:], indirect=True)
def test_concurrent_failures_each_count_once(make_throttle: MakeThrottle, key: str) -> None:
    policy = ThrottlePolicy(max_failures=40, window=POLICY.window, block=POLICY.block)
    throttles = [make_throttle(policy) for _ in range(8)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: throttles[n % 8].record_failure(key), range(39)))

    assert throttles[0].blocked_for(key) == 0
    throttles[1].record_failure(key)
    assert throttles[0].blocked_for(key) == BLOCK


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_rows_that_can_no_longer_matter_are_deleted_by_the_next_failure(
    backend: str, clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'throttle.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    with throttle_engine(url) as engine:
        throttle = SqlSignInThrottle(engine, clock, POLICY)
        for n in range(20):  # one failure each from many addresses: none blocked
            throttle.record_failure(f"{KEY_PREFIX}ip:{n}")
        for _ in range(POLICY.max_failures):
            throttle.record_failure(f"{KEY_PREFIX}email:blocked")
        clock.advance((POLICY.window + timedelta(seconds=1)).total_seconds())  # block over too

        throttle.record_failure(f"{KEY_PREFIX}email:new")

        with engine.connect() as conn:
            keys = conn.scalars(sa.select(signin_failures.c.key)).all()
        assert keys == [f"{KEY_PREFIX}email:new"]

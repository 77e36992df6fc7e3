"""The failed sign-in throttle (lily_core.ports.auth.SignInThrottle): in Redis when Lily
has one, else in the `signin_failures` table. Both count with one atomic statement, so the
limit holds across API processes, and both read time from Lily's Clock, not the store's."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import redis
import sqlalchemy as sa
from loguru import logger
from sqlalchemy.dialects import postgresql, sqlite

from lily_adapters.sql.metadata import UtcDateTime
from lily_adapters.sql.tables import signin_failures
from lily_core.ports.auth import SignInThrottle, ThrottlePolicy, ThrottleUnavailable
from lily_core.ports.clock import Clock

__all__ = ["FallbackSignInThrottle", "RedisSignInThrottle", "SqlSignInThrottle"]

REDIS_PREFIX = "lily:signin-failures:"
REDIS_TIMEOUT_SECONDS = 2.0

# KEYS[1]: the key's hash; ARGV: now, window, block (seconds), max failures, TTL (seconds).
# The same rules as the SQL upsert below: a failure after the window restarts the count;
# reaching the limit blocks, unless already blocked (a block is not stretched).
_RECORD_FAILURE = """
local now, window, block = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local limit, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local row = redis.call('HMGET', KEYS[1], 'failures', 'window_started_at', 'blocked_until')
local failures, started, blocked = tonumber(row[1]), tonumber(row[2]), tonumber(row[3])
if failures == nil or started == nil or now - started >= window then
  failures, started = 0, now
end
failures = failures + 1
redis.call('HSET', KEYS[1], 'failures', failures, 'window_started_at', tostring(started))
if failures >= limit and not (blocked and blocked > now) then
  redis.call('HSET', KEYS[1], 'blocked_until', tostring(now + block))
end
redis.call('EXPIRE', KEYS[1], ttl)
"""


def _seconds_until(until: float, now: float) -> int:
    return max(0, math.ceil(until - now))


class SqlSignInThrottle(SignInThrottle):
    """Counts in `signin_failures` with one `INSERT ... ON CONFLICT DO UPDATE` (PostgreSQL,
    SQLite): concurrent failures for one key, from any process, each count once. A row is
    deleted by a success, and every failure also deletes the rows that can no longer matter
    (window over, no block running), so guessing from many addresses does not grow the table
    for good."""

    def __init__(self, engine: sa.Engine, clock: Clock, policy: ThrottlePolicy | None = None):
        if engine.dialect.name not in ("postgresql", "sqlite"):
            raise ValueError(f"no sign-in throttle for {engine.dialect.name}")
        self.engine, self.clock, self.policy = engine, clock, policy or ThrottlePolicy()

    def blocked_for(self, key: str) -> int:
        c = signin_failures.c
        with self.engine.connect() as conn:
            until = conn.execute(sa.select(c.blocked_until).where(c.key == key)).scalar()
        return _seconds_until(until.timestamp(), self._now().timestamp()) if until else 0

    def record_failure(self, key: str) -> None:
        now, policy, c = self._now(), self.policy, signin_failures.c
        at_now = sa.literal(now, UtcDateTime)
        blocks_at = sa.literal(now + policy.block, UtcDateTime)
        insert: Any = (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert
        # In DO UPDATE, the columns are the existing row's values.
        window_over = c.window_started_at <= now - policy.window
        failures = sa.case((window_over, 1), else_=c.failures + 1)
        statement = insert(signin_failures).values(
            key=key,
            failures=1,
            window_started_at=now,
            blocked_until=now + policy.block if policy.max_failures <= 1 else None,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[c.key],
            set_={
                "failures": failures,
                "window_started_at": sa.case((window_over, at_now), else_=c.window_started_at),
                "blocked_until": sa.case(
                    (c.blocked_until > at_now, c.blocked_until),
                    (failures >= policy.max_failures, blocks_at),
                    else_=c.blocked_until,
                ),
            },
        )
        stale = sa.delete(signin_failures).where(
            c.window_started_at <= now - policy.window,
            sa.or_(c.blocked_until.is_(None), c.blocked_until <= now),
        )
        with self.engine.begin() as conn:
            conn.execute(stale)
            conn.execute(statement)

    def reset(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(signin_failures).where(signin_failures.c.key == key))

    def _now(self) -> datetime:
        return self.clock.now()


class RedisSignInThrottle(SignInThrottle):
    """Counts in a Redis hash per key, with a Lua script (atomic). Timestamps are Lily's
    clock's, in the hash; Redis's expiry only clears keys once they can no longer matter.
    Connection errors and timeouts come out as ThrottleUnavailable."""

    def __init__(
        self, client: redis.Redis, clock: Clock, policy: ThrottlePolicy | None = None
    ) -> None:
        self.client, self.clock, self.policy = client, clock, policy or ThrottlePolicy()
        self._record = client.register_script(_RECORD_FAILURE)

    @classmethod
    def from_url(
        cls, url: str, clock: Clock, policy: ThrottlePolicy | None = None
    ) -> RedisSignInThrottle:
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        return cls(client, clock, policy)

    def blocked_for(self, key: str) -> int:
        try:
            until = self.client.hget(REDIS_PREFIX + key, "blocked_until")
        except redis.RedisError as exc:
            raise ThrottleUnavailable(f"redis: {exc}") from exc
        return _seconds_until(float(until), self._now()) if until else 0

    def record_failure(self, key: str) -> None:
        policy = self.policy
        ttl = policy.window + policy.block + timedelta(seconds=1)
        args = [self._now(), policy.window.total_seconds(), policy.block.total_seconds()]
        try:
            self._record(
                keys=[REDIS_PREFIX + key],
                args=[*map(repr, args), policy.max_failures, math.ceil(ttl.total_seconds())],
            )
        except redis.RedisError as exc:
            raise ThrottleUnavailable(f"redis: {exc}") from exc

    def reset(self, key: str) -> None:
        try:
            self.client.delete(REDIS_PREFIX + key)
        except redis.RedisError as exc:
            raise ThrottleUnavailable(f"redis: {exc}") from exc

    def close(self) -> None:
        self.client.close()

    def _now(self) -> float:
        return self.clock.now().timestamp()


class FallbackSignInThrottle(SignInThrottle):
    """`primary` (Redis), and `fallback` (the database) for each call the primary cannot
    take, so that sign-in keeps working, still throttled, while Redis is down. A key is
    blocked while either store says so: blocks counted during an outage outlast it."""

    def __init__(self, primary: SignInThrottle, fallback: SignInThrottle) -> None:
        self.primary, self.fallback = primary, fallback

    def blocked_for(self, key: str) -> int:
        try:
            primary = self.primary.blocked_for(key)
        except ThrottleUnavailable as exc:
            self._warn(exc)
            primary = 0
        return max(primary, self.fallback.blocked_for(key))

    def record_failure(self, key: str) -> None:
        try:
            self.primary.record_failure(key)
        except ThrottleUnavailable as exc:
            self._warn(exc)
            self.fallback.record_failure(key)

    def reset(self, key: str) -> None:
        try:
            self.primary.reset(key)
        except ThrottleUnavailable as exc:
            self._warn(exc)
        self.fallback.reset(key)

    def _warn(self, exc: ThrottleUnavailable) -> None:
        logger.bind(error=str(exc)).warning(
            "sign-in throttle: redis unavailable, using the database"
        )

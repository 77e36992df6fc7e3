from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from lily_adapters.clock import SystemClock
from lily_adapters.queue._unavailable import unavailable_on
from lily_adapters.queue.timing import from_score, to_score
from lily_core.domain.ids import new_id
from lily_core.ports.clock import Clock
from lily_core.ports.queue import JitterQueue, LeaseLost, QueueStats, Task, WakingQueue

# Every call is bounded: Redis answers in milliseconds, so seconds mean it is gone, and a
# webhook that enqueues must still answer well within Twilio's 15 s. One quick retry (a fresh
# connection) rides over a dropped idle connection or a failover; redis-py 6+ would otherwise
# retry 10 times, each up to its 5 s socket timeout. No health-check PING: the retry already
# replaces a dead connection, and redis-py nests the PING's own retry inside the command's
# (4 socket timeouts against a hung server instead of 2). Worst case, measured against a
# server that accepts and never answers: about 4 s; a refused connection fails at once.
# `?socket_timeout=...` (or the other two) in LILY_REDIS_URL overrides these.
SOCKET_CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 2.0
HEALTH_CHECK_INTERVAL = 0


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1)


_unavailable = unavailable_on(
    redis.ConnectionError, redis.TimeoutError, describe=lambda exc: f"Redis: {exc}"
)

# Every script takes the queue's keys in this order. They share the `{name}` hash tag, so
# one queue lives in one Redis Cluster slot and its scripts may touch all of them.
_KEYS = (
    "due", "inflight", "dead", "tasks", "attempts", "errors", "dkeys", "dedupe", "leases", "wake",
)  # fmt: skip
# due       ZSET  id -> due time            inflight ZSET id -> lease deadline
# dead      ZSET  id -> dead-letter time    tasks    HASH id -> JSON body (never changes)
# attempts  HASH  id -> claims so far       errors   HASH id -> last error
# dkeys     HASH  id -> its dedupe key      dedupe   HASH live dedupe key -> id
# leases    HASH  id -> the current claim's fencing token (in-flight tasks only)
# wake      LIST  one element while a task arrived that no waiter has seen (wait_for_work)

# A waiter's blocking pop lasts at most this long (a longer wait returns False then), so
# its socket timeout, this plus SOCKET_TIMEOUT, notices a hung server within seconds.
WAKE_WAIT_MAX = 5.0

_WAKE = """
redis.call('LPUSH', KEYS[10], '1')
redis.call('LTRIM', KEYS[10], 0, 0)
"""

_ENQUEUE = (
    """
if ARGV[4] == '1' then
  if redis.call('HSETNX', KEYS[8], ARGV[5], ARGV[1]) == 0 then return false end
  redis.call('HSET', KEYS[7], ARGV[1], ARGV[5])
end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
"""
    + _WAKE
    + """
return ARGV[1]
"""
)

# ARGV: now, lease deadline, limit, lease token. Expired leases go back to `due` first,
# scored by the moment they expired, their tokens void; then the earliest due tasks move to
# `inflight` under the token (one per claim: a task is claimed at most once in it).
_CLAIM = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES')
for i = 1, #expired, 2 do
  redis.call('ZREM', KEYS[2], expired[i])
  redis.call('HDEL', KEYS[9], expired[i])
  redis.call('ZADD', KEYS[1], expired[i + 1], expired[i])
end
local picked = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES',
                          'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #picked, 2 do
  local id = picked[i]
  redis.call('ZREM', KEYS[1], id)
  local body = redis.call('HGET', KEYS[4], id)
  if body then
    redis.call('ZADD', KEYS[2], ARGV[2], id)
    redis.call('HSET', KEYS[9], id, ARGV[4])
    local n = redis.call('HINCRBY', KEYS[5], id, 1)
    out[#out + 1] = {id, picked[i + 1], body, n,
                     redis.call('HGET', KEYS[6], id), redis.call('HGET', KEYS[7], id)}
  end
end
return out
"""

_FORGET_KEY = """
local function forget_key(id)
  local key = redis.call('HGET', KEYS[7], id)
  if key and redis.call('HGET', KEYS[8], key) == id then redis.call('HDEL', KEYS[8], key) end
end
"""

# Every fenced script starts with ARGV: id, lease token ('' for none), now. With a token it
# returns -1 (and does nothing) unless that claim is current: the task's token, unexpired.
_FENCE = """
if ARGV[2] ~= '' then
  local deadline = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if redis.call('HGET', KEYS[9], ARGV[1]) ~= ARGV[2] or not deadline
     or tonumber(deadline) <= tonumber(ARGV[3]) then
    return -1
  end
end
"""

# ARGV: id, lease, now, new lease deadline
_RENEW = (
    _FENCE
    + """
redis.call('ZADD', KEYS[2], 'XX', ARGV[4], ARGV[1])
return 1
"""
)

_ACK = (
    _FORGET_KEY
    + _FENCE
    + """
forget_key(ARGV[1])
for i = 1, 3 do redis.call('ZREM', KEYS[i], ARGV[1]) end
for i = 4, 7 do redis.call('HDEL', KEYS[i], ARGV[1]) end
redis.call('HDEL', KEYS[9], ARGV[1])
return 1
"""
)

# ARGV: id, lease, now, due score, error, '1' to not count the claim as an attempt (defer)
_RETRY = (
    _FENCE
    + """
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then return 0 end
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
if ARGV[6] == '1' and tonumber(redis.call('HGET', KEYS[5], ARGV[1]) or '0') > 0 then
  redis.call('HINCRBY', KEYS[5], ARGV[1], -1)
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[9], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[6], ARGV[1], ARGV[5])
return 1
"""
)

# ARGV: id, lease, now (the dead-letter time), error
_DEAD_LETTER = (
    _FORGET_KEY
    + _FENCE
    + """
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then return 0 end
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
forget_key(ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[9], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[6], ARGV[1], ARGV[4])
return 1
"""
)

# ARGV: now, id ('' for all, oldest dead first). A requeued task takes its dedupe key back
# unless a live task holds it now; then it runs without one.
_REQUEUE_DEAD = (
    """
local ids
if ARGV[2] == '' then ids = redis.call('ZRANGE', KEYS[3], 0, -1) else ids = {ARGV[2]} end
local n = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[3], id) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[1], id)
    redis.call('HSET', KEYS[5], id, 0)
    local key = redis.call('HGET', KEYS[7], id)
    if key and redis.call('HSETNX', KEYS[8], key, id) == 0 then redis.call('HDEL', KEYS[7], id) end
    n = n + 1
  end
end
if n > 0 then
"""
    + _WAKE
    + """
end
return n
"""
)


class RedisJitterQueue(JitterQueue, WakingQueue):
    """The JitterQueue on Redis: sorted sets scored by due time and lease deadline, moved
    between atomically by Lua scripts (see the key layout above). Times come from `clock`
    in the client, so all workers should run on synced clocks.

    `client` must be built with decode_responses=True (`from_url` does that). Connection
    errors and timeouts are raised as QueueUnavailable."""

    def __init__(
        self, client: redis.Redis, *, name: str = "default", clock: Clock | None = None
    ) -> None:
        if not client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("RedisJitterQueue needs a client with decode_responses=True")
        self._redis = client
        self._name = name
        self._clock = clock or SystemClock()
        self._keys = [f"lily:{{{name}}}:{k}" for k in _KEYS]
        self._enqueue = client.register_script(_ENQUEUE)
        self._claim = client.register_script(_CLAIM)
        self._ack = client.register_script(_ACK)
        self._renew = client.register_script(_RENEW)
        self._retry = client.register_script(_RETRY)
        self._dead_letter = client.register_script(_DEAD_LETTER)
        self._requeue_dead = client.register_script(_REQUEUE_DEAD)
        self._waiter: redis.Redis | None = None

    @classmethod
    def from_url(
        cls, url: str, *, name: str = "default", clock: Clock | None = None
    ) -> RedisJitterQueue:
        """A queue on a client for `url`, with the timeouts above (the URL's query wins)."""
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=SOCKET_CONNECT_TIMEOUT,
            socket_timeout=SOCKET_TIMEOUT,
            health_check_interval=HEALTH_CHECK_INTERVAL,
            retry=_retry(),
        )
        return cls(client, name=name, clock=clock)

    @_unavailable
    def enqueue(
        self,
        task_type: str,
        *,
        tenant_id: str | None,
        payload: Mapping[str, Any],
        run_at: datetime,
        dedupe_key: str | None = None,
        request_id: str | None = None,
    ) -> str | None:
        task_id = new_id()
        body = json.dumps(
            {"type": task_type, "tenant_id": tenant_id, "payload": dict(payload),
             "request_id": request_id},
            separators=(",", ":"),
        )  # fmt: skip
        has_key = "0" if dedupe_key is None else "1"
        args = [task_id, repr(to_score(run_at)), body, has_key, dedupe_key or ""]
        result = self._enqueue(keys=self._keys, args=args)
        return None if result is None else str(result)

    @_unavailable
    def claim(self, limit: int, lease_seconds: float) -> list[Task]:
        if limit <= 0:
            return []
        now = self._clock.now()
        deadline = now + timedelta(seconds=lease_seconds)
        token = new_id()
        args: list[str | int] = [repr(to_score(now)), repr(to_score(deadline)), limit, token]
        rows = self._claim(keys=self._keys, args=args)
        return [
            _task(task_id, body, run_at=from_score(score), attempts=int(attempts),
                  last_error=error, dedupe_key=key, lease=token)
            for task_id, score, body, attempts, error, key in rows
        ]  # fmt: skip

    @_unavailable
    def renew(self, task_id: str, lease: str, lease_seconds: float) -> None:
        now = self._clock.now()
        deadline = repr(to_score(now + timedelta(seconds=lease_seconds)))
        self._fenced(self._renew, task_id, lease, now, deadline)

    @_unavailable
    def ack(self, task_id: str, lease: str | None = None) -> None:
        self._fenced(self._ack, task_id, lease, self._clock.now())

    @_unavailable
    def retry(self, task_id: str, run_at: datetime, error: str, lease: str | None = None) -> None:
        now, due = self._clock.now(), repr(to_score(run_at))
        self._fenced(self._retry, task_id, lease, now, due, error, "0")

    @_unavailable
    def defer(self, task_id: str, run_at: datetime, reason: str, lease: str | None = None) -> None:
        now, due = self._clock.now(), repr(to_score(run_at))
        self._fenced(self._retry, task_id, lease, now, due, reason, "1")

    @_unavailable
    def dead_letter(self, task_id: str, error: str, lease: str | None = None) -> None:
        self._fenced(self._dead_letter, task_id, lease, self._clock.now(), error)

    def _fenced(
        self, script: Any, task_id: str, lease: str | None, now: datetime, *args: str
    ) -> None:
        """Run a fenced script (see _FENCE); LeaseLost if it refused the claim `lease`."""
        result = script(keys=self._keys, args=[task_id, lease or "", repr(to_score(now)), *args])
        if result is not None and int(result) == -1:
            raise LeaseLost(f"task {task_id}: the claim {lease} is no longer current")

    @_unavailable
    def stats(self) -> QueueStats:
        now = repr(to_score(self._clock.now()))
        due, inflight, dead = self._keys[:3]
        pipe = self._redis.pipeline(transaction=True)
        pipe.zcount(due, "-inf", now)
        pipe.zcard(due)
        pipe.zcount(inflight, "-inf", now)
        pipe.zcard(inflight)
        pipe.zcard(dead)
        due_now, waiting, expired, claimed, dead_count = pipe.execute()
        return QueueStats(
            scheduled=waiting - due_now,
            due=due_now + expired,  # an expired lease is claimable again
            in_flight=claimed - expired,
            dead=dead_count,
        )

    @_unavailable
    def dead(self, limit: int = 100) -> list[Task]:
        if limit <= 0:
            return []
        rows = cast(
            list[tuple[str, float]],
            self._redis.zrevrange(self._keys[2], 0, limit - 1, withscores=True),
        )
        pipe = self._redis.pipeline(transaction=False)
        for task_id, _ in rows:
            for key in (self._keys[3], self._keys[4], self._keys[5], self._keys[6]):
                pipe.hget(key, task_id)
        fields = pipe.execute()
        tasks = []
        for i, (task_id, score) in enumerate(rows):
            body, attempts, error, key = fields[4 * i : 4 * i + 4]
            if body is not None:
                tasks.append(
                    _task(task_id, body, run_at=from_score(score), attempts=int(attempts or 0),
                          last_error=error, dedupe_key=key)
                )  # fmt: skip
        return tasks

    @_unavailable
    def requeue_dead(self, task_id: str | None = None) -> int:
        now = repr(to_score(self._clock.now()))
        return int(self._requeue_dead(keys=self._keys, args=[now, task_id or ""]))

    def close(self) -> None:
        """Close the client's connections."""
        self.stop_waiting()
        self._redis.close()

    @_unavailable
    def wait_for_work(self, timeout: float) -> bool:
        if self._waiter is None:
            self._waiter = _blocking_client(self._redis, self._name)
        wait = min(max(timeout, 0.01), WAKE_WAIT_MAX)  # BLPOP 0 would block for ever
        return self._waiter.blpop([self._keys[9]], timeout=wait) is not None

    def stop_waiting(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.close()

    @_unavailable
    def next_due_at(self) -> datetime | None:
        """When the earliest waiting task (or in-flight lease) falls due; None if empty."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrange(self._keys[0], 0, 0, withscores=True)
        pipe.zrange(self._keys[1], 0, 0, withscores=True)
        firsts = [rows[0][1] for rows in pipe.execute() if rows]
        return from_score(min(firsts)) if firsts else None


def _blocking_client(client: redis.Redis, name: str) -> redis.Redis:
    """A client of one connection to `client`'s server for BLPOP: its socket timeout
    outlasts the longest pop, and it does not retry (the waiter backs off itself). Its
    CLIENT LIST name is lily-wake:<queue name>."""
    pool = client.connection_pool
    kwargs = dict(pool.connection_kwargs)
    kwargs["socket_timeout"] = WAKE_WAIT_MAX + (kwargs.get("socket_timeout") or SOCKET_TIMEOUT)
    kwargs["retry"] = Retry(NoBackoff(), retries=0)
    kwargs["client_name"] = f"lily-wake:{name}"
    return redis.Redis.from_pool(  # the client owns the pool: close() disconnects it
        redis.ConnectionPool(connection_class=pool.connection_class, max_connections=1, **kwargs)
    )


def _task(
    task_id: str,
    body: str,
    *,
    run_at: datetime,
    attempts: int,
    last_error: str | None,
    dedupe_key: str | None,
    lease: str | None = None,
) -> Task:
    data = json.loads(body)
    return Task(
        id=task_id,
        type=data["type"],
        tenant_id=data["tenant_id"],
        payload=data["payload"],
        run_at=run_at,
        attempts=attempts,
        dedupe_key=dedupe_key,
        request_id=data["request_id"],
        last_error=last_error,
        lease=lease,
    )

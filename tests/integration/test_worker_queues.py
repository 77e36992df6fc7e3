"""The worker on each real queue: a burst runs every due task once, acks the ones that
succeed, dead-letters a permanent failure and leaves a retry scheduled."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from lily_adapters.queue.redis import RedisJitterQueue
from lily_adapters.queue.sql import SqlJitterQueue
from lily_core.errors import PermanentDeliveryError
from lily_core.ports.queue import JitterQueue, QueueStats, Task
from lily_core.testing import FakeClock
from lily_worker import Worker
from tests.contract.test_queue import sql_queue_engine


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JitterQueue]:
    clock = FakeClock()
    if request.param == "redis":
        name = f"worker-{uuid.uuid4().hex}"
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
        yield RedisJitterQueue(client, name=name, clock=clock)
        keys = list(client.scan_iter(match=f"lily:{{{name}}}:*"))
        if keys:
            client.delete(*keys)
        return
    url = (
        f"sqlite:///{tmp_path / 'q.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    with sql_queue_engine(url) as engine:
        yield SqlJitterQueue(engine, clock=clock)


def test_a_burst_drains_the_queue(queue: JitterQueue) -> None:
    now = FakeClock().now()
    kinds = ["OK"] * 40 + ["PERMANENT", "FLAKY"]
    ids = {queue.enqueue(kind, tenant_id="t", payload={}, run_at=now): kind for kind in kinds}
    ran: list[str] = []
    lock = threading.Lock()

    def ok(task: Task) -> None:
        with lock:
            ran.append(task.id)

    def permanent(task: Task) -> None:
        raise PermanentDeliveryError("invalid number")

    def flaky(task: Task) -> None:
        raise TimeoutError("provider timed out")

    handlers = {"OK": ok, "PERMANENT": permanent, "FLAKY": flaky}
    Worker(queue, handlers, FakeClock(), concurrency=4).run_burst()

    assert sorted(ran) == sorted(i for i, kind in ids.items() if kind == "OK")
    assert queue.stats() == QueueStats(scheduled=1, due=0, in_flight=0, dead=1)
    [dead] = queue.dead()
    assert (ids[dead.id], dead.last_error) == (
        "PERMANENT",
        "PermanentDeliveryError: invalid number",
    )

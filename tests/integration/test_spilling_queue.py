"""SpillingJitterQueue: what cannot be enqueued while the queue is down is kept in the
database's queue and relayed once it is back, with nothing lost or doubled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from loguru import logger

from lily_adapters.queue.redis import RedisJitterQueue
from lily_adapters.queue.spill import SpillingJitterQueue
from lily_adapters.queue.sql import SqlJitterQueue
from lily_adapters.sql import queue_table
from lily_adapters.sql.uow import create_engine_for
from lily_core.ports.queue import QueueStats, QueueUnavailable
from lily_core.testing import FakeClock
from lily_core.testing.queue import InMemoryJitterQueue
from tests.faults import TcpProxy


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def main(clock: FakeClock) -> InMemoryJitterQueue:
    return InMemoryJitterQueue(clock)


@pytest.fixture
def spill(clock: FakeClock) -> InMemoryJitterQueue:
    return InMemoryJitterQueue(clock)


@pytest.fixture
def queue(main: InMemoryJitterQueue, spill: InMemoryJitterQueue) -> SpillingJitterQueue:
    return SpillingJitterQueue(main, spill=spill)


@pytest.fixture
def logged() -> Iterator[list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    sink = logger.add(lambda m: records.append(dict(m.record)), level="INFO")
    yield records
    logger.remove(sink)


def enqueue(queue: SpillingJitterQueue, clock: FakeClock, delay: float = 0, **kw: Any) -> Any:
    return queue.enqueue(
        "SEND_MESSAGE",
        tenant_id="t1",
        payload={"message_id": "m1"},
        run_at=clock.now() + timedelta(seconds=delay),
        request_id="req-1",
        **kw,
    )


def test_while_the_queue_answers_the_spill_is_not_used(
    queue: SpillingJitterQueue,
    main: InMemoryJitterQueue,
    spill: InMemoryJitterQueue,
    clock: FakeClock,
) -> None:
    assert enqueue(queue, clock) is not None
    assert len(main.scheduled) == 1 and spill.scheduled == []


def test_an_enqueue_while_the_queue_is_down_is_kept_and_logged(
    queue: SpillingJitterQueue,
    main: InMemoryJitterQueue,
    spill: InMemoryJitterQueue,
    clock: FakeClock,
    logged: list[dict[str, Any]],
) -> None:
    main.down = True
    assert enqueue(queue, clock, dedupe_key="msg:m1@now") is not None
    assert enqueue(queue, clock, dedupe_key="msg:m1@now") is None  # deduped in the spill too
    [kept] = spill.scheduled
    assert (kept.type, kept.tenant_id, kept.request_id) == ("SEND_MESSAGE", "t1", "req-1")
    warnings = [r for r in logged if r["level"].name == "WARNING"]
    assert len(warnings) == 2  # one line for each enqueue that failed
    assert "enqueue of SEND_MESSAGE failed" in warnings[0]["message"]
    assert warnings[0]["extra"]["task_type"] == "SEND_MESSAGE"
    assert queue.relay() == 0  # still down: the task waits, nothing raised
    main.down = False
    assert queue.stats() == QueueStats(scheduled=0, due=1, in_flight=0, dead=0)


def test_relay_moves_what_is_due_with_its_dedupe_key_and_request_id(
    queue: SpillingJitterQueue,
    main: InMemoryJitterQueue,
    spill: InMemoryJitterQueue,
    clock: FakeClock,
) -> None:
    main.down = True
    enqueue(queue, clock, dedupe_key="now")
    enqueue(queue, clock, delay=3600, dedupe_key="later")
    main.down = False

    assert queue.relay() == 1
    [moved] = main.scheduled
    assert (moved.dedupe_key, moved.request_id, dict(moved.payload)) == (
        "now",
        "req-1",
        {"message_id": "m1"},
    )
    assert [t.dedupe_key for t in spill.scheduled] == ["later"]  # relayed when due
    clock.advance(hours=1)
    assert queue.relay() == 1
    assert spill.stats() == QueueStats(scheduled=0, due=0, in_flight=0, dead=0)


def test_a_task_already_queued_again_is_not_doubled_by_the_relay(
    queue: SpillingJitterQueue,
    main: InMemoryJitterQueue,
    spill: InMemoryJitterQueue,
    clock: FakeClock,
) -> None:
    main.down = True
    enqueue(queue, clock, dedupe_key="msg:m1@now")
    main.down = False
    enqueue(queue, clock, dedupe_key="msg:m1@now")  # the reconciler got there first
    queue.relay()
    assert len(main.scheduled) == 1
    assert spill.scheduled == [] and spill.in_flight == []


def test_when_the_database_refuses_too_the_enqueue_fails_loudly(
    queue: SpillingJitterQueue,
    main: InMemoryJitterQueue,
    spill: InMemoryJitterQueue,
    clock: FakeClock,
    logged: list[dict[str, Any]],
) -> None:
    main.down = spill.down = True
    with pytest.raises(QueueUnavailable):
        enqueue(queue, clock)
    assert [r["level"].name for r in logged] == ["ERROR"]


@pytest.mark.redis
def test_real_redis_cut_and_restored_with_the_sql_queue_as_spill(
    redis_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    parts = urlsplit(redis_url)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'lily.db'}")
    queue_table.tasks.create(engine)
    name = "spill-test"
    with TcpProxy((parts.hostname or "127.0.0.1", parts.port or 6379)) as proxy:
        proxied = f"redis://127.0.0.1:{proxy.port}{parts.path}"
        redis_queue = RedisJitterQueue.from_url(proxied, name=name, clock=clock)
        queue = SpillingJitterQueue(redis_queue, spill=SqlJitterQueue(engine, clock=clock))
        assert queue.stats() == QueueStats(0, 0, 0, 0)  # connected once, then cut
        proxy.cut()
        assert enqueue(queue, clock, dedupe_key="k") is not None
        assert queue.relay() == 0
        proxy.restore()
        assert queue.relay() == 1
        [task] = queue.claim(10, lease_seconds=30)
        assert (task.type, task.dedupe_key, task.request_id) == ("SEND_MESSAGE", "k", "req-1")
        queue.ack(task.id)
        assert queue.stats() == QueueStats(0, 0, 0, 0)
        redis_queue.close()
    engine.dispose()
    with redis.Redis.from_url(redis_url) as client:
        for key in client.scan_iter(match=f"lily:{{{name}}}:*"):
            client.delete(key)

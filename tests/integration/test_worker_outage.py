"""The worker while the queue is down: it backs off instead of polling, logs once per step
and once when the queue is back, and its periodic jobs wait; a periodic job that keeps
failing is logged less and less often."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger

from lily_core.ports.queue import QueueUnavailable, Task
from lily_core.testing import FakeClock
from lily_core.testing.queue import InMemoryJitterQueue
from lily_worker import Worker


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> InMemoryJitterQueue:
    return InMemoryJitterQueue(clock)


@pytest.fixture
def logged() -> Iterator[list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    sink = logger.add(lambda m: records.append(dict(m.record)), level="INFO")
    yield records
    logger.remove(sink)


def test_claiming_backs_off_while_the_queue_is_down_and_says_when_it_is_back(
    queue: InMemoryJitterQueue, clock: FakeClock, logged: list[dict[str, Any]]
) -> None:
    ran = threading.Event()
    reconciled: list[bool] = []
    worker = Worker(
        queue,
        {"PING": lambda task: ran.set()},
        clock,
        poll_interval=0.001,
        outage_backoff=(0.01, 0.04),
        periodic=[(0.001, lambda: reconciled.append(queue.down))],
    )
    queue.down = True
    thread = threading.Thread(target=worker.run)
    thread.start()
    deadline = time.monotonic() + 30
    while sum("queue unavailable" in r["message"] for r in logged) < 6:
        assert time.monotonic() < deadline, "the worker did not report the outage"
        time.sleep(0.01)
    queue.down = False
    queue.enqueue("PING", tenant_id=None, payload={}, run_at=clock.now())
    assert ran.wait(timeout=30)
    worker.stop()
    thread.join(timeout=30)

    outage = [r for r in logged if "queue unavailable" in r["message"]]
    delays = [r["extra"]["retry_in"] for r in outage]
    assert delays[:4] == [0.01, 0.02, 0.04, 0.04]  # doubling up to the cap, then steady
    assert all(r["level"].name == "WARNING" and r["exception"] is None for r in outage)
    [back] = [r for r in logged if "reachable again" in r["message"]]
    assert back["extra"]["failures"] == len(outage)
    assert True not in reconciled  # periodic jobs waited for the queue
    assert reconciled  # ...and ran once it was back


def test_a_failing_periodic_job_is_logged_on_its_1st_2nd_4th_8th_failure(
    queue: InMemoryJitterQueue, clock: FakeClock, logged: list[dict[str, Any]]
) -> None:
    calls: list[int] = []
    recovered = threading.Event()

    def reconcile() -> None:
        calls.append(1)
        if len(calls) <= 9:
            raise RuntimeError("the database is down")
        recovered.set()

    worker = Worker(queue, {}, clock, poll_interval=0.001, periodic=[(0.001, reconcile)])
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert recovered.wait(timeout=30)
    worker.stop()
    thread.join(timeout=30)

    failures = [r["extra"]["failures"] for r in logged if r["level"].name == "WARNING"]
    assert failures[:4] == [1, 2, 4, 8]
    assert any("ok again after 9 failures" in r["message"] for r in logged), (
        "the recovery is logged"
    )


def test_an_outcome_that_cannot_be_recorded_is_one_warning(
    queue: InMemoryJitterQueue, clock: FakeClock, logged: list[dict[str, Any]]
) -> None:
    def handler(task: Task) -> None:
        queue.down = True  # the queue goes away while the task runs

    queue.enqueue("PING", tenant_id=None, payload={}, run_at=clock.now())
    worker = Worker(queue, {"PING": handler}, clock, poll_interval=0.001)
    with pytest.raises(QueueUnavailable):
        worker.run_burst()  # a burst stops at the claim that fails
    [line] = [r for r in logged if "recording the outcome" in r["message"]]
    assert line["level"].name == "WARNING" and line["exception"] is None

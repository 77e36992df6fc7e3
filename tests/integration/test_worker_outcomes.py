"""The worker's task outcomes, retries, concurrency and shutdown, on the in-memory queue (the
contract suite holds it to the Redis and SQL queues' behaviour)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from loguru import logger

from lily_core.errors import InvalidInput, PermanentDeliveryError, TransientDeliveryError
from lily_core.ports.queue import QueueStats, Task
from lily_core.testing import FakeClock
from lily_core.testing.queue import InMemoryJitterQueue
from lily_worker import Worker

EMPTY = QueueStats(scheduled=0, due=0, in_flight=0, dead=0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> InMemoryJitterQueue:
    return InMemoryJitterQueue(clock)


@pytest.fixture
def log() -> Iterator[list[dict[str, Any]]]:
    """The `extra` of every log record that reports a task outcome."""
    records: list[dict[str, Any]] = []
    sink = logger.add(
        lambda message: records.append(dict(message.record["extra"])),
        filter=lambda record: "outcome" in record["extra"],
    )
    yield records
    logger.remove(sink)


def enqueue(queue: InMemoryJitterQueue, clock: FakeClock, task_type: str, **payload: Any) -> str:
    task_id = queue.enqueue(
        task_type, tenant_id="t1", payload=payload, run_at=clock.now(), request_id="req-9"
    )
    assert task_id is not None
    return task_id


def fail_with(exc: Exception) -> Any:
    def handler(task: Task) -> None:
        raise exc

    return handler


def test_a_task_that_succeeds_is_acked_and_logged(
    queue: InMemoryJitterQueue, clock: FakeClock, log: list[dict[str, Any]]
) -> None:
    ran: list[Task] = []
    task_id = enqueue(queue, clock, "PING", n=1)

    Worker(queue, {"PING": ran.append}, clock).run_burst()

    assert [(t.id, dict(t.payload)) for t in ran] == [(task_id, {"n": 1})]
    assert queue.stats() == EMPTY
    [line] = log
    assert line["outcome"] == "ok"
    assert (line["task_id"], line["task_type"], line["tenant_id"]) == (task_id, "PING", "t1")
    assert (line["attempt"], line["request_id"]) == (1, "req-9")
    assert line["duration_ms"] >= 0


def test_failures_retry_with_growing_backoff_then_dead_letter(
    queue: InMemoryJitterQueue, clock: FakeClock, log: list[dict[str, Any]]
) -> None:
    task_id = enqueue(queue, clock, "FLAKY")
    worker = Worker(queue, {"FLAKY": fail_with(RuntimeError("boom"))}, clock, max_attempts=3)

    delays = []
    for _ in range(2):
        worker.run_burst()
        [waiting] = queue.scheduled
        delays.append((waiting.run_at - clock.now()).total_seconds())
        assert waiting.last_error == "RuntimeError: boom"
        clock.advance(delays[-1])
    worker.run_burst()

    assert 10 <= delays[0] <= 15 and 20 <= delays[1] <= 30  # base 10 s, doubling, +≤50 % jitter
    [dead] = queue.dead()
    assert (dead.id, dead.attempts, dead.last_error) == (task_id, 3, "RuntimeError: boom")
    assert [line["outcome"] for line in log] == ["retry", "retry", "dead"]
    assert [line["attempt"] for line in log] == [1, 2, 3]


@pytest.mark.parametrize(
    "error", [PermanentDeliveryError("invalid number", code="21211"), InvalidInput("bad zip")]
)
def test_permanent_errors_dead_letter_at_once(
    queue: InMemoryJitterQueue, clock: FakeClock, error: Exception
) -> None:
    enqueue(queue, clock, "SEND")
    Worker(queue, {"SEND": fail_with(error)}, clock).run_burst()

    [dead] = queue.dead()
    assert dead.attempts == 1
    assert dead.last_error == f"{type(error).__name__}: {error}"
    assert queue.stats() == QueueStats(scheduled=0, due=0, in_flight=0, dead=1)


def test_retry_after_from_the_provider_is_honoured(
    queue: InMemoryJitterQueue, clock: FakeClock
) -> None:
    enqueue(queue, clock, "SEND")
    handler = fail_with(TransientDeliveryError("429", code="20429", retry_after=120))
    Worker(queue, {"SEND": handler}, clock).run_burst()

    [waiting] = queue.scheduled
    assert waiting.run_at == clock.now() + timedelta(seconds=120)


def test_an_unknown_task_type_is_dead_lettered(
    queue: InMemoryJitterQueue, clock: FakeClock, log: list[dict[str, Any]]
) -> None:
    enqueue(queue, clock, "NO_SUCH_TYPE")
    Worker(queue, {}, clock).run_burst()

    [dead] = queue.dead()
    assert dead.last_error == "unknown task type 'NO_SUCH_TYPE'"
    assert [line["outcome"] for line in log] == ["dead"]


def test_burst_runs_what_handlers_enqueue_due_now_but_not_later_tasks(
    queue: InMemoryJitterQueue, clock: FakeClock
) -> None:
    ran: list[int] = []

    def chain(task: Task) -> None:
        n = int(task.payload["n"])
        ran.append(n)
        if n < 3:
            enqueue(queue, clock, "CHAIN", n=n + 1)

    enqueue(queue, clock, "CHAIN", n=1)
    queue.enqueue("CHAIN", tenant_id=None, payload={"n": 99}, run_at=clock.now() + timedelta(1))
    Worker(queue, {"CHAIN": chain}, clock).run_burst()

    assert ran == [1, 2, 3]
    assert queue.stats() == QueueStats(scheduled=1, due=0, in_flight=0, dead=0)


def test_tasks_run_concurrently_up_to_the_limit(
    queue: InMemoryJitterQueue, clock: FakeClock
) -> None:
    # Each handler waits until all four run at once: with fewer threads the barrier breaks
    # and the tasks would be retried instead of acked.
    barrier = threading.Barrier(4, timeout=30)
    for n in range(4):
        enqueue(queue, clock, "MEET", n=n)

    Worker(queue, {"MEET": lambda task: barrier.wait()}, clock, concurrency=4).run_burst()

    assert queue.stats() == EMPTY


def test_stop_finishes_in_flight_work_and_claims_nothing_more(
    queue: InMemoryJitterQueue, clock: FakeClock
) -> None:
    started, release = threading.Event(), threading.Event()
    done: list[int] = []

    def slow(task: Task) -> None:
        started.set()
        release.wait(timeout=30)
        done.append(int(task.payload["n"]))

    enqueue(queue, clock, "SLOW", n=1)
    clock.advance(1)
    enqueue(queue, clock, "SLOW", n=2)
    worker = Worker(queue, {"SLOW": slow}, clock, concurrency=1, poll_interval=0.01)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert started.wait(timeout=30)
    worker.stop()
    release.set()
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert done == [1]
    assert queue.stats() == QueueStats(scheduled=0, due=1, in_flight=0, dead=0)


def test_periodic_jobs_run_in_the_worker_loop(queue: InMemoryJitterQueue, clock: FakeClock) -> None:
    calls: list[int] = []
    third_call = threading.Event()

    def reconcile() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("a failing run does not stop the next ones")
        if len(calls) == 3:
            third_call.set()

    worker = Worker(queue, {}, clock, poll_interval=0.01, periodic=[(0.01, reconcile)])
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert third_call.wait(timeout=30)
    worker.stop()
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert calls[:3] == [0, 1, 2]

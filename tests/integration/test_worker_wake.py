"""The worker wakes when a task arrives from another process, on every real queue, instead
of at its poll interval; and it keeps doing so after its waiting connection was killed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from lily_adapters.queue.spill import SpillingJitterQueue
from lily_core.ports.queue import JitterQueue, Task
from lily_core.testing import FakeClock
from lily_core.testing.queue import InMemoryJitterQueue
from lily_worker import Worker
from lily_worker.worker import POLL_SECONDS, WOKEN_POLL_SECONDS
from tests.contract.test_queue import _kill_waiting_connections, queue_maker

POLL = 60.0  # a worker that polled would not see the task within the test's patience
PROMPT = 10.0  # "well under the poll interval": tests check behaviour, benches speed


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_queue(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], JitterQueue]]:
    with queue_maker(backend, request, FakeClock(), tmp_path) as make:
        yield make


class Running:
    """A worker on its own thread, recording the tasks it ran."""

    def __init__(self, queue: JitterQueue, **options: object) -> None:
        self.ran: list[str] = []
        self.arrived = threading.Condition()
        self.worker = Worker(queue, {"PING": self._ping}, FakeClock(), **options)  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self.worker.run)

    def _ping(self, task: Task) -> None:
        with self.arrived:
            self.ran.append(task.id)
            self.arrived.notify_all()

    def wait_for(self, task_id: str, timeout: float) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: task_id in self.ran, timeout)

    def __enter__(self) -> Running:
        self.thread.start()
        time.sleep(0.5)  # asleep by now: nothing is due
        return self

    def __exit__(self, *exc: object) -> None:
        self.worker.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def _ping(queue: JitterQueue) -> str:
    task_id = queue.enqueue("PING", tenant_id=None, payload={}, run_at=FakeClock().now())
    assert task_id is not None
    return task_id


def test_a_task_from_another_process_runs_without_waiting_for_the_poll(
    new_queue: Callable[[], JitterQueue],
) -> None:
    producer = new_queue()
    with Running(new_queue(), poll_interval=POLL) as running:
        for _ in range(3):  # and again, once the worker is asleep once more
            task_id = _ping(producer)
            assert running.wait_for(task_id, PROMPT)
            time.sleep(0.3)


def test_a_task_due_sooner_than_the_workers_sleep_wakes_it(
    new_queue: Callable[[], JitterQueue],
) -> None:
    producer = new_queue()
    later = producer.enqueue(
        "PING", tenant_id=None, payload={}, run_at=FakeClock().now() + timedelta(hours=1)
    )
    assert later is not None
    with Running(new_queue(), poll_interval=POLL) as running:
        assert running.wait_for(_ping(producer), PROMPT)
        assert later not in running.ran


def test_the_worker_still_wakes_after_its_waiting_connection_was_killed(
    backend: str, new_queue: Callable[[], JitterQueue], request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has no server to kill the connection")
    producer = new_queue()
    with Running(new_queue(), poll_interval=POLL, outage_backoff=(0.05, 0.2)) as running:
        assert _kill_waiting_connections(backend, request) == 1
        assert running.wait_for(_ping(producer), PROMPT)
        time.sleep(0.5)
        assert _kill_waiting_connections(backend, request) == 1  # it listens again
        assert running.wait_for(_ping(producer), PROMPT)


def test_a_queue_that_can_wake_the_worker_is_polled_less_often() -> None:
    queue = InMemoryJitterQueue(FakeClock())
    assert Worker(queue, {}, FakeClock()).poll_interval == WOKEN_POLL_SECONDS

    class Plain:  # a JitterQueue without wait_for_work
        def __getattr__(self, name: str) -> object:
            if name in ("wait_for_work", "stop_waiting"):
                raise AttributeError(name)
            return getattr(queue, name)

    assert Worker(Plain(), {}, FakeClock()).poll_interval == POLL_SECONDS  # type: ignore[arg-type]


def test_the_spilling_queue_forwards_the_wait_to_the_queue() -> None:
    clock = FakeClock()
    main, spill = InMemoryJitterQueue(clock), InMemoryJitterQueue(clock)
    spilling = SpillingJitterQueue(main, spill)
    assert spilling.wait_for_work(0.01) is False
    main.enqueue("PING", tenant_id=None, payload={}, run_at=clock.now())
    assert spilling.wait_for_work(0.01) is True

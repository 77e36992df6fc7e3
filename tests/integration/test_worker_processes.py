"""Worker processes on the real Redis queue: a SIGKILLed worker loses nothing (its tasks
run again in another worker once their leases end), SIGTERM is a warm shutdown and a
second SIGTERM a cold one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from lily_adapters.queue.redis import RedisJitterQueue
from lily_core.ports.queue import QueueStats

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("redis_worker_script.py")
WAIT = 60  # seconds: generous bounds on waits that normally take well under one


class Harness:
    def __init__(self, url: str) -> None:
        self.url = url
        self.name = f"workers-{uuid.uuid4().hex}"
        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.queue = RedisJitterQueue.from_url(url, name=self.name)
        self.processes: list[subprocess.Popen[bytes]] = []

    def enqueue(self, count: int) -> set[str]:
        now = datetime.now(UTC)
        ids = {
            self.queue.enqueue("SLOW", tenant_id="t", payload={}, run_at=now) for _ in range(count)
        }
        return {i for i in ids if i is not None}

    def start_worker(
        self, label: str, *, sleep: float, lease: float = 2.0
    ) -> subprocess.Popen[bytes]:
        command = [sys.executable, str(SCRIPT), self.url, self.name, label]
        command += ["--sleep", str(sleep), "--lease", str(lease)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def next_event(self) -> list[str]:
        """The next `start|done label task_id attempt` event, waiting for it."""
        popped = self.redis.blpop([f"{self.name}:events"], timeout=WAIT)
        assert popped is not None, "no event from the worker"
        return popped[1].split()

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        keys = list(self.redis.scan_iter(match=f"*{self.name}*"))
        if keys:
            self.redis.delete(*keys)


@pytest.fixture
def harness(redis_url: str) -> Iterator[Harness]:
    h = Harness(redis_url)
    yield h
    h.close()


def test_a_killed_worker_loses_nothing(harness: Harness) -> None:
    enqueued = harness.enqueue(3)
    first = harness.start_worker("A", sleep=600)
    started = [harness.next_event() for _ in enqueued]
    assert {(e[0], e[1], e[3]) for e in started} == {("start", "A", "1")}
    first.kill()  # SIGKILL mid-task: nothing gets acked, nothing gets retried
    first.wait(timeout=WAIT)

    second = harness.start_worker("B", sleep=0)
    events = [harness.next_event() for _ in range(2 * len(enqueued))]
    second.send_signal(signal.SIGTERM)

    assert second.wait(timeout=WAIT) == 0
    assert {e[2] for e in started} == enqueued
    assert sorted((e[0], e[2], e[3]) for e in events if e[1] == "B") == sorted(
        [("start", i, "2") for i in enqueued] + [("done", i, "2") for i in enqueued]
    )
    assert harness.queue.stats() == QueueStats(scheduled=0, due=0, in_flight=0, dead=0)


def test_sigterm_finishes_the_running_task_then_exits_0(harness: Harness) -> None:
    [task_id] = harness.enqueue(1)
    worker = harness.start_worker("A", sleep=1.0, lease=300)
    assert harness.next_event() == ["start", "A", task_id, "1"]
    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=WAIT) == 0
    assert harness.next_event() == ["done", "A", task_id, "1"]
    assert harness.queue.stats() == QueueStats(scheduled=0, due=0, in_flight=0, dead=0)


def test_a_second_sigterm_exits_at_once_leaving_the_task_leased(harness: Harness) -> None:
    [task_id] = harness.enqueue(1)
    worker = harness.start_worker("A", sleep=600, lease=300)
    assert harness.next_event() == ["start", "A", task_id, "1"]
    # Signals sent back to back may merge into one, so keep sending until it exits: the
    # first warm shutdown would otherwise wait ten minutes for the sleeping handler.
    for _ in range(WAIT * 10):
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            continue

    assert worker.returncode == 1
    assert harness.queue.stats() == QueueStats(scheduled=0, due=0, in_flight=1, dead=0)


# -- short leases: the heartbeat, fencing, the re-run after a kill (issue 13) -----------------


def test_the_heartbeat_keeps_a_task_that_outlives_its_lease(harness: Harness) -> None:
    [task_id] = harness.enqueue(1)
    # a task of 4 s on a lease of 2 s, renewed every 0.67 s (the events client waits 5 s)
    harness.start_worker("A", sleep=4.0, lease=2.0)
    assert harness.next_event() == ["start", "A", task_id, "1"]
    harness.start_worker("B", sleep=0)  # idle, claiming: it must not get the task

    assert harness.next_event() == ["done", "A", task_id, "1"]
    wait_until(lambda: harness.queue.stats() == QueueStats(0, 0, 0, 0))
    assert harness.redis.llen(f"{harness.name}:events") == 0  # B never started it


def test_a_killed_workers_task_runs_again_within_lease_and_poll(harness: Harness) -> None:
    lease = 3.0
    [task_id] = harness.enqueue(1)
    first = harness.start_worker("A", sleep=600, lease=lease)
    assert harness.next_event() == ["start", "A", task_id, "1"]
    harness.start_worker("B", sleep=0, lease=lease)
    time.sleep(lease)  # B is up and polling; A's heartbeat has renewed the lease meanwhile

    first.kill()
    killed = time.monotonic()
    assert harness.next_event() == ["start", "B", task_id, "2"]
    rerun_after = time.monotonic() - killed
    assert harness.next_event() == ["done", "B", task_id, "2"]
    assert rerun_after <= lease + 0.1 + 1.0  # the lease, the poll interval, slack for CI


def test_a_wedged_workers_late_ack_leaves_the_re_run_alone(harness: Harness) -> None:
    """SIGSTOP stands for a wedged worker: no heartbeat, so its lease runs out and B runs the
    task. When A wakes, its handler finishes and its ack is refused (the claim is stale):
    B's claim stays in flight, renewed by B, and the task is not deleted under it."""
    [task_id] = harness.enqueue(1)
    first = harness.start_worker("A", sleep=2.0, lease=1.5)
    assert harness.next_event() == ["start", "A", task_id, "1"]
    first.send_signal(signal.SIGSTOP)
    harness.start_worker("B", sleep=600, lease=1.5)
    assert harness.next_event() == ["start", "B", task_id, "2"]

    first.send_signal(signal.SIGCONT)
    assert harness.next_event() == ["done", "A", task_id, "1"]
    time.sleep(3.0)  # A's ack (refused), and two leases' worth of B's heartbeat
    assert harness.queue.stats() == QueueStats(scheduled=0, due=0, in_flight=1, dead=0)


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)

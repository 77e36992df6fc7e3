from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from loguru import logger

from lily_adapters.queue.timing import backoff_seconds
from lily_core.errors import InvalidInput, PermanentDeliveryError, TransientDeliveryError
from lily_core.ports.clock import Clock
from lily_core.ports.queue import JitterQueue, Task

Handler = Callable[[Task], None]
PeriodicJob = tuple[float, Callable[[], None]]


@runtime_checkable
class _Peekable(Protocol):
    """Queues that can say when their next task falls due (all of Lily's can), so the
    worker sleeps exactly until then instead of polling blind."""

    def next_due_at(self) -> datetime | None: ...


class Worker:
    """Claims due tasks and runs their handlers on `concurrency` threads.

    A handler that returns has done its task (acked). One that raises is retried with
    exponential backoff and jitter, or after `TransientDeliveryError.retry_after` when the
    provider said so, until the task has had `max_attempts` attempts; then it is
    dead-lettered. PermanentDeliveryError and InvalidInput, and tasks of a type with no
    handler, are dead-lettered at once. Each outcome is one log line.

    `periodic` jobs (interval in seconds, function) run in the claiming loop of `run()`,
    first at start, then every interval; an exception in one is logged and survived."""

    def __init__(
        self,
        queue: JitterQueue,
        handlers: Mapping[str, Handler],
        clock: Clock,
        *,
        concurrency: int = 4,
        max_attempts: int = 5,
        lease_seconds: float = 300.0,
        poll_interval: float = 0.5,
        periodic: Sequence[PeriodicJob] = (),
    ) -> None:
        if concurrency < 1 or max_attempts < 1:
            raise ValueError("concurrency and max_attempts must be at least 1")
        self._queue = queue
        self._handlers = dict(handlers)
        self._clock = clock
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        self._periodic = list(periodic)
        self._stopping = threading.Event()
        self._wake = threading.Event()  # a task finished, or stop() was called
        self._lock = threading.Lock()
        self._running = 0

    def run(self) -> None:
        """Claim and run tasks until stop(); then finish what is in flight and return."""
        self._loop(burst=False)

    def run_burst(self) -> None:
        """Run what is due (including tasks that handlers enqueue due now), and return once
        nothing is due and nothing is in flight. Retries scheduled later are left queued."""
        self._loop(burst=True)

    def stop(self) -> None:
        """Stop claiming; run()/run_burst() return when in-flight tasks are done."""
        self._stopping.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- the claiming loop ----------------------------------------------------------------

    def _loop(self, *, burst: bool) -> None:
        next_runs = [time.monotonic()] * len(self._periodic)
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="lily-task") as pool:
            while not self._stopping.is_set():
                self._wake.clear()  # before claiming: a finish after this wakes the wait
                if not burst:
                    self._run_periodic(next_runs)
                free = self._concurrency - self._in_flight()
                tasks = self._claim(free, burst=burst)
                for task in tasks:
                    with self._lock:
                        self._running += 1
                    pool.submit(self._execute, task)
                if free and len(tasks) == free:
                    continue  # a full batch: more may be due right now
                if burst and not tasks and not self._in_flight():
                    break
                self._wake.wait(self._sleep_seconds(free, next_runs))
            # leaving the with-block waits for in-flight tasks: a warm shutdown

    def _claim(self, free: int, *, burst: bool) -> list[Task]:
        if free <= 0:
            return []
        try:
            return self._queue.claim(free, self._lease_seconds)
        except Exception:
            if burst:
                raise
            logger.exception("claiming tasks failed; trying again shortly")
            return []

    def _sleep_seconds(self, free: int, next_runs: list[float]) -> float:
        """Until the next task falls due (when a slot is free), the next periodic job, or
        the poll interval, whichever is first. A finishing task cuts any of them short."""
        sleep = self._poll_interval
        if next_runs:
            sleep = min(sleep, max(min(next_runs) - time.monotonic(), 0.0))
        if free and isinstance(self._queue, _Peekable):
            try:
                due = self._queue.next_due_at()
            except Exception:
                due = None  # the next claim will log what is wrong
            if due is not None:
                sleep = min(sleep, (due - self._clock.now()).total_seconds())
        return max(sleep, 0.001)  # never spin: another worker may hold what is due

    def _run_periodic(self, next_runs: list[float]) -> None:
        for i, (interval, job) in enumerate(self._periodic):
            if time.monotonic() < next_runs[i]:
                continue
            next_runs[i] = time.monotonic() + interval
            try:
                job()
            except Exception:
                logger.bind(job=getattr(job, "__name__", repr(job))).exception(
                    "periodic job failed"
                )

    def _in_flight(self) -> int:
        with self._lock:
            return self._running

    # -- one task -------------------------------------------------------------------------

    def _execute(self, task: Task) -> None:
        started = time.perf_counter()
        try:
            outcome, error = self._run_handler(task)
            elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
            self._log(task, outcome, elapsed_ms, error)
        except Exception:  # the queue failed us: the lease brings the task back later
            logger.bind(task_id=task.id).exception("recording a task outcome failed")
        finally:
            with self._lock:
                self._running -= 1
            self._wake.set()

    def _run_handler(self, task: Task) -> tuple[str, BaseException | None]:
        handler = self._handlers.get(task.type)
        if handler is None:
            self._queue.dead_letter(task.id, f"unknown task type {task.type!r}")
            return "dead", None
        try:
            handler(task)
        except (PermanentDeliveryError, InvalidInput) as exc:
            self._queue.dead_letter(task.id, _describe(exc))
            return "dead", exc
        except Exception as exc:
            if task.attempts >= self._max_attempts:
                self._queue.dead_letter(task.id, _describe(exc))
                return "dead", exc
            self._queue.retry(task.id, self._retry_at(task, exc), _describe(exc))
            return "retry", exc
        self._queue.ack(task.id)
        return "ok", None

    def _retry_at(self, task: Task, exc: Exception) -> datetime:
        if isinstance(exc, TransientDeliveryError) and exc.retry_after is not None:
            delay = max(exc.retry_after, 0.0)
        else:
            delay = backoff_seconds(task.attempts)
        return self._clock.now() + timedelta(seconds=delay)

    def _log(
        self, task: Task, outcome: str, duration_ms: float, error: BaseException | None
    ) -> None:
        bound = logger.bind(
            task_id=task.id,
            task_type=task.type,
            tenant_id=task.tenant_id,
            attempt=task.attempts,
            duration_ms=duration_ms,
            outcome=outcome,
            request_id=task.request_id,
        )
        if outcome == "ok":
            bound.info("task {} ok", task.type)
        elif outcome == "retry":
            reason = _describe(error)
            bound.bind(error=reason).warning("task {} failed; will retry: {}", task.type, reason)
        else:
            reason = _describe(error) if error else f"unknown task type {task.type!r}"
            bound.bind(error=reason).error("task {} dead-lettered: {}", task.type, reason)


def _describe(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}" if exc is not None else ""

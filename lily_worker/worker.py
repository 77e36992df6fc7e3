from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from loguru import logger

from lily_adapters.metrics import TASKS
from lily_adapters.queue.timing import backoff_seconds
from lily_core.errors import (
    InvalidInput,
    PermanentDeliveryError,
    ProviderUnavailable,
    TransientDeliveryError,
)
from lily_core.ports.clock import Clock
from lily_core.ports.queue import JitterQueue, LeaseLost, QueueUnavailable, Task, WakingQueue

Handler = Callable[[Task], None]
PeriodicJob = tuple[float, Callable[[], object]]  # (interval in seconds, job); result unused

POLL_SECONDS = 0.5  # a queue that cannot wake the worker is polled this often
WOKEN_POLL_SECONDS = 5.0  # one that can: a safety net for a wake that went astray
WAKE_WAIT_SECONDS = 0.25  # one wait of the waiter thread: stop() takes effect within it


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
    handler, are dead-lettered at once. ProviderUnavailable (a provider's circuit is open,
    a sending number's rate used up) defers the task without counting the attempt. Each
    outcome is one log line.

    Leases are short (`lease_seconds`, 30 s by default): a heartbeat thread renews the lease
    of every running task every third of it, so a task of a worker that died (SIGKILL, a
    lost machine) is handed out again within a lease, while a slow handler keeps its task.
    Every ack, retry, dead-letter and renewal carries the claim's fencing token: if the
    lease ran out meanwhile (a wedged worker: the heartbeat did not run either), the queue
    refuses it (LeaseLost), which is logged, and the re-run's claim is left alone.

    `periodic` jobs (interval in seconds, function) run in the claiming loop of `run()`,
    first at start, then every interval; an exception in one is logged (less and less
    often while it repeats) and survived.

    Between claims `run()` sleeps until the next task falls due, a task finishes or a
    periodic job is due, at most `poll_interval`. A queue that can wake the worker
    (WakingQueue: it says when a task arrives, from this process or another) gets a thread
    that waits on it and cuts the sleep short, so a task due now runs at once; its poll
    interval defaults to 5 s, a safety net (a wake that another worker took, a task written
    by something that does not notify). Other queues are polled every 0.5 s.

    When claiming fails (the queue is down), `run()` backs off exponentially from
    `outage_backoff[0]` to `outage_backoff[1]` seconds, with one log line per step and one
    when claiming works again; periodic jobs (which feed the queue) wait meanwhile."""

    def __init__(
        self,
        queue: JitterQueue,
        handlers: Mapping[str, Handler],
        clock: Clock,
        *,
        concurrency: int = 4,
        max_attempts: int = 5,
        lease_seconds: float = 30.0,
        poll_interval: float | None = None,
        periodic: Sequence[PeriodicJob] = (),
        outage_backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        if concurrency < 1 or max_attempts < 1:
            raise ValueError("concurrency and max_attempts must be at least 1")
        self._queue = queue
        self._handlers = dict(handlers)
        self._clock = clock
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._lease_seconds = lease_seconds
        self._heartbeat_seconds = lease_seconds / 3
        self._leases: dict[str, Task] = {}  # running tasks whose lease the heartbeat renews
        self._waking = queue if isinstance(queue, WakingQueue) else None
        if poll_interval is None:
            poll_interval = WOKEN_POLL_SECONDS if self._waking else POLL_SECONDS
        self._poll_interval = poll_interval
        self._periodic = list(periodic)
        self._outage = _Outage(*outage_backoff)
        self._job_failures = [0] * len(self._periodic)
        self._stopping = threading.Event()
        self._wake = threading.Event()  # a task finished or arrived, or stop() was called
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
    def poll_interval(self) -> float:
        """The longest sleep between claims (see the class's docstring)."""
        return self._poll_interval

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- the claiming loop ----------------------------------------------------------------

    def _loop(self, *, burst: bool) -> None:
        with self._heartbeat(), self._waiter(enabled=not burst):
            self._claim_loop(burst=burst)

    def _claim_loop(self, *, burst: bool) -> None:
        next_runs = [time.monotonic()] * len(self._periodic)
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="lily-task") as pool:
            while not self._stopping.is_set():
                self._wake.clear()  # before claiming: a finish after this wakes the wait
                free = self._concurrency - self._in_flight()
                tasks = self._claim(free, burst=burst)
                if self._outage.active:
                    self._stopping.wait(self._outage.delay)
                    continue
                for task in tasks:
                    with self._lock:
                        self._running += 1
                        if task.lease is not None:
                            self._leases[task.id] = task
                    pool.submit(self._execute, task)
                if not burst:
                    self._run_periodic(next_runs)
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
            tasks = self._queue.claim(free, self._lease_seconds)
        except Exception as exc:
            if burst:
                raise
            self._outage.failed(exc)
            return []
        self._outage.ended()
        return tasks

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
        """Run the jobs that are due. A job that keeps failing is logged on its 1st, 2nd,
        4th, 8th... failure in a row (an unreachable database would otherwise fill the log
        on every run), with the traceback unless the failure is QueueUnavailable, and once
        when it works again."""
        for i, (interval, job) in enumerate(self._periodic):
            if time.monotonic() < next_runs[i]:
                continue
            next_runs[i] = time.monotonic() + interval
            name = getattr(job, "__name__", repr(job))
            try:
                job()
            except Exception as exc:
                failures = self._job_failures[i] = self._job_failures[i] + 1
                if failures & (failures - 1) == 0:  # a power of two
                    log = logger.bind(job=name, failures=failures, error=_describe(exc))
                    if not isinstance(exc, QueueUnavailable):
                        log = log.opt(exception=exc)
                    log.warning("periodic job {} failed ({} in a row): {}", name, failures, exc)
                continue
            if self._job_failures[i]:
                logger.bind(job=name).info(
                    "periodic job {} ok again after {} failures", name, self._job_failures[i]
                )
                self._job_failures[i] = 0

    def _in_flight(self) -> int:
        with self._lock:
            return self._running

    # -- the waiter -----------------------------------------------------------------------

    @contextmanager
    def _waiter(self, *, enabled: bool) -> Iterator[None]:
        """While the claiming loop runs, a thread that waits on the queue for work and wakes
        the loop when some arrives (not in burst mode: it claims until nothing is due)."""
        queue = self._waking
        if queue is None or not enabled:
            yield
            return
        done = threading.Event()
        thread = threading.Thread(target=self._wait_for_work, args=(queue, done), daemon=True,
                                  name="lily-waiter")  # fmt: skip
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(timeout=WAKE_WAIT_SECONDS + 5)  # a hung server: the socket timeout

    def _wait_for_work(self, queue: WakingQueue, done: threading.Event) -> None:
        """The waiter thread. A failed wait (the queue went away, its connection was
        killed) is logged once, then waits `outage_backoff` (doubling) and tries again; the
        first wait that works again wakes the loop, in case a task arrived meanwhile."""
        failures = 0
        try:
            while not done.is_set():
                try:
                    arrived = queue.wait_for_work(WAKE_WAIT_SECONDS)
                except Exception as exc:
                    if not failures:
                        log = logger.bind(error=_describe(exc))
                        if not isinstance(exc, QueueUnavailable):
                            log = log.opt(exception=exc)
                        log.warning("waiting for work failed; polling until it works: {}", exc)
                    failures += 1
                    first, cap = self._outage.first, self._outage.cap
                    done.wait(min(cap, first * 2.0 ** min(failures - 1, 32)))
                    continue
                if failures:
                    logger.bind(failures=failures).info("waiting for work works again")
                    failures, arrived = 0, True
                if arrived:
                    self._wake.set()
        finally:
            try:
                queue.stop_waiting()
            except Exception as exc:  # closing a dead connection: nothing left to do
                logger.bind(error=_describe(exc)).debug("closing the waiter's connection failed")

    # -- the heartbeat --------------------------------------------------------------------

    @contextmanager
    def _heartbeat(self) -> Iterator[None]:
        """Renew the leases of running tasks every `lease_seconds / 3` on a thread of its
        own (a busy task pool cannot delay it) while the claiming loop runs."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self._heartbeat_seconds):
                self.renew_leases()

        thread = threading.Thread(target=beat, name="lily-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def renew_leases(self) -> None:
        """One heartbeat: renew the lease of every running task. A claim the queue refuses
        (its lease ran out: the task is another worker's now) is logged and no longer
        renewed; a queue that cannot be reached is logged, and the next beat tries again."""
        with self._lock:
            running = list(self._leases.values())
        for task in running:
            try:
                self._queue.renew(task.id, str(task.lease), self._lease_seconds)
            except LeaseLost as exc:
                with self._lock:
                    running_still = self._leases.pop(task.id, None) is not None
                if running_still:  # else it finished (and was acked) since the snapshot
                    self._bound(task).bind(error=str(exc)).warning(
                        "lease of task {} lost while it runs: it may run again elsewhere",
                        task.type,
                    )
            except Exception as exc:
                self._bound(task).bind(error=_describe(exc)).warning(
                    "renewing the lease of task {} failed: {}", task.type, _describe(exc)
                )

    # -- one task -------------------------------------------------------------------------

    def _execute(self, task: Task) -> None:
        started = time.perf_counter()
        try:
            outcome, error = self._run_handler(task)
            elapsed = time.perf_counter() - started
            TASKS.labels(task.type, outcome).observe(elapsed)
            elapsed_ms = round(elapsed * 1000, 1)
            self._log(task, outcome, elapsed_ms, error)
        except LeaseLost as exc:  # the task was handed out again: its re-run records it
            self._bound(task).bind(error=str(exc)).warning(
                "task {} finished after its lease ran out; outcome refused: {}", task.type, exc
            )
        except QueueUnavailable as exc:  # the lease brings the task back later
            logger.bind(task_id=task.id, error=str(exc)).warning(
                "recording the outcome of task {} failed: {}", task.type, exc
            )
        except Exception:  # the lease brings the task back later
            logger.bind(task_id=task.id).exception("recording a task outcome failed")
        finally:
            with self._lock:
                self._running -= 1
                self._leases.pop(task.id, None)
            self._wake.set()

    def _run_handler(self, task: Task) -> tuple[str, BaseException | None]:
        handler = self._handlers.get(task.type)
        if handler is None:
            self._queue.dead_letter(task.id, f"unknown task type {task.type!r}", task.lease)
            return "dead", None
        try:
            try:
                handler(task)
            finally:  # the heartbeat stops renewing before the outcome is recorded
                with self._lock:
                    self._leases.pop(task.id, None)
        except (PermanentDeliveryError, InvalidInput) as exc:
            self._queue.dead_letter(task.id, _describe(exc), task.lease)
            return "dead", exc
        except ProviderUnavailable as exc:  # not tried: no attempt counted, never dead
            self._queue.defer(task.id, self._retry_at(task, exc), _describe(exc), task.lease)
            return "deferred", exc
        except Exception as exc:
            if task.attempts >= self._max_attempts:
                self._queue.dead_letter(task.id, _describe(exc), task.lease)
                return "dead", exc
            self._queue.retry(task.id, self._retry_at(task, exc), _describe(exc), task.lease)
            return "retry", exc
        self._queue.ack(task.id, task.lease)
        return "ok", None

    def _retry_at(self, task: Task, exc: Exception) -> datetime:
        if isinstance(exc, TransientDeliveryError) and exc.retry_after is not None:
            delay = max(exc.retry_after, 0.0)
        else:
            delay = backoff_seconds(task.attempts)
        return self._clock.now() + timedelta(seconds=delay)

    def _bound(self, task: Task) -> Any:
        return logger.bind(
            task_id=task.id,
            task_type=task.type,
            tenant_id=task.tenant_id,
            attempt=task.attempts,
            request_id=task.request_id,
        )

    def _log(
        self, task: Task, outcome: str, duration_ms: float, error: BaseException | None
    ) -> None:
        bound = self._bound(task).bind(duration_ms=duration_ms, outcome=outcome)
        if outcome == "ok":
            bound.info("task {} ok", task.type)
        elif outcome == "retry":
            reason = _describe(error)
            bound.bind(error=reason).warning("task {} failed; will retry: {}", task.type, reason)
        elif outcome == "deferred":
            reason = _describe(error)
            bound.bind(error=reason).info("task {} deferred: {}", task.type, reason)
        else:
            reason = _describe(error) if error else f"unknown task type {task.type!r}"
            bound.bind(error=reason).error("task {} dead-lettered: {}", task.type, reason)


class _Outage:
    """The claim loop's back-off while the queue fails: `first` seconds, doubling up to
    `cap`. One log line per failed claim (so one per step, however long the step), and one
    when a claim succeeds again."""

    def __init__(self, first: float, cap: float) -> None:
        self.first, self.cap = first, cap
        self.failures = 0
        self.delay = 0.0
        self._since = 0.0

    @property
    def active(self) -> bool:
        return self.failures > 0

    def failed(self, exc: Exception) -> None:
        if not self.failures:
            self._since = time.monotonic()
        self.delay = min(self.cap, self.first * 2.0 ** min(self.failures, 32))
        self.failures += 1
        log = logger.bind(error=_describe(exc), failures=self.failures, retry_in=self.delay)
        if isinstance(exc, QueueUnavailable):
            log.warning("queue unavailable, next claim in {:g} s: {}", self.delay, exc)
        else:  # not an outage we know of: keep the traceback
            log.opt(exception=exc).error(
                "claiming tasks failed, next claim in {:g} s: {}", self.delay, _describe(exc)
            )

    def ended(self) -> None:
        if self.failures:
            down = time.monotonic() - self._since
            logger.bind(failures=self.failures, down_seconds=round(down, 1)).info(
                "queue reachable again after {} failed claims ({:.0f} s)", self.failures, down
            )
        self.failures = 0


def _describe(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}" if exc is not None else ""

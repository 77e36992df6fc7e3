"""Readiness: is each dependency (the database, the queue) answering, checked with a hard
deadline so that the answer comes fast whatever the dependency does."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, wait

import attrs
import sqlalchemy as sa
from loguru import logger

from lily_core.ports.queue import JitterQueue

Check = Callable[[], None]  # raises when its dependency is not ready


class NotReady(Exception):
    """A dependency answers but is not fit to serve; `status` says how ("not migrated")."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status


@attrs.frozen
class CheckResult:
    status: str  # "ok", "unreachable", or a NotReady's status
    detail: str  # why not, for the log (never for the response: it names hosts)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


OK = CheckResult("ok", "ok")


class ReadinessProbe:
    """Runs named checks, each in a daemon thread of its own, and waits for them up to a
    deadline: a check still running then is "unreachable" (no answer in time).

    A check is never started twice at once: while one hangs (a database that accepts
    connections and never answers), later probes wait on the same run, so a hung dependency
    holds one thread, however often the probe is asked. Daemon threads: a hung check never
    holds up the process's exit. Each change of a check's status is logged once."""

    def __init__(self, checks: Mapping[str, Check], timeout: float) -> None:
        self.checks = dict(checks)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._running: dict[str, Future[CheckResult]] = {}
        self._last: dict[str, str] = {}  # the status each check had last time

    def check(self, timeout: float | None = None, *, log: bool = True) -> dict[str, CheckResult]:
        """Run every check (blocking), giving them `timeout` (default: the probe's); `log`
        False leaves the reporting to the caller."""
        timeout = self.timeout if timeout is None else timeout
        futures = self._start()
        wait(futures.values(), timeout=timeout)
        return self._results(futures, timeout, log=log)

    async def check_async(self) -> dict[str, CheckResult]:
        """Run every check without blocking the event loop (nor using its thread pool)."""
        futures = self._start()
        pending = [asyncio.wrap_future(f) for f in futures.values()]
        await asyncio.wait(pending, timeout=self.timeout)
        return self._results(futures, self.timeout, log=True)

    def _start(self) -> dict[str, Future[CheckResult]]:
        with self._lock:
            for name, check in self.checks.items():
                running = self._running.get(name)
                if running is None or running.done():
                    future: Future[CheckResult] = Future()
                    thread = threading.Thread(
                        target=_run, args=(check, future), name=f"lily-ready-{name}", daemon=True
                    )
                    thread.start()
                    self._running[name] = future
            return dict(self._running)

    def _results(
        self, futures: Mapping[str, Future[CheckResult]], timeout: float, *, log: bool
    ) -> dict[str, CheckResult]:
        late = CheckResult("unreachable", f"no answer within {timeout:g} s")
        results = {name: f.result() if f.done() else late for name, f in futures.items()}
        with self._lock:
            changed = {n: r for n, r in results.items() if self._last.get(n, "ok") != r.status}
            self._last.update((n, r.status) for n, r in results.items())
        if not log:
            return results
        for name, result in changed.items():
            bound = logger.bind(check=name, status=result.status)
            if result.ok:
                bound.info("readiness: {} ok again", name)
            else:
                bound.warning("readiness: {} {}: {}", name, result.status, result.detail)
        return results


def _run(check: Check, future: Future[CheckResult]) -> None:
    try:
        check()
    except NotReady as exc:
        future.set_result(CheckResult(exc.status, str(exc)))
    except Exception as exc:
        future.set_result(CheckResult("unreachable", describe(exc)))
    else:
        future.set_result(OK)


def describe(exc: BaseException) -> str:
    """One line: the driver's own message when SQLAlchemy wrapped it."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0]}" if lines else type(orig).__name__


def database_check(engine: sa.Engine, schema: Callable[[sa.Engine], None] | None) -> Check:
    """The database answers `SELECT 1`, and then `schema(engine)` (which raises NotReady
    when the schema is not the one this Lily needs) passes."""

    def check() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        if schema is not None:
            schema(engine)

    return check


def queue_check(queue: JitterQueue) -> Check:
    """The queue answers (its stats: a few counts)."""

    def check() -> None:
        queue.stats()

    return check

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from lily_core.domain.ids import new_id
from lily_core.ports.clock import Clock
from lily_core.ports.queue import (
    JitterQueue,
    LeaseLost,
    QueueStats,
    QueueUnavailable,
    Task,
    WakingQueue,
)

_SCHEDULED, _INFLIGHT, _DEAD = "scheduled", "inflight", "dead"


@attrs.define
class _Entry:
    task: Task
    state: str
    seq: int  # enqueue order: breaks ties between equal run_at values
    lease_until: datetime | None = None
    dead_at: datetime | None = None


class InMemoryJitterQueue(JitterQueue, WakingQueue):
    """A JitterQueue in a dict, thread-safe, on the given clock: the same contract as the
    Redis and SQL queues (tests/contract/test_queue.py keeps it honest).

    Payloads go through a JSON round trip, as they do in the real queues, so a payload that
    could not be stored for real fails here too. `scheduled` and `in_flight` let unit tests
    assert on what a use case enqueued. Setting `down` makes every call of the port raise
    QueueUnavailable, as a real queue does when its server cannot be reached."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._dedupe: dict[str, str] = {}  # live dedupe key -> task id
        self._seq = itertools.count()
        self._arrived = threading.Condition(self._lock)  # notified on enqueue and requeue
        self._arrivals = self._arrivals_seen = 0
        self.down = False

    # -- the port -------------------------------------------------------------------------

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
        self._check_up()
        if run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        stored_payload = json.loads(json.dumps(dict(payload)))
        with self._lock:
            if dedupe_key is not None and dedupe_key in self._dedupe:
                return None
            task = Task(
                id=new_id(),
                type=task_type,
                tenant_id=tenant_id,
                payload=stored_payload,
                run_at=run_at,
                dedupe_key=dedupe_key,
                request_id=request_id,
            )
            self._entries[task.id] = _Entry(task, _SCHEDULED, next(self._seq))
            if dedupe_key is not None:
                self._dedupe[dedupe_key] = task.id
            self._arrive()
            return task.id

    def claim(self, limit: int, lease_seconds: float) -> list[Task]:
        self._check_up()
        with self._lock:
            now = self._clock.now()
            for entry in self._entries.values():
                if entry.state == _INFLIGHT and entry.lease_until and entry.lease_until <= now:
                    # an expired lease goes back, due since the moment it expired
                    entry.state = _SCHEDULED
                    entry.task = attrs.evolve(entry.task, run_at=entry.lease_until)
                    entry.lease_until = None
                    entry.task = attrs.evolve(entry.task, lease=None)
            due = sorted(
                (
                    e
                    for e in self._entries.values()
                    if e.state == _SCHEDULED and e.task.run_at <= now
                ),
                key=lambda e: (e.task.run_at, e.seq),
            )[: max(limit, 0)]
            claimed = []
            token = new_id()  # one per claim: each task is claimed at most once in it
            for entry in due:
                entry.state = _INFLIGHT
                entry.lease_until = now + timedelta(seconds=lease_seconds)
                entry.task = attrs.evolve(entry.task, attempts=entry.task.attempts + 1, lease=token)
                claimed.append(entry.task)
            return claimed

    def renew(self, task_id: str, lease: str, lease_seconds: float) -> None:
        self._check_up()
        with self._lock:
            now = self._clock.now()
            entry = self._fenced(task_id, lease, now)
            if entry is not None:
                entry.lease_until = now + timedelta(seconds=lease_seconds)

    def ack(self, task_id: str, lease: str | None = None) -> None:
        self._check_up()
        with self._lock:
            if self._fenced(task_id, lease, self._clock.now()) is None:
                return
            entry = self._entries.pop(task_id)
            self._release_key(entry)

    def retry(self, task_id: str, run_at: datetime, error: str, lease: str | None = None) -> None:
        self._put_back(task_id, run_at, error, lease, uncount=False)

    def defer(self, task_id: str, run_at: datetime, reason: str, lease: str | None = None) -> None:
        self._put_back(task_id, run_at, reason, lease, uncount=True)

    def _put_back(
        self, task_id: str, run_at: datetime, error: str, lease: str | None, *, uncount: bool
    ) -> None:
        self._check_up()
        with self._lock:
            entry = self._fenced(task_id, lease, self._clock.now())
            if entry is None or entry.state == _DEAD:
                return
            entry.state = _SCHEDULED
            entry.lease_until = None
            attempts = max(entry.task.attempts - int(uncount), 0)
            entry.task = attrs.evolve(
                entry.task, run_at=run_at, last_error=error, lease=None, attempts=attempts
            )

    def dead_letter(self, task_id: str, error: str, lease: str | None = None) -> None:
        self._check_up()
        with self._lock:
            entry = self._fenced(task_id, lease, self._clock.now())
            if entry is None or entry.state == _DEAD:
                return
            now = self._clock.now()
            entry.state = _DEAD
            entry.lease_until = None
            entry.dead_at = now
            entry.seq = next(self._seq)
            entry.task = attrs.evolve(entry.task, run_at=now, last_error=error, lease=None)
            self._release_key(entry)

    def stats(self) -> QueueStats:
        self._check_up()
        with self._lock:
            now = self._clock.now()
            scheduled = due = in_flight = dead = 0
            for e in self._entries.values():
                if e.state == _DEAD:
                    dead += 1
                elif e.state == _INFLIGHT:
                    if e.lease_until and e.lease_until <= now:
                        due += 1  # claimable again
                    else:
                        in_flight += 1
                elif e.task.run_at <= now:
                    due += 1
                else:
                    scheduled += 1
            return QueueStats(scheduled=scheduled, due=due, in_flight=in_flight, dead=dead)

    def dead(self, limit: int = 100) -> list[Task]:
        self._check_up()
        with self._lock:
            dead = [e for e in self._entries.values() if e.state == _DEAD]
            dead.sort(key=lambda e: (e.dead_at, e.seq), reverse=True)
            return [e.task for e in dead[: max(limit, 0)]]

    def requeue_dead(self, task_id: str | None = None) -> int:
        self._check_up()
        with self._lock:
            now = self._clock.now()
            dead = [
                e
                for e in self._entries.values()
                if e.state == _DEAD and (task_id is None or e.task.id == task_id)
            ]
            dead.sort(key=lambda e: (e.dead_at, e.seq))
            for entry in dead:
                key = entry.task.dedupe_key
                if key is not None and key in self._dedupe:
                    key = None  # a live task holds the key now; this one runs without it
                elif key is not None:
                    self._dedupe[key] = entry.task.id
                entry.state = _SCHEDULED
                entry.dead_at = None
                entry.task = attrs.evolve(entry.task, run_at=now, attempts=0, dedupe_key=key)
            if dead:
                self._arrive()
            return len(dead)

    def wait_for_work(self, timeout: float) -> bool:
        self._check_up()
        with self._arrived:
            arrived = self._arrived.wait_for(
                lambda: self._arrivals != self._arrivals_seen, max(timeout, 0.0)
            )
            self._arrivals_seen = self._arrivals
            return arrived

    def stop_waiting(self) -> None:
        pass  # nothing held

    # -- beyond the port ------------------------------------------------------------------

    def next_due_at(self) -> datetime | None:
        """When the earliest waiting task (or in-flight lease) falls due; None if empty."""
        self._check_up()
        with self._lock:
            times = [
                e.task.run_at if e.state == _SCHEDULED else e.lease_until
                for e in self._entries.values()
                if e.state != _DEAD
            ]
            return min((t for t in times if t is not None), default=None)

    @property
    def scheduled(self) -> list[Task]:
        """Waiting tasks (due or not), earliest first."""
        with self._lock:
            waiting = [e for e in self._entries.values() if e.state == _SCHEDULED]
            waiting.sort(key=lambda e: (e.task.run_at, e.seq))
            return [e.task for e in waiting]

    @property
    def in_flight(self) -> list[Task]:
        """Claimed tasks not yet acked, retried or dead-lettered."""
        with self._lock:
            return [e.task for e in self._entries.values() if e.state == _INFLIGHT]

    def _fenced(self, task_id: str, lease: str | None, now: datetime) -> _Entry | None:
        """The task's entry (None if there is none); LeaseLost if `lease` is given and is
        not its current claim (another claim's, or its lease ran out)."""
        entry = self._entries.get(task_id)
        if lease is None:
            return entry
        current = (
            entry is not None
            and entry.state == _INFLIGHT
            and entry.task.lease == lease
            and entry.lease_until is not None
            and entry.lease_until > now
        )
        if not current:
            raise LeaseLost(f"task {task_id}: the claim {lease} is no longer current")
        return entry

    def _arrive(self) -> None:  # with the lock held
        self._arrivals += 1
        self._arrived.notify_all()

    def _check_up(self) -> None:
        if self.down:
            raise QueueUnavailable("the in-memory queue is down (the test said so)")

    def _release_key(self, entry: _Entry) -> None:
        key = entry.task.dedupe_key
        if key is not None and self._dedupe.get(key) == entry.task.id:
            del self._dedupe[key]

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from loguru import logger

from lily_core.ports.queue import JitterQueue, QueueStats, QueueUnavailable, Task, WakingQueue

RELAY_LEASE_SECONDS = 60.0


class SpillingJitterQueue(JitterQueue, WakingQueue):
    """A queue (Redis) that never drops an enqueue because it is down.

    Use cases commit their records, then enqueue the tasks that act on them. When `queue`
    is unreachable at that moment the records are safe but the task would be lost, and the
    webhook would answer 500 (Twilio then plays the caller an application error). So an
    enqueue that raises QueueUnavailable is logged and written to `spill` instead: the SQL
    queue in Lily's own database, which has just committed. `relay()`, a periodic job of the
    worker, moves spilled tasks to `queue` as they fall due, once it answers again, keeping
    their dedupe keys (so a task the reconciler re-enqueued meanwhile does not run twice).

    Only when the database fails too is QueueUnavailable raised. Every other call goes to
    `queue`; `stats()` counts the spilled tasks as scheduled or due."""

    def __init__(self, queue: JitterQueue, spill: JitterQueue) -> None:
        self.queue, self.spill = queue, spill

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
        def put(queue: JitterQueue) -> str | None:
            return queue.enqueue(
                task_type,
                tenant_id=tenant_id,
                payload=payload,
                run_at=run_at,
                dedupe_key=dedupe_key,
                request_id=request_id,
            )

        try:
            return put(self.queue)
        except QueueUnavailable as exc:
            log = logger.bind(task_type=task_type, tenant_id=tenant_id, error=str(exc))
            try:
                task_id = put(self.spill)
            except QueueUnavailable as spill_exc:
                log.bind(spill_error=str(spill_exc)).error(
                    "enqueue of {} failed, and the database refused it too: {} / {}",
                    task_type,
                    exc,
                    spill_exc,
                )
                raise exc from spill_exc
            log.warning(
                "enqueue of {} failed, kept in the database until the queue is back: {}",
                task_type,
                exc,
            )
            return task_id

    def relay(self, batch: int = 100) -> int:
        """Move the spilled tasks that are due to the queue; return how many. Quiet when
        the queue is still down: the worker's claim loop reports that."""
        moved = 0
        while tasks := self.spill.claim(batch, RELAY_LEASE_SECONDS):
            for i, task in enumerate(tasks):
                try:
                    self.queue.enqueue(
                        task.type,
                        tenant_id=task.tenant_id,
                        payload=task.payload,
                        run_at=task.run_at,
                        dedupe_key=task.dedupe_key,
                        request_id=task.request_id,
                    )
                except QueueUnavailable as exc:
                    for left in tasks[i:]:  # due again at once, for the next relay
                        self.spill.retry(left.id, left.run_at, str(exc), left.lease)
                    return moved
                self.spill.ack(task.id, task.lease)
                moved += 1
            if len(tasks) < batch:
                break
        if moved:
            logger.bind(tasks=moved).info("relayed {} spilled task(s) to the queue", moved)
        return moved

    # -- everything else is the queue's -----------------------------------------------------

    def claim(self, limit: int, lease_seconds: float) -> list[Task]:
        return self.queue.claim(limit, lease_seconds)

    def renew(self, task_id: str, lease: str, lease_seconds: float) -> None:
        self.queue.renew(task_id, lease, lease_seconds)

    def ack(self, task_id: str, lease: str | None = None) -> None:
        self.queue.ack(task_id, lease)

    def retry(self, task_id: str, run_at: datetime, error: str, lease: str | None = None) -> None:
        self.queue.retry(task_id, run_at, error, lease)

    def defer(self, task_id: str, run_at: datetime, reason: str, lease: str | None = None) -> None:
        self.queue.defer(task_id, run_at, reason, lease)

    def dead_letter(self, task_id: str, error: str, lease: str | None = None) -> None:
        self.queue.dead_letter(task_id, error, lease)

    def stats(self) -> QueueStats:
        main, spilled = self.queue.stats(), self.spill.stats()
        return QueueStats(
            scheduled=main.scheduled + spilled.scheduled,
            due=main.due + spilled.due + spilled.in_flight,  # in flight: being relayed
            in_flight=main.in_flight,
            dead=main.dead,
        )

    def dead(self, limit: int = 100) -> list[Task]:
        return self.queue.dead(limit)

    def requeue_dead(self, task_id: str | None = None) -> int:
        return self.queue.requeue_dead(task_id)

    def wait_for_work(self, timeout: float) -> bool:
        """The queue's wait (spilled tasks wait for relay()); without one, a plain poll:
        True after `timeout`."""
        if isinstance(self.queue, WakingQueue):
            return self.queue.wait_for_work(timeout)
        time.sleep(max(timeout, 0.0))
        return True

    def stop_waiting(self) -> None:
        if isinstance(self.queue, WakingQueue):
            self.queue.stop_waiting()

    def next_due_at(self) -> datetime | None:
        """The queue's next due time (the worker sleeps until then); spilled tasks wait
        for relay()."""
        next_due = getattr(self.queue, "next_due_at", None)
        return next_due() if next_due is not None else None

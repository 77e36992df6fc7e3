from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from lily_core.errors import LilyError


class QueueUnavailable(LilyError):
    """The queue could not be reached (refused, timed out, connection lost): the call did
    nothing, or its effect is unknown. Adapters raise it in place of their driver's connection
    errors, so callers can tell an outage from a bug without knowing the technology."""


class LeaseLost(LilyError):
    """The claim named by a lease token is no longer current: its lease ran out (whether or
    not the task has been claimed again since), or the task was acked, retried or
    dead-lettered. The ack, retry, dead-letter or renewal that carried the token did
    nothing, so a worker that outlived its lease cannot delete, reschedule or keep the
    claim of the task's re-run."""


class TaskType:
    """The task types the worker knows; handlers are registered under these names."""

    MISSED_CALL_SMS = "MISSED_CALL_SMS"
    SEND_MESSAGE = "SEND_MESSAGE"
    REVIEW_REQUEST_SMS = "REVIEW_REQUEST_SMS"
    CHATWOOT_REPLY = "CHATWOOT_REPLY"
    COPY_MEDIA = "COPY_MEDIA"
    CALENDAR_SYNC = "CALENDAR_SYNC"


@attrs.frozen(kw_only=True)
class Task:
    """A unit of work for the worker. `attempts` counts the claims so far (the claim that
    handed out this Task included). `lease` is the fencing token of the claim that handed
    it out (None for a task that was not claimed): pass it to ack, retry, dead_letter and
    renew, which refuse it (LeaseLost) once the task has been claimed again."""

    id: str
    type: str
    tenant_id: str | None
    payload: Mapping[str, Any]
    run_at: datetime
    attempts: int = 0
    dedupe_key: str | None = None
    request_id: str | None = None
    last_error: str | None = None
    lease: str | None = None


@attrs.frozen
class QueueStats:
    scheduled: int  # waiting, not yet due
    due: int  # waiting and due now
    in_flight: int  # claimed, lease not yet acked
    dead: int  # dead-lettered


class JitterQueue(Protocol):
    """A delay queue with leases. Delivery is at least once: a claimed task that is not
    acked (or renewed) before its lease ends is handed out again.

    Fencing: every claim hands out a fresh lease token (`Task.lease`). A claim is current
    until its lease runs out or it is acked, retried or dead-lettered; the ack, retry,
    dead_letter and renew of a claim that is not current raise LeaseLost and change nothing.
    Called with `lease=None` (an operator, a test), ack, retry and dead_letter act on the
    task whatever its claim."""

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
        """Schedule a task to run at `run_at`; return its id, or None if a live task
        (scheduled or in flight) already holds `dedupe_key`."""
        ...

    def claim(self, limit: int, lease_seconds: float) -> list[Task]:
        """Hand out up to `limit` due tasks, earliest due first, each to one caller only,
        leased for `lease_seconds` under a fresh lease token; expired leases are returned
        to the queue first."""
        ...

    def renew(self, task_id: str, lease: str, lease_seconds: float) -> None:
        """Extend the claim `lease` of a task to `lease_seconds` from now (the worker's
        heartbeat). LeaseLost if the claim is no longer current."""
        ...

    def ack(self, task_id: str, lease: str | None = None) -> None:
        """The task is done; forget it (and free its dedupe key). LeaseLost if `lease`
        is given and is no longer the task's current claim."""
        ...

    def retry(self, task_id: str, run_at: datetime, error: str, lease: str | None = None) -> None:
        """Put a claimed task back, due at `run_at`, remembering the error. LeaseLost as
        for ack."""
        ...

    def defer(self, task_id: str, run_at: datetime, reason: str, lease: str | None = None) -> None:
        """As retry, but this claim does not count as an attempt (the task was not tried: a
        provider is down). LeaseLost as for ack."""
        ...

    def dead_letter(self, task_id: str, error: str, lease: str | None = None) -> None:
        """Move a claimed task to the dead-letter list with its last error. LeaseLost as
        for ack."""
        ...

    def stats(self) -> QueueStats: ...

    def dead(self, limit: int = 100) -> list[Task]:
        """Dead-lettered tasks, most recent first."""
        ...

    def requeue_dead(self, task_id: str | None = None) -> int:
        """Make one dead task (or all of them, given None) due now with fresh attempts;
        return how many were requeued."""
        ...


@runtime_checkable
class WakingQueue(Protocol):
    """Optional, for a JitterQueue that can tell a waiting worker that work arrived, so the
    worker need not poll: a blocking wait on Redis, LISTEN/NOTIFY on PostgreSQL, a short
    poll of the database file on SQLite."""

    def wait_for_work(self, timeout: float) -> bool:
        """Block until a task may have been enqueued since the previous call returned
        (True), or for up to `timeout` seconds (False). True may be spurious (the first
        call, a reconnect, an unrelated write): the caller then claims and finds nothing.
        One thread at a time. QueueUnavailable when the queue cannot be reached."""
        ...

    def stop_waiting(self) -> None:
        """Release what wait_for_work holds (its connection); a later call takes it anew."""
        ...

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import attrs

from lily_core.errors import LilyError


class QueueUnavailable(LilyError):
    """The queue could not be reached (refused, timed out, connection lost): the call did
    nothing, or its effect is unknown. Adapters raise it in place of their driver's connection
    errors, so callers can tell an outage from a bug without knowing the technology."""


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
    handed out this Task included)."""

    id: str
    type: str
    tenant_id: str | None
    payload: Mapping[str, Any]
    run_at: datetime
    attempts: int = 0
    dedupe_key: str | None = None
    request_id: str | None = None
    last_error: str | None = None


@attrs.frozen
class QueueStats:
    scheduled: int  # waiting, not yet due
    due: int  # waiting and due now
    in_flight: int  # claimed, lease not yet acked
    dead: int  # dead-lettered


class JitterQueue(Protocol):
    """A delay queue with leases. Delivery is at least once: a claimed task that is not
    acked before its lease ends is handed out again."""

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
        leased for `lease_seconds`; expired leases are returned to the queue first."""
        ...

    def ack(self, task_id: str) -> None:
        """The task is done; forget it (and free its dedupe key)."""
        ...

    def retry(self, task_id: str, run_at: datetime, error: str) -> None:
        """Put a claimed task back, due at `run_at`, remembering the error."""
        ...

    def dead_letter(self, task_id: str, error: str) -> None:
        """Move a claimed task to the dead-letter list with its last error."""
        ...

    def stats(self) -> QueueStats: ...

    def dead(self, limit: int = 100) -> list[Task]:
        """Dead-lettered tasks, most recent first."""
        ...

    def requeue_dead(self, task_id: str | None = None) -> int:
        """Make one dead task (or all of them, given None) due now with fresh attempts;
        return how many were requeued."""
        ...

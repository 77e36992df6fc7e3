from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from lily_adapters.container import Container
from lily_adapters.queue.spill import SpillingJitterQueue
from lily_core.ports.queue import Task, TaskType
from lily_core.use_cases.owner_alerts import OWNER_ALERTS_TASK
from lily_worker.metrics import counted_send
from lily_worker.worker import Handler, PeriodicJob, Worker

RECONCILE_EVERY_SECONDS = 60.0
RELEASE_EVERY_SECONDS = 60.0  # held by billing: out at the month's rollover within a minute
OWNER_ALERTS_EVERY_SECONDS = 60.0  # owner alerts whose task was lost; the daily digest
RELAY_EVERY_SECONDS = 5.0  # a text-back spilled while Redis was down goes out soon after


def _use(factory: Callable[[], Callable[[Task], object]]) -> Handler:
    """A handler that builds a fresh use case (with its own unit of work) per task."""

    def handle(task: Task) -> None:
        factory()(task)

    return handle


def build_handlers(container: Container) -> dict[str, Handler]:
    send = counted_send(container)  # SendMessage, and the business metrics of its outcome
    return {
        TaskType.MISSED_CALL_SMS: send,
        TaskType.SEND_MESSAGE: send,
        TaskType.REVIEW_REQUEST_SMS: send,
        TaskType.CHATWOOT_REPLY: send,
        TaskType.CALENDAR_SYNC: _use(container.sync_calendar),
        TaskType.COPY_MEDIA: _use(container.copy_media),
        OWNER_ALERTS_TASK: _use(container.send_owner_alerts),
    }


def build_worker(container: Container) -> Worker:
    """The worker for this container's settings: its queue, the task handlers, and as
    periodic jobs the outbox reconciler, the release of what billing held (once the hold
    cleared: the month's allowance rolled over) and, on Redis, the relay of spilled tasks."""
    settings = container.settings()
    queue = container.queue()

    def reconcile() -> None:
        done = container.reconcile_outbox().reconcile()
        if done.queued or done.sending:
            logger.bind(queued=done.queued, sending=done.sending).warning(
                "reconciler re-queued {} message(s) whose task was lost: {} queued, {} found"
                " interrupted mid-send (SENDING)",
                done.queued + done.sending,
                done.queued,
                done.sending,
            )
        if done.photos or done.calendar:
            logger.bind(photos=done.photos, calendar=done.calendar).warning(
                "reconciler re-queued tasks the queue lost: {} photo copies, {} calendar syncs",
                done.photos,
                done.calendar,
            )

    def release() -> None:
        container.release_held()()

    def owner_alerts() -> None:
        container.reconcile_owner_alerts()()
        container.send_daily_digests()()

    periodic: list[PeriodicJob] = [
        (RECONCILE_EVERY_SECONDS, reconcile),
        (RELEASE_EVERY_SECONDS, release),
        (OWNER_ALERTS_EVERY_SECONDS, owner_alerts),
    ]
    if isinstance(queue, SpillingJitterQueue):
        periodic.append((RELAY_EVERY_SECONDS, queue.relay))
    return Worker(
        queue,
        build_handlers(container),
        container.clock(),
        concurrency=settings.worker_concurrency,
        max_attempts=settings.task_max_attempts,
        lease_seconds=settings.task_lease_seconds,
        periodic=periodic,
    )

"""The business metrics only the worker sees: a text-back leaving Lily (and how long after
the missed call), a text held, a carrier's opt-out. Counted from SendMessage's outcome, with
the message read back for its kind, times and hold reason."""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from lily_adapters import metrics
from lily_adapters.container import Container
from lily_core.domain.leads import MessageKind
from lily_core.ports.queue import Task
from lily_core.use_cases.send_message import AMBIGUOUS_SEND, SendOutcome

SENT = (SendOutcome.SENT, SendOutcome.SANDBOX, SendOutcome.ADOPTED, SendOutcome.RESENT)


def _slug_lookup(container: Container) -> Callable[[str], str | None]:
    def lookup(tenant_id: str) -> str | None:
        with container.uow().for_tenant(tenant_id) as uow:
            tenant = uow.tenants.get(tenant_id)
            return tenant.slug if tenant else None

    return lookup


class SendMetrics:
    """Called with each send task and its outcome; never raises (metrics must not fail a
    task that did its work)."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.slugs = metrics.TenantSlugs(_slug_lookup(container))

    def __call__(self, task: Task, outcome: object) -> None:
        if outcome not in (*SENT, SendOutcome.HELD, SendOutcome.OPTED_OUT) or not task.tenant_id:
            return
        try:
            self._count(task.tenant_id, str(task.payload.get("message_id", "")), outcome)
        except Exception:  # a metric lost is better than a task retried
            return

    def _count(self, tenant_id: str, message_id: str, outcome: object) -> None:
        slug = self.slugs(tenant_id)
        if outcome == SendOutcome.OPTED_OUT:
            metrics.OPT_OUTS.labels(slug).inc()
            return
        with self.container.uow().for_tenant(tenant_id) as uow:
            message = uow.messages.get(tenant_id, message_id)
        if message is None:
            return
        if outcome == SendOutcome.HELD:
            metrics.HELD.labels(slug, message.error_code or "paused").inc()
        elif message.kind == MessageKind.MISSED_CALL and message.sent_at is not None:
            metrics.TEXT_BACKS.labels(slug).inc()
            waited = (message.sent_at - message.created_at).total_seconds()
            metrics.SPEED_TO_LEAD.labels(slug).observe(max(waited, 0.0))


def counted_send(container: Container) -> Callable[[Task], None]:
    """The send handler: SendMessage per task, its outcome counted; a send found
    interrupted is logged with what became of it (at WARNING if it stays ambiguous)."""
    count = SendMetrics(container)

    def handle(task: Task) -> None:
        outcome = container.send_message()(task)
        _log_recovery(task, outcome)
        count(task, outcome)

    return handle


_RECOVERED = {
    SendOutcome.ADOPTED: "it had gone out: its SID is recorded, nothing sent again",
    SendOutcome.RESENT: "the provider had no such message: sent now",
}


def _log_recovery(task: Task, outcome: SendOutcome) -> None:
    log = logger.bind(
        task_id=task.id, tenant_id=task.tenant_id, message_id=task.payload.get("message_id"),
        outcome=str(outcome),
    )  # fmt: skip
    if outcome in _RECOVERED:
        log.info("interrupted send recovered: {}", _RECOVERED[outcome])
    elif outcome == SendOutcome.AMBIGUOUS:
        log.warning(
            "interrupted send cannot be cleared up (the channel cannot be asked): marked"
            " failed ({}), not sent again",
            AMBIGUOUS_SEND,
        )

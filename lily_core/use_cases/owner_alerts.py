"""Alerts to the owner's phones (issue 18). The flows raise events with `note_alert` inside
their own transaction and `schedule_alerts` after the commit; the worker's OWNER_ALERTS task
(`SendOwnerAlerts`) applies lily_core.domain.owner_alerts' rules and sends each text from the
business number to every number in `Tenant.alert_recipients()`.

Alerts are the business's own messages to its own people: they do not go through the
customers' send path (no customer opt-out, no customer quiet hours, not counted against the
plan's allowance: `OwnerAlertText.sent` counts them apart), and an owner who replies STOP
from their phone stops them (`record_owner_keyword`)."""

from __future__ import annotations

import enum
import hashlib
import re
from contextlib import suppress
from datetime import datetime, timedelta

from lily_core.domain.compliance import Keyword, parse_keyword
from lily_core.domain.leads import Direction, Lead
from lily_core.domain.owner_alerts import (
    ANSWER_GRACE,
    BATCH_WINDOW,
    DETAIL_MAX,
    HOUR,
    REF_MAX,
    AlertKind,
    AlertPolicy,
    AlertStatus,
    Answered,
    LeadView,
    OwnerAlert,
    OwnerAlertText,
    compose,
    due_at,
    take,
)
from lily_core.domain.tenant import Tenant
from lily_core.errors import (
    DeliveryError,
    PermanentDeliveryError,
    RecipientOptedOut,
    TransientDeliveryError,
)
from lily_core.ports.clock import Clock
from lily_core.ports.providers import SmsSender
from lily_core.ports.queue import JitterQueue, QueueUnavailable, Task
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.billing_gate import BillingGate

OWNER_ALERTS_TASK = "OWNER_ALERTS"
SNIPPET_MAX = 80
ANSWERS_LOOKED_AT = 20  # a lead's newest messages searched for Lily's last answer


def answered(uow: UnitOfWork, tenant_id: str, pending: list[OwnerAlert]) -> Answered:
    """lead id -> when Lily's first text to the lead since its first pending alert went out
    (a text created since then, and sent): the batching rule's `answered`."""
    first: dict[str, datetime] = {}
    for alert in pending:
        if alert.lead_id not in first or alert.occurred_at < first[alert.lead_id]:
            first[alert.lead_id] = alert.occurred_at
    found: dict[str, datetime] = {}
    for lead_id, since in first.items():
        page = uow.messages.list_for_lead(tenant_id, lead_id, limit=ANSWERS_LOOKED_AT)
        outbound = [m for m in page.items if m.direction == Direction.OUTBOUND]
        times = [m.sent_at for m in outbound if m.sent_at is not None and m.created_at >= since]
        if times:
            found[lead_id] = min(times)
    return found


def answer_closes_batch(
    uow: UnitOfWork, tenant_id: str, lead_id: str, sent_at: datetime
) -> datetime | None:
    """In the transaction that records a text to `lead_id` as sent at `sent_at`: if the lead
    has alerts pending, the instant their batch closes (for `schedule_alerts` after the
    commit); None otherwise."""
    if any(alert.lead_id == lead_id for alert in uow.owner_alerts.pending(tenant_id)):
        return sent_at + ANSWER_GRACE
    return None


def alert_policy(tenant: Tenant) -> AlertPolicy:
    return AlertPolicy(tenant.timezone, tenant.alert_quiet_hours, max(1, tenant.alerts_per_hour))


def conversation_link(dashboard_url: str, lead_id: str) -> str:
    """The lead's conversation in the web dashboard's inbox."""
    return f"{dashboard_url}/inbox/?lead={lead_id}"


def note_alert(
    uow: UnitOfWork,
    tenant: Tenant,
    kind: AlertKind,
    lead: Lead,
    now: datetime,
    *,
    detail: str = "",
    ref: str | None = None,
) -> OwnerAlert | None:
    """Raise an alert in the caller's transaction, unless the tenant turned this kind off,
    has no one to tell, or `ref` raised one already. Returns it, for `schedule_alerts`."""
    if not getattr(tenant, kind.switch) or not tenant.alert_recipients():
        return None
    if ref is not None:
        ref = f"{kind.value}:{ref}"
        if len(ref) > REF_MAX:  # a long provider key: its digest, still one per cause
            ref = f"{kind.value}:{hashlib.sha256(ref.encode()).hexdigest()[:40]}"
    if ref is not None and uow.owner_alerts.has_ref(tenant.id, ref):
        return None
    alert = OwnerAlert(
        tenant_id=tenant.id,
        lead_id=lead.id,
        kind=kind,
        detail=detail[:DETAIL_MAX],
        ref=ref,
        occurred_at=now,
    )
    uow.owner_alerts.add(alert)
    return alert


def schedule_alerts(
    queue: JitterQueue,
    tenant_id: str,
    run_at: datetime,
    *,
    request_id: str | None = None,
) -> None:
    """Enqueue the tenant's OWNER_ALERTS task for `run_at` (once per instant). A queue that
    is down loses nothing: the alerts are committed, and `ReconcileOwnerAlerts` finds them."""
    with suppress(QueueUnavailable):
        queue.enqueue(
            OWNER_ALERTS_TASK,
            tenant_id=tenant_id,
            payload={},
            run_at=run_at,
            dedupe_key=f"owner-alerts:{tenant_id}@{run_at.isoformat()}",
            request_id=request_id,
        )


def schedule_alert(
    queue: JitterQueue, alert: OwnerAlert | None, *, request_id: str | None = None
) -> None:
    """After the commit: the task that will send `alert` once its batch is complete."""
    if alert is not None:
        run_at = alert.occurred_at + BATCH_WINDOW
        schedule_alerts(queue, alert.tenant_id, run_at, request_id=request_id)


class OwnerKeyword(enum.StrEnum):
    STOPPED = "stopped"
    RESUMED = "resumed"


def record_owner_keyword(
    uow: UnitOfWork, tenant: Tenant, phone: str, body: str, now: datetime
) -> OwnerKeyword | None:
    """STOP (or another opt-out word) from one of the owner's numbers stops the alerts to
    that number, and START resumes them; the choice is kept on the tenant with its time.
    None (nothing recorded) for anything else, or for a number that is not the owner's."""
    if not tenant.is_owner_number(phone):
        return None
    keyword = parse_keyword(body)
    current = uow.tenants.get(tenant.id)
    if current is None or keyword not in (Keyword.OPT_OUT, Keyword.OPT_IN):
        return None
    stops = dict(current.alert_stops)
    if keyword == Keyword.OPT_OUT:
        stops.setdefault(phone, now.isoformat())
        outcome = OwnerKeyword.STOPPED
    else:
        stops.pop(phone, None)
        outcome = OwnerKeyword.RESUMED
    current.alert_stops = stops
    tenant.alert_stops = dict(stops)
    return outcome


RELAY_WINDOW = timedelta(hours=24)
_RELAY = re.compile(r"^\s*r(?:eply)?[\s:]+(\S.*)$", re.IGNORECASE | re.DOTALL)


def owner_reply(
    uow: UnitOfWork, tenant: Tenant, phone: str, body: str, now: datetime
) -> tuple[str, str] | None:
    """(lead id, text) when one of the owner's numbers answers an alert: "R <text>" (or
    "reply <text>") within RELAY_WINDOW of the last alert text about one lead goes to that
    lead as the owner's manual reply. None otherwise."""
    found = _RELAY.match(body) if tenant.is_owner_number(phone) else None
    if found is None:
        return None
    lead_id = uow.owner_alerts.last_alerted_lead(tenant.id, now - RELAY_WINDOW)
    return (lead_id, found.group(1).strip()) if lead_id else None


def recent_alert_times(uow: UnitOfWork, tenant_id: str, now: datetime) -> list[datetime]:
    """When the alert texts of the last hour went (those the hourly limit counts): not the
    ones that failed, nor the daily digests."""
    texts = uow.owner_alerts.texts_since(tenant_id, now - HOUR)
    return [t.created_at for t in texts if not t.failed and not t.digest]


class AlertOutcome(enum.StrEnum):
    SENT = "sent"
    HELD = "held"  # the tenant's subscription lets nothing out: the alerts are dropped
    NOT_DUE = "not_due"  # nothing may go yet: the task for when it may is enqueued
    NOTHING = "nothing"  # nothing pending
    TAKEN = "taken"  # another worker claimed these alerts first
    DROPPED = "dropped"  # no number to send to
    FAILED = "failed"  # no number could be reached; the alerts are dropped


class SendOwnerAlerts:
    """The worker's OWNER_ALERTS handler for one tenant: if a text may go now (the rules of
    lily_core.domain.owner_alerts), claim what it carries, send it to each of the owner's
    numbers, record how many went; then enqueue the task for the next text, if any is
    pending. Claiming is atomic, so two workers never send the same alerts; a crash while
    sending leaves them SENDING and they are not sent again."""

    def __init__(
        self,
        uow: UnitOfWork,
        queue: JitterQueue,
        clock: Clock,
        sms: SmsSender,
        dashboard_url: str,
        billing: BillingGate | None = None,
    ) -> None:
        self.uow, self.queue, self.clock, self.sms = uow, queue, clock, sms
        self.dashboard_url = dashboard_url.rstrip("/")
        self.billing = billing or BillingGate(None)

    def __call__(self, task: Task) -> AlertOutcome:
        if not task.tenant_id:
            raise PermanentDeliveryError("task has no tenant_id")
        tenant_id = task.tenant_id
        now = self.clock.now()
        with self.uow.for_tenant(tenant_id):
            tenant = self.uow.tenants.get(tenant_id)
            if tenant is None:
                raise PermanentDeliveryError(f"tenant {tenant_id} not found")
            pending = self.uow.owner_alerts.pending(tenant_id)
            policy = alert_policy(tenant)
            sent_at = self._recent(tenant_id, now)
            answers = answered(self.uow, tenant_id, pending)
            batch = take(pending, sent_at, now, policy, answers)
            due = due_at(pending, sent_at, policy, answers) if batch is None else None
            hold = self.billing.subscription_hold(self.uow, tenant, now) if batch else None
        if batch is None:  # enqueued outside the transaction (SQLite: one writer)
            if due is not None:
                schedule_alerts(self.queue, tenant_id, due, request_id=task.request_id)
            return AlertOutcome.NOT_DUE if pending else AlertOutcome.NOTHING
        # Held by billing like the customers' automated texts: these alerts are dropped.
        recipients = tenant.alert_recipients() if hold is None else []
        morning = any(policy.quiet_at(e.occurred_at) is not None for e in batch)
        error = "no number to alert (none set, or all said STOP)"
        text = OwnerAlertText(
            tenant_id=tenant_id,
            created_at=now,
            events=len(batch),
            recipients=len(recipients),
            summary=morning or len({e.lead_id for e in batch}) > 1,
            failed=not recipients,
            error=None if recipients else (hold.explanation if hold else error),
        )
        with self.uow.for_tenant(tenant_id):
            if not self.uow.owner_alerts.claim(tenant_id, [e.id for e in batch], text.id):
                return AlertOutcome.TAKEN
            self.uow.owner_alerts.add_text(text)
            if not recipients:
                self.uow.owner_alerts.finish(tenant_id, text.id, AlertStatus.DROPPED)
            body = compose(
                tenant.name,
                [self._quoted(tenant_id, e) for e in batch],
                self._leads(tenant_id, batch),
                f"{self.dashboard_url}/inbox/",
                morning=morning,
            )
            self.uow.commit()
        if not recipients:
            self._next(tenant_id, now, task)
            return AlertOutcome.DROPPED if hold is None else AlertOutcome.HELD
        outcome = self._send(tenant, text, recipients, body, now)
        self._next(tenant_id, now, task)
        return outcome

    def _recent(self, tenant_id: str, now: datetime) -> list[datetime]:
        return recent_alert_times(self.uow, tenant_id, now)

    def _quoted(self, tenant_id: str, alert: OwnerAlert) -> OwnerAlert:
        """A NEEDS_REPLY alert quotes the customer's message, read now (not stored twice)."""
        if alert.kind != AlertKind.NEEDS_REPLY or not alert.ref:
            return alert
        message = self.uow.messages.get(tenant_id, alert.ref.partition(":")[2])
        words = " ".join(message.body.split()) if message is not None else ""
        snippet = words if len(words) <= SNIPPET_MAX else words[: SNIPPET_MAX - 1] + "…"
        return OwnerAlert(
            tenant_id=alert.tenant_id,
            lead_id=alert.lead_id,
            kind=alert.kind,
            detail=snippet,
            occurred_at=alert.occurred_at,
        )

    def _leads(self, tenant_id: str, batch: list[OwnerAlert]) -> dict[str, LeadView]:
        views: dict[str, LeadView] = {}
        for lead_id in {e.lead_id for e in batch}:
            lead = self.uow.leads.get(tenant_id, lead_id)
            link = conversation_link(self.dashboard_url, lead_id)
            views[lead_id] = LeadView(
                lead.name if lead else None, lead.phone if lead else None, link
            )
        return views

    def _send(
        self, tenant: Tenant, text: OwnerAlertText, recipients: list[str], body: str, now: datetime
    ) -> AlertOutcome:
        went, errors, stopped = 0, [], []
        for number in recipients:
            try:
                self.sms.send(tenant, to=number, body=body)
                went += 1
            except RecipientOptedOut:  # the owner's STOP reached the carrier, not us
                stopped.append(number)
                errors.append("opted out at the carrier")
            except (PermanentDeliveryError, TransientDeliveryError, DeliveryError) as exc:
                errors.append(str(exc)[:80])
        with self.uow.for_tenant(tenant.id):
            stored = self.uow.owner_alerts.get_text(tenant.id, text.id)
            current = self.uow.tenants.get(tenant.id)
            if stored is not None:
                stored.sent, stored.failed = went, went == 0
                stored.error = "; ".join(errors)[:200] or None
            if current is not None and stopped:
                current.alert_stops = {
                    **current.alert_stops,
                    **{n: now.isoformat() for n in stopped},
                }
            status = AlertStatus.SENT if went else AlertStatus.DROPPED
            self.uow.owner_alerts.finish(tenant.id, text.id, status)
            self.uow.commit()
        return AlertOutcome.SENT if went else AlertOutcome.FAILED

    def _next(self, tenant_id: str, now: datetime, task: Task) -> None:
        with self.uow.for_tenant(tenant_id):
            tenant = self.uow.tenants.get(tenant_id)
            if tenant is None:
                return
            pending = self.uow.owner_alerts.pending(tenant_id)
            answers = answered(self.uow, tenant_id, pending)
            due = due_at(pending, self._recent(tenant_id, now), alert_policy(tenant), answers)
        if due is not None:
            schedule_alerts(self.queue, tenant_id, max(due, now), request_id=task.request_id)


class ReconcileOwnerAlerts:
    """A periodic job: for every tenant with an alert still pending after its batch closed,
    enqueue the OWNER_ALERTS task for when the next text may go. Its dedupe key is the one
    the flows used, so this is a no-op unless the queue lost that task."""

    def __init__(self, uow: UnitOfWork, queue: JitterQueue, clock: Clock) -> None:
        self.uow, self.queue, self.clock = uow, queue, clock

    def __call__(self) -> int:
        now = self.clock.now()
        due: dict[str, datetime] = {}
        # Every tenant's waiting alerts: this job spans tenants, on purpose.
        with self.uow.across_tenants():
            for tenant_id in self.uow.owner_alerts.tenants_waiting(now - BATCH_WINDOW):
                tenant = self.uow.tenants.get(tenant_id)
                if tenant is None:
                    continue
                pending = self.uow.owner_alerts.pending(tenant_id)
                sent = recent_alert_times(self.uow, tenant_id, now)
                answers = answered(self.uow, tenant_id, pending)
                at = due_at(pending, sent, alert_policy(tenant), answers)
                if at is not None:
                    due[tenant_id] = at
        for tenant_id, at in due.items():
            schedule_alerts(self.queue, tenant_id, at)
        return len(due)

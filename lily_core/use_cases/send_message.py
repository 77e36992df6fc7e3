from __future__ import annotations

import enum
from datetime import datetime, timedelta

import attrs

from lily_core.domain.billing import HoldReason
from lily_core.domain.compliance import Jitter, quiet_until
from lily_core.domain.consent import ConsentAction
from lily_core.domain.leads import (
    Channel,
    Conversation,
    Lead,
    Message,
    MessageKind,
    MessageStatus,
)
from lily_core.domain.owner_alerts import AlertKind
from lily_core.domain.recipient import locate_recipient
from lily_core.domain.state_rules import next_allowed
from lily_core.domain.tenant import Tenant
from lily_core.errors import (
    DeliveryOutcomeUnknown,
    NotFound,
    PermanentDeliveryError,
    ProviderUnavailable,
    RecipientOptedOut,
    TransientDeliveryError,
)
from lily_core.ports.clock import Clock
from lily_core.ports.providers import ChatwootClient, SentSms, SmsSender
from lily_core.ports.queue import JitterQueue, Task
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.billing_gate import BillingGate
from lily_core.use_cases.inbound import record_consent
from lily_core.use_cases.outbox import enqueue_send
from lily_core.use_cases.owner_alerts import (
    answer_closes_batch,
    note_alert,
    schedule_alert,
    schedule_alerts,
)


class SendOutcome(enum.StrEnum):
    SENT = "sent"
    SANDBOX = "sandbox"
    ALREADY_DONE = "already_done"  # a re-run after the message was handled: nothing sent
    SUPPRESSED = "suppressed"  # opted out
    HELD = "held"  # automations paused, or billing (the reason in error_code)
    DEFERRED = "deferred"  # quiet hours: re-enqueued for the window's end
    OPTED_OUT = "opted_out"  # the carrier says the recipient opted out (21610)
    NOT_DUE = "not_due"  # a task for an earlier send_after than the message now has
    # a re-run that found the send interrupted (SENDING) asked the provider:
    ADOPTED = "adopted"  # it had gone out: its SID is recorded, nothing sent again
    RESENT = "resent"  # the provider had none: sent now
    AMBIGUOUS = "ambiguous"  # no way to tell (Chatwoot): marked failed, not sent again


# The error code of a message whose interrupted send could not be cleared up (counted by
# `lily queue stats`): it is marked FAILED rather than risk a second text.
AMBIGUOUS_SEND = "ambiguous_send"

# How far before the SENDING mark a provider's record may be dated (clock skew between
# Lily and the provider) and still be taken for this message.
LOOKUP_SKEW = timedelta(seconds=30)


class AmbiguousDelivery(PermanentDeliveryError):
    """An interrupted send whose outcome the provider could not be asked about, up to the
    task's last attempt: the message is marked FAILED (AMBIGUOUS_SEND), the task dead."""


# Queues store run_at with less precision than a datetime: allow for the rounding.
_STALE = timedelta(seconds=1)


def may_send_after(tenant: Tenant, lead: Lead, message: Message, now: datetime) -> datetime | None:
    """None if `message` may go at `now`; else the first instant it may. Business-initiated
    messages keep to the recipient's state window (federal floor included) and the tenant's
    quiet hours, the stricter winning (issue 16); other messages to the quiet hours only."""
    where = locate_recipient(lead, tenant)  # the lead's ZIP, else area code, else the tenant
    if message.business_initiated:
        return next_allowed(now, where.timezone, where.state, tenant.quiet_hours)
    return quiet_until(now, where.timezone, tenant.quiet_hours)


def must_respect_quiet_hours(
    tenant: Tenant, message: Message, conversation: Conversation | None, now: datetime
) -> bool:
    """An owner's manual reply goes at once. Business-initiated messages always wait out
    quiet hours; replies to something the customer just did go at once, unless the tenant
    chose strict quiet hours."""
    if message.kind == MessageKind.MANUAL:
        return False
    if message.business_initiated or tenant.strict_quiet_hours:
        return True
    last = conversation.last_customer_activity_at if conversation else None
    window = timedelta(minutes=tenant.conversational_window_minutes)
    return last is None or now - last > window


def _channel(snap: _Snapshot) -> Channel:
    return snap.conversation.channel if snap.conversation is not None else Channel.SMS


@attrs.frozen
class _Snapshot:
    tenant: Tenant
    lead: Lead
    message: Message
    conversation: Conversation | None


class SendMessage:
    """The worker's handler for every outbound message task. Checks, at send time, that
    the lead has not opted out, that automations run for the tenant and the lead (an
    owner's MANUAL reply goes regardless), billing (BillingGate), and quiet hours; then
    sends once: a message is marked SENDING before the provider call.

    A re-run that finds it SENDING (the worker died mid-send, or the call's outcome was
    unknown: a timeout after the request went out) asks the provider whether it went out
    (`SmsSender.find_sent`, since the SENDING mark): found, its SID is adopted (ADOPTED);
    not found, it is sent now (RESENT). If the provider cannot be asked, the task is retried;
    at its last attempt, or on a channel that cannot be asked (Chatwoot), the message is
    marked FAILED with AMBIGUOUS_SEND rather than risk a second text."""

    def __init__(
        self,
        uow: UnitOfWork,
        queue: JitterQueue,
        clock: Clock,
        sms: SmsSender,
        *,
        status_callback_url: str | None,
        jitter: Jitter,
        max_attempts: int,
        chatwoot: ChatwootClient | None = None,
        billing: BillingGate | None = None,
    ) -> None:
        self.uow, self.queue, self.clock, self.sms = uow, queue, clock, sms
        self.status_callback_url = status_callback_url
        self.jitter, self.max_attempts, self.chatwoot = jitter, max_attempts, chatwoot
        self.billing = billing or BillingGate(None)

    def __call__(self, task: Task) -> SendOutcome:
        message_id = str(task.payload.get("message_id", ""))
        if not task.tenant_id or not message_id:
            raise PermanentDeliveryError("task has no tenant_id or message_id")
        now = self.clock.now()
        with self.uow.for_tenant(task.tenant_id):
            snap = self._load(task.tenant_id, message_id)
            interrupted = snap.message.status == MessageStatus.SENDING
            outcome = None if interrupted else self._prepare(snap, task, now)
        if outcome is not None:
            return outcome
        return self._recover(snap, task) if interrupted else self._deliver(snap, task)

    def _prepare(self, snap: _Snapshot, task: Task, now: datetime) -> SendOutcome | None:
        """The checks before a send, in the open unit of work: an outcome if the message is
        not to be sent now; None once it is marked SENDING (committed)."""
        message, lead, tenant = snap.message, snap.lead, snap.tenant
        if message.status != MessageStatus.QUEUED:
            return SendOutcome.ALREADY_DONE
        if message.send_after is not None and message.send_after - task.run_at > _STALE:
            # The message was moved later (a rescheduled booking's review request)
            # after this task was enqueued; the task for the new time sends it.
            return SendOutcome.NOT_DUE
        if message.kind != MessageKind.HELP and self._opted_out(tenant, lead):
            return self._finish(
                message, MessageStatus.SUPPRESSED, SendOutcome.SUPPRESSED, "lead opted out"
            )
        paused = tenant.automations_paused or lead.automations_paused
        if paused and message.kind != MessageKind.MANUAL:
            why = "automations paused" + ("" if tenant.automations_paused else " for this lead")
            return self._finish(message, MessageStatus.HELD, SendOutcome.HELD, why)
        hold = self.billing.hold(self.uow, tenant, message, now)
        if hold is not None:
            return self._hold(message, hold)
        if must_respect_quiet_hours(tenant, message, snap.conversation, now):
            until = may_send_after(tenant, lead, message, now)
            if until is not None:
                message.send_after = until + self.jitter.delay()
                self.uow.commit()
                enqueue_send(
                    self.queue,
                    message,
                    message.send_after,
                    conversation=snap.conversation,
                    request_id=task.request_id,
                )
                return SendOutcome.DEFERRED
        hold = self.billing.count(self.uow, tenant, message, _channel(snap), now)
        if hold is not None:
            return self._hold(message, hold)
        message.status = MessageStatus.SENDING
        message.updated_at = now
        self.uow.commit()
        return None

    def _opted_out(self, tenant: Tenant, lead: Lead) -> bool:
        """The lead's flag, or the ledger's last word on its number (which outlives a
        deleted lead)."""
        if lead.opted_out:
            return True
        last = self.uow.consent.latest_for_phone(tenant.id, lead.phone) if lead.phone else None
        return last is not None and last.action == ConsentAction.OPT_OUT

    def _load(self, tenant_id: str, message_id: str) -> _Snapshot:
        tenant = self.uow.tenants.get(tenant_id)
        message = self.uow.messages.get(tenant_id, message_id)
        lead = self.uow.leads.get(tenant_id, message.lead_id) if message else None
        if tenant is None or message is None or lead is None:
            raise PermanentDeliveryError(f"message {message_id} not found for this tenant")
        conversation = (
            self.uow.conversations.get(tenant_id, message.conversation_id)
            if message.conversation_id
            else None
        )
        return _Snapshot(tenant, lead, message, conversation)

    def _recover(self, snap: _Snapshot, task: Task) -> SendOutcome:
        """A message found SENDING: ask the provider whether it went out since the SENDING
        mark; adopt it if so, send it if not (see the class docstring)."""
        conversation = snap.conversation
        if conversation is not None and conversation.channel == Channel.CHATWOOT:
            self._mark_ambiguous(snap, "interrupted while sending; Chatwoot cannot be asked")
            return SendOutcome.AMBIGUOUS
        if not snap.lead.phone:
            raise PermanentDeliveryError("the lead has no phone number")
        since = snap.message.updated_at - LOOKUP_SKEW
        try:
            found = self.sms.find_sent(
                snap.tenant, to=snap.lead.phone, body=snap.message.body, since=since
            )
        except TransientDeliveryError as exc:
            if task.attempts < self.max_attempts or isinstance(exc, ProviderUnavailable):
                raise  # still SENDING: the next attempt asks again
            why = f"interrupted while sending; the provider could not be asked: {exc}"
            self._mark_ambiguous(snap, why, code=exc.code)
            raise AmbiguousDelivery(why, code=AMBIGUOUS_SEND) from exc
        with self.uow.for_tenant(snap.tenant.id):  # a SID another message has is not ours
            get = self.uow.messages.get_by_provider_sid
            ours = [s for s in found if get(snap.tenant.id, s.provider_sid) is None]
        if ours:
            self._record_sent(snap, ours[0])
            return SendOutcome.ADOPTED
        outcome = self._deliver(snap, task)
        return SendOutcome.RESENT if outcome in (SendOutcome.SENT, SendOutcome.SANDBOX) else outcome

    def _mark_ambiguous(self, snap: _Snapshot, why: str, *, code: str | None = None) -> None:
        with self.uow.for_tenant(snap.tenant.id):
            message = self.uow.messages.get(snap.tenant.id, snap.message.id)
            if message is None or message.status != MessageStatus.SENDING:
                return
            message.status = MessageStatus.FAILED
            message.error_code = AMBIGUOUS_SEND
            message.error_message = why if code is None else f"{why} (code {code})"
            message.updated_at = self.clock.now()
            self.uow.commit()

    def _deliver(self, snap: _Snapshot, task: Task) -> SendOutcome:
        try:
            sent = self._send(snap)
        except RecipientOptedOut as exc:
            self._record_failure(snap, exc.code, str(exc), opt_out=True)
            return SendOutcome.OPTED_OUT
        except PermanentDeliveryError as exc:
            self._record_failure(snap, exc.code, str(exc))
            raise
        except ProviderUnavailable as exc:  # not sent; deferred, whatever the attempt
            self._record_failure(snap, exc.code, str(exc), requeue=True)
            raise
        except DeliveryOutcomeUnknown as exc:
            # It may have gone out: the message stays SENDING, so the next attempt asks the
            # provider before sending again (the error is kept on the message meanwhile).
            if task.attempts >= self.max_attempts:
                self._mark_ambiguous(snap, f"the provider's answer was lost: {exc}", code=exc.code)
                raise AmbiguousDelivery(str(exc), code=AMBIGUOUS_SEND) from exc
            self._note_error(snap, exc.code, str(exc))
            raise
        except TransientDeliveryError as exc:
            last = task.attempts >= self.max_attempts
            self._record_failure(snap, exc.code, str(exc), requeue=not last)
            raise
        return self._record_sent(snap, sent)

    def _note_error(self, snap: _Snapshot, code: str | None, error: str) -> None:
        """Keep the provider's error on a message that stays SENDING."""
        with self.uow.for_tenant(snap.tenant.id):
            message = self.uow.messages.get(snap.tenant.id, snap.message.id)
            if message is None:
                return
            message.error_code, message.error_message = code, error
            self.uow.commit()

    def _record_sent(self, snap: _Snapshot, sent: SentSms) -> SendOutcome:
        with self.uow.for_tenant(snap.tenant.id):
            message = self.uow.messages.get(snap.tenant.id, snap.message.id)
            lead = self.uow.leads.get(snap.tenant.id, snap.lead.id)
            if message is None or lead is None:
                raise NotFound("message vanished while sending")
            now = self.clock.now()
            sandbox = sent.status == "sandbox"
            message.status = MessageStatus.SANDBOX if sandbox else MessageStatus.SENT
            message.provider_sid, message.sent_at, message.updated_at = sent.provider_sid, now, now
            if lead.first_contact_at is None:
                lead.first_contact_at = now
            if message.kind == MessageKind.REVIEW_REQUEST:
                lead.last_review_request_at = now  # starts the tenant's review cooldown
            # Lily answered the lead: its owner alerts need not wait out their minute.
            closes = answer_closes_batch(self.uow, snap.tenant.id, lead.id, now)
            self.uow.commit()
        if closes is not None:
            schedule_alerts(self.queue, snap.tenant.id, closes)
        return SendOutcome.SANDBOX if sandbox else SendOutcome.SENT

    def _send(self, snap: _Snapshot) -> SentSms:
        conversation = snap.conversation
        if conversation is not None and conversation.channel == Channel.CHATWOOT:
            if self.chatwoot is None or conversation.chatwoot_conversation_id is None:
                raise PermanentDeliveryError("Chatwoot is not configured (LILY_CHATWOOT_URL)")
            ident = self.chatwoot.reply(
                snap.tenant, conversation.chatwoot_conversation_id, snap.message.body
            )
            return SentSms(f"chatwoot:{ident}", "sent")
        if not snap.lead.phone:
            raise PermanentDeliveryError("the lead has no phone number")
        return self.sms.send(
            snap.tenant,
            to=snap.lead.phone,
            body=snap.message.body,
            status_callback=self.status_callback_url,
        )

    def _finish(
        self, message: Message, status: MessageStatus, outcome: SendOutcome, why: str
    ) -> SendOutcome:
        message.status, message.error_message = status, why
        message.updated_at = self.clock.now()
        self.uow.commit()
        return outcome

    def _hold(self, message: Message, reason: HoldReason) -> SendOutcome:
        message.error_code = reason.value
        return self._finish(message, MessageStatus.HELD, SendOutcome.HELD, reason.explanation)

    def _record_failure(
        self,
        snap: _Snapshot,
        code: str | None,
        error: str,
        *,
        opt_out: bool = False,
        requeue: bool = False,
    ) -> None:
        with self.uow.for_tenant(snap.tenant.id):
            message = self.uow.messages.get(snap.tenant.id, snap.message.id)
            lead = self.uow.leads.get(snap.tenant.id, snap.lead.id)
            if message is None or lead is None:
                return
            now = self.clock.now()
            alert = None
            message.status = MessageStatus.QUEUED if requeue else MessageStatus.FAILED
            message.error_code, message.error_message, message.updated_at = code, error, now
            # nothing went out: the count taken with the SENDING mark is given back
            self.billing.refund(
                self.uow, snap.tenant.id, message, _channel(snap), snap.message.updated_at
            )
            if opt_out:
                lead.opted_out, lead.opted_out_at = True, now
                record_consent(
                    self.uow,
                    lead,
                    ConsentAction.OPT_OUT,
                    f"carrier:{code or 'opted out'}",
                    now,
                    channel=_channel(snap).value,
                )
                alert = note_alert(
                    self.uow, snap.tenant, AlertKind.OPT_OUT, lead, now, ref=f"sms:{message.id}"
                )
            self.uow.commit()
        schedule_alert(self.queue, alert)

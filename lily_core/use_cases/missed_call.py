from __future__ import annotations

import enum
from datetime import timedelta

import attrs

from lily_core.domain.compliance import Jitter, with_opt_out_line
from lily_core.domain.leads import PROVIDER_SID_MAX, Call, Lead, LeadStatus, MessageKind
from lily_core.domain.owner_alerts import AlertKind
from lily_core.domain.phone import normalize_phone
from lily_core.domain.sanitize import require_id
from lily_core.domain.tenant import Tenant
from lily_core.errors import Conflict
from lily_core.ports.clock import Clock
from lily_core.ports.queue import JitterQueue
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.outbox import enqueue_send, open_conversation, queue_message, upsert_lead
from lily_core.use_cases.owner_alerts import note_alert, schedule_alert

MISSED_STATUSES = frozenset({"no-answer", "busy", "failed", "canceled"})
FIRST_LEG_STATUSES = frozenset({"ringing", "in-progress", "queued", "initiated"})


class CallOutcome(enum.StrEnum):
    FORWARD = "forward"  # ring the business's forwarding number first
    ANSWERED = "answered"  # someone picked up: nothing to do
    MISSED = "missed"  # text-back queued
    MISSED_DUPLICATE = "missed_duplicate"  # same CallSid again: nothing more
    MISSED_DEDUPED = "missed_deduped"  # repeat caller inside the dedupe window
    MISSED_OPTED_OUT = "missed_opted_out"  # the caller has opted out of texts


@attrs.frozen
class VoiceEvent:
    """The fields of a Twilio voice webhook that decide what happens."""

    call_sid: str
    from_number: str
    call_status: str | None
    dial_call_status: str | None


@attrs.frozen
class CallResult:
    outcome: CallOutcome
    forward_to: str | None = None
    lead_id: str | None = None
    message_id: str | None = None


def first_text_back(tenant: Tenant, lead: Lead) -> str:
    """The tenant's missed-call text; a lead Lily has never texted is also told how to opt
    out (CTIA: the first message says so), unless the tenant turned that off (its choice
    and when it made it are kept on the tenant)."""
    text = tenant.render_missed_call_text()
    first = lead.first_contact_at is None
    return with_opt_out_line(text) if first and tenant.opt_out_notice else text


class HandleVoiceCall:
    """DESIGN §2.1: forward the first leg; on a missed call, record the lead and the call
    and queue exactly one text-back (none for a repeated CallSid, a repeat caller inside
    the tenant's dedupe window, or an opted-out caller). A CallSid that is missing or longer
    than Lily keeps is InvalidInput."""

    def __init__(self, uow: UnitOfWork, queue: JitterQueue, clock: Clock, jitter: Jitter) -> None:
        self.uow, self.queue, self.clock, self.jitter = uow, queue, clock, jitter

    def __call__(
        self, tenant: Tenant, event: VoiceEvent, *, request_id: str | None = None
    ) -> CallResult:
        require_id(event.call_sid, field="CallSid", limit=PROVIDER_SID_MAX)
        status = (event.dial_call_status or event.call_status or "").lower()
        first_leg = event.dial_call_status is None and status in FIRST_LEG_STATUSES
        if first_leg and tenant.forward_to:
            return CallResult(CallOutcome.FORWARD, forward_to=tenant.forward_to)
        if not first_leg and status not in MISSED_STATUSES:
            return CallResult(CallOutcome.ANSWERED)
        caller = normalize_phone(event.from_number, field="From")
        try:
            return self._missed(tenant, event, caller, status, request_id)
        except Conflict:  # the same CallSid, delivered twice at once
            return CallResult(CallOutcome.MISSED_DUPLICATE)

    def _missed(
        self, tenant: Tenant, event: VoiceEvent, caller: str, status: str, request_id: str | None
    ) -> CallResult:
        now = self.clock.now()
        with self.uow.for_tenant(tenant.id):
            if self.uow.calls.get_by_sid(tenant.id, event.call_sid) is not None:
                return CallResult(CallOutcome.MISSED_DUPLICATE)
            lead, new_lead = upsert_lead(self.uow, tenant, caller, now)
            previous = None if new_lead else self.uow.calls.last_texted_back(tenant.id, lead.id)
            call = Call(
                tenant_id=tenant.id,
                lead_id=lead.id,
                call_sid=event.call_sid,
                from_phone=caller,
                status=status or "no-answer",
                missed=True,
                created_at=now,
                updated_at=now,
            )
            self.uow.calls.add(call)
            # The customer reached out: the conversation is unread until the owner opens it.
            lead.last_activity_at = lead.last_inbound_at = now
            window = timedelta(minutes=tenant.missed_call_dedupe_minutes)
            if previous is not None and now - previous.created_at < window:
                self.uow.commit()
                return CallResult(CallOutcome.MISSED_DEDUPED, lead_id=lead.id)
            if lead.opted_out:
                alert = note_alert(
                    self.uow,
                    tenant,
                    AlertKind.NEW_LEAD,
                    lead,
                    now,
                    detail="they opted out of texts, so Lily did not text them; call them back",
                    ref=event.call_sid,
                )
                self.uow.commit()
                schedule_alert(self.queue, alert, request_id=request_id)
                return CallResult(CallOutcome.MISSED_OPTED_OUT, lead_id=lead.id)
            conversation = open_conversation(self.uow, tenant, lead, now, new_lead=new_lead)
            conversation.last_customer_activity_at = now
            conversation.updated_at = now
            message = queue_message(
                self.uow,
                lead,
                conversation,
                kind=MessageKind.MISSED_CALL,
                body=first_text_back(tenant, lead),
                now=now,
            )
            call.texted_back = True
            if lead.status == LeadStatus.NEW:
                lead.status = LeadStatus.CONTACTED
            alert = note_alert(self.uow, tenant, AlertKind.NEW_LEAD, lead, now, ref=event.call_sid)
            self.uow.commit()
        schedule_alert(self.queue, alert, request_id=request_id)
        enqueue_send(
            self.queue,
            message,
            now + self.jitter.delay(),
            conversation=conversation,
            request_id=request_id,
        )
        return CallResult(CallOutcome.MISSED, lead_id=lead.id, message_id=message.id)

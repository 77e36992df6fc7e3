from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime

import attrs

from lily_core.domain.compliance import Keyword, help_reply, parse_keyword
from lily_core.domain.consent import CONSENT_EVIDENCE_MAX, ConsentAction, ConsentRecord
from lily_core.domain.leads import (
    PROVIDER_SID_MAX,
    Conversation,
    Direction,
    Lead,
    Message,
    MessageKind,
    MessageStatus,
)
from lily_core.domain.owner_alerts import AlertKind
from lily_core.domain.phone import normalize_phone
from lily_core.domain.records import ProcessedWebhook
from lily_core.domain.sanitize import require_id
from lily_core.domain.tenant import Tenant
from lily_core.errors import Conflict, InvalidInput, NotFound
from lily_core.ports.clock import Clock
from lily_core.ports.queue import JitterQueue
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.dashboard_messages import SendManualReply
from lily_core.use_cases.outbox import (
    enqueue_send,
    open_conversation,
    queue_message,
    record_inbound,
    upsert_lead,
)
from lily_core.use_cases.owner_alerts import (
    note_alert,
    owner_reply,
    record_owner_keyword,
    schedule_alert,
)

OWNER_REPLY = "owner-reply"  # the ledger of the owner's relayed answers (webhooks table)


class InboundOutcome(enum.StrEnum):
    DUPLICATE = "duplicate"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    HELP = "help"
    RECORDED = "recorded"  # stored; nothing to answer (an opted-out lead, say)
    CONVERSATION = "conversation"  # handed on to the conversation (quote) flow
    OWNER_ALERTS = "owner_alerts"  # the owner's STOP/START for their alerts (issue 18)
    OWNER_REPLY = "owner_reply"  # the owner answered an alert: relayed to its lead


@attrs.frozen
class InboundSms:
    message_sid: str
    from_number: str
    body: str
    media: Sequence[tuple[str, str]] = ()  # (url, content type)
    opt_out_type: str | None = None


@attrs.frozen
class InboundResult:
    outcome: InboundOutcome
    lead_id: str | None = None
    message_id: str | None = None
    reply_id: str | None = None


def help_text(tenant: Tenant) -> str:
    return help_reply(tenant)


class HandleInboundSms:
    """DESIGN §2.2.1 and §2.5: record an inbound SMS/MMS (once per MessageSid); STOP-family
    words opt the lead out at once and suppress everything still queued for it; START,
    UNSTOP and YES (after an opt-out) opt back in; HELP/INFO queues the business's help
    reply. Anything else is for the conversation flow. A MessageSid that is missing or
    longer than Lily keeps is InvalidInput."""

    def __init__(self, uow: UnitOfWork, queue: JitterQueue, clock: Clock) -> None:
        self.uow, self.queue, self.clock = uow, queue, clock

    def __call__(
        self, tenant: Tenant, sms: InboundSms, *, request_id: str | None = None
    ) -> InboundResult:
        require_id(sms.message_sid, field="MessageSid", limit=PROVIDER_SID_MAX)
        phone = normalize_phone(sms.from_number, field="From")
        try:
            return self._handle(tenant, sms, phone, request_id)
        except Conflict:
            return InboundResult(InboundOutcome.DUPLICATE)

    def _handle(
        self, tenant: Tenant, sms: InboundSms, phone: str, request_id: str | None
    ) -> InboundResult:
        now = self.clock.now()
        if tenant.is_owner_number(phone):
            relayed = self._owner_reply(tenant, phone, sms, now, request_id)
            if relayed is not None:
                return relayed
        with self.uow.for_tenant(tenant.id):
            existing = self.uow.messages.get_by_provider_sid(tenant.id, sms.message_sid)
            if existing is not None:
                return duplicate_of(existing)
            if record_owner_keyword(self.uow, tenant, phone, sms.body, now) is not None:
                self.uow.commit()  # the owner's STOP/START is about alerts, not a lead's
                return InboundResult(InboundOutcome.OWNER_ALERTS)
            lead, new_lead = upsert_lead(self.uow, tenant, phone, now)
            conversation = open_conversation(self.uow, tenant, lead, now, new_lead=new_lead)
            inbound = record_inbound(
                self.uow,
                lead,
                conversation,
                body=sms.body,
                media=[{"url": url, "content_type": ctype} for url, ctype in sms.media],
                provider_sid=sms.message_sid,
                now=now,
            )
            outcome, reply = apply_compliance(
                self.uow,
                tenant,
                lead,
                conversation,
                sms.body,
                sms.opt_out_type,
                now,
                message_sid=sms.message_sid,
            )
            alert = None
            if outcome == InboundOutcome.OPTED_OUT:
                alert = note_alert(
                    self.uow, tenant, AlertKind.OPT_OUT, lead, now, ref=sms.message_sid
                )
            self.uow.commit()
        schedule_alert(self.queue, alert, request_id=request_id)
        if reply is not None:
            enqueue_send(self.queue, reply, now, conversation=conversation, request_id=request_id)
        return InboundResult(outcome, lead.id, inbound.id, reply.id if reply else None)

    def _owner_reply(
        self, tenant: Tenant, phone: str, sms: InboundSms, now: datetime, request_id: str | None
    ) -> InboundResult | None:
        """The owner's "R <text>" to an alert goes to the alert's lead as the owner's manual
        reply (SendManualReply: at once, never to an opted-out lead), once per MessageSid."""
        key = f"{tenant.id}:{sms.message_sid}"
        with self.uow.for_tenant(tenant.id):
            relay = owner_reply(self.uow, tenant, phone, sms.body, now)
            if relay is None:
                return None
            if self.uow.webhooks.seen(OWNER_REPLY, key):
                return InboundResult(InboundOutcome.DUPLICATE)
            self.uow.webhooks.add(
                ProcessedWebhook(
                    provider=OWNER_REPLY, event_id=key, tenant_id=tenant.id, received_at=now
                )
            )
            self.uow.commit()
        lead_id, text = relay
        try:
            sent = SendManualReply(self.uow, self.queue, self.clock)(
                tenant.id, lead_id, text, request_id=request_id
            )
        except (Conflict, InvalidInput, NotFound):  # opted out, no number, too long, erased
            return InboundResult(InboundOutcome.OWNER_REPLY, lead_id)
        return InboundResult(InboundOutcome.OWNER_REPLY, lead_id, reply_id=sent.message.id)


def duplicate_of(message: Message) -> InboundResult:
    """A redelivered message does nothing new; it carries the original's ids when the
    original was for the conversation, so the caller may advance it again (advancing is
    idempotent, and this recovers a delivery whose first advance failed)."""
    if parse_keyword(message.body) is not None:
        return InboundResult(InboundOutcome.DUPLICATE)
    return InboundResult(InboundOutcome.DUPLICATE, message.lead_id, message.id)


def needs_advancing(result: InboundResult) -> bool:
    """Whether the conversation flow should look at this message (again)."""
    return (
        result.outcome in (InboundOutcome.CONVERSATION, InboundOutcome.DUPLICATE)
        and result.lead_id is not None
        and result.message_id is not None
    )


def apply_compliance(
    uow: UnitOfWork,
    tenant: Tenant,
    lead: Lead,
    conversation: Conversation,
    body: str,
    opt_out_type: str | None,
    now: datetime,
    *,
    message_sid: str | None = None,
) -> tuple[InboundOutcome, Message | None]:
    """Compliance first (DESIGN §2.5), for any channel: STOP-family words opt the lead out
    and suppress what is still queued for it; START/UNSTOP/YES opt back in (a plain "yes"
    from a subscribed lead is conversation); HELP/INFO queues the help reply, even after an
    opt-out. Every opt-out and opt-in goes into the tenant's opt-out ledger with what proved
    it and `message_sid`. Returns the outcome and the reply to enqueue after commit, if any."""
    keyword = parse_keyword(body, opt_out_type)
    if keyword == Keyword.OPT_IN and not lead.opted_out and not opt_out_type:
        keyword = None
    if keyword in (Keyword.OPT_OUT, Keyword.OPT_IN):
        evidence = f"OptOutType:{opt_out_type.strip().upper()}" if opt_out_type else None
        record_consent(
            uow,
            lead,
            ConsentAction.OPT_OUT if keyword == Keyword.OPT_OUT else ConsentAction.OPT_IN,
            evidence or f"keyword:{' '.join(body.split())}",
            now,
            message_sid=message_sid,
            channel=conversation.channel.value,
        )
    if keyword == Keyword.OPT_OUT:
        lead.opted_out, lead.opted_out_at = True, now
        suppress_queued(uow, tenant.id, lead.id)
        return InboundOutcome.OPTED_OUT, None
    if keyword == Keyword.OPT_IN:
        lead.opted_out, lead.opted_out_at = False, None
        return InboundOutcome.OPTED_IN, None
    if keyword == Keyword.HELP:
        reply = queue_message(
            uow, lead, conversation, kind=MessageKind.HELP, body=help_text(tenant), now=now
        )
        reply.status = MessageStatus.QUEUED  # carriers require HELP to work after STOP
        return InboundOutcome.HELP, reply
    if lead.opted_out:
        return InboundOutcome.RECORDED, None
    return InboundOutcome.CONVERSATION, None


def record_consent(
    uow: UnitOfWork,
    lead: Lead,
    action: ConsentAction,
    evidence: str,
    now: datetime,
    *,
    message_sid: str | None = None,
    channel: str = "sms",
) -> None:
    """Add an opt-out or opt-in to the tenant's ledger (inside the caller's transaction)."""
    if not lead.phone:
        return  # a Chatwoot contact without a number: nothing a number could be held to
    uow.consent.add(
        ConsentRecord(
            tenant_id=lead.tenant_id,
            phone=lead.phone,
            lead_id=lead.id,
            action=action,
            evidence=evidence[:CONSENT_EVIDENCE_MAX],
            message_sid=message_sid,
            channel=channel,
            created_at=now,
        )
    )


def suppress_queued(uow: UnitOfWork, tenant_id: str, lead_id: str) -> None:
    """Nothing still queued or held for an opted-out lead will go out."""
    page = uow.messages.list_for_lead(tenant_id, lead_id, limit=500)
    for message in page.items:
        if message.direction == Direction.OUTBOUND and message.status in (
            MessageStatus.QUEUED,
            MessageStatus.HELD,
        ):
            message.status = MessageStatus.SUPPRESSED
            message.error_message = "lead opted out"

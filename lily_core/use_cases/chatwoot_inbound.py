"""An incoming Chatwoot message (DESIGN §2.2.1): record it like an inbound SMS, in a
Chatwoot-channel conversation whose replies go back into Chatwoot."""

from __future__ import annotations

from datetime import datetime

from lily_core.domain.chatwoot_events import ChatwootInbound
from lily_core.domain.leads import (
    Channel,
    Conversation,
    Lead,
)
from lily_core.domain.owner_alerts import AlertKind
from lily_core.domain.tenant import Tenant
from lily_core.errors import Conflict, InvalidInput
from lily_core.ports.clock import Clock
from lily_core.ports.queue import JitterQueue
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.inbound import (
    InboundOutcome,
    InboundResult,
    apply_compliance,
    duplicate_of,
)
from lily_core.use_cases.outbox import enqueue_send, record_inbound
from lily_core.use_cases.owner_alerts import note_alert, schedule_alert

__all__ = ["CHATWOOT_IMAGE_TYPE", "HandleChatwootMessage", "IgnoredChatwootMessage"]

# The content type recorded for a Chatwoot image attachment: Chatwoot only says "image";
# COPY_MEDIA replaces it with the real type once fetched.
CHATWOOT_IMAGE_TYPE = "image/*"


class IgnoredChatwootMessage(InvalidInput):
    """A well-formed message Lily does not act on (outgoing, another account or inbox, a
    contact with neither phone nor email): the webhook answers 200 and stores nothing."""


class HandleChatwootMessage:
    """Record an incoming Chatwoot message once (provider_sid `chatwoot:{account}:{id}`):
    the lead is found by the contact's phone, else email, else created (it needs one of
    them); the conversation is the one with this Chatwoot conversation id, else a new
    CHATWOOT-channel one. Compliance keywords act as for SMS (HandleInboundSms): STOP-family
    words opt out and suppress what is queued, START/UNSTOP/YES opt back in, HELP queues the
    help reply into Chatwoot. Anything else returns CONVERSATION with the lead and message
    ids, for AdvanceConversation. Raises IgnoredChatwootMessage for what is not for Lily."""

    def __init__(self, uow: UnitOfWork, queue: JitterQueue, clock: Clock) -> None:
        self.uow, self.queue, self.clock = uow, queue, clock

    def __call__(
        self, tenant: Tenant, event: ChatwootInbound, *, request_id: str | None = None
    ) -> InboundResult:
        if not event.is_incoming:
            raise IgnoredChatwootMessage(f"a {event.message_type} message, not an incoming one")
        if (
            tenant.chatwoot_account_id is not None
            and event.account_id != tenant.chatwoot_account_id
        ):
            raise IgnoredChatwootMessage(f"account {event.account_id} is not this tenant's")
        if tenant.chatwoot_inbox_id is not None and event.inbox_id != tenant.chatwoot_inbox_id:
            raise IgnoredChatwootMessage(f"inbox {event.inbox_id} is not this tenant's")
        try:
            return self._handle(tenant, event, request_id)
        except Conflict:  # the same message delivered twice at once
            return InboundResult(InboundOutcome.DUPLICATE)

    def _handle(
        self, tenant: Tenant, event: ChatwootInbound, request_id: str | None
    ) -> InboundResult:
        now = self.clock.now()
        with self.uow.for_tenant(tenant.id):
            existing = self.uow.messages.get_by_provider_sid(tenant.id, event.dedupe_key)
            if existing is not None:
                return duplicate_of(existing)
            conversation = self.uow.conversations.get_by_chatwoot_id(
                tenant.id, event.conversation_id
            )
            lead = self.uow.leads.get(tenant.id, conversation.lead_id) if conversation else None
            lead = lead or self._find_or_create_lead(tenant, event, now)
            if conversation is None:
                conversation = Conversation(
                    tenant_id=tenant.id,
                    lead_id=lead.id,
                    channel=Channel.CHATWOOT,
                    chatwoot_conversation_id=event.conversation_id,
                    created_at=now,
                    updated_at=now,
                )
                self.uow.conversations.add(conversation)
            inbound = record_inbound(
                self.uow,
                lead,
                conversation,
                body=event.content,
                media=[
                    {"url": url, "content_type": CHATWOOT_IMAGE_TYPE} for url in event.photo_urls
                ],
                provider_sid=event.dedupe_key,
                now=now,
            )
            outcome, reply = apply_compliance(
                self.uow,
                tenant,
                lead,
                conversation,
                event.content,
                None,
                now,
                message_sid=event.dedupe_key,
            )
            alert = None
            if outcome == InboundOutcome.OPTED_OUT:  # the owner hears of it as for SMS
                alert = note_alert(
                    self.uow, tenant, AlertKind.OPT_OUT, lead, now, ref=event.dedupe_key
                )
            self.uow.commit()
        schedule_alert(self.queue, alert, request_id=request_id)
        if reply is not None:
            enqueue_send(self.queue, reply, now, conversation=conversation, request_id=request_id)
        return InboundResult(outcome, lead.id, inbound.id, reply.id if reply else None)

    def _find_or_create_lead(self, tenant: Tenant, event: ChatwootInbound, now: datetime) -> Lead:
        phone, email = event.sender_phone, event.sender_email
        lead = self.uow.leads.get_by_phone(tenant.id, phone) if phone else None
        if lead is None and email:
            lead = self.uow.leads.get_by_email(tenant.id, email)
        if lead is None:
            if not phone and not email:
                raise IgnoredChatwootMessage("the contact has neither a phone number nor an email")
            lead = Lead(tenant_id=tenant.id, phone=phone, email=email, created_at=now)
            self.uow.leads.add(lead)
        # Fill in what Chatwoot knows and the lead lacks; never overwrite.
        if lead.phone is None and phone and self.uow.leads.get_by_phone(tenant.id, phone) is None:
            lead.phone = phone
        lead.email = lead.email or email
        lead.name = lead.name or event.sender_name
        return lead

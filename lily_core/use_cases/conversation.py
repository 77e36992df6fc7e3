"""Photos + ZIP → ballpark quote (DESIGN §2.2.3–4): what happens after a lead's message
was recorded and was not a compliance keyword."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from lily_core.domain.compliance import Jitter, parse_keyword
from lily_core.domain.conversation import (
    Missing,
    booking_link,
    decline_text,
    extract_zip,
    format_quote_reply,
    is_photo,
    pending_text,
    prompt_text,
)
from lily_core.domain.leads import (
    Conversation,
    Direction,
    Lead,
    LeadStatus,
    Message,
    MessageKind,
    MessageStatus,
)
from lily_core.domain.money import format_range
from lily_core.domain.owner_alerts import AlertKind, OwnerAlert
from lily_core.domain.pagination import Cursor
from lily_core.domain.pricebook import PriceBookVersion
from lily_core.domain.quoting import QuotingService
from lily_core.domain.records import Quote
from lily_core.domain.tenant import Tenant
from lily_core.errors import NotFound
from lily_core.ports.clock import Clock
from lily_core.ports.queue import JitterQueue
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.copy_media import enqueue_copy_media
from lily_core.use_cases.outbox import enqueue_send, queue_message
from lily_core.use_cases.owner_alerts import note_alert, schedule_alert

__all__ = ["AdvanceConversation", "ConversationOutcome", "ConversationResult"]


class ConversationOutcome(enum.StrEnum):
    QUOTED = "quoted"  # a range and the booking link queued
    DECLINED = "declined"  # the ZIP is out of the service area: a polite no queued
    PROMPTED = "prompted"  # asked for the photos and/or ZIP still missing
    PENDING = "pending"  # everything sent, but the tenant has no price book: told once
    WAITING = "waiting"  # nothing new to say (already prompted, or already quoted)
    OPTED_OUT = "opted_out"  # the lead opted out: nothing is sent


@attrs.frozen
class ConversationResult:
    outcome: ConversationOutcome
    reply_id: str | None = None
    quote_id: str | None = None
    missing: Missing | None = None


_QUOTABLE_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUOTED)


class AdvanceConversation:
    """Bring the conversation up to date with what the lead has sent, and answer once.

    The conversation's photo count, ZIP (the latest one the lead wrote) and service text
    are recomputed from all its inbound messages, so advancing the same message twice
    changes nothing. Then:
    - photos or ZIP missing: one prompt for what is missing — never twice for the same
      thing (`last_prompt`); the missed-call text counts as the first "both" prompt when
      it asks for photos and the ZIP.
    - both present and no quote made for this ZIP yet (`quoted_zip`): quote with the
      tenant's current price book and store the Quote. In the area: queue the range and
      the booking link, the lead becomes QUOTED. Out of the area: queue a decline, and store
      the Quote with `in_service_area` False and no price (the reason is its explanation).
      More photos after a quote do not quote again; a new ZIP does.
    - no price book yet: one "we'll get back to you" (last_prompt `pricebook`), and the
      quote is made on the lead's next message once a price book exists.
    Replies are committed QUEUED and enqueued with jitter after the commit, as is the
    COPY_MEDIA task of a message with photos."""

    def __init__(
        self,
        uow: UnitOfWork,
        queue: JitterQueue,
        clock: Clock,
        jitter: Jitter,
        quoting: QuotingService | None = None,
    ) -> None:
        self.uow, self.queue, self.clock, self.jitter = uow, queue, clock, jitter
        self.quoting = quoting or QuotingService()

    def __call__(
        self, tenant: Tenant, lead_id: str, message_id: str, *, request_id: str | None = None
    ) -> ConversationResult:
        now = self.clock.now()
        with self.uow.for_tenant(tenant.id):
            lead = self.uow.leads.get(tenant.id, lead_id)
            message = self.uow.messages.get(tenant.id, message_id)
            if lead is None or message is None or message.lead_id != lead.id:
                raise NotFound(f"message {message_id} of lead {lead_id} not found")
            if message.conversation_id is None:
                raise NotFound(f"message {message_id} belongs to no conversation")
            conversation = self.uow.conversations.get(tenant.id, message.conversation_id)
            if conversation is None:
                raise NotFound(f"conversation {message.conversation_id} not found")
            alert: OwnerAlert | None = None
            if lead.opted_out:
                result, reply = ConversationResult(ConversationOutcome.OPTED_OUT), None
            else:
                history = self._history(tenant.id, lead.id, conversation.id)
                _gather(conversation, history)
                if conversation.zip:
                    lead.zip = conversation.zip
                result, reply = self._answer(tenant, lead, conversation, history, now)
                conversation.updated_at = now
                alert = self._alert(tenant, lead, conversation, message, result, now)
                self.uow.commit()
        schedule_alert(self.queue, alert, request_id=request_id)
        if reply is not None:
            enqueue_send(
                self.queue,
                reply,
                now + self.jitter.delay(),
                conversation=conversation,
                request_id=request_id,
            )
        enqueue_copy_media(self.queue, message, now, request_id=request_id)
        return result

    def _alert(
        self,
        tenant: Tenant,
        lead: Lead,
        conversation: Conversation,
        message: Message,
        result: ConversationResult,
        now: datetime,
    ) -> OwnerAlert | None:
        """The owner hears of a quote sent, and of a customer's words after the quote that
        Lily has no answer for (issue 18)."""
        if result.outcome == ConversationOutcome.QUOTED and result.quote_id:
            quote = self.uow.quotes.get(tenant.id, result.quote_id)
            if quote is not None:
                detail = format_range(quote.low_cents, quote.high_cents, quote.currency)
                return note_alert(
                    self.uow,
                    tenant,
                    AlertKind.QUOTE_SENT,
                    lead,
                    now,
                    detail=f"{detail} (ZIP {quote.zip})",
                    ref=quote.id,
                )
        words = " ".join(message.body.split())
        if (
            result.outcome == ConversationOutcome.WAITING
            and conversation.quoted_zip is not None
            and message.direction == Direction.INBOUND
            and words
            and parse_keyword(message.body) is None
        ):
            # no snippet stored: the alert quotes the message itself when it is sent
            return note_alert(self.uow, tenant, AlertKind.NEEDS_REPLY, lead, now, ref=message.id)
        return None

    def _history(self, tenant_id: str, lead_id: str, conversation_id: str) -> list[Message]:
        """The conversation's messages, oldest first."""
        found: list[Message] = []
        after: Cursor | None = None
        while True:
            page = self.uow.messages.list_for_lead(tenant_id, lead_id, limit=500, after=after)
            found.extend(m for m in page.items if m.conversation_id == conversation_id)
            if page.next_cursor is None:
                break
            after = Cursor.decode(page.next_cursor)
        found.sort(key=lambda m: (m.created_at, m.id))
        return found

    def _answer(
        self,
        tenant: Tenant,
        lead: Lead,
        conversation: Conversation,
        history: list[Message],
        now: datetime,
    ) -> tuple[ConversationResult, Message | None]:
        missing = _missing(conversation)
        if missing is not None:
            if conversation.last_prompt == missing:
                return ConversationResult(ConversationOutcome.WAITING, missing=missing), None
            conversation.last_prompt = missing
            if missing == Missing.BOTH and _missed_call_asked(tenant, history):
                return ConversationResult(ConversationOutcome.WAITING, missing=missing), None
            reply = self._reply(
                lead, conversation, MessageKind.PROMPT, prompt_text(tenant, missing), now
            )
            return ConversationResult(
                ConversationOutcome.PROMPTED, reply.id, missing=missing
            ), reply

        zip_code = conversation.zip
        assert zip_code is not None  # _missing() said both are present
        if conversation.quoted_zip == zip_code:
            return ConversationResult(ConversationOutcome.WAITING), None
        version = self.uow.pricebooks.current(tenant.id)
        if version is None:
            if conversation.last_prompt == Missing.PRICEBOOK:
                return ConversationResult(ConversationOutcome.WAITING), None
            conversation.last_prompt = Missing.PRICEBOOK
            reply = self._reply(lead, conversation, MessageKind.PROMPT, pending_text(tenant), now)
            return ConversationResult(ConversationOutcome.PENDING, reply.id), reply
        return self._quote(tenant, lead, conversation, version, zip_code, now)

    def _quote(
        self,
        tenant: Tenant,
        lead: Lead,
        conversation: Conversation,
        version: PriceBookVersion,
        zip_code: str,
        now: datetime,
    ) -> tuple[ConversationResult, Message]:
        pricebook = version.pricebook
        result = self.quoting.quote(pricebook, zip_code, conversation.service_text)
        quote = Quote(
            tenant_id=tenant.id,
            lead_id=lead.id,
            conversation_id=conversation.id,
            zip=zip_code,
            in_service_area=result.in_service_area,
            low_cents=result.low_cents,
            high_cents=result.high_cents,
            currency=result.currency,
            lines=[line.as_dict() for line in result.lines],
            explanation=result.explanation,
            pricebook_version=version.version,
            created_at=now,
        )
        self.uow.quotes.add(quote)
        self._withdraw_prompts(tenant.id, lead.id, conversation.id)
        conversation.quoted_zip = zip_code
        conversation.quoted_photo_count = conversation.photo_count
        if not result.in_service_area:
            reply = self._reply(
                lead, conversation, MessageKind.DECLINE, decline_text(tenant, result), now
            )
            return ConversationResult(ConversationOutcome.DECLINED, reply.id, quote.id), reply
        names = [s.name for key in result.services if (s := pricebook.service(key)) is not None]
        body = format_quote_reply(
            tenant, result, booking_link(tenant.booking_url, lead), service_names=names
        )
        reply = self._reply(lead, conversation, MessageKind.QUOTE, body, now)
        if lead.status in _QUOTABLE_STATUSES:
            lead.status = LeadStatus.QUOTED  # a booked lead stays booked
        return ConversationResult(ConversationOutcome.QUOTED, reply.id, quote.id), reply

    def _withdraw_prompts(self, tenant_id: str, lead_id: str, conversation_id: str) -> None:
        """A prompt still waiting out its jitter is moot once the answer is queued: the
        lead who sent the ZIP while we were about to ask for it is not asked."""
        for message in self.uow.messages.list_for_lead(tenant_id, lead_id, limit=200).items:
            if (
                message.conversation_id == conversation_id
                and message.kind == MessageKind.PROMPT
                and message.status == MessageStatus.QUEUED
            ):
                message.status = MessageStatus.SUPPRESSED
                message.error_message = "superseded by the quote"

    def _reply(
        self,
        lead: Lead,
        conversation: Conversation,
        kind: MessageKind,
        body: str,
        now: datetime,
    ) -> Message:
        return queue_message(self.uow, lead, conversation, kind=kind, body=body, now=now)


def _gather(conversation: Conversation, history: list[Message]) -> None:
    """Set the conversation's photo count, ZIP (latest wins) and service text from its
    inbound messages; compliance keywords are not part of the job's description."""
    photos, zip_code, texts = 0, None, []
    for message in history:
        if message.direction != Direction.INBOUND:
            continue
        photos += sum(1 for entry in message.media if is_photo(entry))
        if parse_keyword(message.body) is not None:
            continue
        zip_code = extract_zip(message.body) or zip_code
        if message.body.strip():
            texts.append(message.body.strip())
    conversation.photo_count = photos
    conversation.zip = zip_code or conversation.zip
    conversation.service_text = "\n".join(texts)


def _missing(conversation: Conversation) -> Missing | None:
    if conversation.photo_count == 0 and not conversation.zip:
        return Missing.BOTH
    if conversation.photo_count == 0:
        return Missing.PHOTOS
    if not conversation.zip:
        return Missing.ZIP
    return None


def _missed_call_asked(tenant: Tenant, history: list[Message]) -> bool:
    """The missed-call text already asked for photos and the ZIP (the default does; a
    tenant's own template may not)."""
    template = tenant.missed_call_template.lower()
    if "photo" not in template or "zip" not in template:
        return False
    return any(m.kind == MessageKind.MISSED_CALL for m in history)

"""The outbox: outbound messages are committed as QUEUED rows with the state change that
caused them, then a task is enqueued to send each. The database, not the queue, is the
source of truth: `ReconcileOutbox` re-enqueues what the queue may have lost (sends, and the
photo copies and calendar syncs that the database says are still owed)."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from lily_core.domain.leads import (
    Channel,
    Conversation,
    Direction,
    Lead,
    Message,
    MessageKind,
    MessageStatus,
)
from lily_core.domain.tenant import Tenant
from lily_core.ports.clock import Clock
from lily_core.ports.queue import JitterQueue, TaskType
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.calendar_sync import enqueue_calendar_sync
from lily_core.use_cases.copy_media import enqueue_copy_media, needs_copy

_TASK_TYPES = {
    MessageKind.MISSED_CALL: TaskType.MISSED_CALL_SMS,
    MessageKind.REVIEW_REQUEST: TaskType.REVIEW_REQUEST_SMS,
}


def task_type_for(message: Message, conversation: Conversation | None = None) -> str:
    if conversation is not None and conversation.channel == Channel.CHATWOOT:
        return TaskType.CHATWOOT_REPLY
    return _TASK_TYPES.get(message.kind, TaskType.SEND_MESSAGE)


def dedupe_key(message: Message) -> str:
    """One live task per message and due time: a deferred message gets a new key."""
    due = message.send_after.isoformat() if message.send_after else "now"
    return f"msg:{message.id}@{due}"


def upsert_lead(uow: UnitOfWork, tenant: Tenant, phone: str, now: datetime) -> tuple[Lead, bool]:
    """The tenant's lead with this number, and whether it is new (added now: then it has no
    calls, conversations or messages yet, and callers skip looking for them)."""
    lead = uow.leads.get_by_phone(tenant.id, phone)
    if lead is not None:
        return lead, False
    lead = Lead(tenant_id=tenant.id, phone=phone, created_at=now)
    uow.leads.add(lead)
    return lead, True


CONVERSATION_IDLE_LIMIT = timedelta(days=30)


def open_conversation(
    uow: UnitOfWork,
    tenant: Tenant,
    lead: Lead,
    now: datetime,
    channel: Channel = Channel.SMS,
    *,
    new_lead: bool = False,
) -> Conversation:
    """The lead's current conversation on `channel`; a new one if there is none (as for a
    `new_lead`, which is not looked up), or if the last went quiet for
    CONVERSATION_IDLE_LIMIT (a returning customer starts afresh: new photos, new ZIP, new
    quote)."""
    conversation = None if new_lead else uow.conversations.latest_for_lead(tenant.id, lead.id)
    if (
        conversation is None
        or conversation.channel != channel
        or now - conversation.updated_at > CONVERSATION_IDLE_LIMIT
    ):
        conversation = Conversation(
            tenant_id=tenant.id, lead_id=lead.id, channel=channel, created_at=now, updated_at=now
        )
        uow.conversations.add(conversation)
    return conversation


def record_inbound(
    uow: UnitOfWork,
    lead: Lead,
    conversation: Conversation,
    *,
    body: str,
    media: list[dict[str, str]],
    provider_sid: str,
    now: datetime,
) -> Message:
    """Store what the lead sent (once per provider_sid: the column is unique per tenant)
    and mark the conversation and the lead active now."""
    conversation.last_customer_activity_at = conversation.updated_at = now
    lead.last_activity_at = lead.last_inbound_at = now
    message = Message(
        tenant_id=lead.tenant_id,
        lead_id=lead.id,
        conversation_id=conversation.id,
        direction=Direction.INBOUND,
        kind=MessageKind.INBOUND,
        body=body,
        media=[dict(entry) for entry in media],
        status=MessageStatus.RECEIVED,
        provider_sid=provider_sid,
        created_at=now,
        updated_at=now,
    )
    uow.messages.add(message)
    return message


def queue_message(
    uow: UnitOfWork,
    lead: Lead,
    conversation: Conversation | None,
    *,
    kind: MessageKind,
    body: str,
    now: datetime,
    business_initiated: bool = False,
    send_after: datetime | None = None,
) -> Message:
    """Add an outbound message as QUEUED (or SUPPRESSED for an opted-out lead); the lead's
    activity is now."""
    lead.last_activity_at = now
    message = Message(
        tenant_id=lead.tenant_id,
        lead_id=lead.id,
        conversation_id=conversation.id if conversation else None,
        direction=Direction.OUTBOUND,
        kind=kind,
        body=body,
        status=MessageStatus.SUPPRESSED if lead.opted_out else MessageStatus.QUEUED,
        business_initiated=business_initiated,
        send_after=send_after,
        created_at=now,
        updated_at=now,
    )
    uow.messages.add(message)
    return message


def enqueue_send(
    queue: JitterQueue,
    message: Message,
    run_at: datetime,
    *,
    conversation: Conversation | None = None,
    request_id: str | None = None,
) -> str | None:
    """Enqueue the task that sends `message` (after its row is committed)."""
    if message.status != MessageStatus.QUEUED:
        return None
    return _enqueue(queue, message, run_at, conversation=conversation, request_id=request_id)


def _enqueue(
    queue: JitterQueue,
    message: Message,
    run_at: datetime,
    *,
    conversation: Conversation | None = None,
    request_id: str | None = None,
) -> str | None:
    return queue.enqueue(
        task_type_for(message, conversation),
        tenant_id=message.tenant_id,
        payload={"message_id": message.id},
        run_at=max(run_at, message.send_after) if message.send_after else run_at,
        dedupe_key=dedupe_key(message),
        request_id=request_id,
    )


@attrs.frozen
class Reconciled:
    queued: int  # QUEUED messages whose task the queue had lost, enqueued again
    sending: int  # messages interrupted mid-send (SENDING) whose task was lost, enqueued again
    photos: int = 0  # inbound messages with photos not yet copied: COPY_MEDIA enqueued again
    calendar: int = 0  # bookings their calendar has not taken: CALENDAR_SYNC enqueued again

    @property
    def total(self) -> int:
        return self.queued + self.sending + self.photos + self.calendar


class ReconcileOutbox:
    """Re-enqueue every QUEUED message older than `grace`, and every message SENDING for
    longer than `grace` (a send was interrupted, and its task is gone: a flushed Redis, a
    task dead-lettered by an older Lily): if its task is still in the queue the dedupe key
    makes this a no-op; if the queue lost it, it is back, and SendMessage's re-run finds
    out from the provider whether the interrupted send went out.

    Likewise, over the last `horizon`: inbound messages with photos not yet copied (nor
    given up on) get their COPY_MEDIA task again, and, when `calendar_sync` is on, bookings
    changed since their calendar last took them, of tenants with a calendar, get their
    CALENDAR_SYNC task again. Both tasks are idempotent (a photo stored is skipped, an event
    is written under its booking's id), and enqueued under the same dedupe keys as first."""

    def __init__(
        self,
        uow: UnitOfWork,
        queue: JitterQueue,
        clock: Clock,
        grace: timedelta,
        *,
        horizon: timedelta = timedelta(days=1),
        calendar_sync: bool = False,
    ) -> None:
        self.uow, self.queue, self.clock, self.grace = uow, queue, clock, grace
        self.horizon, self.calendar_sync = horizon, calendar_sync

    def __call__(self) -> int:
        return self.reconcile().total

    def reconcile(self) -> Reconciled:
        now = self.clock.now()
        # Every tenant's stale messages: the reconciler spans tenants, on purpose.
        with self.uow.across_tenants():
            stale = self.uow.messages.list_queued(created_before=now - self.grace)
            stuck = self.uow.messages.list_sending(updated_before=now - self.grace)
            conversations = {
                m.conversation_id: self.uow.conversations.get(m.tenant_id, m.conversation_id)
                for m in (*stale, *stuck)
                if m.conversation_id
            }
        counts = {MessageStatus.QUEUED: 0, MessageStatus.SENDING: 0}
        for message in (*stale, *stuck):
            conversation = conversations.get(message.conversation_id or "")
            if _enqueue(self.queue, message, now, conversation=conversation):
                counts[message.status] += 1
        return Reconciled(
            counts[MessageStatus.QUEUED],
            counts[MessageStatus.SENDING],
            photos=self._photos(now),
            calendar=self._calendar(now) if self.calendar_sync else 0,
        )

    def _photos(self, now: datetime) -> int:
        with self.uow.across_tenants():
            received = self.uow.messages.list_received(
                created_after=now - self.horizon, created_before=now - self.grace
            )
        owed = [m for m in received if needs_copy(m)]
        return sum(1 for m in owed if enqueue_copy_media(self.queue, m, now))

    def _calendar(self, now: datetime) -> int:
        with self.uow.across_tenants():
            behind = self.uow.bookings.list_calendar_behind(
                updated_after=now - self.horizon, updated_before=now - self.grace
            )
            tenants = {b.tenant_id: self.uow.tenants.get(b.tenant_id) for b in behind}
        owed = [
            b for b in behind
            if (tenant := tenants[b.tenant_id]) is not None and tenant.google_calendar_id
        ]  # fmt: skip
        return sum(1 for b in owed if enqueue_calendar_sync(self.queue, b, now))

"""A lead's conversation on the dashboard (DESIGN §4.2): the messages, oldest first, with
links to the stored photos; the owner's manual reply; and the whole thread for the CLI."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from lily_core.domain.leads import Channel, Lead, LeadStatus, Message, MessageKind
from lily_core.domain.pagination import PAGE_MAX, Cursor, Page
from lily_core.domain.sanitize import clean_text
from lily_core.errors import Conflict, InvalidInput, NotFound
from lily_core.ports.clock import Clock
from lily_core.ports.providers import PhotoStore
from lily_core.ports.queue import JitterQueue
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.dashboard_leads import find_lead
from lily_core.use_cases.outbox import enqueue_send, open_conversation, queue_message

__all__ = [
    "LINK_SECONDS",
    "MANUAL_BODY_MAX",
    "LeadThread",
    "ListLeadMessages",
    "MediaLink",
    "MessageView",
    "SendManualReply",
    "ShowLeadThread",
]

LINK_SECONDS = 15 * 60  # how long a photo link works
MANUAL_BODY_MAX = 1600  # Twilio's limit for one message body


@attrs.frozen
class MediaLink:
    """A photo or other attachment. `url` is a short-lived link to the copy in the photo
    store; None while it is not copied yet (or could not be: the entry has an error): the
    provider's own URL needs the provider's credentials and is never handed out."""

    url: str | None
    content_type: str


@attrs.frozen
class MessageView:
    """A message as the dashboard shows it: with its conversation's channel (SMS when it
    belongs to none) and links to its media."""

    message: Message
    channel: Channel
    media: tuple[MediaLink, ...] = ()


def _views(
    uow: UnitOfWork, photos: PhotoStore, tenant_id: str, messages: list[Message]
) -> list[MessageView]:
    channels: dict[str | None, Channel] = {None: Channel.SMS}
    for ident in {m.conversation_id for m in messages} - channels.keys():
        found = uow.conversations.get(tenant_id, ident) if ident else None
        channels[ident] = found.channel if found else Channel.SMS
    return [MessageView(m, channels[m.conversation_id], tuple(_links(photos, m))) for m in messages]


def _links(photos: PhotoStore, message: Message) -> Iterable[MediaLink]:
    for entry in message.media:
        key = entry.get("stored_key")
        url = photos.url_for(str(key), expires_seconds=LINK_SECONDS) if key else None
        yield MediaLink(url, str(entry.get("content_type") or "application/octet-stream"))


class ListLeadMessages:
    """A page of a lead's messages, oldest first (all channels, in and out, whatever their
    status: held, suppressed and sandbox texts included)."""

    def __init__(self, uow: UnitOfWork, photos: PhotoStore) -> None:
        self.uow, self.photos = uow, photos

    def __call__(
        self, tenant_id: str, lead_id: str, *, limit: int = 50, after: Cursor | None = None
    ) -> Page[MessageView]:
        if not 1 <= limit <= PAGE_MAX:
            raise InvalidInput(f"must be between 1 and {PAGE_MAX}", field="limit")
        with self.uow.for_tenant(tenant_id):
            lead = find_lead(self.uow, tenant_id, lead_id)
            page = self.uow.messages.list_for_lead(
                tenant_id, lead.id, limit=limit, after=after, oldest_first=True
            )
            views = _views(self.uow, self.photos, tenant_id, page.items)
        return Page(views, page.next_cursor)


class SendManualReply:
    """The owner's own reply to a lead: stored as a QUEUED MANUAL message in the lead's
    current conversation (an SMS one, or the Chatwoot conversation the lead writes from)
    and enqueued at once -- no jitter; SendMessage sends it through quiet hours and paused
    automations, but never to a lead who opted out (checked here, 409, and again at send
    time). A body of 1 to MANUAL_BODY_MAX characters once trimmed, else InvalidInput."""

    def __init__(self, uow: UnitOfWork, queue: JitterQueue, clock: Clock) -> None:
        self.uow, self.queue, self.clock = uow, queue, clock

    def __call__(
        self, tenant_id: str, lead_id: str, body: str, *, request_id: str | None = None
    ) -> MessageView:
        text = clean_text(body).strip()
        if not 1 <= len(text) <= MANUAL_BODY_MAX:
            raise InvalidInput(f"must be 1 to {MANUAL_BODY_MAX} characters", field="body")
        now = self.clock.now()
        with self.uow.for_tenant(tenant_id):
            lead = find_lead(self.uow, tenant_id, lead_id)
            tenant = self.uow.tenants.get(tenant_id)
            if tenant is None:
                raise NotFound(f"no lead {lead_id}")
            if lead.opted_out:
                raise Conflict("the lead opted out of texts")
            conversation = self.uow.conversations.latest_for_lead(tenant_id, lead.id)
            if conversation is None or conversation.channel == Channel.SMS:
                if not lead.phone:
                    raise Conflict("the lead has no phone number to text")
                conversation = open_conversation(self.uow, tenant, lead, now)
            conversation.updated_at = now
            message = queue_message(
                self.uow, lead, conversation, kind=MessageKind.MANUAL, body=text, now=now
            )
            if lead.status == LeadStatus.NEW:
                lead.status = LeadStatus.CONTACTED
            self.uow.commit()
        enqueue_send(self.queue, message, now, conversation=conversation, request_id=request_id)
        return MessageView(message, conversation.channel)


@attrs.frozen
class LeadThread:
    lead: Lead
    tenant_slug: str
    messages: list[MessageView]


class ShowLeadThread:
    """For the operator's CLI: a lead of any tenant and every one of its messages, oldest
    first."""

    def __init__(self, uow: UnitOfWork, photos: PhotoStore) -> None:
        self.uow, self.photos = uow, photos

    def __call__(self, lead_id: str) -> LeadThread:
        # The operator's CLI names a lead without its tenant: found across tenants.
        with self.uow.across_tenants():
            lead = self.uow.leads.locate(lead_id)
            tenant = self.uow.tenants.get(lead.tenant_id) if lead else None
            if lead is None or tenant is None:
                raise NotFound(f"no lead {lead_id}")
            messages: list[Message] = []
            after: Cursor | None = None
            while True:
                page = self.uow.messages.list_for_lead(
                    lead.tenant_id, lead.id, limit=PAGE_MAX, after=after, oldest_first=True
                )
                messages.extend(page.items)
                if page.next_cursor is None:
                    break
                after = Cursor.decode(page.next_cursor)
            views = _views(self.uow, self.photos, lead.tenant_id, messages)
        return LeadThread(lead, tenant.slug, views)

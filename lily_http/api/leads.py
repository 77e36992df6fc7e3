"""The dashboard's leads and their conversations (DESIGN §4.2): `/api/v1/leads...`.

Handlers are plain `def`s (FastAPI runs them in its thread pool): each takes the caller's
tenant, calls one use case and renders it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from lily_core.domain.lead_search import SEARCH_MAX
from lily_core.domain.leads import Channel, Direction, Lead, LeadStatus, MessageKind, MessageStatus
from lily_core.use_cases.dashboard_leads import is_unread
from lily_core.use_cases.dashboard_messages import MANUAL_BODY_MAX, MessageView
from lily_http.api.auth import Caller
from lily_http.api.errors import error_responses
from lily_http.api.pagination import CursorParam, LimitParam, Paged, cursor_from
from lily_http.deps import ContainerDep, RequestIdDep

router = APIRouter(prefix="/leads", tags=["leads"])

LeadId = Annotated[str, Path(max_length=64, description="The lead's id")]
# A body that is not JSON at all is 400, before any validation (FastAPI's own check); a write
# signed by the session cookie without its CSRF token is 403 (lily_http.api.auth).


class LeadItem(BaseModel):
    id: str
    name: str | None
    phone: str | None = Field(description="E.164")
    email: str | None
    zip: str | None
    status: LeadStatus
    opted_out: bool
    created_at: datetime
    last_activity_at: datetime | None = Field(
        description="The newest message in or out; null before the first one"
    )
    unread: bool = Field(description="The lead wrote since the conversation was last read")

    @classmethod
    def of(cls, lead: Lead) -> LeadItem:
        return cls(**_lead_fields(lead))


class LeadDetail(LeadItem):
    automations_paused: bool = Field(description="Lily sends this lead nothing automated")
    opted_out_at: datetime | None
    first_contact_at: datetime | None = Field(description="When the first text went out")
    last_inbound_at: datetime | None = Field(description="The lead's newest message")
    last_read_at: datetime | None = Field(description="When the conversation was last read")

    @classmethod
    def of(cls, lead: Lead) -> LeadDetail:
        return cls(
            **_lead_fields(lead),
            automations_paused=lead.automations_paused,
            opted_out_at=lead.opted_out_at,
            first_contact_at=lead.first_contact_at,
            last_inbound_at=lead.last_inbound_at,
            last_read_at=lead.last_read_at,
        )


def _lead_fields(lead: Lead) -> dict[str, object]:
    return {
        "id": lead.id,
        "name": lead.name,
        "phone": lead.phone,
        "email": lead.email,
        "zip": lead.zip,
        "status": lead.status,
        "opted_out": lead.opted_out,
        "created_at": lead.created_at,
        "last_activity_at": lead.last_activity_at,
        "unread": is_unread(lead),
    }


class LeadChanges(BaseModel):
    """The fields to change; those left out stay as they are. Null or "" clears name,
    email and zip."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    zip: str | None = Field(None, max_length=10, description="A 5-digit US ZIP")
    status: LeadStatus | None = Field(None, description="Not null")
    automations_paused: bool | None = Field(
        None,
        description="Hold Lily's automated texts to this lead; manual replies still go. Not null",
    )


class Media(BaseModel):
    url: str | None = Field(
        description="A link to the stored photo, valid for 15 minutes; null until the photo "
        "is copied from the provider (or if it could not be)"
    )
    content_type: str


class MessageItem(BaseModel):
    id: str
    direction: Direction
    channel: Channel
    kind: MessageKind
    body: str
    media: list[Media]
    status: MessageStatus
    error_code: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, view: MessageView) -> MessageItem:
        m = view.message
        return cls(
            id=m.id,
            direction=m.direction,
            channel=view.channel,
            kind=m.kind,
            body=m.body,
            media=[Media(url=link.url, content_type=link.content_type) for link in view.media],
            status=m.status,
            error_code=m.error_code,
            created_at=m.created_at,
            sent_at=m.sent_at,
        )


class ManualReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MANUAL_BODY_MAX)


@router.get("", operation_id="listLeads", responses=error_responses(401, 422))
def list_leads(
    caller: Caller,
    container: ContainerDep,
    status: Annotated[LeadStatus | None, Query(description="Only leads in this status")] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=SEARCH_MAX,
            description="Part of the name or email, or digits of the phone number",
        ),
    ] = None,
    opted_out: Annotated[bool | None, Query(description="Only (un)subscribed leads")] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> Paged[LeadItem]:
    """The tenant's leads, newest activity first."""
    page = container.list_leads()(
        caller.tenant.id,
        status=status,
        search=q,
        opted_out=opted_out,
        limit=limit,
        after=cursor_from(cursor),
    )
    return Paged(items=[LeadItem.of(lead) for lead in page.items], next_cursor=page.next_cursor)


@router.get("/{lead_id}", operation_id="getLead", responses=error_responses(401, 404, 422))
def get_lead(caller: Caller, container: ContainerDep, lead_id: LeadId) -> LeadDetail:
    """One lead."""
    return LeadDetail.of(container.get_lead()(caller.tenant.id, lead_id))


@router.patch(
    "/{lead_id}",
    operation_id="updateLead",
    responses=error_responses(400, 401, 403, 404, 422),
)
def update_lead(
    caller: Caller, container: ContainerDep, lead_id: LeadId, changes: LeadChanges
) -> LeadDetail:
    """Change a lead's name, email, ZIP, status or whether automations are paused."""
    given = changes.model_dump(exclude_unset=True)
    return LeadDetail.of(container.update_lead()(caller.tenant.id, lead_id, given))


@router.get(
    "/{lead_id}/messages",
    operation_id="listLeadMessages",
    responses=error_responses(401, 404, 422),
)
def list_lead_messages(
    caller: Caller,
    container: ContainerDep,
    lead_id: LeadId,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> Paged[MessageItem]:
    """The lead's messages, oldest first."""
    page = container.list_lead_messages()(
        caller.tenant.id, lead_id, limit=limit, after=cursor_from(cursor)
    )
    return Paged(items=[MessageItem.of(v) for v in page.items], next_cursor=page.next_cursor)


@router.post(
    "/{lead_id}/messages",
    status_code=201,
    operation_id="sendLeadMessage",
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def send_lead_message(
    caller: Caller,
    container: ContainerDep,
    request_id: RequestIdDep,
    lead_id: LeadId,
    reply: ManualReply,
) -> MessageItem:
    """Queue the owner's reply: it goes out within seconds, through quiet hours and paused
    automations (409 if the lead opted out)."""
    view = container.send_manual_reply()(
        caller.tenant.id, lead_id, reply.body, request_id=request_id
    )
    return MessageItem.of(view)


@router.post(
    "/{lead_id}/read",
    status_code=204,
    response_class=Response,
    operation_id="markLeadRead",
    responses=error_responses(401, 403, 404, 422),
)
def mark_lead_read(caller: Caller, container: ContainerDep, lead_id: LeadId) -> None:
    """Mark the lead's conversation read."""
    container.mark_lead_read()(caller.tenant.id, lead_id)

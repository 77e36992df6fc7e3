"""The caller's tenant's settings (DESIGN §4.2): `GET`, `PATCH /api/v1/tenant`. The settings
are those `lily tenant update` takes; secrets are never shown, only whether each is set."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from lily_http.api.auth import Caller, OwnerCaller
from lily_http.api.errors import error_responses
from lily_http.deps import ContainerDep

router = APIRouter(prefix="/tenant", tags=["tenant"])

_TEXT = 1000  # longer than any setting's limit: the core names the exact one


class WebhookUrls(BaseModel):
    """Where to point each provider at this tenant."""

    twilio_voice: str = Field(description="The business number's voice webhook (POST)")
    twilio_sms: str = Field(description="The business number's messaging webhook (POST)")
    calcom: str = Field(description="Cal.com webhook; sign it with the Cal.com secret")
    chatwoot: str = Field(description="Chatwoot webhook, if the tenant replies in Chatwoot")


class TenantSettings(BaseModel):
    id: str
    slug: str
    phone: str = Field(description="The business number (E.164)")
    name: str
    forward_to: str | None = Field(description="Where calls ring before Lily texts back")
    booking_url: str | None
    review_url: str | None
    timezone: str
    zip: str | None
    google_calendar_id: str | None
    quiet_hours: str = Field(description="HH:MM-HH:MM, local time")
    strict_quiet_hours: bool
    missed_call_template: str
    missed_call_dedupe_minutes: int
    conversational_window_minutes: int
    review_delay_hours: int
    review_cooldown_days: int
    chatwoot_account_id: int | None
    chatwoot_inbox_id: int | None
    twilio_account_sid: str | None = Field(description="The tenant's own Twilio subaccount")
    automations_paused: bool
    help_contact: str | None = Field(
        description="The HELP answer's phone number or email; null: the business number"
    )
    help_message: str | None = Field(description="A sentence of the tenant's own in HELP")
    opt_out_notice: bool = Field(description="The first text-back says how to opt out")
    opt_out_notice_changed_at: datetime | None = Field(
        description="When the tenant last turned the opt-out line on or off"
    )
    notify_to: list[str] = Field(
        description="The owner's numbers for alerts (E.164); empty: forward_to"
    )
    alert_new_lead: bool = Field(description="Alert the owner of a missed call (a new lead)")
    alert_quote: bool = Field(description="Alert the owner of photos + ZIP and the quote sent")
    alert_booking: bool = Field(description="Alert the owner of a booking made, moved, cancelled")
    alert_needs_reply: bool = Field(description="Alert the owner of a reply Lily cannot answer")
    alert_opt_out: bool = Field(description="Alert the owner of a customer's opt-out")
    alert_quiet_hours: str | None = Field(
        description="HH:MM-HH:MM local: the owner's own quiet hours (alerts wait for the "
        "morning summary); null: none"
    )
    alerts_per_hour: int = Field(description="At most this many alert texts in any hour")
    alert_recipients: list[str] = Field(
        description="Who gets alerts now: notify_to (else forward_to) less those who said STOP"
    )
    alert_stops: dict[str, datetime] = Field(
        description="The owner's numbers that replied STOP to an alert, and when (START undoes)"
    )
    alerts_sent_this_month: int = Field(
        description="Alert SMS sent this month (UTC), not counted in the plan's allowance"
    )
    digest_enabled: bool = Field(description="Send the owner yesterday's figures every day")
    digest_time: str = Field(description="HH:MM local: when the daily digest goes")
    digest_email: str | None = Field(
        description="Also email the digest here (when LILY_SMTP_URL is set)"
    )
    calcom_secret_set: bool
    chatwoot_secret_set: bool
    twilio_auth_token_set: bool
    webhooks: WebhookUrls


class TenantChanges(BaseModel):
    """The settings to change, validated as `lily tenant update` validates them; those left
    out stay as they are, null clears an optional one. The Twilio SID and token go together."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=_TEXT)
    forward_to: str | None = Field(None, max_length=_TEXT, description="E.164")
    booking_url: str | None = Field(None, max_length=_TEXT)
    review_url: str | None = Field(None, max_length=_TEXT)
    timezone: str | None = Field(None, max_length=_TEXT, description="An IANA name")
    zip: str | None = Field(None, max_length=_TEXT)
    calcom_secret: str | None = Field(None, max_length=_TEXT, description="Write only")
    google_calendar_id: str | None = Field(None, max_length=_TEXT)
    quiet_hours: str | None = Field(None, max_length=_TEXT, description="HH:MM-HH:MM")
    strict_quiet_hours: bool | None = None
    missed_call_template: str | None = Field(
        None, max_length=_TEXT, description="May use {business}, the business's name"
    )
    missed_call_dedupe_minutes: int | None = None
    conversational_window_minutes: int | None = None
    review_delay_hours: int | None = None
    review_cooldown_days: int | None = None
    chatwoot_account_id: int | None = None
    chatwoot_inbox_id: int | None = None
    chatwoot_secret: str | None = Field(None, max_length=_TEXT, description="Write only")
    twilio_account_sid: str | None = Field(None, max_length=_TEXT)
    twilio_auth_token: str | None = Field(None, max_length=_TEXT, description="Write only")
    automations_paused: bool | None = None
    help_contact: str | None = Field(None, max_length=_TEXT, description="E.164 or an email")
    help_message: str | None = Field(None, max_length=_TEXT, description="At most 160 chars")
    opt_out_notice: bool | None = None
    notify_to: list[Annotated[str, Field(max_length=40)]] | None = Field(
        None, max_length=5, description="E.164 numbers; [] or null: forward_to"
    )
    alert_new_lead: bool | None = None
    alert_quote: bool | None = None
    alert_booking: bool | None = None
    alert_needs_reply: bool | None = None
    alert_opt_out: bool | None = None
    alert_quiet_hours: str | None = Field(
        None, max_length=_TEXT, description="HH:MM-HH:MM; null: none"
    )
    alerts_per_hour: int | None = Field(None, description="1 to 60")
    digest_enabled: bool | None = None
    digest_time: str | None = Field(None, max_length=_TEXT, description="HH:MM")
    digest_email: str | None = Field(None, max_length=_TEXT)


def _render(settings: dict[str, Any], public_url: str) -> TenantSettings:
    base, slug = public_url.rstrip("/"), settings["slug"]
    webhooks = WebhookUrls(
        twilio_voice=f"{base}/webhooks/twilio/voice",
        twilio_sms=f"{base}/webhooks/twilio/sms",
        calcom=f"{base}/webhooks/calcom/{slug}",
        chatwoot=f"{base}/webhooks/chatwoot/{slug}",
    )
    return TenantSettings(**settings, webhooks=webhooks)


@router.get("", operation_id="getTenant", responses=error_responses(401, 404))
def get_tenant(caller: Caller, container: ContainerDep) -> TenantSettings:
    """The tenant's settings and the webhook URLs to give its providers."""
    settings = container.get_tenant_settings()(caller)
    return _render(settings, container.settings().public_url)


@router.patch(
    "",
    operation_id="updateTenant",
    responses=error_responses(400, 401, 403, 404, 422),
)
def update_tenant(
    caller: OwnerCaller, container: ContainerDep, changes: TenantChanges
) -> TenantSettings:
    """Change some settings (422 naming the first one at fault; nothing is changed then).
    Owners only."""
    given = changes.model_dump(exclude_unset=True)
    settings = container.update_tenant_settings()(caller, given)
    return _render(settings, container.settings().public_url)

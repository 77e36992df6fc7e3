"""`/api/v1/billing` (DESIGN §2.4): the tenant's plan, status and usage; and for owners the
Stripe Checkout and Billing Portal pages, which return to the dashboard's billing page."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from lily_core.domain.billing import Plan
from lily_core.use_cases.billing import BillingView
from lily_http.api.auth import Caller, OwnerCaller
from lily_http.api.errors import error_responses
from lily_http.deps import ContainerDep

router = APIRouter(prefix="/billing", tags=["billing"])


class BillingOut(BaseModel):
    enabled: bool = Field(
        description="false when billing is off on this Lily (no Stripe): no trial, no limit"
    )
    plan: Plan | None = Field(description="The plan subscribed to; null in the trial")
    status: str = Field(
        description="Stripe's subscription status (active, past_due, canceled, unpaid, "
        "incomplete, incomplete_expired, trialing, paused); before any subscription "
        "trialing or trial_ended; disabled when billing is off"
    )
    trial_ends_at: datetime | None = Field(description="When the trial ends (or ended)")
    current_period_end: datetime | None = Field(description="The subscription's period end")
    sms_used: int = Field(description="Automated SMS sent this month (UTC)")
    sms_limit: int | None = Field(description="This month's allowance; null: unlimited")
    manual_sms: int = Field(description="Manual replies sent this month, not counted")
    alert_sms: int = Field(
        description="SMS to the owner's own phones this month (UTC): alerts and daily "
        "digests, counted apart, never in sms_used nor against the allowance"
    )
    held_reason: str | None = Field(
        description="Why automated messages are held now (trial_ended, subscription_canceled, "
        "subscription_unpaid, subscription_expired, subscription_paused, "
        "past_due_beyond_grace, sms_allowance_reached); null: they go out"
    )

    @classmethod
    def of(cls, view: BillingView) -> BillingOut:
        state = view.state
        return cls(
            enabled=view.enabled,
            plan=state.plan if state else None,
            status=state.status if state else "disabled",
            trial_ends_at=state.trial_ends_at if state else None,
            current_period_end=state.current_period_end if state else None,
            sms_used=view.usage.automated,
            sms_limit=state.sms_limit if state else None,
            manual_sms=view.usage.manual,
            alert_sms=view.alert_sms,
            held_reason=view.held_reason.value if view.held_reason else None,
        )


class CheckoutIn(BaseModel):
    plan: Plan


class RedirectOut(BaseModel):
    url: str = Field(description="The Stripe page to send the owner to")


@router.get("", operation_id="getBilling", responses=error_responses(401))
async def get_billing(caller: Caller, container: ContainerDep) -> BillingOut:
    """The tenant's plan, subscription status, this month's usage and any hold."""
    view = await run_in_threadpool(container.get_billing(), caller)
    return BillingOut.of(view)


@router.post(
    "/checkout",
    operation_id="createCheckoutSession",
    responses=error_responses(400, 401, 403, 404, 422, 502),
)
async def create_checkout_session(
    body: CheckoutIn, caller: OwnerCaller, container: ContainerDep
) -> RedirectOut:
    """A Stripe Checkout page subscribing the tenant to `plan` (404 when billing is off)."""
    url = await run_in_threadpool(container.start_checkout(), caller, body.plan)
    return RedirectOut(url=url)


@router.post(
    "/portal",
    operation_id="createPortalSession",
    responses=error_responses(401, 403, 404, 502),
)
async def create_portal_session(caller: OwnerCaller, container: ContainerDep) -> RedirectOut:
    """A Stripe Billing Portal page for the tenant (404 when billing is off)."""
    url = await run_in_threadpool(container.open_portal(), caller)
    return RedirectOut(url=url)

"""A tenant's billing (DESIGN §2.4): what the dashboard and `lily tenant show` display, and
the Stripe Checkout and Billing Portal pages an owner is sent to."""

from __future__ import annotations

from datetime import datetime

import attrs

from lily_core.domain.billing import (
    BillingPolicy,
    BillingState,
    HoldReason,
    Plan,
    billing_state,
    hold_reason,
    usage_period,
)
from lily_core.domain.principal import Principal
from lily_core.domain.records import SmsUsage, Subscription
from lily_core.domain.tenant import Tenant
from lily_core.errors import Conflict, NotFound
from lily_core.ports.clock import Clock
from lily_core.ports.providers import PaymentGateway
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.tenants import alerts_sent_this_month

__all__ = [
    "BILLING_OFF",
    "BillingView",
    "GetBilling",
    "OpenPortal",
    "StartCheckout",
    "billing_view",
]

BILLING_OFF = "billing is not set up on this Lily (no LILY_STRIPE_SECRET_KEY)"


@attrs.frozen
class BillingView:
    """A tenant's billing now. `state` is None when billing is off (no trial, no limit);
    `held_reason` is why automated messages are held right now, if they are; `alert_sms`
    the SMS sent to the owner's own phones this month (alerts and digests, issue 18),
    counted apart from `usage` and never against the allowance."""

    state: BillingState | None
    usage: SmsUsage
    held_reason: HoldReason | None
    alert_sms: int = 0

    @property
    def enabled(self) -> bool:
        return self.state is not None


def billing_view(
    uow: UnitOfWork, tenant: Tenant, now: datetime, policy: BillingPolicy | None
) -> BillingView:
    """The tenant's BillingView, read in `uow` (scoped to the tenant, inside its block)."""
    usage = uow.sms_usage.get(tenant.id, usage_period(now))
    alert_sms = alerts_sent_this_month(uow, tenant.id, now)
    if policy is None:
        return BillingView(None, usage, None, alert_sms)
    state = billing_state(
        uow.subscriptions.get(tenant.id),
        trial_ends_at=policy.trial_ends_at(tenant.created_at),
        now=now,
        policy=policy,
    )
    return BillingView(state, usage, hold_reason(state, usage.automated), alert_sms)


class GetBilling:
    """The caller's tenant's BillingView (any role may look)."""

    def __init__(self, uow: UnitOfWork, clock: Clock, policy: BillingPolicy | None) -> None:
        self.uow, self.clock, self.policy = uow, clock, policy

    def __call__(self, principal: Principal) -> BillingView:
        tenant = principal.tenant
        with self.uow.for_tenant(tenant.id):
            return billing_view(self.uow, tenant, self.clock.now(), self.policy)


class _WithCustomer:
    """The tenant's one Stripe customer: made on first need, kept in its subscription row,
    reused by every Checkout and Portal session."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        gateway: PaymentGateway | None,
        dashboard_url: str,
    ) -> None:
        self.uow, self.clock, self._gateway = uow, clock, gateway
        self.dashboard_url = dashboard_url

    @property
    def gateway(self) -> PaymentGateway:
        if self._gateway is None:
            raise NotFound(BILLING_OFF)
        return self._gateway

    def customer_id(self, tenant: Tenant) -> str:
        with self.uow.for_tenant(tenant.id):
            found = self.uow.subscriptions.get(tenant.id)
        if found is not None and found.stripe_customer_id:
            return found.stripe_customer_id
        # No transaction is held open while Stripe answers. Two requests racing here get
        # the same customer: the gateway's create is idempotent per tenant.
        customer_id = self.gateway.create_customer(tenant)
        for _ in range(2):  # a second try after losing the race to create the row
            with self.uow.for_tenant(tenant.id):
                row = self.uow.subscriptions.get(tenant.id)
                if row is None:
                    row = Subscription(tenant_id=tenant.id, updated_at=self.clock.now())
                    self.uow.subscriptions.add(row)
                if row.stripe_customer_id:
                    return row.stripe_customer_id
                row.stripe_customer_id, row.updated_at = customer_id, self.clock.now()
                try:
                    self.uow.commit()
                except Conflict:
                    continue
                return customer_id
        raise Conflict("the tenant's billing changed meanwhile; try again")


class StartCheckout(_WithCustomer):
    """A Stripe Checkout page subscribing the caller's tenant (owners only) to `plan`;
    back to the dashboard's billing page after it, paid or not. NotFound when billing is
    off."""

    def __call__(self, principal: Principal, plan: Plan) -> str:
        principal.require_owner()
        tenant = principal.tenant
        customer_id = self.customer_id(tenant)
        return self.gateway.checkout_url(
            tenant,
            plan=plan,
            customer_id=customer_id,
            success_url=f"{self.dashboard_url}?checkout=success",
            cancel_url=f"{self.dashboard_url}?checkout=cancel",
        )


class OpenPortal(_WithCustomer):
    """A Stripe Billing Portal page for the caller's tenant's customer (owners only),
    returning to the dashboard's billing page. NotFound when billing is off."""

    def __call__(self, principal: Principal) -> str:
        principal.require_owner()
        customer_id = self.customer_id(principal.tenant)
        return self.gateway.portal_url(customer_id, return_url=self.dashboard_url)

"""Billing rules (DESIGN §2.4), pure: what a tenant's subscription, trial and usage allow.

`may_send` is the rule the send path applies to every automated message; `billing_state`
is what the dashboard and `lily tenant show` display; `apply_subscription` and
`apply_invoice` are how what Stripe says changes the stored subscription."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import attrs

from lily_core.domain.records import Subscription


class Plan(enum.StrEnum):
    STARTER = "starter"
    PRO = "pro"


class SubscriptionStatus(enum.StrEnum):
    """Stripe's subscription statuses, and NONE before Lily knows of any subscription."""

    NONE = "none"
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"


# Lily's own trial, before any Stripe subscription: how billing_state reports it.
TRIAL_ENDED = "trial_ended"


class HoldReason(enum.StrEnum):
    """Why automated messages are held. The value is stored as the held message's
    error_code (at most 32 characters), so the release finds the billing holds."""

    TRIAL_ENDED = "trial_ended"
    CANCELED = "subscription_canceled"
    UNPAID = "subscription_unpaid"
    EXPIRED = "subscription_expired"
    PAUSED = "subscription_paused"
    PAST_DUE = "past_due_beyond_grace"
    ALLOWANCE = "sms_allowance_reached"

    @property
    def explanation(self) -> str:
        return _EXPLANATIONS[self]


_EXPLANATIONS = {
    HoldReason.TRIAL_ENDED: "held: the trial ended with no subscription",
    HoldReason.CANCELED: "held: the subscription is canceled",
    HoldReason.UNPAID: "held: the subscription is unpaid",
    HoldReason.EXPIRED: "held: the subscription's first payment never came (incomplete_expired)",
    HoldReason.PAUSED: "held: the subscription is paused",
    HoldReason.PAST_DUE: "held: the subscription is past due beyond the grace period",
    HoldReason.ALLOWANCE: "held: this month's automated-SMS allowance is used up",
}

_STATUS_HOLDS = {
    SubscriptionStatus.CANCELED: HoldReason.CANCELED,
    SubscriptionStatus.UNPAID: HoldReason.UNPAID,
    SubscriptionStatus.INCOMPLETE_EXPIRED: HoldReason.EXPIRED,
    SubscriptionStatus.PAUSED: HoldReason.PAUSED,
}


@attrs.frozen
class BillingPolicy:
    """The platform's billing settings (LILY_TRIAL_DAYS, LILY_BILLING_GRACE_DAYS,
    LILY_PLAN_*_SMS). Billing off is no policy at all (None), not a policy."""

    trial: timedelta = timedelta(days=14)
    grace: timedelta = timedelta(days=7)
    starter_sms: int = 500
    pro_sms: int = 5000

    def allowance(self, plan: Plan | None) -> int:
        """The plan's monthly automated-SMS allowance; the starter's for a trial or a price
        Lily does not know."""
        return self.pro_sms if plan is Plan.PRO else self.starter_sms

    def trial_ends_at(self, tenant_created_at: datetime) -> datetime:
        return tenant_created_at + self.trial


@attrs.frozen
class BillingState:
    """A tenant's billing as of one instant. `status` is Stripe's, or for Lily's own trial
    (no subscription yet) "trialing" / "trial_ended"; `hold` is the hold that the
    subscription alone imposes, usage aside."""

    status: str
    plan: Plan | None
    trial_ends_at: datetime | None
    current_period_end: datetime | None
    sms_limit: int
    hold: HoldReason | None


def billing_state(
    subscription: Subscription | None,
    *,
    trial_ends_at: datetime,
    now: datetime,
    policy: BillingPolicy,
) -> BillingState:
    """The tenant's billing at `now`. Before any Stripe subscription the tenant is in
    Lily's trial until `trial_ends_at`, then held. With one, Stripe's status decides:
    canceled, unpaid, incomplete_expired and paused hold; past_due holds once it has
    lasted longer than the policy's grace; active, trialing, incomplete (a first payment
    under way) and statuses Lily does not know do not."""
    status = SubscriptionStatus.NONE if subscription is None else subscription.status
    if status == SubscriptionStatus.NONE or subscription is None:
        ended = now >= trial_ends_at
        return BillingState(
            status=TRIAL_ENDED if ended else SubscriptionStatus.TRIALING,
            plan=None,
            trial_ends_at=trial_ends_at,
            current_period_end=None,
            sms_limit=policy.allowance(None),
            hold=HoldReason.TRIAL_ENDED if ended else None,
        )
    plan = _plan(subscription.plan)
    hold = _STATUS_HOLDS.get(SubscriptionStatus(status)) if status in _KNOWN else None
    if status == SubscriptionStatus.PAST_DUE:
        since = subscription.past_due_since or now
        hold = HoldReason.PAST_DUE if now - since > policy.grace else None
    return BillingState(
        status=status,
        plan=plan,
        trial_ends_at=None,
        current_period_end=subscription.current_period_end,
        sms_limit=policy.allowance(plan),
        hold=hold,
    )


_KNOWN = frozenset(s.value for s in SubscriptionStatus)


def _plan(value: str | None) -> Plan | None:
    return Plan(value) if value in (Plan.STARTER, Plan.PRO) else None


def hold_reason(state: BillingState, sms_used: int) -> HoldReason | None:
    """Why an automated SMS may not go out in this state with `sms_used` counted this
    month (None: it may)."""
    if state.hold is not None:
        return state.hold
    return HoldReason.ALLOWANCE if sms_used >= state.sms_limit else None


def may_send(
    subscription: Subscription | None,
    *,
    trial_ends_at: datetime,
    now: datetime,
    sms_used: int,
    policy: BillingPolicy,
) -> HoldReason | None:
    """May an automated SMS go out? None if so, else why not: `hold_reason` of
    `billing_state`."""
    state = billing_state(subscription, trial_ends_at=trial_ends_at, now=now, policy=policy)
    return hold_reason(state, sms_used)


def usage_period(now: datetime) -> str:
    """The allowance's period: the calendar month in UTC ("2026-06"), the same for every
    tenant whatever its Stripe billing day (a plan change or a missed renewal webhook
    cannot shift it)."""
    return f"{now.year:04d}-{now.month:02d}"


# -- what Stripe says ------------------------------------------------------------------


@attrs.frozen
class StripeSubscription:
    """A Stripe subscription as an event or the API describes it, in the core's terms.
    `plan` is None for a price that is not one of Lily's plans."""

    id: str
    customer_id: str
    status: str
    plan: Plan | None
    current_period_end: datetime | None
    tenant_id: str | None = None  # metadata.tenant_id


class Freshness(enum.Enum):
    NEWER = "newer"
    SAME = "same"  # Stripe's `created` has whole seconds: two events may share one
    OLDER = "older"


def freshness(subscription: Subscription, as_of: datetime) -> Freshness:
    """How news from `as_of` compares with what the stored state was taken from."""
    known = subscription.state_as_of
    if known is None or as_of > known:
        return Freshness.NEWER
    return Freshness.SAME if as_of == known else Freshness.OLDER


def apply_subscription(
    subscription: Subscription, stripe: StripeSubscription, *, as_of: datetime
) -> None:
    """Take Stripe's subscription as the tenant's state as of `as_of` (the event's
    `created`, or the time of an API read). The past-due clock starts at `as_of` when the
    subscription becomes past_due and stops when it no longer is."""
    subscription.stripe_customer_id = stripe.customer_id
    subscription.stripe_subscription_id = stripe.id
    subscription.plan = stripe.plan.value if stripe.plan else None
    subscription.current_period_end = stripe.current_period_end
    _set_status(subscription, stripe.status, as_of)


def apply_invoice(subscription: Subscription, *, paid: bool, as_of: datetime) -> None:
    """An invoice of the subscription was paid, or its payment failed, at `as_of`. Paid:
    a past_due, unpaid or incomplete subscription is active again. Failed: an active or
    trialing one is past_due (an incomplete one stays incomplete: Stripe expires it)."""
    status = subscription.status
    if paid and status in _PAYABLE:
        _set_status(subscription, SubscriptionStatus.ACTIVE, as_of)
    elif not paid and status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
        _set_status(subscription, SubscriptionStatus.PAST_DUE, as_of)
    else:
        subscription.state_as_of = as_of


_PAYABLE = (SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID, SubscriptionStatus.INCOMPLETE)


def _set_status(subscription: Subscription, status: str, as_of: datetime) -> None:
    if status == SubscriptionStatus.PAST_DUE:
        if subscription.status != SubscriptionStatus.PAST_DUE or not subscription.past_due_since:
            subscription.past_due_since = as_of
    else:
        subscription.past_due_since = None
    subscription.status = status
    subscription.state_as_of = as_of


def same_state(a: Subscription, b: Subscription) -> bool:
    """Whether two states of a subscription say the same (status, plan, period end, past-due
    clock and ids)."""
    return _fields(a) == _fields(b)


def _fields(s: Subscription) -> tuple[object, ...]:
    return (
        s.status,
        s.plan,
        s.current_period_end,
        s.past_due_since,
        s.stripe_customer_id,
        s.stripe_subscription_id,
    )


class BillingEventType(enum.StrEnum):
    """The Stripe events Lily acts on; every other type is OTHER (acknowledged, ignored)."""

    CHECKOUT_COMPLETED = "checkout.session.completed"
    SUBSCRIPTION_CREATED = "customer.subscription.created"
    SUBSCRIPTION_UPDATED = "customer.subscription.updated"
    SUBSCRIPTION_DELETED = "customer.subscription.deleted"
    INVOICE_PAID = "invoice.paid"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
    OTHER = "other"

    @classmethod
    def from_raw(cls, raw: str) -> BillingEventType:
        try:
            return cls(raw)
        except ValueError:
            return cls.OTHER


@attrs.frozen(kw_only=True)
class BillingEvent:
    """One verified Stripe event, in the core's terms. `subscription` for the
    customer.subscription.* types; `customer_id` and `subscription_id` for checkout and
    invoices; `tenant_id` is the checkout's client reference."""

    id: str
    type: BillingEventType
    created: datetime
    subscription: StripeSubscription | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    tenant_id: str | None = None

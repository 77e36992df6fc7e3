"""What Stripe tells Lily about a tenant's subscription (DESIGN §2.4): verified webhook
events, once each, in whatever order they arrive; and `lily billing sync`, which asks
Stripe directly (it repairs a missed webhook)."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable
from datetime import datetime

import attrs

from lily_core.domain.billing import (
    BillingEvent,
    BillingEventType,
    Freshness,
    StripeSubscription,
    SubscriptionStatus,
    apply_invoice,
    apply_subscription,
    freshness,
    same_state,
)
from lily_core.domain.records import ProcessedWebhook, Subscription
from lily_core.errors import Conflict, DeliveryError, NotFound
from lily_core.ports.clock import Clock
from lily_core.ports.providers import PaymentGateway
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.billing import BILLING_OFF
from lily_core.use_cases.tenants import find_tenant

__all__ = [
    "PROVIDER",
    "BillingEventOutcome",
    "BillingEventResult",
    "HandleBillingEvent",
    "SyncSubscription",
]

PROVIDER = "stripe"
Release = Callable[[str], int]  # ReleaseHeldMessages for one tenant


class BillingEventOutcome(enum.StrEnum):
    APPLIED = "applied"  # the tenant's subscription changed
    UNCHANGED = "unchanged"  # news that changes nothing
    STALE = "stale"  # older than what the state was taken from: late or out of order
    DUPLICATE = "duplicate"  # this event id was handled already
    IGNORED = "ignored"  # no tenant of Lily's, another subscription, or a type Lily skips


@attrs.frozen
class BillingEventResult:
    outcome: BillingEventOutcome
    tenant_id: str | None = None
    note: str | None = None  # why, for the log, when ignored


_Ignored = BillingEventOutcome.IGNORED


class HandleBillingEvent:
    """Apply one verified Stripe event to its tenant's subscription, at most once per event
    id, never moving the state backwards: an event older than the state's source (its
    `created`) changes nothing; one of the same second that disagrees with the state is
    settled by reading the subscription from Stripe. When the state changed, what billing
    held for the tenant is released if it may go now.

    checkout.session.completed links the customer and subscription to the tenant of its
    client reference; customer.subscription.* set status, plan and period end;
    invoice.paid / invoice.payment_failed move status and the past-due clock. Raises
    DeliveryError when Stripe had to be asked and could not answer, Conflict when other
    requests kept changing the tenant's row meanwhile (either way Stripe delivers again)."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        gateway: PaymentGateway | None,
        release: Release,
    ) -> None:
        self.uow, self.clock, self.gateway, self.release = uow, clock, gateway, release

    def __call__(self, event: BillingEvent) -> BillingEventResult:
        with self.uow:
            if self.uow.webhooks.seen(PROVIDER, event.id):
                return BillingEventResult(BillingEventOutcome.DUPLICATE)
        for attempt in range(2):
            try:
                result = self._handle(event)
                break
            except Conflict:  # another request was faster: with this event, or this tenant
                with self.uow:
                    if self.uow.webhooks.seen(PROVIDER, event.id):
                        return BillingEventResult(BillingEventOutcome.DUPLICATE)
                if attempt:
                    raise
        if result.outcome is BillingEventOutcome.APPLIED and result.tenant_id:
            self.release(result.tenant_id)
        return result

    def _handle(self, event: BillingEvent) -> BillingEventResult:
        kind = event.type
        if kind is BillingEventType.CHECKOUT_COMPLETED:
            return self._checkout(event)
        if event.subscription is not None and kind in _SUBSCRIPTION_EVENTS:
            return self._change(event, event.subscription.customer_id, event.subscription)
        invoice = kind in (BillingEventType.INVOICE_PAID, BillingEventType.INVOICE_PAYMENT_FAILED)
        if invoice and event.customer_id:
            return self._change(event, event.customer_id, None)
        return self._record(event, None, _Ignored, "not an event Lily acts on")

    # -- the ledger -------------------------------------------------------------------

    def _mark(self, event: BillingEvent, tenant_id: str | None) -> None:
        """Add the event to the ledger of the open block (committed with its change)."""
        self.uow.webhooks.add(
            ProcessedWebhook(
                provider=PROVIDER,
                event_id=event.id,
                tenant_id=tenant_id,
                received_at=self.clock.now(),
            )
        )

    def _record(
        self,
        event: BillingEvent,
        tenant_id: str | None,
        outcome: BillingEventOutcome,
        note: str | None = None,
    ) -> BillingEventResult:
        with self.uow:
            self._mark(event, tenant_id)
            self.uow.commit()
        return BillingEventResult(outcome, tenant_id, note)

    # -- the events -------------------------------------------------------------------

    def _checkout(self, event: BillingEvent) -> BillingEventResult:
        tenant_id = event.tenant_id
        with self.uow:
            tenant = self.uow.tenants.get(tenant_id) if tenant_id else None
            if tenant is None:
                self._mark(event, None)
                self.uow.commit()
                return BillingEventResult(_Ignored, None, "client_reference_id names no tenant")
            self.uow.for_tenant(tenant.id)
            row = self._row(tenant.id)
            if row.stripe_customer_id and event.customer_id != row.stripe_customer_id:
                self._mark(event, tenant.id)
                self.uow.commit()
                return BillingEventResult(_Ignored, tenant.id, "another customer than the tenant's")
            row.stripe_customer_id = row.stripe_customer_id or event.customer_id
            if event.subscription_id and freshness(row, event.created) is not Freshness.OLDER:
                row.stripe_subscription_id = event.subscription_id
            row.updated_at = self.clock.now()
            unknown = row.status == SubscriptionStatus.NONE
            self._mark(event, tenant.id)
            self.uow.commit()
        if unknown and event.subscription_id and self.gateway is not None:
            # The subscription's own events may have come first and found no tenant: ask.
            # On failure its customer.subscription.* events will say (or `lily billing sync`).
            with contextlib.suppress(DeliveryError):
                self._read_from_stripe(tenant.id, event.subscription_id, event.created)
        return BillingEventResult(BillingEventOutcome.APPLIED, tenant.id)

    def _change(
        self, event: BillingEvent, customer_id: str, stripe: StripeSubscription | None
    ) -> BillingEventResult:
        """A subscription event (`stripe` given) or an invoice event (None)."""
        with self.uow.across_tenants():
            # Stripe names its customer, not a tenant: find whose it is across tenants,
            # then work for that tenant alone.
            row = self.uow.subscriptions.get_by_customer(customer_id)
            if row is None and stripe is not None and stripe.tenant_id:
                row = self._link(stripe.tenant_id, customer_id)
            if row is None:
                self._mark(event, None)
                self.uow.commit()
                return BillingEventResult(_Ignored, None, "a customer of no tenant")
            tenant_id = row.tenant_id
            self.uow.for_tenant(tenant_id)
            subscription_id = stripe.id if stripe else event.subscription_id
            if (
                stripe is None
                and subscription_id
                and row.stripe_subscription_id
                not in (
                    None,
                    subscription_id,
                )
            ):
                self._mark(event, tenant_id)
                self.uow.commit()
                return BillingEventResult(_Ignored, tenant_id, "an invoice of another subscription")
            fresh = freshness(row, event.created)
            candidate = attrs.evolve(row)
            if stripe is not None:
                apply_subscription(candidate, stripe, as_of=event.created)
            else:
                apply_invoice(
                    candidate,
                    paid=event.type is BillingEventType.INVOICE_PAID,
                    as_of=event.created,
                )
            if fresh is Freshness.OLDER:
                outcome = BillingEventOutcome.STALE
            elif same_state(candidate, row):
                outcome = BillingEventOutcome.UNCHANGED
            elif fresh is Freshness.SAME:
                outcome = None  # two news of one second disagree: Stripe settles it below
            else:
                self._copy(candidate, row)
                outcome = BillingEventOutcome.APPLIED
            if outcome is not None:
                self._mark(event, tenant_id)
                self.uow.commit()
                return BillingEventResult(outcome, tenant_id)
        subscription_id = subscription_id or row.stripe_subscription_id
        if subscription_id is None or self.gateway is None:
            return self._record(event, tenant_id, BillingEventOutcome.UNCHANGED)
        changed = self._read_from_stripe(tenant_id, subscription_id, event.created, event)
        outcome = BillingEventOutcome.APPLIED if changed else BillingEventOutcome.UNCHANGED
        return BillingEventResult(outcome, tenant_id)

    def _read_from_stripe(
        self,
        tenant_id: str,
        subscription_id: str,
        not_before: datetime,
        event: BillingEvent | None = None,
    ) -> bool:
        """Take the subscription as Stripe has it now (newer than any event sent before
        this read); whether the state changed. Marks `event` handled with it."""
        assert self.gateway is not None
        stripe = self.gateway.subscription(subscription_id)
        as_of = max(self.clock.now(), not_before)
        with self.uow.for_tenant(tenant_id):
            row = self._row(tenant_id)
            before = attrs.evolve(row)
            if freshness(row, as_of) is not Freshness.OLDER:
                apply_subscription(row, stripe, as_of=as_of)
                row.updated_at = self.clock.now()
            if event is not None:
                self._mark(event, tenant_id)
            self.uow.commit()
        return not same_state(before, row)

    # -- rows ---------------------------------------------------------------------------

    def _row(self, tenant_id: str) -> Subscription:
        """The tenant's subscription row, added if it has none (inside a scoped block)."""
        row = self.uow.subscriptions.get(tenant_id)
        if row is None:
            row = Subscription(tenant_id=tenant_id, updated_at=self.clock.now())
            self.uow.subscriptions.add(row)
        return row

    def _link(self, tenant_id: str, customer_id: str) -> Subscription | None:
        """The row of the tenant a subscription's metadata names, if that tenant has no
        customer yet (a customer Lily did not make, such as one from an earlier setup)."""
        if self.uow.tenants.get(tenant_id) is None:
            return None
        row = self._row(tenant_id)
        if row.stripe_customer_id not in (None, customer_id):
            return None
        row.stripe_customer_id = customer_id
        return row

    def _copy(self, source: Subscription, target: Subscription) -> None:
        for name in (
            "status",
            "plan",
            "current_period_end",
            "past_due_since",
            "state_as_of",
            "stripe_customer_id",
            "stripe_subscription_id",
        ):
            setattr(target, name, getattr(source, name))
        target.updated_at = self.clock.now()


_SUBSCRIPTION_EVENTS = (
    BillingEventType.SUBSCRIPTION_CREATED,
    BillingEventType.SUBSCRIPTION_UPDATED,
    BillingEventType.SUBSCRIPTION_DELETED,
)


class SyncSubscription:
    """`lily billing sync SLUG`: read the tenant's subscription from Stripe (its known
    subscription, else its customer's newest) and take it as the state now; then release
    what may go. NotFound when billing is off, for an unknown slug, or when Stripe has no
    subscription for the tenant. Returns what Stripe said."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        gateway: PaymentGateway | None,
        release: Release,
    ) -> None:
        self.uow, self.clock, self.gateway, self.release = uow, clock, gateway, release

    def __call__(self, slug: str) -> StripeSubscription:
        if self.gateway is None:
            raise NotFound(BILLING_OFF)
        with self.uow:
            tenant = find_tenant(self.uow, slug)
            row = self.uow.subscriptions.get(tenant.id)
            subscription_id = row.stripe_subscription_id if row else None
            customer_id = row.stripe_customer_id if row else None
        if subscription_id:
            stripe: StripeSubscription | None = self.gateway.subscription(subscription_id)
        elif customer_id:
            stripe = self.gateway.latest_subscription(customer_id)
        else:
            raise NotFound(f"{slug} has no Stripe customer yet (no checkout was started)")
        if stripe is None:
            raise NotFound(f"{slug}'s Stripe customer {customer_id} has no subscription")
        now = self.clock.now()
        with self.uow.for_tenant(tenant.id):
            row = self.uow.subscriptions.get(tenant.id)
            if row is None:
                row = Subscription(tenant_id=tenant.id, updated_at=now)
                self.uow.subscriptions.add(row)
            known = row.state_as_of
            apply_subscription(row, stripe, as_of=max(now, known) if known else now)
            row.updated_at = now
            self.uow.commit()
        self.release(tenant.id)
        return stripe

"""The send path's billing check (DESIGN §2.4), consulted at send time like the opt-out:
whether the tenant's subscription lets automated messages out, and the count of what goes
out against the month's allowance."""

from __future__ import annotations

from datetime import datetime

from lily_core.domain.billing import BillingPolicy, HoldReason, billing_state, usage_period
from lily_core.domain.leads import Channel, Message, MessageKind
from lily_core.domain.tenant import Tenant
from lily_core.ports.repositories import UnitOfWork

__all__ = ["BillingGate", "is_held_by_billing"]

# Compliance answers (HELP) are never held: carriers require them. They count as sent.
_NEVER_HELD = (MessageKind.MANUAL, MessageKind.HELP)


def is_held_by_billing(message: Message) -> bool:
    return message.error_code in {r.value for r in HoldReason}


class BillingGate:
    """With a policy (billing on), holds automated messages as `billing_state` says and
    counts every SMS sent: automated ones against the plan's allowance (atomically: the
    count and the message's SENDING mark commit together), manual replies apart and never
    held. Without one (billing off) nothing is held, but every SMS is still counted, so
    that usage is known. Chatwoot replies are not SMS: held with the subscription, never
    counted."""

    def __init__(self, policy: BillingPolicy | None) -> None:
        self.policy = policy

    def hold(
        self, uow: UnitOfWork, tenant: Tenant, message: Message, now: datetime
    ) -> HoldReason | None:
        """The subscription's hold on this message, usage aside (None: none)."""
        if message.kind in _NEVER_HELD:
            return None
        return self.subscription_hold(uow, tenant, now)

    def subscription_hold(
        self, uow: UnitOfWork, tenant: Tenant, now: datetime
    ) -> HoldReason | None:
        """What the subscription holds at `now` (trial over, unpaid, cancelled), None when
        it lets automated texts out; the owner's alerts and digests are held with it."""
        if self.policy is None:
            return None
        subscription = uow.subscriptions.get(tenant.id)
        trial_ends_at = self.policy.trial_ends_at(tenant.created_at)
        state = billing_state(
            subscription, trial_ends_at=trial_ends_at, now=now, policy=self.policy
        )
        return state.hold

    def count(
        self, uow: UnitOfWork, tenant: Tenant, message: Message, channel: Channel, now: datetime
    ) -> HoldReason | None:
        """Count the message as sent this month; ALLOWANCE (and nothing counted) if it is an
        automated SMS and the allowance is used up."""
        if channel != Channel.SMS:
            return None
        period = usage_period(now)
        if message.kind == MessageKind.MANUAL:
            uow.sms_usage.count_manual(tenant.id, period)
            return None
        limit = None
        if self.policy is not None and message.kind not in _NEVER_HELD:
            subscription = uow.subscriptions.get(tenant.id)
            trial_ends_at = self.policy.trial_ends_at(tenant.created_at)
            limit = billing_state(
                subscription, trial_ends_at=trial_ends_at, now=now, policy=self.policy
            ).sms_limit
        if uow.sms_usage.reserve(tenant.id, period, limit):
            return None
        return HoldReason.ALLOWANCE

    def refund(
        self,
        uow: UnitOfWork,
        tenant_id: str,
        message: Message,
        channel: Channel,
        counted_at: datetime,
    ) -> None:
        """Take back what `count` counted for a send that failed."""
        if channel == Channel.SMS:
            manual = message.kind == MessageKind.MANUAL
            uow.sms_usage.refund(tenant_id, usage_period(counted_at), manual=manual)

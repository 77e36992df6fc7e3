"""Messages held by billing go out when the hold clears (DESIGN §2.4): after a change of the
subscription, and at the month's rollover for the allowance. Only those younger than
RELEASE_WINDOW: a day-old text-back would confuse the customer, so older ones stay held."""

from __future__ import annotations

from datetime import datetime, timedelta

from lily_core.domain.billing import BillingPolicy, HoldReason, billing_state, usage_period
from lily_core.domain.leads import Conversation, Message, MessageStatus
from lily_core.ports.clock import Clock
from lily_core.ports.queue import JitterQueue
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.outbox import enqueue_send

__all__ = ["RELEASE_WINDOW", "ReleaseHeldMessages"]

RELEASE_WINDOW = timedelta(hours=24)
_BILLING_HOLDS = frozenset(r.value for r in HoldReason)


class ReleaseHeldMessages:
    """Queue again what billing held, for one tenant or (None) every tenant that has such
    messages, when billing now lets them out: all of them once the subscription's hold
    is gone, as many as the month's allowance has room for (oldest first). The send path
    checks again at send time, so a release can never send past the allowance. Returns
    how many messages were queued again."""

    def __init__(
        self,
        uow: UnitOfWork,
        queue: JitterQueue,
        clock: Clock,
        policy: BillingPolicy | None,
    ) -> None:
        self.uow, self.queue, self.clock, self.policy = uow, queue, clock, policy

    def __call__(self, tenant_id: str | None = None) -> int:
        since = self.clock.now() - RELEASE_WINDOW
        if tenant_id is None:
            # The periodic release looks at every tenant's holds, on purpose.
            with self.uow.across_tenants():
                held = self.uow.messages.list_held(error_codes=_BILLING_HOLDS, created_after=since)
            tenants = list(dict.fromkeys(m.tenant_id for m in held))
        else:
            tenants = [tenant_id]
        return sum(self._release(t, since) for t in tenants)

    def _release(self, tenant_id: str, since: datetime) -> int:
        now = self.clock.now()
        with self.uow.for_tenant(tenant_id):
            tenant = self.uow.tenants.get(tenant_id)
            held = self.uow.messages.list_held(
                error_codes=_BILLING_HOLDS, created_after=since, tenant_id=tenant_id
            )
            if tenant is None or not held:
                return 0
            room = len(held)
            if self.policy is not None:
                state = billing_state(
                    self.uow.subscriptions.get(tenant_id),
                    trial_ends_at=self.policy.trial_ends_at(tenant.created_at),
                    now=now,
                    policy=self.policy,
                )
                if state.hold is not None:
                    return 0
                used = self.uow.sms_usage.get(tenant_id, usage_period(now)).automated
                room = max(0, state.sms_limit - used)
            released = held[:room]
            conversations: dict[str, Conversation | None] = {}
            for message in released:
                message.status, message.updated_at = MessageStatus.QUEUED, now
                message.error_code = message.error_message = None
                if message.conversation_id:
                    conversations[message.id] = self.uow.conversations.get(
                        tenant_id, message.conversation_id
                    )
            self.uow.commit()
        for message in released:
            self._enqueue(message, now, conversations)
        return len(released)

    def _enqueue(
        self, message: Message, now: datetime, conversations: dict[str, Conversation | None]
    ) -> None:
        enqueue_send(self.queue, message, now, conversation=conversations.get(message.id))

"""Billing's use cases with the in-memory fakes (DESIGN §2.4): the send path's hold and count,
the release of held messages, Stripe's events in any order and twice, Checkout and Portal
with one customer per tenant, and `lily billing sync`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lily_core.domain.billing import (
    BillingEvent,
    BillingEventType,
    BillingPolicy,
    HoldReason,
    Plan,
    StripeSubscription,
)
from lily_core.domain.compliance import Jitter
from lily_core.domain.leads import Lead, Message, MessageKind, MessageStatus
from lily_core.domain.principal import Principal, Role
from lily_core.domain.records import SmsUsage, Subscription
from lily_core.domain.tenant import Tenant
from lily_core.errors import Forbidden, NotFound, TransientDeliveryError
from lily_core.testing import (
    FakeClock,
    FakePaymentGateway,
    FakeSmsSender,
    InMemoryDatabase,
    InMemoryJitterQueue,
    InMemoryUnitOfWork,
)
from lily_core.use_cases.billing import GetBilling, OpenPortal, StartCheckout
from lily_core.use_cases.billing_events import (
    BillingEventOutcome,
    HandleBillingEvent,
    SyncSubscription,
)
from lily_core.use_cases.billing_gate import BillingGate
from lily_core.use_cases.outbox import enqueue_send, open_conversation, queue_message
from lily_core.use_cases.release_held import ReleaseHeldMessages
from lily_core.use_cases.send_message import SendMessage, SendOutcome

START = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 10:00 in Dallas: no quiet hours
POLICY = BillingPolicy(starter_sms=3, pro_sms=5)
DASHBOARD = "https://lily.example/billing/"


class World:
    def __init__(self, policy: BillingPolicy | None = POLICY) -> None:
        self.policy = policy
        self.db = InMemoryDatabase()
        self.clock = FakeClock(START)
        self.queue = InMemoryJitterQueue(self.clock)
        self.sms = FakeSmsSender()
        self.gateway = FakePaymentGateway()
        self.tenant = Tenant(
            name="Acme Wash", slug="acme-wash", phone="+12145550100", created_at=START
        )
        self.owner = Principal(self.tenant, Role.OWNER)
        with self.uow().across_tenants() as uow:
            uow.tenants.add(self.tenant)
            uow.commit()
        self._phones = 0

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)

    # -- messages ---------------------------------------------------------------------

    def queue_text(self, kind: MessageKind = MessageKind.MISSED_CALL) -> str:
        self._phones += 1
        now = self.clock.now()
        with self.uow().for_tenant(self.tenant.id) as uow:
            lead = Lead(
                tenant_id=self.tenant.id, phone=f"+1214555{self._phones:04d}", created_at=now
            )
            uow.leads.add(lead)
            conversation = open_conversation(uow, self.tenant, lead, now)
            conversation.last_customer_activity_at = now
            message = queue_message(uow, lead, conversation, kind=kind, body="Hi", now=now)
            uow.commit()
        enqueue_send(self.queue, message, now)
        return message.id

    def send_due(self) -> list[SendOutcome]:
        send = SendMessage(
            self.uow(),
            self.queue,
            self.clock,
            self.sms,
            status_callback_url=None,
            jitter=Jitter(0, 0),
            max_attempts=5,
            billing=BillingGate(self.policy),
        )
        outcomes = []
        for task in self.queue.claim(50, 60):
            try:
                outcomes.append(send(task))
            except TransientDeliveryError:
                self.queue.retry(task.id, self.clock.now() + timedelta(minutes=1), "transient")
                continue
            self.queue.ack(task.id)
        return outcomes

    def message(self, message_id: str) -> Message:
        with self.uow().for_tenant(self.tenant.id) as uow:
            found = uow.messages.get(self.tenant.id, message_id)
        assert found is not None
        return found

    def usage(self) -> SmsUsage:
        with self.uow().for_tenant(self.tenant.id) as uow:
            return uow.sms_usage.get(self.tenant.id, f"{self.clock.now():%Y-%m}")

    # -- billing ----------------------------------------------------------------------

    def subscription(self) -> Subscription | None:
        with self.uow().for_tenant(self.tenant.id) as uow:
            return uow.subscriptions.get(self.tenant.id)

    def release(self) -> ReleaseHeldMessages:
        return ReleaseHeldMessages(self.uow(), self.queue, self.clock, self.policy)

    def handle(self, event: BillingEvent) -> BillingEventOutcome:
        handler = HandleBillingEvent(self.uow(), self.clock, self.gateway, self.release())
        return handler(event).outcome

    def customer(self) -> str:
        return StartCheckout(self.uow(), self.clock, self.gateway, DASHBOARD).customer_id(
            self.tenant
        )


_ids = iter(range(1, 10_000))


def stripe_sub(
    status: str, plan: Plan | None = Plan.PRO, customer: str = "cus_0001"
) -> StripeSubscription:
    return StripeSubscription(
        id="sub_1",
        customer_id=customer,
        status=status,
        plan=plan,
        current_period_end=START + timedelta(days=30),
    )


def sub_event(
    status: str,
    created: datetime,
    kind: BillingEventType = BillingEventType.SUBSCRIPTION_UPDATED,
    **kw: object,
) -> BillingEvent:
    return BillingEvent(
        id=f"evt_{next(_ids)}",
        type=kind,
        created=created,
        subscription=stripe_sub(status, **kw),  # type: ignore[arg-type]
    )


def invoice_event(paid: bool, created: datetime, subscription_id: str = "sub_1") -> BillingEvent:
    kind = BillingEventType.INVOICE_PAID if paid else BillingEventType.INVOICE_PAYMENT_FAILED
    return BillingEvent(
        id=f"evt_{next(_ids)}",
        type=kind,
        created=created,
        customer_id="cus_0001",
        subscription_id=subscription_id,
    )


@pytest.fixture
def world() -> World:
    return World()


# -- the send path --------------------------------------------------------------------------


def test_a_new_tenant_texts_in_its_trial_and_is_held_once_it_ended(world: World) -> None:
    first = world.queue_text()
    assert world.send_due() == [SendOutcome.SENT]
    world.clock.advance(days=14)
    second = world.queue_text()
    assert world.send_due() == [SendOutcome.HELD]
    held = world.message(second)
    assert (held.status, held.error_code) == (MessageStatus.HELD, "trial_ended")
    assert held.error_message == HoldReason.TRIAL_ENDED.explanation
    assert world.message(first).status == MessageStatus.SENT
    assert len(world.sms.sent) == 1


def test_a_canceled_subscription_holds_automated_texts_but_not_replies_nor_help(
    world: World,
) -> None:
    world.customer()
    world.handle(sub_event("canceled", START))
    texts = [
        world.queue_text(kind)
        for kind in (MessageKind.MISSED_CALL, MessageKind.MANUAL, MessageKind.HELP)
    ]
    world.send_due()
    statuses = [world.message(m).status for m in texts]
    assert statuses == [MessageStatus.HELD, MessageStatus.SENT, MessageStatus.SENT]
    assert world.message(texts[0]).error_code == "subscription_canceled"
    usage = world.usage()
    assert (usage.automated, usage.manual) == (1, 1)  # the HELP answer counts as sent


def test_an_allowance_of_n_lets_exactly_n_automated_texts_out_and_holds_the_next(
    world: World,
) -> None:
    texts = [world.queue_text() for _ in range(5)]
    reply = world.queue_text(MessageKind.MANUAL)
    world.send_due()
    statuses = [world.message(m).status for m in texts]
    assert statuses.count(MessageStatus.SENT) == 3
    assert statuses.count(MessageStatus.HELD) == 2
    held = [world.message(m) for m in texts if world.message(m).status == MessageStatus.HELD]
    assert {m.error_code for m in held} == {"sms_allowance_reached"}
    assert world.message(reply).status == MessageStatus.SENT  # never held by the allowance
    assert (world.usage().automated, world.usage().manual) == (3, 1)


def test_a_send_that_failed_gives_its_count_back(world: World) -> None:
    world.queue_text()
    world.sms.fail_next.append(TransientDeliveryError("Twilio is down"))
    world.send_due()
    assert world.usage().automated == 0
    world.clock.advance(minutes=2)
    assert world.send_due() == [SendOutcome.SENT]
    assert world.usage().automated == 1


def test_billing_off_holds_nothing_and_still_counts(world: World) -> None:
    off = World(policy=None)
    off.clock.advance(days=60)
    texts = [off.queue_text() for _ in range(6)]
    off.send_due()
    assert {off.message(m).status for m in texts} == {MessageStatus.SENT}
    assert off.usage().automated == 6


# -- releasing what was held -----------------------------------------------------------------


def test_held_texts_younger_than_a_day_go_out_when_the_subscription_is_paid(world: World) -> None:
    world.customer()
    world.handle(sub_event("canceled", START))
    old = world.queue_text()
    world.send_due()
    world.clock.advance(hours=25)
    recent = world.queue_text()
    world.send_due()
    assert world.message(recent).status == MessageStatus.HELD

    outcome = world.handle(sub_event("active", world.clock.now()))
    assert outcome is BillingEventOutcome.APPLIED
    world.send_due()
    assert world.message(recent).status == MessageStatus.SENT
    assert world.message(old).status == MessageStatus.HELD  # a day old: it stays held


def test_the_months_rollover_releases_what_the_allowance_held(world: World) -> None:
    world.clock.current = datetime(2026, 6, 30, 20, 0, tzinfo=UTC)
    world.tenant.created_at = world.clock.now()  # still in its trial
    with world.uow().across_tenants() as uow:
        tenant = uow.tenants.get(world.tenant.id)
        assert tenant is not None
        tenant.created_at = world.clock.now()
        uow.commit()
    texts = [world.queue_text() for _ in range(5)]
    world.send_due()
    assert world.release()() == 0  # no room this month
    world.clock.current = datetime(2026, 7, 1, 0, 1, tzinfo=UTC)
    assert world.release()() == 2  # the periodic job, for every tenant
    world.send_due()
    assert {world.message(m).status for m in texts} == {MessageStatus.SENT}
    assert world.usage().automated == 2


# -- Stripe's events -------------------------------------------------------------------------


def test_an_event_applies_once_and_older_news_changes_nothing(world: World) -> None:
    world.customer()
    t = START + timedelta(minutes=5)
    active = sub_event("active", t)
    assert world.handle(active) is BillingEventOutcome.APPLIED
    assert world.handle(active) is BillingEventOutcome.DUPLICATE
    late = sub_event("incomplete", t - timedelta(seconds=30), BillingEventType.SUBSCRIPTION_CREATED)
    assert world.handle(late) is BillingEventOutcome.STALE
    late_failure = invoice_event(False, t - timedelta(seconds=1))
    assert world.handle(late_failure) is BillingEventOutcome.STALE
    row = world.subscription()
    assert row is not None
    assert (row.status, row.plan, row.state_as_of) == ("active", "pro", t)


def test_news_of_the_same_second_that_disagrees_is_settled_by_asking_stripe(world: World) -> None:
    world.customer()
    t = START + timedelta(minutes=5)
    world.handle(sub_event("active", t))
    world.gateway.subscriptions["sub_1"] = stripe_sub("active")
    calls = world.gateway.calls
    created = sub_event("incomplete", t, BillingEventType.SUBSCRIPTION_CREATED)
    assert world.handle(created) is BillingEventOutcome.UNCHANGED
    assert world.gateway.calls == calls + 1
    row = world.subscription()
    assert row is not None and row.status == "active"


def test_invoices_move_the_status_and_the_past_due_clock(world: World) -> None:
    world.customer()
    world.handle(sub_event("active", START))
    failed_at = START + timedelta(days=30)
    assert world.handle(invoice_event(False, failed_at)) is BillingEventOutcome.APPLIED
    row = world.subscription()
    assert row is not None and (row.status, row.past_due_since) == ("past_due", failed_at)
    other = invoice_event(True, failed_at + timedelta(days=1), subscription_id="sub_old")
    assert world.handle(other) is BillingEventOutcome.IGNORED
    assert (
        world.handle(invoice_event(True, failed_at + timedelta(days=2)))
        is BillingEventOutcome.APPLIED
    )
    row = world.subscription()
    assert row is not None and (row.status, row.past_due_since) == ("active", None)


def test_checkout_links_the_subscription_to_the_tenant_it_names(world: World) -> None:
    world.gateway.subscriptions["sub_1"] = stripe_sub("active", customer="cus_new")
    event = BillingEvent(
        id="evt_checkout",
        type=BillingEventType.CHECKOUT_COMPLETED,
        created=START,
        customer_id="cus_new",
        subscription_id="sub_1",
        tenant_id=world.tenant.id,
    )
    assert world.handle(event) is BillingEventOutcome.APPLIED
    row = world.subscription()
    assert row is not None
    assert (row.stripe_customer_id, row.stripe_subscription_id, row.status) == (
        "cus_new",
        "sub_1",
        "active",
    )
    stranger = BillingEvent(
        id="evt_other", type=BillingEventType.CHECKOUT_COMPLETED, created=START, tenant_id="nobody"
    )
    assert world.handle(stranger) is BillingEventOutcome.IGNORED


def test_a_customer_of_no_tenant_is_acknowledged_and_ignored(world: World) -> None:
    event = sub_event("active", START, customer="cus_elsewhere")
    assert world.handle(event) is BillingEventOutcome.IGNORED
    assert world.handle(event) is BillingEventOutcome.DUPLICATE


def test_billing_sync_repairs_a_missed_webhook(world: World) -> None:
    world.customer()
    world.handle(sub_event("active", START))
    world.clock.advance(days=1)
    world.gateway.subscriptions["sub_1"] = stripe_sub("canceled")
    sync = SyncSubscription(world.uow(), world.clock, world.gateway, world.release())
    assert sync("acme-wash").status == "canceled"
    row = world.subscription()
    assert row is not None and row.status == "canceled"
    with pytest.raises(NotFound):
        SyncSubscription(world.uow(), world.clock, None, world.release())("acme-wash")


# -- the dashboard ---------------------------------------------------------------------------


def test_checkout_and_portal_reuse_the_tenants_one_customer(world: World) -> None:
    checkout = StartCheckout(world.uow(), world.clock, world.gateway, DASHBOARD)
    assert checkout(world.owner, Plan.PRO).startswith("https://checkout.example/acme-wash/pro")
    checkout(world.owner, Plan.STARTER)
    portal = OpenPortal(world.uow(), world.clock, world.gateway, DASHBOARD)
    assert portal(world.owner) == "https://portal.example/cus_0001"
    assert [c["customer"] for c in world.gateway.checkouts] == ["cus_0001", "cus_0001"]
    assert world.gateway.checkouts[0]["success_url"].startswith(DASHBOARD)
    assert world.gateway.portals == [{"customer": "cus_0001", "return_url": DASHBOARD}]
    assert world.gateway.customers == {world.tenant.id: "cus_0001"}
    row = world.subscription()
    assert row is not None and row.stripe_customer_id == "cus_0001"


def test_only_an_owner_may_pay_and_only_where_billing_is_on(world: World) -> None:
    operator = Principal(world.tenant, Role.OPERATOR)
    with pytest.raises(Forbidden):
        StartCheckout(world.uow(), world.clock, world.gateway, DASHBOARD)(operator, Plan.PRO)
    with pytest.raises(Forbidden):
        OpenPortal(world.uow(), world.clock, world.gateway, DASHBOARD)(operator)
    with pytest.raises(NotFound):
        StartCheckout(world.uow(), world.clock, None, DASHBOARD)(world.owner, Plan.PRO)


def test_the_billing_view_says_trialing_limits_and_holds(world: World) -> None:
    view = GetBilling(world.uow(), world.clock, POLICY)(world.owner)
    assert view.enabled and view.state is not None
    assert (view.state.status, view.state.sms_limit, view.held_reason) == ("trialing", 3, None)
    assert view.state.trial_ends_at == START + timedelta(days=14)
    world.clock.advance(days=15)
    assert (
        GetBilling(world.uow(), world.clock, POLICY)(world.owner).held_reason
        is HoldReason.TRIAL_ENDED
    )
    off = GetBilling(world.uow(), world.clock, None)(world.owner)
    assert not off.enabled and off.held_reason is None

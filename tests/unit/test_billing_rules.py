"""DESIGN §2.4's rules, pure: may an automated SMS go out (subscription, trial, clock,
usage), property-tested over every status, the grace period and the allowance boundary;
and how Stripe's news changes the stored state (never backwards)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from lily_core.domain.billing import (
    TRIAL_ENDED,
    BillingPolicy,
    Freshness,
    HoldReason,
    Plan,
    StripeSubscription,
    SubscriptionStatus,
    apply_invoice,
    apply_subscription,
    billing_state,
    freshness,
    may_send,
    usage_period,
)
from lily_core.domain.records import Subscription

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
POLICY = BillingPolicy(
    trial=timedelta(days=14), grace=timedelta(days=7), starter_sms=500, pro_sms=5000
)
HOLDING = {
    SubscriptionStatus.CANCELED: HoldReason.CANCELED,
    SubscriptionStatus.UNPAID: HoldReason.UNPAID,
    SubscriptionStatus.INCOMPLETE_EXPIRED: HoldReason.EXPIRED,
    SubscriptionStatus.PAUSED: HoldReason.PAUSED,
}
SENDING = (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.INCOMPLETE)

statuses = st.sampled_from([s for s in SubscriptionStatus if s != SubscriptionStatus.NONE])
plans = st.sampled_from([None, *Plan])
offsets = st.timedeltas(min_value=timedelta(days=-60), max_value=timedelta(days=60))
usage = st.integers(min_value=0, max_value=6000)


def sub(
    status: str, *, plan: Plan | None = None, past_due_since: datetime | None = None
) -> Subscription:
    return Subscription(
        tenant_id="t",
        status=status,
        plan=plan.value if plan else None,
        past_due_since=past_due_since,
        updated_at=NOW,
    )


def limit_of(plan: Plan | None) -> int:
    return 5000 if plan is Plan.PRO else 500


@given(trial_end=offsets, used=usage)
def test_before_any_subscription_the_trial_sends_until_it_ends(
    trial_end: timedelta, used: int
) -> None:
    ends = NOW + trial_end
    for subscription in (None, sub(SubscriptionStatus.NONE)):
        reason = may_send(subscription, trial_ends_at=ends, now=NOW, sms_used=used, policy=POLICY)
        if ends <= NOW:
            assert reason is HoldReason.TRIAL_ENDED
        elif used >= POLICY.starter_sms:  # the trial has the starter allowance
            assert reason is HoldReason.ALLOWANCE
        else:
            assert reason is None
        state = billing_state(subscription, trial_ends_at=ends, now=NOW, policy=POLICY)
        assert state.status == (TRIAL_ENDED if ends <= NOW else "trialing")
        assert state.plan is None and state.sms_limit == 500


@given(status=statuses, plan=plans, used=usage, trial_end=offsets, past_due_for=offsets)
def test_every_status_holds_or_sends_as_the_design_says(
    status: SubscriptionStatus,
    plan: Plan | None,
    used: int,
    trial_end: timedelta,
    past_due_for: timedelta,
) -> None:
    subscription = sub(status, plan=plan, past_due_since=NOW - abs(past_due_for))
    # Once Stripe has a subscription, Lily's own trial no longer matters.
    reason = may_send(
        subscription, trial_ends_at=NOW + trial_end, now=NOW, sms_used=used, policy=POLICY
    )
    over = used >= limit_of(plan)
    if status in HOLDING:
        assert reason is HOLDING[status]
    elif status == SubscriptionStatus.PAST_DUE and abs(past_due_for) > POLICY.grace:
        assert reason is HoldReason.PAST_DUE
    else:
        assert status in (*SENDING, SubscriptionStatus.PAST_DUE)
        assert reason is (HoldReason.ALLOWANCE if over else None)


@given(beyond=st.integers(min_value=-3600, max_value=3600))
def test_past_due_sends_through_the_grace_period_and_is_held_after_it(beyond: int) -> None:
    since = NOW - POLICY.grace - timedelta(seconds=beyond)
    subscription = sub(SubscriptionStatus.PAST_DUE, plan=Plan.PRO, past_due_since=since)
    reason = may_send(subscription, trial_ends_at=NOW, now=NOW, sms_used=0, policy=POLICY)
    assert reason is (HoldReason.PAST_DUE if beyond > 0 else None)


@given(plan=plans, delta=st.integers(min_value=-3, max_value=3))
def test_the_allowance_lets_exactly_its_number_out(plan: Plan | None, delta: int) -> None:
    limit = limit_of(plan)
    used = max(0, limit + delta)
    active = sub(SubscriptionStatus.ACTIVE, plan=plan)
    reason = may_send(active, trial_ends_at=NOW, now=NOW, sms_used=used, policy=POLICY)
    assert reason is (HoldReason.ALLOWANCE if used >= limit else None)


def test_a_status_stripe_may_add_later_holds_nothing() -> None:
    state = billing_state(sub("someday_new"), trial_ends_at=NOW, now=NOW, policy=POLICY)
    assert state.hold is None and state.status == "someday_new"


def test_every_hold_reason_fits_the_error_code_column_and_explains_itself() -> None:
    for reason in HoldReason:
        assert len(reason.value) <= 32
        assert reason.explanation.startswith("held: ")


def test_the_allowance_period_is_the_utc_calendar_month() -> None:
    assert usage_period(datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)) == "2026-06"
    assert usage_period(datetime(2026, 7, 1, 0, 0, tzinfo=UTC)) == "2026-07"


# -- Stripe's news --------------------------------------------------------------------------


def stripe(status: str, plan: Plan | None = Plan.PRO) -> StripeSubscription:
    return StripeSubscription(
        id="sub_1",
        customer_id="cus_1",
        status=status,
        plan=plan,
        current_period_end=NOW + timedelta(days=30),
    )


def test_past_due_starts_its_clock_once_and_stops_it_when_paid() -> None:
    row = sub(SubscriptionStatus.NONE)
    apply_subscription(row, stripe("active"), as_of=NOW)
    assert (row.status, row.plan, row.past_due_since) == ("active", "pro", None)
    apply_subscription(row, stripe("past_due"), as_of=NOW + timedelta(days=1))
    apply_invoice(row, paid=False, as_of=NOW + timedelta(days=2))  # a retry fails again
    assert row.past_due_since == NOW + timedelta(days=1)
    apply_invoice(row, paid=True, as_of=NOW + timedelta(days=3))
    assert (row.status, row.past_due_since) == ("active", None)
    assert row.state_as_of == NOW + timedelta(days=3)


def test_a_failed_payment_makes_active_past_due_but_never_revives_the_canceled() -> None:
    row = sub(SubscriptionStatus.NONE)
    apply_subscription(row, stripe("active"), as_of=NOW)
    apply_invoice(row, paid=False, as_of=NOW + timedelta(hours=1))
    assert (row.status, row.past_due_since) == ("past_due", NOW + timedelta(hours=1))
    apply_subscription(row, stripe("canceled"), as_of=NOW + timedelta(hours=2))
    apply_invoice(row, paid=True, as_of=NOW + timedelta(hours=3))  # the final invoice
    assert row.status == "canceled"


@given(first=offsets, second=offsets)
def test_freshness_orders_news_by_its_time(first: timedelta, second: timedelta) -> None:
    row = sub(SubscriptionStatus.NONE)
    assert freshness(row, NOW + first) is Freshness.NEWER  # nothing known yet
    row.state_as_of = NOW + first
    expected = (
        Freshness.NEWER
        if second > first
        else Freshness.SAME
        if second == first
        else Freshness.OLDER
    )
    assert freshness(row, NOW + second) is expected

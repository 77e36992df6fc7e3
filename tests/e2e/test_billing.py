"""Billing end to end (DESIGN §2.4), on both backends: the app over HTTP, the worker, Twilio's
and Stripe's stand-ins, and webhook events signed exactly as Stripe signs them. A tenant
trials, checks out, pays, falls past due (texts go within the grace, are held beyond it),
pays again (what was held goes), cancels (held); Stripe's events come twice and out of
order; forged, unsigned and stale ones change nothing; an allowance of N lets exactly N
automated texts out with four workers racing, and holds the rest with the reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from lily_core.domain.leads import Message, MessageStatus
from lily_http.routes import stripe as stripe_route
from lily_worker.wiring import build_worker
from tests.e2e.conftest import JITTER_MAX, Lily, after, running_lily
from tests.e2e.dashboard_api import owner_headers
from tests.e2e.test_quote_flow import new_sid
from tests.standins.stripe import (
    DEFAULT_API_KEY,
    DEFAULT_WEBHOOK_SECRET,
    StripeStandIn,
    stripe_signature,
)
from tests.standins.twilio import TwilioStandIn

STRIPE_SETTINGS = {
    "stripe_secret_key": DEFAULT_API_KEY,
    "stripe_webhook_secret": DEFAULT_WEBHOOK_SECRET,
    "stripe_price_starter": "price_starter",
    "stripe_price_pro": "price_pro",
}
TRIAL_DAYS = 45  # from START (June 1) past the month's rollover


class BillingLily(Lily):
    """Lily with billing on, against the Stripe stand-in."""

    def __init__(self, *args: Any) -> None:
        *base, self.stripe = args
        super().__init__(*base)
        self.owner = owner_headers(self)
        self._callers = iter(range(1000, 10_000))

    def now_ts(self, seconds: int = 0) -> int:
        return int(self.clock.now().timestamp()) + seconds

    def billing(self) -> dict[str, Any]:
        response = self.client.get("/api/v1/billing", headers=self.owner)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def event(self, type_: str, obj: dict[str, Any], *, created: int, **kw: Any) -> httpx.Response:
        body, headers = self.stripe.signed_event(type_, obj, created=created, **kw)
        response: httpx.Response = self.client.post(
            "/webhooks/stripe", content=body, headers=headers
        )
        return response

    def subscription_event(self, type_: str, sub_id: str, created: int, **changes: Any) -> None:
        subscription = self.stripe.update_subscription(sub_id, **changes)
        assert self.event(type_, subscription, created=created).status_code == 200

    def text_back(self) -> Message:
        """A new caller's missed call, the worker run past the jitter: its text-back."""
        caller = f"+1512555{next(self._callers):04d}"
        assert self.missed_call(new_sid("CA"), caller=caller).status_code == 200
        self.run_worker_at(after(self.clock.now(), JITTER_MAX))
        [message] = self.outbound(caller)
        return message

    def subscription_row(self) -> dict[str, Any]:
        with self.container.uow().across_tenants() as uow:
            row = uow.subscriptions.get(self.tenant.id)
            assert row is not None
            return {"status": row.status, "plan": row.plan, "as_of": row.state_as_of}


@pytest.fixture
def stripe() -> Iterator[StripeStandIn]:
    with StripeStandIn(prices={"price_starter": 4900, "price_pro": 9900}) as standin:
        yield standin


@pytest.fixture
def lily(
    backend: tuple[str, str | None], twilio: TwilioStandIn, stripe: StripeStandIn, tmp_path: Path
) -> Iterator[BillingLily]:
    with running_lily(
        backend, twilio, tmp_path, BillingLily, (stripe,), stripe_api_url=stripe.url,
        plan_starter_sms=3, trial_days=TRIAL_DAYS, **STRIPE_SETTINGS,
    ) as harness:  # fmt: skip
        yield harness


def checkout(lily: BillingLily, plan: str = "pro") -> str:
    """POST /api/v1/billing/checkout; the stand-in's session id behind the URL."""
    response = lily.client.post("/api/v1/billing/checkout", json={"plan": plan}, headers=lily.owner)
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    [session_id] = [s for s, obj in lily.stripe.sessions.items() if obj["url"] == url]
    return session_id


def test_trial_checkout_past_due_grace_paid_and_canceled(lily: BillingLily) -> None:
    billing = lily.billing()
    assert billing["enabled"] and billing["status"] == "trialing" and billing["plan"] is None
    assert billing["trial_ends_at"] == (
        lily.tenant.created_at + timedelta(days=TRIAL_DAYS)
    ).isoformat().replace("+00:00", "Z")
    assert (billing["sms_limit"], billing["held_reason"]) == (3, None)
    assert lily.text_back().status == MessageStatus.SENT

    # checkout: a Stripe Checkout URL for the pro price, the tenant's one customer
    session_id = checkout(lily)
    session = lily.stripe.sessions[session_id]
    assert session["_line_items"][0]["price"] == "price_pro"
    assert session["client_reference_id"] == lily.tenant.id
    assert session["success_url"] == "http://testserver/billing/?checkout=success"
    assert session["cancel_url"] == "http://testserver/billing/?checkout=cancel"
    [customer] = lily.stripe.customers.values()
    assert customer["metadata"] == {"tenant_id": lily.tenant.id}
    portal = lily.client.post("/api/v1/billing/portal", headers=lily.owner)
    assert portal.status_code == 200 and portal.json()["url"].startswith(
        "https://billing.stripe.com/"
    )
    assert [s["customer"] for s in lily.stripe.portal_sessions.values()] == [customer["id"]]
    assert len(lily.stripe.customers) == 1  # reused, not made again

    # paid: active on pro
    t = lily.now_ts()
    subscription = lily.stripe.complete_checkout(session_id, status="incomplete", at=t)
    sub_id = subscription["id"]
    assert lily.event("customer.subscription.created", subscription, created=t).status_code == 200
    assert (
        lily.event(
            "checkout.session.completed", lily.stripe.session_object(session_id), created=t
        ).status_code
        == 200
    )
    lily.subscription_event("customer.subscription.updated", sub_id, t + 1, status="active")
    assert (
        lily.event(
            "invoice.paid", lily.stripe.invoice(sub_id, paid=True, created=t + 1), created=t + 1
        ).status_code
        == 200
    )
    billing = lily.billing()
    assert (billing["status"], billing["plan"], billing["sms_limit"]) == ("active", "pro", 5000)
    assert billing["current_period_end"] is not None

    # a month on, the renewal fails: past due, within the grace the texts go
    lily.clock.current += timedelta(days=31)
    t = lily.now_ts()
    failed = lily.stripe.invoice(sub_id, paid=False, created=t)
    assert lily.event("invoice.payment_failed", failed, created=t).status_code == 200
    lily.subscription_event("customer.subscription.updated", sub_id, t, status="past_due")
    assert lily.billing()["status"] == "past_due"
    assert lily.text_back().status == MessageStatus.SENT

    # beyond the grace: held, visibly
    lily.clock.current += timedelta(days=8)
    held = lily.text_back()
    assert (held.status, held.error_code) == (MessageStatus.HELD, "past_due_beyond_grace")
    assert lily.billing()["held_reason"] == "past_due_beyond_grace"
    shown = lily.client.get(f"/api/v1/leads/{held.lead_id}/messages", headers=lily.owner).json()
    assert [
        (m["status"], m["error_code"]) for m in shown["items"] if m["direction"] == "outbound"
    ] == [("held", "past_due_beyond_grace")]

    # paid at last: what was held (an hour ago) goes out
    lily.clock.current += timedelta(hours=1)
    t = lily.now_ts()
    lily.subscription_event("customer.subscription.updated", sub_id, t, status="active")
    paid = lily.stripe.invoice(sub_id, paid=True, created=t)
    assert lily.event("invoice.paid", paid, created=t).status_code == 200
    lily.run_worker()
    [released] = [m for m in lily.outbound(lily.lead(held_phone(lily, held)).phone)]
    assert released.status == MessageStatus.SENT
    assert lily.billing()["held_reason"] is None

    # canceled: the next text-back is held, visibly
    lily.clock.current += timedelta(days=2)
    t = lily.now_ts()
    lily.subscription_event("customer.subscription.deleted", sub_id, t, status="canceled")
    held = lily.text_back()
    assert (held.status, held.error_code) == (MessageStatus.HELD, "subscription_canceled")
    assert held.error_message == "held: the subscription is canceled"
    assert lily.billing()["held_reason"] == "subscription_canceled"


def held_phone(lily: BillingLily, message: Message) -> str:
    with lily.container.uow().across_tenants() as uow:
        lead = uow.leads.get(lily.tenant.id, message.lead_id)
    assert lead is not None and lead.phone
    return lead.phone


def test_events_twice_and_out_of_order_never_move_the_state_back(lily: BillingLily) -> None:
    session_id = checkout(lily)
    t = lily.now_ts()
    subscription = lily.stripe.complete_checkout(session_id, status="active", at=t)
    sub_id = subscription["id"]
    body, headers = lily.stripe.signed_event(
        "customer.subscription.updated", subscription, created=t + 60
    )
    first = lily.client.post("/webhooks/stripe", content=body, headers=headers)
    again = lily.client.post("/webhooks/stripe", content=body, headers=headers)
    assert (first.json(), again.json()) == ({"status": "applied"}, {"status": "duplicate"})
    # the subscription's creation, delivered late: older news, nothing changes
    late = dict(subscription, status="incomplete")
    assert lily.event("customer.subscription.created", late, created=t).json() == {
        "status": "stale"
    }
    failed = lily.stripe.invoice(sub_id, paid=False, created=t + 30)
    assert lily.event("invoice.payment_failed", failed, created=t + 30).json() == {
        "status": "stale"
    }
    row = lily.subscription_row()
    assert (row["status"], row["plan"]) == ("active", "pro")
    # of the same second and disagreeing: Stripe (the stand-in, still active) settles it
    reads = len([r for r in lily.stripe.requests if r.method == "GET"])
    stale_same_second = dict(subscription, status="incomplete")
    assert (
        lily.event("customer.subscription.updated", stale_same_second, created=t + 60).status_code
        == 200
    )
    assert len([r for r in lily.stripe.requests if r.method == "GET"]) == reads + 1
    assert lily.subscription_row()["status"] == "active"
    # types Lily does not act on, and objects of no tenant: 200, ignored
    assert lily.event("charge.refunded", {"id": "ch_1", "object": "charge"}, created=t).json() == {
        "status": "ignored"
    }
    stranger = dict(subscription, customer="cus_unknown", metadata={})
    assert lily.event("customer.subscription.updated", stranger, created=t + 90).json() == {
        "status": "ignored"
    }
    assert lily.subscription_row()["status"] == "active"


def test_forged_unsigned_and_stale_signatures_are_400_and_change_nothing(lily: BillingLily) -> None:
    session_id = checkout(lily)
    subscription = lily.stripe.complete_checkout(session_id, at=lily.now_ts())
    canceled = dict(subscription, status="canceled")
    body, headers = lily.stripe.signed_event(
        "customer.subscription.deleted", canceled, created=lily.now_ts()
    )
    before = (lily.count_rows("webhooks"), lily.count_rows("subscriptions"), lily.billing())
    now = int(datetime.now().timestamp())
    for signature in (
        stripe_signature(body, "whsec_forged", now),  # forged
        None,  # unsigned
        stripe_signature(body, DEFAULT_WEBHOOK_SECRET, now - 301),  # stale: beyond 300 s
        "t=1,v1=nothex",
    ):
        sent = {"Content-Type": "application/json"}
        if signature:
            sent["Stripe-Signature"] = signature
        response = lily.client.post("/webhooks/stripe", content=body, headers=sent)
        assert response.status_code == 400, response.text
    tampered = body.replace(b'"canceled"', b'"active"')
    assert (
        lily.client.post("/webhooks/stripe", content=tampered, headers=headers).status_code == 400
    )
    assert (lily.count_rows("webhooks"), lily.count_rows("subscriptions"), lily.billing()) == before
    assert lily.client.post("/webhooks/stripe", content=body, headers=headers).status_code == 200
    assert lily.billing()["held_reason"] == "subscription_canceled"


def test_a_malformed_event_is_400_never_500(lily: BillingLily) -> None:
    for obj in (
        {"id": "sub_1", "object": "subscription"},
        {"id": "sub_1", "customer": 7, "status": "active"},
    ):
        response = lily.event("customer.subscription.updated", obj, created=lily.now_ts())
        assert response.status_code == 400, response.text
    body = b"[not json"
    headers = {
        "Stripe-Signature": stripe_signature(
            body, DEFAULT_WEBHOOK_SECRET, int(datetime.now().timestamp())
        )
    }
    assert lily.client.post("/webhooks/stripe", content=body, headers=headers).status_code == 400


def test_an_allowance_of_n_lets_exactly_n_texts_out_with_four_workers_racing(
    lily: BillingLily,
) -> None:
    lily.clock.current = datetime(2026, 6, 30, 20, 0, tzinfo=UTC)  # the month's last evening
    callers = [f"+1512555{2000 + i:04d}" for i in range(10)]
    for caller in callers:
        assert lily.missed_call(new_sid("CA"), caller=caller).status_code == 200
    lily.clock.current = after(lily.clock.now(), JITTER_MAX)
    workers = [build_worker(lily.container) for _ in range(4)]
    threads = [threading.Thread(target=w.run_burst) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    texts = [m for caller in callers for m in lily.outbound(caller)]
    sent = [m for m in texts if m.status == MessageStatus.SENT]
    held = [m for m in texts if m.status == MessageStatus.HELD]
    assert (len(sent), len(held)) == (3, 7)
    assert {m.error_code for m in held} == {"sms_allowance_reached"}
    assert len(lily.twilio.messages) == 3
    billing = lily.billing()
    assert (billing["sms_used"], billing["sms_limit"], billing["held_reason"]) == (
        3,
        3,
        "sms_allowance_reached",
    )

    # a manual reply is never held by the allowance, and counted apart
    lead = lily.lead(callers[-1])
    reply = lily.client.post(
        f"/api/v1/leads/{lead.id}/messages", json={"body": "On our way"}, headers=lily.owner
    )
    assert reply.status_code == 201, reply.text
    lily.run_worker()
    assert len(lily.twilio.messages) == 4
    assert (lily.billing()["sms_used"], lily.billing()["manual_sms"]) == (3, 1)

    # the month rolls over (within a day): the allowance's room goes to what was held
    lily.clock.current = datetime(2026, 7, 1, 0, 5, tzinfo=UTC)
    assert lily.container.release_held()() == 3
    lily.run_worker()
    assert len(lily.twilio.messages) == 7
    assert lily.billing()["sms_used"] == 3


def test_billing_off_means_no_trial_no_limit_and_says_so(
    backend: tuple[str, str | None], twilio: TwilioStandIn, tmp_path: Path
) -> None:
    with running_lily(backend, twilio, tmp_path, BillingLily, (None,)) as lily:
        lily.clock.current += timedelta(days=60)
        assert lily.text_back().status == MessageStatus.SENT
        billing = lily.billing()
        assert billing == {
            "enabled": False,
            "plan": None,
            "status": "disabled",
            "trial_ends_at": None,
            "current_period_end": None,
            "sms_used": 1,
            "sms_limit": None,
            "manual_sms": 0,
            "alert_sms": 0,
            "held_reason": None,
        }
        response = lily.client.post(
            "/api/v1/billing/checkout", json={"plan": "pro"}, headers=lily.owner
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert lily.client.post("/api/v1/billing/portal", headers=lily.owner).status_code == 404
        assert lily.client.post("/webhooks/stripe", content=b"{}").status_code == 404


def test_a_body_over_stripes_cap_is_413_before_its_signature_is_checked(lily: BillingLily) -> None:
    body = b"x" * (stripe_route.MAX_BODY_BYTES + 1)
    response = lily.client.post("/webhooks/stripe", content=body)
    assert response.status_code == 413
    assert stripe_route.MAX_BODY_BYTES == 1024 * 1024  # as Cal.com's

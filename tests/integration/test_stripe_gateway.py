"""StripePaymentGateway over real HTTP against the Stripe stand-in, and the webhook events'
signature and parsing against Stripe's signed samples (tests/fixtures/webhook_samples.json)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lily_adapters.stripe import BadSignature, StripePaymentGateway, read_event, verify
from lily_core.domain.billing import BillingEventType, Plan
from lily_core.domain.tenant import Tenant
from lily_core.errors import InvalidInput, NotFound, PermanentDeliveryError, TransientDeliveryError
from tests.standins.stripe import DEFAULT_API_KEY, StripeStandIn, stripe_signature

PRICES = {Plan.STARTER: "price_starter", Plan.PRO: "price_pro"}
SAMPLES = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "webhook_samples.json").read_text()
)["stripe"]
TENANT = Tenant(
    name="Sparkle Wash", slug="sparkle-wash", phone="+15125550199",
    created_at=datetime(2026, 6, 1, tzinfo=UTC),
)  # fmt: skip


@pytest.fixture
def stripe() -> Iterator[StripeStandIn]:
    with StripeStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def gateway(stripe: StripeStandIn) -> Iterator[StripePaymentGateway]:
    gateway = StripePaymentGateway(DEFAULT_API_KEY, api_url=stripe.url, prices=PRICES)
    yield gateway
    gateway.close()


def checkout(gateway: StripePaymentGateway, customer: str, plan: Plan = Plan.PRO) -> str:
    return gateway.checkout_url(
        TENANT,
        plan=plan,
        customer_id=customer,
        success_url="https://lily.example/billing/?checkout=success",
        cancel_url="https://lily.example/billing/?checkout=cancel",
    )


def test_one_customer_per_tenant_however_often_asked(
    stripe: StripeStandIn, gateway: StripePaymentGateway
) -> None:
    first, second = gateway.create_customer(TENANT), gateway.create_customer(TENANT)
    assert first == second
    assert list(stripe.customers) == [first]
    assert stripe.customers[first]["metadata"] == {"tenant_id": TENANT.id}
    assert len(stripe.creates("/v1/customers")) == 1


def test_a_checkout_session_subscribes_the_customer_to_the_plans_price(
    stripe: StripeStandIn, gateway: StripePaymentGateway
) -> None:
    customer = gateway.create_customer(TENANT)
    url = checkout(gateway, customer)
    [session] = stripe.sessions.values()
    assert url == session["url"] and url.startswith("https://checkout.stripe.com/")
    assert (session["mode"], session["customer"]) == ("subscription", customer)
    assert session["client_reference_id"] == TENANT.id
    assert session["_line_items"] == [{"price": "price_pro", "quantity": "1"}]
    assert session["_subscription_metadata"] == {"tenant_id": TENANT.id}
    assert session["success_url"].endswith("/billing/?checkout=success")
    [create] = stripe.creates("/v1/checkout/sessions")
    assert create.idempotency_key and create.idempotency_key.startswith("lily-checkout-")


def test_a_retry_after_a_stripe_failure_makes_no_second_session(
    stripe: StripeStandIn, gateway: StripePaymentGateway
) -> None:
    customer = gateway.create_customer(TENANT)
    stripe.fail_next(500)  # stripe-python retries, with the same idempotency key
    checkout(gateway, customer)
    attempts = [r for r in stripe.requests if r.path == "/v1/checkout/sessions"]
    assert len(attempts) == 2 and attempts[0].idempotency_key == attempts[1].idempotency_key
    assert len(stripe.sessions) == 1


def test_the_portal_session_returns_to_the_dashboard(
    stripe: StripeStandIn, gateway: StripePaymentGateway
) -> None:
    customer = gateway.create_customer(TENANT)
    url = gateway.portal_url(customer, return_url="https://lily.example/billing/")
    [session] = stripe.portal_sessions.values()
    assert url == session["url"]
    assert (session["customer"], session["return_url"]) == (
        customer,
        "https://lily.example/billing/",
    )


def test_subscriptions_read_back_with_plan_and_period_end(
    stripe: StripeStandIn, gateway: StripePaymentGateway
) -> None:
    customer = gateway.create_customer(TENANT)
    checkout(gateway, customer)
    [session_id] = stripe.sessions
    created = stripe.complete_checkout(session_id, at=1_790_000_000)
    found = gateway.subscription(created["id"])
    assert (found.customer_id, found.status, found.plan) == (customer, "active", Plan.PRO)
    assert found.current_period_end == datetime.fromtimestamp(1_790_000_000 + 30 * 86400, UTC)
    assert found.tenant_id == TENANT.id
    assert gateway.latest_subscription(customer) == found
    assert gateway.latest_subscription(gateway.create_customer(TENANT)) == found
    with pytest.raises(NotFound):
        gateway.subscription("sub_missing")


def test_stripe_errors_become_core_errors(stripe: StripeStandIn) -> None:
    wrong_key = StripePaymentGateway("sk_test_wrong", api_url=stripe.url, prices=PRICES)
    with pytest.raises(PermanentDeliveryError):
        wrong_key.create_customer(TENANT)
    with pytest.raises(InvalidInput) as raised:
        StripePaymentGateway(
            DEFAULT_API_KEY, api_url=stripe.url, prices={Plan.PRO: "price_pro"}
        ).checkout_url(
            TENANT, plan=Plan.STARTER, customer_id="cus_x", success_url="s", cancel_url="c"
        )
    assert raised.value.field == "plan"
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    down = StripePaymentGateway(
        DEFAULT_API_KEY, api_url=f"http://127.0.0.1:{port}", prices=PRICES, max_network_retries=0
    )
    with pytest.raises(TransientDeliveryError):
        down.create_customer(TENANT)


# -- webhook events -----------------------------------------------------------------------


def test_the_stand_in_signs_events_exactly_as_stripe_does() -> None:
    for sample in SAMPLES.values():
        header = sample["headers"]["Stripe-Signature"]
        t = int(header.split(",")[0].removeprefix("t="))
        assert stripe_signature(sample["raw_body"].encode(), sample["secret"], t) == header


def test_a_signature_is_checked_for_its_secret_and_its_age() -> None:
    sample = SAMPLES["customer.subscription.deleted"]
    body = sample["raw_body"].encode()
    now = int(time.time())
    verify(body, stripe_signature(body, sample["secret"], now), sample["secret"])
    for header in (
        sample["headers"]["Stripe-Signature"],  # Stripe's own, but from long ago
        stripe_signature(body, "whsec_forged", now),
        stripe_signature(body, sample["secret"], now - 301),
        None,
        "garbage",
        "t=abc,v1=00",
    ):
        with pytest.raises(BadSignature):
            verify(body, header, sample["secret"])
    with pytest.raises(BadSignature):
        verify(body + b" ", stripe_signature(body, sample["secret"], now), sample["secret"])


def test_stripes_sample_events_read_into_billing_events() -> None:
    prices = {"price_test_pro_monthly": Plan.PRO}
    events = {name: read_event(s["raw_body"].encode(), prices) for name, s in SAMPLES.items()}
    checkout = events["checkout.session.completed"]
    assert (checkout.tenant_id, checkout.customer_id, checkout.subscription_id) == (
        "t_123", "cus_test_1", "sub_test_1",
    )  # fmt: skip
    updated = events["customer.subscription.updated"]
    assert updated.subscription is not None
    assert (updated.subscription.status, updated.subscription.plan) == ("active", Plan.PRO)
    assert updated.subscription.current_period_end == datetime.fromtimestamp(1797638340, UTC)
    paid = events["invoice.paid"]
    assert (paid.type, paid.customer_id, paid.subscription_id) == (
        BillingEventType.INVOICE_PAID, "cus_test_1", "sub_test_1",
    )  # fmt: skip
    assert events["customer.subscription.deleted"].subscription.status == "canceled"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object": "event", "type": "invoice.paid", "created": 1}',
        b'{"id": "evt_1", "object": "event", "type": "invoice.paid", "created": "soon"}',
        b'{"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1, "data": {}}',
        b'{"id": "evt_1", "object": "event", "type": "customer.subscription.updated", '
        b'"created": 1, "data": {"object": {"id": "sub_1", "customer": 5, "status": "active"}}}',
    ],
)
def test_a_malformed_event_is_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        read_event(body, {})


def test_a_type_lily_does_not_act_on_reads_as_other() -> None:
    body = b'{"id": "evt_1", "object": "event", "type": "charge.refunded", "created": 1}'
    assert read_event(body, {}).type is BillingEventType.OTHER

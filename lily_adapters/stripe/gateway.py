"""The PaymentGateway on Stripe's API, through a `stripe.StripeClient` of its own (no module
globals), its base URL from LILY_STRIPE_API_URL.

Every create call carries an idempotency key, so that a retry (stripe-python's own, with
`max_network_retries`, reuses the key it is given) cannot make a second object: a customer's
key is derived from the tenant, so even two requests racing for a tenant's first checkout
get one customer; a session's key is made once per call.

Every call goes through the provider policy (lily_adapters.provider_policy) for its circuit
breaker (one per Lily: it has one Stripe key): while Stripe is failing, calls fail fast with
ProviderUnavailable instead of each waiting out its timeouts and retries. The bounded,
jittered retries are stripe-python's own (`max_network_retries`, honouring Stripe's
`Stripe-Should-Retry`, the same idempotency key each time), so the policy adds none."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

import stripe

from lily_adapters.metrics import PROVIDER_ERRORS, PROVIDER_LATENCY
from lily_adapters.provider_policy import ProviderPolicy, no_retry
from lily_adapters.stripe.objects import PriceMap, read_subscription
from lily_core.domain.billing import Plan, StripeSubscription
from lily_core.domain.tenant import Tenant
from lily_core.errors import InvalidInput, NotFound, PermanentDeliveryError, TransientDeliveryError
from lily_core.ports.providers import PaymentGateway

__all__ = ["StripePaymentGateway"]

TIMEOUT_SECONDS = 10.0
MAX_NETWORK_RETRIES = 2

T = TypeVar("T")


class StripePaymentGateway(PaymentGateway):
    """`prices` maps each plan to its Stripe price id (a plan without one cannot be
    bought). SDK errors become core errors: a connection failure, a 429 or a 5xx is
    TransientDeliveryError, another refusal PermanentDeliveryError, a missing subscription
    NotFound."""

    def __init__(
        self,
        api_key: str,
        *,
        api_url: str,
        prices: Mapping[Plan, str | None],
        timeout: float = TIMEOUT_SECONDS,
        max_network_retries: int = MAX_NETWORK_RETRIES,
        policy: ProviderPolicy | None = None,
    ) -> None:
        self._policy = policy or ProviderPolicy(sends_per_second=None, attempts=1)
        self._http = stripe.RequestsClient(timeout=timeout)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_url.rstrip("/")},
            http_client=self._http,
            max_network_retries=max_network_retries,
        )
        self._price_of = {plan: price for plan, price in prices.items() if price}
        self.prices: PriceMap = {price: plan for plan, price in self._price_of.items()}

    def close(self) -> None:
        self._http.close()  # type: ignore[no-untyped-call]

    def _call(self, call: Callable[[], T], missing: str | None = None) -> T:
        def once() -> T:
            with _errors(missing):
                return call()

        return self._policy.call("stripe", "platform", once, retry=no_retry)

    def create_customer(self, tenant: Tenant) -> str:
        params: dict[str, Any] = {"name": tenant.name, "metadata": {"tenant_id": tenant.id}}
        customer = self._call(
            lambda: self._client.v1.customers.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": f"lily-customer-{tenant.id}"},
            )
        )
        return str(customer.id)

    def checkout_url(
        self,
        tenant: Tenant,
        *,
        plan: Plan,
        customer_id: str,
        success_url: str,
        cancel_url: str,
    ) -> str:
        price = self._price_of.get(plan)
        if price is None:
            raise InvalidInput(f"the {plan} plan has no Stripe price on this Lily", field="plan")
        params: dict[str, Any] = {
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": tenant.id,
            "line_items": [{"price": price, "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": {"tenant_id": tenant.id},
            "subscription_data": {"metadata": {"tenant_id": tenant.id}},
        }
        key = f"lily-checkout-{uuid.uuid4().hex}"
        session = self._call(
            lambda: self._client.v1.checkout.sessions.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": key},
            )
        )
        return _url(session)

    def portal_url(self, customer_id: str, *, return_url: str) -> str:
        params: dict[str, Any] = {"customer": customer_id, "return_url": return_url}
        key = f"lily-portal-{uuid.uuid4().hex}"
        session = self._call(
            lambda: self._client.v1.billing_portal.sessions.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": key},
            )
        )
        return _url(session)

    def subscription(self, subscription_id: str) -> StripeSubscription:
        found = self._call(
            lambda: self._client.v1.subscriptions.retrieve(subscription_id),
            missing=f"no such subscription: {subscription_id}",
        )
        return self._read(found)

    def latest_subscription(self, customer_id: str) -> StripeSubscription | None:
        params: dict[str, Any] = {"customer": customer_id, "status": "all", "limit": 1}
        page = self._call(
            lambda: self._client.v1.subscriptions.list(params),  # type: ignore[arg-type]
            missing=f"no such customer: {customer_id}",
        )
        return self._read(page.data[0]) if page.data else None

    def _read(self, obj: stripe.StripeObject) -> StripeSubscription:
        try:
            return read_subscription(obj.to_dict(), self.prices)
        except InvalidInput as exc:
            raise PermanentDeliveryError(
                f"Stripe answered an unexpected subscription: {exc}"
            ) from None


def _url(session: stripe.StripeObject) -> str:
    url = session.to_dict().get("url")
    if not isinstance(url, str) or not url:
        raise PermanentDeliveryError("Stripe answered a session without a url")
    return url


class _errors:
    """Turn what stripe-python raises into core errors; time the call and count its
    failures (lily_provider_* metrics)."""

    def __init__(self, missing: str | None = None) -> None:
        self.missing = missing
        self.started = 0.0

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        PROVIDER_LATENCY.labels("stripe", "api").observe(time.perf_counter() - self.started)
        if isinstance(exc, stripe.StripeError):
            code = getattr(exc, "code", None) or exc.http_status or type(exc).__name__
            PROVIDER_ERRORS.labels("stripe", str(code)[:40]).inc()
            _raise_core(exc, self.missing)


def _raise_core(exc: stripe.StripeError, missing: str | None) -> NoReturn:
    status = exc.http_status
    code = getattr(exc, "code", None)
    message = f"Stripe: {exc.user_message or type(exc).__name__} (HTTP {status or '-'})"
    if missing and status == 404:
        raise NotFound(missing) from None
    transient = isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError)
    if transient or status is None or status == 429 or status >= 500:
        raise TransientDeliveryError(message, code=code) from None
    raise PermanentDeliveryError(message, code=code) from None

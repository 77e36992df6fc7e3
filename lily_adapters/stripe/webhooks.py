"""Stripe webhook events: the `Stripe-Signature` header checked by stripe-python against the
raw body (HMAC-SHA256 of `{t}.{body}` with the endpoint's secret, `t` within the tolerance),
then the event read into a core BillingEvent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stripe import SignatureVerificationError, WebhookSignature

from lily_adapters.stripe.objects import (
    PriceMap,
    invoice_subscription,
    read_subscription,
    string,
    timestamp,
)
from lily_core.domain.billing import BillingEvent, BillingEventType
from lily_core.errors import InvalidInput

__all__ = ["SIGNATURE_HEADER", "TOLERANCE_SECONDS", "BadSignature", "read_event", "verify"]

SIGNATURE_HEADER = "Stripe-Signature"
TOLERANCE_SECONDS = 300  # stripe-python's default: a replay older than 5 minutes is refused


class BadSignature(Exception):
    """No, a malformed, a wrong or a stale `Stripe-Signature`."""


def verify(payload: bytes, header: str | None, secret: str) -> None:
    """Raise BadSignature unless `header` signs `payload` with `secret`, recently."""
    try:
        WebhookSignature.verify_header(payload, header, secret, TOLERANCE_SECONDS)
    except SignatureVerificationError as exc:
        raise BadSignature(str(exc).split(".")[0]) from None
    except (ValueError, TypeError, UnicodeDecodeError) as exc:  # a header stripe cannot split
        raise BadSignature(f"unreadable signature header ({type(exc).__name__})") from None


def read_event(payload: bytes, prices: PriceMap) -> BillingEvent:
    """The verified `payload` as a BillingEvent; InvalidInput if it is not a Stripe event
    or an object Lily acts on is of the wrong shape."""
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(event, Mapping) or event.get("object") != "event":
        raise InvalidInput("must be an event", field="object")
    event_id, raw_type = string(event, "id"), string(event, "type")
    created = timestamp(event.get("created"), "created")
    kind = BillingEventType.from_raw(str(raw_type))
    base: dict[str, Any] = {"id": event_id, "type": kind, "created": created}
    if kind is BillingEventType.OTHER:
        return BillingEvent(**base)
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        raise InvalidInput("must be an object", field="data.object")
    try:
        return _with_object(base, kind, obj, prices)
    except InvalidInput as exc:
        raise InvalidInput(exc.reason, field=f"data.object.{exc.field or ''}".rstrip(".")) from None


def _with_object(
    base: dict[str, Any], kind: BillingEventType, obj: Mapping[str, Any], prices: PriceMap
) -> BillingEvent:
    if kind is BillingEventType.CHECKOUT_COMPLETED:
        if obj.get("mode") != "subscription":  # a one-off payment: nothing of Lily's
            return BillingEvent(**{**base, "type": BillingEventType.OTHER})
        return BillingEvent(
            **base,
            tenant_id=string(obj, "client_reference_id", required=False),
            customer_id=_expanded(obj, "customer"),
            subscription_id=_expanded(obj, "subscription"),
        )
    if kind in (BillingEventType.INVOICE_PAID, BillingEventType.INVOICE_PAYMENT_FAILED):
        return BillingEvent(
            **base,
            customer_id=_expanded(obj, "customer"),
            subscription_id=invoice_subscription(obj),
        )
    return BillingEvent(**base, subscription=read_subscription(obj, prices))


def _expanded(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if isinstance(value, Mapping):
        return string(value, "id")
    return string(obj, name, required=False)

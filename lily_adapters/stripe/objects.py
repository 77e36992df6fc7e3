"""Stripe's JSON objects read into the core's terms, for both the API version stripe-python
pins (2025-03-31.basil and later: a subscription's period on its items, an invoice's
subscription under `parent.subscription_details`) and older ones (on the subscription, and
`invoice.subscription`). Anything of the wrong shape is InvalidInput, never a crash."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lily_core.domain.billing import Plan, StripeSubscription
from lily_core.errors import InvalidInput

__all__ = ["PriceMap", "invoice_subscription", "read_subscription", "string", "timestamp"]

PriceMap = Mapping[str, Plan]  # Stripe price id -> Lily's plan

_ID_MAX = 255  # the width of the columns Stripe ids are kept in
# Later than any period Stripe will report; keeps datetime far from its limits.
_LATEST = 253402300799  # 9999-12-31T23:59:59Z


def string(obj: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = obj.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > _ID_MAX:
        raise InvalidInput("must be a non-empty string of at most 255 characters", field=name)
    return value


def _id(value: Any, name: str) -> str | None:
    """An id, or the id of an expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _ID_MAX:
        raise InvalidInput("must be an id", field=name)
    return value


def timestamp(value: Any, name: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _LATEST:
        raise InvalidInput("must be a Unix timestamp", field=name)
    return datetime.fromtimestamp(value, UTC)


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("must be an object", field=name)
    return value


def _items(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = obj.get("items")
    if items is None:
        return []
    data = _mapping(items, "items").get("data", [])
    if not isinstance(data, list):
        raise InvalidInput("must be a list", field="items.data")
    return [_mapping(item, "items.data[]") for item in data]


def read_subscription(obj: Mapping[str, Any], prices: PriceMap) -> StripeSubscription:
    """A Stripe `subscription` object. Its plan is that of the first item whose price is
    one of Lily's (None if none is); its period end the subscription's, else the latest of
    its items'."""
    if obj.get("object", "subscription") != "subscription":
        raise InvalidInput("must be a subscription", field="object")
    items = _items(obj)
    plan = None
    for item in items:
        price = item.get("price")
        price_id = _id(price, "items.data[].price")
        if price_id is not None and price_id in prices:
            plan = prices[price_id]
            break
    ends = [obj.get("current_period_end")] + [item.get("current_period_end") for item in items]
    period_ends = [timestamp(e, "current_period_end") for e in ends if e is not None]
    metadata = obj.get("metadata") or {}
    tenant_id = _mapping(metadata, "metadata").get("tenant_id")
    customer = _id(obj.get("customer"), "customer")
    if customer is None:
        raise InvalidInput("is missing", field="customer")
    return StripeSubscription(
        id=str(string(obj, "id")),
        customer_id=customer,
        status=str(string(obj, "status")),
        plan=plan,
        current_period_end=max(period_ends) if period_ends else None,
        tenant_id=tenant_id if isinstance(tenant_id, str) and tenant_id else None,
    )


def invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    """The id of the subscription an invoice bills, if it bills one."""
    legacy = _id(invoice.get("subscription"), "subscription")
    if legacy:
        return legacy
    parent = invoice.get("parent") or {}
    details = _mapping(parent, "parent").get("subscription_details") or {}
    return _id(_mapping(details, "parent.subscription_details").get("subscription"), "subscription")

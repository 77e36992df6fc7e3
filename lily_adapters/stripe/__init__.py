"""Stripe (DESIGN §2.4): the PaymentGateway on Stripe's API, and its webhook events."""

from lily_adapters.stripe.gateway import StripePaymentGateway
from lily_adapters.stripe.webhooks import SIGNATURE_HEADER, BadSignature, read_event, verify

__all__ = ["SIGNATURE_HEADER", "BadSignature", "StripePaymentGateway", "read_event", "verify"]

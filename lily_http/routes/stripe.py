"""Stripe's webhook (DESIGN §2.4): `POST /webhooks/stripe`.

The raw body (read with a cap) is checked against `Stripe-Signature` by stripe-python with
LILY_STRIPE_WEBHOOK_SECRET before anything is read or stored: a missing, forged or stale
signature (outside the 300 s tolerance) is 400, as Stripe expects. An event is applied once
(by its id) and never moves a subscription's state backwards. Types Lily does not act on,
and objects that name no tenant of Lily's, are acknowledged with 200 and a log line; a body
of the wrong shape is 400 with a log line. When Stripe had to be asked and could not answer,
503: Stripe delivers the event again later."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from loguru import logger
from starlette.concurrency import run_in_threadpool

from lily_adapters.stripe import SIGNATURE_HEADER, BadSignature, read_event, verify
from lily_core.errors import DeliveryError, InvalidInput, NotFound
from lily_http.bodies import read_body
from lily_http.deps import ContainerDep, RequestIdDep, rejected
from lily_http.openapi_shapes import WebhookAck, errors, header, json_body

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
# Stripe's events are a few kilobytes (a subscription with its items, an invoice with its
# lines); 1 MiB, as for Cal.com, bounds what an unauthenticated caller makes Lily hold.
MAX_BODY_BYTES = 1024 * 1024

STRIPE_EVENT = {
    "type": "object",
    "required": ["id", "object", "type", "created", "data"],
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["event"]},
        "type": {
            "type": "string",
            "description": "checkout.session.completed, customer.subscription.created, "
            ".updated, .deleted, invoice.paid and invoice.payment_failed are acted on; any "
            "other type is acknowledged and ignored",
        },
        "created": {"type": "integer", "description": "Unix time"},
        "data": {"type": "object", "properties": {"object": {"type": "object"}}},
    },
}


@router.post(
    "/stripe",
    response_model=None,
    responses={
        200: {"model": WebhookAck, "description": "Applied, a duplicate, stale, or ignored"},
        **errors(400, 404, 413, 503),
    },
    openapi_extra={
        "parameters": [header(SIGNATURE_HEADER, "t=<unix time>,v1=<HMAC-SHA256 of t.body>")],
        "requestBody": json_body(STRIPE_EVENT),
    },
)
async def stripe_webhook(
    request: Request, container: ContainerDep, request_id: RequestIdDep
) -> dict[str, Any]:
    body = await read_body(request, MAX_BODY_BYTES)
    settings = container.settings()
    log = logger.bind(provider="stripe", request_id=request_id)
    if not settings.billing_enabled:
        log.warning("stripe: webhook while billing is off")
        raise HTTPException(404, "billing is not set up on this Lily")
    secret = settings.stripe_webhook_secret
    try:
        if secret is None:
            raise BadSignature("no LILY_STRIPE_WEBHOOK_SECRET to check it with")
        verify(body, request.headers.get(SIGNATURE_HEADER), secret.get_secret_value())
    except BadSignature as exc:
        log.bind(error=str(exc)).warning("stripe: bad signature")
        raise HTTPException(400, f"invalid {SIGNATURE_HEADER}") from None
    try:
        event = read_event(body, container.stripe_prices())
    except InvalidInput as exc:
        raise rejected(log, "stripe: malformed event", exc) from None
    log = log.bind(event_id=event.id, type=str(event.type))
    try:
        result = await run_in_threadpool(container.handle_billing_event(), event)
    except DeliveryError as exc:
        log.bind(error=str(exc)).warning("stripe: Stripe could not be asked; it will retry")
        raise HTTPException(503, "Stripe could not be reached; deliver again later") from None
    except NotFound as exc:  # the subscription named is not Stripe's (any more)
        log.bind(error=str(exc)).warning("stripe: event ignored")
        return {"status": "ignored"}
    log.bind(outcome=str(result.outcome), tenant=result.tenant_id, note=result.note).info(
        "stripe webhook"
    )
    return {"status": str(result.outcome)}

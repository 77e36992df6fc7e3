"""Cal.com booking webhooks (DESIGN §2.3).

The tenant comes from the path; `X-Cal-Signature-256` is checked against the raw body (read
with a cap) with that tenant's Cal.com secret — 403 before anything is stored. A body of the
wrong shape is a 400; a trigger Lily does not act on is acknowledged (200) so Cal.com does
not retry it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from loguru import logger
from starlette.concurrency import run_in_threadpool

from lily_adapters import metrics
from lily_adapters.calcom import SIGNATURE_HEADER, parse_booking_webhook, verify_signature
from lily_core.domain.booking_events import (
    EARLIEST_BOOKING,
    LATEST_BOOKING,
    UID_MAX,
    BookingTrigger,
)
from lily_core.errors import InvalidInput
from lily_core.use_cases.bookings import BookingOutcome
from lily_http.bodies import read_body
from lily_http.deps import ContainerDep, RequestIdDep, find_tenant, rejected
from lily_http.openapi_shapes import WebhookAck, errors, header, json_body

router = APIRouter(prefix="/webhooks/calcom", tags=["webhooks"])
# Cal.com's booking payloads are a few kilobytes (the booking, its attendees and the
# booking form's answers); 1 MiB leaves room for long answers without letting an
# unauthenticated caller make Lily hold more.
MAX_BODY_BYTES = 1024 * 1024
BOOKING_EVENTS = (BookingOutcome.CREATED, BookingOutcome.RESCHEDULED, BookingOutcome.CANCELLED)

_TIME = {
    "type": "string",
    "format": "date-time",
    "description": f"between {EARLIEST_BOOKING.year} and {LATEST_BOOKING.year}",
}
_UID = {"type": "string", "maxLength": UID_MAX}
BOOKING_WEBHOOK = {
    "type": "object",
    "required": ["triggerEvent"],
    "properties": {
        "triggerEvent": {
            "type": "string",
            "description": "BOOKING_CREATED, BOOKING_RESCHEDULED or BOOKING_CANCELLED are "
            "acted on; any other trigger is acknowledged and ignored",
        },
        "payload": {
            "type": "object",
            "description": "Required for the three booking triggers",
            "properties": {
                "uid": _UID,
                "rescheduleUid": _UID,
                "startTime": _TIME,
                "endTime": _TIME,
                "title": {"type": "string"},
                "location": {"type": "string"},
                "attendees": {"type": "array", "items": {"type": "object"}},
                "responses": {"type": "object"},
                "metadata": {"type": "object", "description": "the booking link's lead_id"},
            },
        },
    },
}


@router.post(
    "/{tenant_slug}",
    response_model=None,
    responses={
        200: {"model": WebhookAck, "description": "Applied, or ignored"},
        **errors(400, 403, 404, 413),
    },
    openapi_extra={
        "parameters": [header(SIGNATURE_HEADER, "hex HMAC-SHA256 of the body")],
        "requestBody": json_body(BOOKING_WEBHOOK),
    },
)
async def booking_webhook(
    tenant_slug: str, request: Request, container: ContainerDep, request_id: RequestIdDep
) -> dict[str, Any]:
    body = await read_body(request, MAX_BODY_BYTES)

    tenant = await find_tenant(container, slug=tenant_slug)
    log = logger.bind(tenant=tenant.slug)
    if not verify_signature(tenant.calcom_secret, body, request.headers.get(SIGNATURE_HEADER)):
        log.warning("calcom: bad signature")
        metrics.SIGNATURE_FAILURES.labels("calcom").inc()
        raise HTTPException(403, f"invalid {SIGNATURE_HEADER}")
    try:
        event = parse_booking_webhook(body)
    except InvalidInput as exc:
        raise rejected(log, "calcom: malformed webhook", exc) from None
    if event.trigger is BookingTrigger.OTHER:
        log.bind(trigger=event.raw_trigger).info("calcom: trigger ignored")
        return {"status": "ignored"}
    try:
        result = await run_in_threadpool(
            container.handle_booking_webhook(), tenant, event, request_id=request_id
        )
    except InvalidInput as exc:
        raise rejected(log, "calcom: rejected webhook", exc) from None
    log.bind(trigger=event.raw_trigger, uid=event.uid, outcome=str(result.outcome)).info(
        "calcom webhook"
    )
    if result.outcome in BOOKING_EVENTS:
        metrics.BOOKINGS.labels(tenant.slug, str(result.outcome)).inc()
    return {"status": str(result.outcome)}

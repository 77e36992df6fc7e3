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

from lily_adapters.calcom import SIGNATURE_HEADER, parse_booking_webhook, verify_signature
from lily_core.domain.booking_events import BookingTrigger
from lily_core.errors import InvalidInput
from lily_http.bodies import read_body
from lily_http.deps import ContainerDep, RequestIdDep, find_tenant, rejected

router = APIRouter(prefix="/webhooks/calcom", tags=["webhooks"])
# Cal.com's booking payloads are a few kilobytes (the booking, its attendees and the
# booking form's answers); 1 MiB leaves room for long answers without letting an
# unauthenticated caller make Lily hold more.
MAX_BODY_BYTES = 1024 * 1024


@router.post("/{tenant_slug}")
async def booking_webhook(
    tenant_slug: str, request: Request, container: ContainerDep, request_id: RequestIdDep
) -> dict[str, Any]:
    body = await read_body(request, MAX_BODY_BYTES)

    tenant = await find_tenant(container, slug=tenant_slug)
    log = logger.bind(tenant=tenant.slug)
    if not verify_signature(tenant.calcom_secret, body, request.headers.get(SIGNATURE_HEADER)):
        log.warning("calcom: bad signature")
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
    return {"status": str(result.outcome)}

"""Cal.com booking webhooks (DESIGN §2.3).

The tenant comes from the path; `X-Cal-Signature-256` is checked against the raw body with
that tenant's Cal.com secret — 403 before anything is stored. A body of the wrong shape is
a 400; a trigger Lily does not act on is acknowledged (200) so Cal.com does not retry it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from loguru import logger
from starlette.concurrency import run_in_threadpool

from lily_adapters.calcom import SIGNATURE_HEADER, parse_booking_webhook, verify_signature
from lily_core.domain.booking_events import BookingTrigger
from lily_core.errors import InvalidInput
from lily_http.deps import ContainerDep, RequestIdDep, find_tenant

router = APIRouter(prefix="/webhooks/calcom", tags=["webhooks"])


@router.post("/{tenant_slug}")
async def booking_webhook(
    tenant_slug: str, request: Request, container: ContainerDep, request_id: RequestIdDep
) -> dict[str, Any]:
    body = await request.body()

    tenant = await find_tenant(container, slug=tenant_slug)
    log = logger.bind(tenant=tenant.slug)
    if not verify_signature(tenant.calcom_secret, body, request.headers.get(SIGNATURE_HEADER)):
        log.warning("calcom: bad signature")
        raise HTTPException(403, f"invalid {SIGNATURE_HEADER}")
    try:
        event = parse_booking_webhook(body)
    except InvalidInput as exc:
        log.bind(error=str(exc)).warning("calcom: malformed webhook")
        raise HTTPException(400, str(exc)) from None
    if event.trigger is BookingTrigger.OTHER:
        log.bind(trigger=event.raw_trigger).info("calcom: trigger ignored")
        return {"status": "ignored"}
    try:
        result = await run_in_threadpool(
            container.handle_booking_webhook(), tenant, event, request_id=request_id
        )
    except InvalidInput as exc:
        log.bind(error=str(exc)).warning("calcom: rejected webhook")
        raise HTTPException(400, str(exc)) from None
    log.bind(trigger=event.raw_trigger, uid=event.uid, outcome=str(result.outcome)).info(
        "calcom webhook"
    )
    return {"status": str(result.outcome)}

"""Twilio webhooks: voice, inbound SMS/MMS and delivery status (DESIGN §2.1, §2.5).

Each request: read the form (capped), find the tenant by its business number, check
X-Twilio-Signature against LILY_PUBLIC_URL + path (+ query) with that tenant's auth token —
403 before anything is stored — then call one use case and answer TwiML. Every field is
cleaned (NULs, lone surrogates) before a use case sees it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from loguru import logger
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from lily_adapters import metrics
from lily_adapters.container import Container
from lily_adapters.twilio.webhooks import (
    empty_messaging_twiml,
    forward_call_twiml,
    is_valid_signature,
    missed_call_twiml,
)
from lily_core.domain.phone import try_normalize_phone
from lily_core.domain.sanitize import clean_text
from lily_core.domain.tenant import Tenant
from lily_core.errors import InvalidInput
from lily_core.use_cases.conversation import ConversationOutcome
from lily_core.use_cases.inbound import InboundOutcome, InboundSms, needs_advancing
from lily_core.use_cases.missed_call import CallOutcome, VoiceEvent
from lily_http.bodies import read_body
from lily_http.deps import ContainerDep, RequestIdDep, find_tenant, rejected
from lily_http.openapi_shapes import errors, form_body, header

router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])
RING_TIMEOUT_SECONDS = 20
# what the business metrics count: every missed call but Twilio's retries; every quote
MISSED = (CallOutcome.MISSED, CallOutcome.MISSED_DEDUPED, CallOutcome.MISSED_OPTED_OUT)
QUOTED = (ConversationOutcome.QUOTED, ConversationOutcome.DECLINED)
# Twilio's webhooks are forms of a few dozen short fields. The longest is an SMS Body of at
# most 1,600 characters: under 20 KB even percent-encoded 4-byte characters; an MMS adds at
# most ten media URLs. 64 KiB is three times the largest real form.
MAX_BODY_BYTES = 64 * 1024


class TwiML(Response):
    media_type = "application/xml"


SIGNED = header("X-Twilio-Signature", "Twilio's signature of the URL and the form fields")
ERRORS = errors(400, 403, 404, 413)


def tenant_auth_token(container: Container, tenant: Tenant) -> str:
    """The token Twilio signs this tenant's webhooks with: its own subaccount's, else the
    platform's, else (sandbox mode) the tenant's sandbox token."""
    if tenant.has_own_twilio and tenant.twilio_auth_token:
        return tenant.twilio_auth_token
    return container.settings().platform_twilio_token or tenant.sandbox_auth_token


async def signed_form(
    request: Request, container: Container, number_field: str
) -> tuple[Tenant, FormData]:
    """The verified form and the tenant whose business number is in `number_field`."""
    await read_body(request, MAX_BODY_BYTES)
    try:
        form = await request.form()
    except Exception:
        logger.bind(path=request.url.path).warning("twilio: the body is not a form")
        raise HTTPException(400, "the body is not a form") from None
    number = try_normalize_phone(_field(form, number_field))

    tenant = await find_tenant(container, phone=number)
    url = container.settings().public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    params: dict[str, str | list[str]] = {}
    for key in form:
        values = [str(v) for v in form.getlist(key)]
        params[key] = values if len(values) > 1 else values[0]
    if not is_valid_signature(
        tenant_auth_token(container, tenant), url, params, request.headers.get("x-twilio-signature")
    ):
        logger.bind(tenant=tenant.slug, path=request.url.path).warning("twilio: bad signature")
        metrics.SIGNATURE_FAILURES.labels("twilio").inc()
        raise HTTPException(403, "invalid X-Twilio-Signature")
    return tenant, form


def _field(form: FormData, name: str) -> str | None:
    """A form field as a use case may store it (the signature was checked on the raw one)."""
    value = form.get(name)
    return clean_text(str(value)) if value is not None else None


@router.post(
    "/voice",
    response_class=TwiML,
    responses={200: {"description": "TwiML: forward the call, hang up, or apologise"}, **ERRORS},
    openapi_extra={
        "parameters": [SIGNED],
        "requestBody": form_body(
            {
                "CallSid": "the call (at most 64 characters)",
                "From": "the caller",
                "To": "the tenant's business number",
                "CallStatus": "ringing, in-progress, no-answer, busy, ...",
                "DialCallStatus": "the forwarded leg's outcome (on the <Dial> action)",
            },
            required=("CallSid", "From", "To"),
        ),
    },
)
async def voice(request: Request, container: ContainerDep, request_id: RequestIdDep) -> Response:
    tenant, form = await signed_form(request, container, "To")
    event = VoiceEvent(
        call_sid=_field(form, "CallSid") or "",
        from_number=_field(form, "From") or "",
        call_status=_field(form, "CallStatus"),
        dial_call_status=_field(form, "DialCallStatus"),
    )
    log = logger.bind(tenant=tenant.slug, call_sid=event.call_sid[:64])
    try:
        result = await run_in_threadpool(
            container.handle_voice_call(), tenant, event, request_id=request_id
        )
    except InvalidInput as exc:
        raise rejected(log, "voice webhook rejected", exc) from None
    log.bind(outcome=str(result.outcome)).info("voice webhook")
    if result.outcome in MISSED:
        metrics.MISSED_CALLS.labels(tenant.slug).inc()
    if result.outcome == CallOutcome.FORWARD and result.forward_to:
        action = container.settings().public_url + request.url.path
        return TwiML(forward_call_twiml(result.forward_to, action, RING_TIMEOUT_SECONDS))
    if result.outcome == CallOutcome.ANSWERED:
        return TwiML('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>')
    return TwiML(missed_call_twiml(tenant.name))


@router.post(
    "/sms",
    response_class=TwiML,
    responses={200: {"description": "An empty TwiML <Response>: replies go out later"}, **ERRORS},
    openapi_extra={
        "parameters": [SIGNED],
        "requestBody": form_body(
            {
                "MessageSid": "the message (at most 64 characters; SmsSid is read without it)",
                "SmsSid": "the older name of MessageSid",
                "From": "the customer",
                "To": "the tenant's business number",
                "Body": "the text",
                "NumMedia": "how many MediaUrlN/MediaContentTypeN pairs follow (N from 0)",
                "MediaUrl0": "the first photo (MediaUrl1... for the others, up to 10)",
                "MediaContentType0": "its content type",
                "OptOutType": "STOP, START or HELP when Advanced Opt-Out recognised one",
            },
            required=("From", "To"),
        ),
    },
)
async def sms(request: Request, container: ContainerDep, request_id: RequestIdDep) -> Response:
    tenant, form = await signed_form(request, container, "To")
    log = logger.bind(tenant=tenant.slug)
    try:
        count = int(_field(form, "NumMedia") or 0)
    except ValueError:
        not_a_number = InvalidInput("is not a number", field="NumMedia")
        raise rejected(log, "sms webhook rejected", not_a_number) from None
    media = [
        (url, _field(form, f"MediaContentType{i}") or "application/octet-stream")
        for i in range(min(count, 10))
        if (url := _field(form, f"MediaUrl{i}"))
    ]
    inbound = InboundSms(
        message_sid=_field(form, "MessageSid") or _field(form, "SmsSid") or "",
        from_number=_field(form, "From") or "",
        body=_field(form, "Body") or "",
        media=tuple(media),
        opt_out_type=_field(form, "OptOutType"),
    )
    try:
        result = await run_in_threadpool(
            container.handle_inbound_sms(), tenant, inbound, request_id=request_id
        )
    except InvalidInput as exc:
        raise rejected(log, "sms webhook rejected", exc) from None
    log.bind(outcome=str(result.outcome)).info("sms webhook")
    if result.outcome == InboundOutcome.OPTED_OUT:
        metrics.OPT_OUTS.labels(tenant.slug).inc()
    if needs_advancing(result) and result.lead_id and result.message_id:
        advanced = await run_in_threadpool(
            container.advance_conversation(),
            tenant,
            result.lead_id,
            result.message_id,
            request_id=request_id,
        )
        log.bind(conversation=str(advanced.outcome)).info("conversation")
        if advanced.outcome in QUOTED:
            in_area = advanced.outcome == ConversationOutcome.QUOTED
            metrics.QUOTES.labels(tenant.slug, str(in_area).lower()).inc()
    return TwiML(empty_messaging_twiml())


@router.post(
    "/sms/status",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Recorded (or nothing to record)"}, **ERRORS},
    openapi_extra={
        "parameters": [SIGNED],
        "requestBody": form_body(
            {
                "MessageSid": "the message Lily sent (SmsSid is read without it)",
                "SmsSid": "the older name of MessageSid",
                "MessageStatus": "sent, delivered, undelivered or failed (others are ignored)",
                "SmsStatus": "the older name of MessageStatus",
                "ErrorCode": "Twilio's error code, for undelivered and failed",
                "From": "the tenant's business number",
            },
            required=("From",),
        ),
    },
)
async def sms_status(request: Request, container: ContainerDep) -> Response:
    tenant, form = await signed_form(request, container, "From")
    sid = _field(form, "MessageSid") or _field(form, "SmsSid")
    status = _field(form, "MessageStatus") or _field(form, "SmsStatus")
    log = logger.bind(tenant=tenant.slug)
    try:
        if not sid or not status:
            raise InvalidInput("MessageSid and MessageStatus are required")
        changed = await run_in_threadpool(
            container.record_delivery_status(), tenant, sid, status, _field(form, "ErrorCode")
        )
    except InvalidInput as exc:
        raise rejected(log, "sms status rejected", exc) from None
    log.bind(sid=sid, status=status[:32], changed=changed).info("sms status")
    return Response(status_code=204)

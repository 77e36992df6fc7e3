"""`lily simulate call|sms`: play Twilio against a running Lily.

Posts the webhooks Twilio would post for a tenant's business number, form-encoded and signed
with X-Twilio-Signature exactly as Twilio signs them (the full URL posted to, with the auth
token Lily checks for that tenant), so the whole path — signature, tenant lookup, use case,
queue, worker — runs as in production. Nothing is sent to Twilio."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Annotated
from xml.etree import ElementTree

import typer

from lily_cli.common import TenantOption, container, new_app
from lily_core.errors import InvalidInput, LilyError

if TYPE_CHECKING:
    import httpx

    from lily_core.domain.tenant import Tenant

simulate_app = new_app("Post signed Twilio-shaped webhooks to a running Lily (for trying it out).")

VOICE_PATH = "/webhooks/twilio/voice"
SMS_PATH = "/webhooks/twilio/sms"
SAMPLE_PHOTO = "https://demo.twilio.com/owl.png"
DIAL_STATUSES = ("no-answer", "busy", "failed", "canceled", "completed")
TIMEOUT_SECONDS = 15.0

FromOption = Annotated[
    str, typer.Option("--from", metavar="E164", help="The customer's number (E.164).")
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        metavar="URL",
        help="Base URL of the running server (default: LILY_PUBLIC_URL).",
    ),
]


class SimulationFailed(LilyError):
    """The server could not be reached, or answered with an error."""


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


class TwilioSimulator:
    """Signs and posts webhooks for one tenant to `base_url` (no trailing slash)."""

    def __init__(
        self, tenant: Tenant, auth_token: str, account_sid: str, base_url: str, client: httpx.Client
    ) -> None:
        self.tenant, self.token, self.account_sid = tenant, auth_token, account_sid
        self.base_url, self.client = base_url, client

    def post(self, path: str, form: dict[str, str]) -> httpx.Response:
        import httpx
        from twilio.request_validator import RequestValidator

        url = self.base_url + path
        signature = RequestValidator(self.token).compute_signature(url, form)
        try:
            response = self.client.post(url, data=form, headers={"X-Twilio-Signature": signature})
        except httpx.HTTPError as exc:
            raise SimulationFailed(
                f"cannot reach Lily at {self.base_url} ({type(exc).__name__}); "
                "is `lily serve` running there? (--url to point elsewhere)"
            ) from None
        if response.status_code >= 400:
            raise SimulationFailed(f"{path}: {describe_error(response)}")
        return response


def describe_error(response: httpx.Response) -> str:
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = response.text.strip()[:200] or response.reason_phrase
    hint = (
        " (the server checks signatures against its LILY_PUBLIC_URL: post to that URL, "
        "with the same Twilio settings as the server)"
        if response.status_code == 403
        else ""
    )
    return f"the server answered {response.status_code}: {message}{hint}"


def describe_twiml(text: str) -> str:
    """What a TwiML answer tells Twilio to do, in a few words."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return f"not TwiML: {text.strip()[:80]!r}"
    parts = []
    for verb in root:
        content = " ".join((verb.text or "").split())
        if verb.tag == "Dial":
            parts.append(f"forward to {content} (ring {verb.get('timeout', '?')} s)")
        elif verb.tag in ("Say", "Message"):
            parts.append(f"{verb.tag.lower()} {content!r}")
        else:
            parts.append(verb.tag.lower())
    return ", then ".join(parts) or "nothing (no reply now; replies come from the worker)"


def _dial_action(text: str) -> str | None:
    try:
        dial = ElementTree.fromstring(text).find("Dial")
    except ElementTree.ParseError:
        return None
    return dial.get("action", VOICE_PATH) if dial is not None else None


def _simulator(slug: str, url: str | None, client: httpx.Client) -> TwilioSimulator:
    from lily_core.use_cases.tenants import find_tenant
    from lily_http.routes.twilio import tenant_auth_token

    built = container()
    with built.uow() as uow:
        tenant = find_tenant(uow, slug)
    base = (url or built.settings().public_url).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise InvalidInput(f"{base!r} is not an http(s) URL", field="url")
    account_sid = (
        tenant.twilio_account_sid or built.settings().twilio_account_sid or "AC" + "0" * 32
    )
    return TwilioSimulator(tenant, tenant_auth_token(built, tenant), account_sid, base, client)


@simulate_app.command("call")
def call(
    tenant: TenantOption,
    from_: FromOption,
    status: Annotated[
        str,
        typer.Option(
            metavar="STATUS", help="How the forwarded leg ends: " + ", ".join(DIAL_STATUSES) + "."
        ),
    ] = "no-answer",
    url: UrlOption = None,
) -> None:
    """A call to the business number, then the dial outcome if Lily forwards it.

    A missed call gets its text-back from the worker after the jitter."""
    if status not in DIAL_STATUSES:
        raise InvalidInput(f"must be one of {', '.join(DIAL_STATUSES)}", field="status")
    import httpx

    from lily_core.domain.phone import normalize_phone

    caller = normalize_phone(from_, field="from")
    with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
        sim = _simulator(tenant, url, client)
        form = {
            "AccountSid": sim.account_sid,
            "CallSid": _sid("CA"),
            "From": caller,
            "To": sim.tenant.phone,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        first = sim.post(VOICE_PATH, form)
        typer.echo(f"call {form['CallSid']}: Lily answered: {describe_twiml(first.text)}")
        action = _dial_action(first.text)
        if action is None:
            return
        # Twilio posts the dial outcome to the action URL; it is posted to --url's server
        path = httpx.URL(action).raw_path.decode() or VOICE_PATH
        outcome = {"CallStatus": "in-progress", "DialCallStatus": status, "DialCallSid": _sid("CA")}
        second = sim.post(path, {**form, **outcome})
        typer.echo(f"dial {status}: Lily answered: {describe_twiml(second.text)}")


@simulate_app.command("sms")
def sms(
    tenant: TenantOption,
    from_: FromOption,
    text: Annotated[str, typer.Option("--text", metavar="TEXT", help="The message body.")] = "",
    photos: Annotated[
        int, typer.Option(metavar="N", help="Sample photos to attach (MMS), 0-10.")
    ] = 0,
    url: UrlOption = None,
) -> None:
    """An SMS (or MMS with --photos) from a customer to the business number."""
    if not 0 <= photos <= 10:
        raise InvalidInput("must be between 0 and 10 (Twilio's MMS limit)", field="photos")
    if not text and not photos:
        raise InvalidInput("give --text, --photos or both", field="text")
    import httpx

    from lily_core.domain.phone import normalize_phone

    sender = normalize_phone(from_, field="from")
    with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
        sim = _simulator(tenant, url, client)
        sid = _sid("MM" if photos else "SM")
        form = {
            "AccountSid": sim.account_sid,
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "From": sender,
            "To": sim.tenant.phone,
            "Body": text,
            "NumMedia": str(photos),
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }
        for i in range(photos):
            form[f"MediaUrl{i}"] = SAMPLE_PHOTO
            form[f"MediaContentType{i}"] = "image/jpeg"
        response = sim.post(SMS_PATH, form)
        typer.echo(f"sms {sid}: Lily answered: {describe_twiml(response.text)}")

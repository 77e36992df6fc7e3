"""The harness's Lily with a tenant that takes all three provider webhooks, and posting of
raw bodies signed as each provider signs them (test_webhook_fuzz, test_webhook_input)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlencode

import httpx
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from lily_adapters.calcom import SIGNATURE_HEADER, sign
from lily_adapters.container import Container
from lily_core.testing import FakeClock
from tests.e2e.conftest import PUBLIC_URL, Lily
from tests.e2e.test_quote_flow import BOOKING_URL, import_pricebook
from tests.standins.twilio import TwilioStandIn

CALCOM_SECRET = "calcom-webhook-secret"
CHATWOOT_SECRET = "chatwoot-webhook-secret"
ACCOUNT_ID, INBOX_ID = 3, 9


class WebhookLily(Lily):
    """A tenant with a Cal.com secret, a Chatwoot inbox, and what the flows behind the
    webhooks read: a price book, a booking page, a review link and a calendar."""

    def __init__(
        self, container: Container, client: TestClient, clock: FakeClock, twilio: TwilioStandIn
    ) -> None:
        super().__init__(container, client, clock, twilio)
        import_pricebook(self)
        self.tenant = self.update_tenant(
            calcom_secret=CALCOM_SECRET,
            chatwoot_secret=CHATWOOT_SECRET,
            chatwoot_account_id=str(ACCOUNT_ID),
            chatwoot_inbox_id=str(INBOX_ID),
            booking_url=BOOKING_URL,
            review_url="https://g.page/r/acme/review",
            google_calendar_id="primary",
        )

    def post_calcom(self, body: bytes) -> httpx.Response:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(CALCOM_SECRET, body)}
        return self._post(f"/webhooks/calcom/{self.tenant.slug}", body, headers)

    def post_chatwoot(self, body: bytes) -> httpx.Response:
        timestamp = str(int(self.clock.now().timestamp()))
        mac = hmac.new(CHATWOOT_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        headers = {
            "Content-Type": "application/json",
            "X-Chatwoot-Timestamp": timestamp,
            "X-Chatwoot-Signature": f"sha256={mac.hexdigest()}",
        }
        return self._post(f"/webhooks/chatwoot/{self.tenant.slug}", body, headers)

    def post_twilio(
        self, path: str, fields: Mapping[str, str] | Sequence[tuple[str, str]]
    ) -> httpx.Response:
        """POST the form to `path` with Twilio's signature. A lone surrogate, which has no
        UTF-8, goes out as the bytes Python would give it; the signature covers the values
        as the server decodes them (as Twilio's would)."""
        pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
        body = urlencode(pairs, encoding="utf-8", errors="surrogatepass")
        received = dict(parse_qsl(body, keep_blank_values=True))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": RequestValidator(self.token).compute_signature(
                PUBLIC_URL + path, received
            ),
        }
        return self._post(path, body.encode(), headers)

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        response: httpx.Response = self.client.post(path, content=body, headers=headers)
        return response

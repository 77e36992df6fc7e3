from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import urllib3
from loguru import logger
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.rest import Client

from lily_adapters.logs import drop_phone_numbers
from lily_adapters.metrics import provider_call
from lily_adapters.provider_policy import ProviderPolicy
from lily_adapters.twilio._http import TWILIO_API_URL, RebasedTwilioHttpClient
from lily_core.domain.tenant import Tenant
from lily_core.errors import (
    DeliveryError,
    DeliveryOutcomeUnknown,
    PermanentDeliveryError,
    RecipientOptedOut,
    TransientDeliveryError,
)
from lily_core.ports import SentSms, SmsSender

OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient"
LOOKUP_PAGE = 50  # messages read per lookup of an interrupted send: one page, the newest


class TwilioSmsSender(SmsSender):
    """Sends through Twilio's Messages API from the tenant's business number.

    A tenant with its own (sub)account credentials sends with them, every other tenant with
    the platform's. One twilio `Client` per account, all sharing one HTTP connection pool.
    Errors: 21610 -> RecipientOptedOut; 429, 5xx, connection errors and timeouts ->
    TransientDeliveryError (with Retry-After when Twilio gives one); any other 4xx (21211
    invalid number, 21614 not a mobile, 20003 bad credentials...) -> PermanentDeliveryError.
    A send whose request may have reached Twilio without its answer reaching Lily (a read
    timeout, a connection cut after sending) is DeliveryOutcomeUnknown.

    Twilio takes no idempotency key, so `find_sent` reads the Messages list filtered by To,
    From and DateSent (whole UTC days, as Twilio filters them) and keeps the messages with
    the same body created at or after `since`.

    Every call goes through `policy` (lily_adapters.provider_policy): a circuit breaker per
    account SID, bounded retries of what certainly did nothing, and, for sends, the rate of
    the sending number. Without one: a breaker, no retries, no rate limit.
    """

    def __init__(
        self,
        account_sid: str | None,
        auth_token: str | None,
        api_url: str = TWILIO_API_URL,
        timeout: float = 10.0,
        policy: ProviderPolicy | None = None,
    ) -> None:
        self._policy = policy or ProviderPolicy(sends_per_second=None, attempts=1)
        self._platform = (account_sid, auth_token)
        self._http = RebasedTwilioHttpClient(api_url, timeout=timeout)
        self._clients: dict[tuple[str, str], Client] = {}
        self._lock = threading.Lock()

    def _client(self, tenant: Tenant) -> Client:
        """The client of the tenant's account; its `username` is the account SID."""
        if tenant.has_own_twilio:
            sid, token = tenant.twilio_account_sid, tenant.twilio_auth_token
        else:
            sid, token = self._platform
        if not sid or not token:
            raise PermanentDeliveryError(f"no Twilio credentials for tenant {tenant.slug}")
        # keyed by the token too, so a rotated token takes effect without a restart
        with self._lock:
            client = self._clients.get((sid, token))
            if client is None:
                client = Client(sid, token, http_client=self._http)
                self._clients[(sid, token)] = client
            return client

    def send(
        self,
        tenant: Tenant,
        *,
        to: str,
        body: str,
        media_urls: Sequence[str] = (),
        status_callback: str | None = None,
    ) -> SentSms:
        client = self._client(tenant)
        options: dict[str, object] = {}
        if media_urls:
            options["media_url"] = list(media_urls)
        if status_callback:
            options["status_callback"] = status_callback
        self._policy.pace(tenant.phone)

        def create() -> SentSms:
            return self._create(client, to=to, from_=tenant.phone, body=body, **options)

        return self._policy.call("twilio", str(client.username), create)

    def _create(self, client: Client, **fields: Any) -> SentSms:
        try:
            with provider_call("twilio", "send_sms"):
                message = client.messages.create(**fields)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise delivery_error(exc, self._http.last_headers()) from exc
        except requests.RequestException as exc:
            if _never_sent(exc):
                raise TransientDeliveryError(f"Twilio unreachable: {type(exc).__name__}") from exc
            raise DeliveryOutcomeUnknown(f"Twilio's answer was lost: {type(exc).__name__}") from exc
        return SentSms(str(message.sid), str(message.status))

    def find_sent(self, tenant: Tenant, *, to: str, body: str, since: datetime) -> list[SentSms]:
        client = self._client(tenant)

        def read() -> list[SentSms]:
            return self._find(client, to=to, from_=tenant.phone, body=body, since=since)

        return self._policy.call("twilio", str(client.username), read)

    def _find(
        self, client: Client, *, to: str, from_: str | None, body: str, since: datetime
    ) -> list[SentSms]:
        # DateSent>= takes a day; a day earlier covers Twilio's and Lily's clocks disagreeing
        # around midnight. The page holds the newest messages first.
        day = (since.astimezone(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
        try:
            with provider_call("twilio", "list_sms"):
                page = client.messages.page(
                    to=to, from_=from_, date_sent_after=day, page_size=LOOKUP_PAGE
                )
                messages = list(page)
        except (TwilioRestException, TwilioServiceException) as exc:
            error = delivery_error(exc, self._http.last_headers())
            if isinstance(error, PermanentDeliveryError):
                raise error from exc
            raise TransientDeliveryError(str(error), code=error.code) from exc
        except TwilioException as exc:  # a list page: "Unable to fetch page", the response
            raise _page_error(exc, self._http.last_headers()) from exc
        except requests.RequestException as exc:
            raise TransientDeliveryError(f"Twilio unreachable: {type(exc).__name__}") from exc
        found = [
            m for m in messages
            if m.body == body and m.date_created is not None and m.date_created >= since
        ]  # fmt: skip
        found.sort(key=lambda m: m.date_created, reverse=True)
        return [SentSms(str(m.sid), str(m.status)) for m in found]

    def close(self) -> None:
        """Release the pooled HTTP connections."""
        if self._http.session is not None:
            self._http.session.close()


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached Twilio: the connection was not made."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps it
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


def _page_error(exc: TwilioException, headers: Mapping[str, str]) -> DeliveryError:
    """twilio-python raises a bare TwilioException, with the response, for a list page that
    failed: its status decides, as for delivery_error (a 4xx is permanent, but a 404 of a
    list is no answer either way, so only 401/403 are)."""
    response = exc.args[1] if len(exc.args) > 1 else None
    status = int(getattr(response, "status_code", 0) or 0)
    message = f"Twilio {status or 'error'} listing messages"
    if status in (401, 403):
        return PermanentDeliveryError(message, code=str(status))
    return TransientDeliveryError(
        message, retry_after=retry_after_seconds(headers.get("retry-after"))
    )


def delivery_error(
    exc: TwilioRestException | TwilioServiceException, headers: Mapping[str, str]
) -> DeliveryError:
    """The core error for a Twilio API error response. Twilio's text may name the number
    ("The 'To' number +1... is not a valid phone number"): it is dropped, since the error is
    stored with the message and the task, where no customer's number rests in clear."""
    status = int(exc.status)
    code = str(exc.code) if exc.code is not None else None
    text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
    message = f"Twilio {status} (code {code}): {drop_phone_numbers(str(text))}"
    if code == str(OPTED_OUT):
        return RecipientOptedOut(message, code=code)
    if status == 429 or status >= 500:
        return TransientDeliveryError(
            message, code=code, retry_after=retry_after_seconds(headers.get("retry-after"))
        )
    return PermanentDeliveryError(message, code=code)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delay-seconds or an HTTP date; None if absent/garbled."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class SandboxSmsSender(SmsSender):
    """Sends nothing: logs one line and returns a `sandbox` status, for running Lily without
    Twilio credentials. The line carries no body text and no secrets."""

    def send(
        self,
        tenant: Tenant,
        *,
        to: str,
        body: str,
        media_urls: Sequence[str] = (),
        status_callback: str | None = None,
    ) -> SentSms:
        sid = "SB" + uuid.uuid4().hex
        logger.bind(tenant=tenant.slug, sid=sid).info(
            "sandbox SMS to {to}: {chars} chars, {media} media (not sent)",
            to=to,
            chars=len(body),
            media=len(media_urls),
        )
        return SentSms(sid, "sandbox")

    def find_sent(self, tenant: Tenant, *, to: str, body: str, since: datetime) -> list[SentSms]:
        """Nothing: the sandbox never sends, so an interrupted sandbox send is sent (logged)
        again, and the message is recorded once."""
        return []

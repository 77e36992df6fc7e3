"""Google Calendar (v3 REST) as lily_core's Calendar port.

Auth: a service-account key file read by google-auth, which signs a JWT-bearer grant and
posts it to the key's own `token_uri` (so a stand-in token server works by pointing the key
there). Token requests go through an httpx-backed google-auth transport; the token is cached
by the credentials object and refreshed only when it is about to expire (or once after a 401).

Quirks handled here:
- Event ids are chosen by Lily (deterministic per booking), so an insert that is retried after
  a lost response answers 409 "duplicate" instead of double-booking; the upsert then updates.
- A deleted event is kept by Google with status "cancelled": inserting its id again answers
  409 and deleting it again answers 410. The update (PUT) sets status "confirmed", which
  brings a cancelled event back.
- Rate limits come as 429, but also as 403 with reason rateLimitExceeded/userRateLimitExceeded.

Every call goes through the provider policy (lily_adapters.provider_policy): a circuit breaker
per service account, and, both calls being idempotent (an insert under Lily's own event id, a
delete), bounded jittered retries of any transient failure, a lost answer included.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import google.auth.exceptions
import google.auth.transport
import httpx
from google.oauth2 import service_account
from loguru import logger

from lily_adapters.metrics import PROVIDER_ERRORS, provider_call
from lily_adapters.provider_policy import ProviderPolicy, repeatable
from lily_core.errors import (
    InvalidInput,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from lily_core.ports.providers import Calendar, CalendarEvent

__all__ = ["CALENDAR_SCOPE", "GoogleCalendar"]

CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.events"
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})


class _HttpxResponse(google.auth.transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class _HttpxRequest(google.auth.transport.Request):
    """google-auth's transport interface over an httpx client (google-auth ships one for
    requests and urllib3 only)."""

    def __init__(self, client: httpx.Client, timeout: float) -> None:
        self._client = client
        self._timeout = timeout

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> google.auth.transport.Response:
        try:
            response = self._client.request(
                method, url, content=body, headers=headers, timeout=timeout or self._timeout
            )
        except httpx.HTTPError as exc:
            raise google.auth.exceptions.TransportError(str(exc)) from exc  # type: ignore[no-untyped-call]
        return _HttpxResponse(response)


class GoogleCalendar(Calendar):
    """Events on Google calendars the service account may write to (share the calendar with
    the account's client_email, "Make changes to events")."""

    def __init__(
        self,
        service_account_file: str,
        api_url: str = "https://www.googleapis.com/calendar/v3",
        timeout: float = 10.0,
        policy: ProviderPolicy | None = None,
    ) -> None:
        self._policy = policy or ProviderPolicy(sends_per_second=None, attempts=1)
        try:
            self._credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                service_account_file, scopes=[CALENDAR_SCOPE]
            )
        except (OSError, ValueError, KeyError) as exc:
            raise InvalidInput(
                f"cannot read the service-account key {service_account_file!r}: {exc}",
                field="LILY_GOOGLE_SERVICE_ACCOUNT_FILE",
            ) from exc
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout
        self._client = httpx.Client(timeout=timeout)
        self._token_request = _HttpxRequest(self._client, timeout)
        self._token_lock = threading.Lock()
        # the breaker's credential: the service account (its email, not its key)
        self._account = str(getattr(self._credentials, "service_account_email", "") or "-")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GoogleCalendar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the port -------------------------------------------------------------------------

    def upsert_event(self, calendar_id: str, event_id: str, event: CalendarEvent) -> None:
        """Insert under `event_id`; if the id exists (live or cancelled), replace it."""
        self._policy.call(
            "google_calendar",
            self._account,
            lambda: self._upsert(calendar_id, event_id, event),
            retry=repeatable,
        )

    def _upsert(self, calendar_id: str, event_id: str, event: CalendarEvent) -> None:
        body = {"id": event_id, **_event_resource(event)}
        response = self._call("POST", _events_path(calendar_id), json=body)
        if response.status_code == 409:
            response = self._call("PUT", _events_path(calendar_id, event_id), json=body)
            if response.status_code == 404:
                # Gone between our insert and update (purged): the next attempt inserts it.
                raise TransientDeliveryError(f"event {event_id} vanished during update")
        _raise_for_status(response, f"upsert {event_id}")
        logger.bind(calendar_id=calendar_id, event_id=event_id).debug("calendar event upserted")

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Delete the event; 404 (never existed) and 410 (deleted already) are fine."""
        self._policy.call(
            "google_calendar",
            self._account,
            lambda: self._delete(calendar_id, event_id),
            retry=repeatable,
        )

    def _delete(self, calendar_id: str, event_id: str) -> None:
        response = self._call("DELETE", _events_path(calendar_id, event_id))
        if response.status_code in (404, 410):
            return
        _raise_for_status(response, f"delete {event_id}")

    # -- HTTP -----------------------------------------------------------------------------

    def _call(self, method: str, path: str, json: Any = None) -> httpx.Response:
        with provider_call("google_calendar", method.lower()):
            response = self._send(method, path, json, self._access_token(force=False))
            if response.status_code == 401:
                # The token may have been revoked or expired early: one fresh token, one retry.
                response = self._send(method, path, json, self._access_token(force=True))
        if response.status_code >= 400 and response.status_code not in (404, 409, 410):
            PROVIDER_ERRORS.labels("google_calendar", str(response.status_code)).inc()
        return response

    def _send(self, method: str, path: str, json: Any, token: str) -> httpx.Response:
        try:
            return self._client.request(
                method,
                self._api_url + path,
                json=json,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError(f"Google Calendar timed out: {exc}") from exc
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(f"Google Calendar unreachable: {exc}") from exc

    def _access_token(self, *, force: bool) -> str:
        with self._token_lock:
            if force or not self._credentials.valid:
                try:
                    self._credentials.refresh(self._token_request)
                except google.auth.exceptions.RefreshError as exc:
                    if getattr(exc, "retryable", False):
                        raise TransientDeliveryError(f"token refresh failed: {exc}") from exc
                    raise PermanentDeliveryError(f"token refresh refused: {exc}") from exc
                except google.auth.exceptions.TransportError as exc:
                    raise TransientDeliveryError(f"token endpoint unreachable: {exc}") from exc
            token = self._credentials.token
        if not isinstance(token, str):
            raise PermanentDeliveryError("token endpoint returned no access token")
        return token


def _events_path(calendar_id: str, event_id: str | None = None) -> str:
    # Calendar ids contain "@" (and may contain "#"): encode everything.
    path = f"/calendars/{quote(calendar_id, safe='')}/events"
    return path if event_id is None else f"{path}/{quote(event_id, safe='')}"


def _event_resource(event: CalendarEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "confirmed",
        "summary": event.summary,
        "description": event.description,
        "start": _event_time(event.start, event.timezone),
        "end": _event_time(event.end, event.timezone),
    }
    if event.location:
        body["location"] = event.location
    return body


def _event_time(moment: datetime, timezone: str) -> dict[str, str]:
    """RFC 3339 in the event's zone (readable in the raw API too) with the zone's name."""
    try:
        zone: ZoneInfo | None = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        return {"dateTime": moment.astimezone(UTC).isoformat(), "timeZone": "UTC"}
    return {"dateTime": moment.astimezone(zone).isoformat(), "timeZone": timezone}


def _error_reasons(response: httpx.Response) -> tuple[str, set[str]]:
    """Google's error message and the `reason`s of `error.errors[]`, if the body has them."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return response.text[:200], set()
    if not isinstance(error, dict):
        return str(error)[:200], set()
    reasons = {
        str(item.get("reason"))
        for item in error.get("errors") or []
        if isinstance(item, dict) and item.get("reason")
    }
    return str(error.get("message") or response.reason_phrase), reasons


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _raise_for_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    message, reasons = _error_reasons(response)
    text = f"Google Calendar {what}: HTTP {status}: {message}"
    code = str(status)
    if status == 429 or status >= 500 or (status == 403 and reasons & _RATE_LIMIT_REASONS):
        raise TransientDeliveryError(text, code=code, retry_after=_retry_after(response))
    # 400 (bad event), 401 (refused token), 403 (calendar not shared), 404 (no calendar)...
    raise PermanentDeliveryError(text, code=code)

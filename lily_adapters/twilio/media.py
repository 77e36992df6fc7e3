from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import httpx

from lily_adapters.metrics import provider_call
from lily_adapters.provider_policy import ProviderPolicy, repeatable
from lily_adapters.twilio._http import TWILIO_API_URL, is_twilio_api_host
from lily_core.domain.tenant import Tenant
from lily_core.errors import PermanentDeliveryError, TransientDeliveryError
from lily_core.ports import FetchedMedia, MediaFetcher

_MAX_REDIRECTS = 5


class TwilioMediaFetcher(MediaFetcher):
    """Downloads MMS media (MediaUrlN of an inbound message) with HTTP basic auth.

    Twilio answers a media URL with a redirect to a pre-signed CDN URL. The credentials go
    only to the first hop, and only when that URL is on a Twilio API host (or `api_url`, the
    stand-in in tests); redirects are followed without them, so the auth token never
    reaches the CDN or anything else. The body is streamed and abandoned past `max_bytes`.
    404 (and every other 4xx) is permanent; 429, 5xx, timeouts and connection errors are
    transient.

    Fetches go through the provider policy: a circuit breaker per Twilio account for media
    on Twilio (`twilio_media`, apart from the sends' breaker), per host for any other
    (`media`: Chatwoot's attachments), and, a GET being idempotent, bounded jittered retries
    of any transient failure.
    """

    def __init__(
        self,
        account_sid: str | None,
        auth_token: str | None,
        timeout: float = 10.0,
        *,
        api_url: str = TWILIO_API_URL,
        policy: ProviderPolicy | None = None,
    ) -> None:
        self._policy = policy or ProviderPolicy(sends_per_second=None, attempts=1)
        self._platform = (account_sid, auth_token)
        self._api_origin = _origin(api_url)
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)

    def _trusted(self, url: str) -> bool:
        parts = urlsplit(url)
        return _origin(url) == self._api_origin or (
            parts.scheme == "https" and is_twilio_api_host(parts.hostname)
        )

    def _credentials(self, tenant: Tenant) -> tuple[str | None, str | None]:
        if tenant.has_own_twilio:
            return tenant.twilio_account_sid, tenant.twilio_auth_token
        return self._platform

    def _auth(self, tenant: Tenant, url: str) -> httpx.BasicAuth | None:
        if not self._trusted(url):
            return None
        sid, token = self._credentials(tenant)
        return httpx.BasicAuth(sid, token) if sid and token else None

    def fetch(self, tenant: Tenant, url: str, *, max_bytes: int) -> FetchedMedia:
        if self._trusted(url):
            provider, credential = "twilio_media", self._credentials(tenant)[0] or "-"
        else:
            provider, credential = "media", urlsplit(url).netloc.lower() or "-"

        def fetch() -> FetchedMedia:
            with provider_call("twilio", "fetch_media"):
                return self._fetch(tenant, url, max_bytes=max_bytes)

        return self._policy.call(provider, credential, fetch, retry=repeatable)

    def _fetch(self, tenant: Tenant, url: str, *, max_bytes: int) -> FetchedMedia:
        auth = self._auth(tenant, url)
        try:
            for _ in range(_MAX_REDIRECTS + 1):
                request = self._http.build_request("GET", url)
                response = self._http.send(request, auth=auth, stream=True)
                try:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        auth = None  # never past the first hop
                        continue
                    _raise_for_status(response, url)
                    data = _read_capped(response, url, max_bytes)
                    return FetchedMedia(data, _content_type(response))
                finally:
                    response.close()
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"fetching {_shown(url)}: {type(exc).__name__}") from exc
        raise PermanentDeliveryError(f"{_shown(url)}: more than {_MAX_REDIRECTS} redirects")

    def close(self) -> None:
        self._http.close()


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _shown(url: str) -> str:
    """`url` for an error message (which ends up in logs and the dead-letter list) without
    its query: a redirect's pre-signed CDN URL carries its signature there."""
    return urlsplit(url)._replace(query="", fragment="").geturl()


def _raise_for_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    if status < 300:
        return
    message = f"fetching {_shown(url)}: HTTP {status}"
    if status == 429 or status >= 500:
        raise TransientDeliveryError(message, code=str(status))
    raise PermanentDeliveryError(message, code=str(status))


def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    too_big = PermanentDeliveryError(
        f"{_shown(url)} is larger than {max_bytes} bytes", code="too_large"
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _content_type(response: httpx.Response) -> str:
    value = response.headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower() or "application/octet-stream"

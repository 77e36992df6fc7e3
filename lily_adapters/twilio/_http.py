from __future__ import annotations

import threading
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

TWILIO_API_URL = "https://api.twilio.com"


def is_twilio_api_host(host: str | None) -> bool:
    """api.twilio.com and its edge/region variants (api.dublin.ie1.twilio.com)."""
    host = (host or "").lower()
    return host == "api.twilio.com" or (host.startswith("api.") and host.endswith(".twilio.com"))


class RebasedTwilioHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """twilio-python's requests-based client, sending api.twilio.com calls to `api_url`.

    twilio-python 9.x hard-codes each domain's base URL (`Domain.base_url`); the HttpClient
    it is handed is the one supported seam that sees every absolute URL, so the rewrite lives
    here instead of in patched SDK attributes. The SDK's exceptions drop the response headers;
    this client keeps the last response's headers per thread so callers can read Retry-After.
    The session retries nothing (requests' default): the worker owns retry policy.
    """

    def __init__(self, api_url: str = TWILIO_API_URL, *, timeout: float | None = None) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        self._base = urlsplit(api_url.rstrip("/"))
        self._rebase = api_url.rstrip("/") != TWILIO_API_URL
        self._local = threading.local()

    def rebase(self, url: str) -> str:
        if not self._rebase:
            return url
        parts = urlsplit(url)
        if not is_twilio_api_host(parts.hostname):
            return url
        path = self._base.path + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))

    def request(  # type: ignore[no-untyped-def]
        self, method: str, url: str, *args, **kwargs
    ) -> Response:
        self._local.headers = {}
        response = super().request(method, self.rebase(url), *args, **kwargs)
        self._local.headers = dict(response.headers or {})
        return response

    def last_headers(self) -> Mapping[str, str]:
        """Headers of this thread's last response (empty if it got none)."""
        headers: dict[str, str] = getattr(self._local, "headers", {})
        return {k.lower(): v for k, v in headers.items()}

"""The dashboard API's errors (DESIGN §4.2): `{"error": {"code", "message", "field"}}`, and
the map from the core's errors to HTTP statuses."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from lily_core.errors import (
    Conflict,
    DeliveryError,
    Forbidden,
    InvalidInput,
    LilyError,
    NotFound,
    RateLimited,
    Unauthenticated,
)

__all__ = [
    "ApiError",
    "CsrfRejected",
    "ErrorBody",
    "error_responses",
    "lily_error",
    "validation_error",
]


class ApiError(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ApiError


class CsrfRejected(Forbidden):
    """A write authenticated by the session cookie without its CSRF token: it may come from
    another site's page, which the browser sends the cookie from too."""


# core error -> (status, code); the first match wins, so subclasses come first
_STATUS: list[tuple[type[LilyError], int, str]] = [
    (InvalidInput, 422, "invalid"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (Unauthenticated, 401, "unauthorized"),
    (CsrfRejected, 403, "csrf_failed"),
    (Forbidden, 403, "forbidden"),
    (RateLimited, 429, "rate_limited"),
    (DeliveryError, 502, "provider_failed"),
]
_DESCRIPTIONS = {
    400: "The body is not JSON",
    401: "No token, or a wrong, expired or revoked one",
    403: "The caller's role may not do this, or a cookie-signed write lacks its CSRF token",
    404: "No such thing in the caller's tenant",
    409: "The change conflicts with the current state",
    422: "The input breaks a rule; `field` names the culprit",
    429: "Too many attempts; `Retry-After` says when to try again",
    502: "A provider (Stripe) failed or could not be reached; try again",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries documenting these error statuses with the error shape."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}


def _answer(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(body, status_code=status)


async def lily_error(request: Request, exc: Exception) -> JSONResponse:
    """A core error raised by a dashboard use case, as its HTTP answer."""
    status, code = next(((s, c) for k, s, c in _STATUS if isinstance(exc, k)), (400, "invalid"))
    if isinstance(exc, InvalidInput):
        return _answer(status, code, exc.reason, exc.field)
    response = _answer(status, code, str(exc))
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthenticated):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's request validation, in the API's error shape: the first error, with the
    field it is about (a dotted path without the `body`/`query` prefix)."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    loc = [str(part) for part in first.get("loc", ())]
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:]
    return _answer(422, "invalid", str(first.get("msg", "invalid")), ".".join(loc) or None)

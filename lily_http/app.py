from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from prometheus_client import Counter, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lily_adapters.container import Container, build_container
from lily_adapters.logs import configure_logging
from lily_adapters.settings import load_settings
from lily_core.errors import LilyError
from lily_http.api import api_router
from lily_http.api.errors import lily_error, validation_error
from lily_http.dashboard import DASHBOARD_DIR, photo_origins, serve_dashboard
from lily_http.docs import add_docs
from lily_http.routes import calcom, chatwoot, ops, stripe, twilio, uploads

REQUESTS = Counter("lily_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("lily_http_request_seconds", "HTTP request latency", ["method", "route"])
# A client's X-Request-ID is kept when it looks like one; anything else (long, spaces,
# control characters) would go into every log line of the request, so a new id replaces it.
_REQUEST_ID = re.compile(r"[\w.:=-]{1,64}", re.ASCII)


APP_FACTORY = "lily_http.app:app_from_settings"  # for uvicorn, by name: `lily serve --workers`


def app_from_settings() -> FastAPI:
    """The app of one of `lily serve --workers N`'s processes, with a container of its own
    made from the settings (the environment the supervising process passed on)."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(build_container(settings))


def create_app(container: Container, dashboard: Path = DASHBOARD_DIR) -> FastAPI:
    """The FastAPI application, with everything taken from `container`; the web dashboard
    from the built files in `dashboard`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # as many threads for blocking work as the database pool has connections (anyio's
        # default is 40: more threads than connections only queue on the pool)
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = container.settings().database_pool_size
        yield
        container.shutdown_resources()

    app = FastAPI(title="Lily", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.container = container
    app.add_middleware(_Edges)
    app.exception_handler(StarletteHTTPException)(_http_error)
    app.exception_handler(Exception)(_internal_error)
    app.exception_handler(LilyError)(lily_error)
    app.exception_handler(RequestValidationError)(validation_error)

    app.include_router(twilio.router)
    app.include_router(calcom.router)
    app.include_router(stripe.router)
    app.include_router(chatwoot.router)
    app.include_router(uploads.router)
    app.include_router(ops.router)
    app.include_router(api_router)
    add_docs(app)
    settings = container.settings()
    photos = photo_origins(settings.s3_bucket, settings.s3_endpoint_url)
    serve_dashboard(app, dashboard, photos)  # every GET no route answers

    return app


class _Edges:
    """Every request: its request id (`X-Request-ID` when given and sane) in every log line
    it causes and on the response; one access log line; the Prometheus metrics. An exception
    that escapes the app becomes the JSON 500 here, so that it is counted and logged like any
    other response (and not a second time by the server). The duration runs until the
    response starts (a streamed body may take longer).

    Plain ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs the
    app in a task of its own and streams the response through a memory channel, which was
    about 5 % of a webhook's CPU (issue 17)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        rid = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        original = dict(scope)  # as it came in: routing rewrites root_path for mounts
        started = time.perf_counter()
        answered: list[tuple[int, float]] = []  # (status, seconds) once the response starts

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered.append((message["status"], time.perf_counter() - started))
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        request = Request(scope)
        with logger.contextualize(request_id=rid):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                if answered:  # too late for a 500: the server closes the connection
                    raise
                await (await _internal_error(request, exc))(scope, receive, send_with_id)
            status, elapsed = answered[0] if answered else (500, time.perf_counter() - started)
            route = route_template(request, original)
            LATENCY.labels(request.method, route).observe(elapsed)
            REQUESTS.labels(request.method, route, str(status)).inc()
            logger.info(
                "{method} {path} {status} {duration_ms} ms",
                method=request.method,
                route=route,
                path=request.url.path,
                status=status,
                duration_ms=round(elapsed * 1000, 1),
            )


def route_template(request: Request, scope: dict[str, Any]) -> str:
    """The template of the route that served the request (`/webhooks/calcom/{tenant_slug}`,
    `/docs/static/{path}`), or `unmatched`: a label whose values are bounded.

    FastAPI's router records its APIRoutes in `scope["route"]`, but not the plain Starlette
    routes and mounts on the app (`/openapi.json`, static files): for those the app's own
    routes are matched against the request's original `scope`."""
    route = request.scope.get("route")
    if route is None:
        for candidate in request.app.router.routes:
            if getattr(candidate, "path_format", None) is None:
                continue  # included routers: their APIRoutes set scope["route"] themselves
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:
                route = candidate
                break
    return getattr(route, "path_format", None) or "unmatched"


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": _code(exc.status_code), "message": str(exc.detail)}},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything else: logged once with its traceback, answered as a JSON 500 that tells
    nothing of the failure but the request id to look it up by."""
    rid = getattr(request.state, "request_id", None) or uuid.uuid4().hex
    logger.opt(exception=exc).bind(request_id=rid).error(
        "unhandled {}: {} {}", type(exc).__name__, request.method, request.url.path
    )
    return JSONResponse(
        {
            "error": {
                "code": "internal",
                "message": "internal server error; quote the request id to report it",
                "request_id": rid,
            }
        },
        status_code=500,
        headers={"X-Request-ID": rid},
    )


def _code(status: int) -> str:
    return {
        400: "invalid",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "too_large",
        422: "invalid",
        429: "rate_limited",
    }.get(status, "error")

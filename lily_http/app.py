from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from loguru import logger
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException

from lily_adapters.container import Container
from lily_http.routes import calcom, chatwoot, ops, twilio, uploads

REQUESTS = Counter("lily_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("lily_http_request_seconds", "HTTP request latency", ["method", "route"])


def create_app(container: Container) -> FastAPI:
    """The FastAPI application, with everything taken from `container`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        container.shutdown_resources()

    app = FastAPI(title="Lily", version="0.1.0", lifespan=lifespan)
    app.state.container = container

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid
        started = time.perf_counter()
        with logger.contextualize(request_id=rid):
            response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        response.headers["X-Request-ID"] = rid
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": _code(exc.status_code), "message": str(exc.detail)}},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    app.include_router(twilio.router)
    app.include_router(calcom.router)
    app.include_router(chatwoot.router)
    app.include_router(uploads.router)
    app.include_router(ops.router)

    return app


def _code(status: int) -> str:
    return {
        400: "invalid",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        422: "invalid",
        429: "rate_limited",
    }.get(status, "error")

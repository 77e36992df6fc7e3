from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from lily_adapters.container import Container
from lily_http.routes import calcom, chatwoot, twilio, uploads

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

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        """The database answers (and the queue, once it is configured)."""
        checks: dict[str, str] = {}
        try:
            with container.engine().connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            logger.warning(f"readyz: database not reachable: {type(exc).__name__}")
            checks["database"] = "unreachable"
        try:
            container.queue().stats()
            checks["queue"] = "ok"
        except Exception as exc:
            logger.warning(f"readyz: queue not reachable: {type(exc).__name__}")
            checks["queue"] = "unreachable"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

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

"""Ops endpoints (DESIGN §4.2): `/healthz` (the process is up), `/readyz` (the database and
the queue answer), `/metrics` (Prometheus)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lily_http.deps import ContainerDep

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(container: ContainerDep) -> JSONResponse:
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


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

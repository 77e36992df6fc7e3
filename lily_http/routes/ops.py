"""Ops endpoints (DESIGN §4.2): `/healthz` (the process is up), `/readyz` (the database and
the queue answer), `/metrics` (Prometheus).

All three are `async def` and take no dependency that runs in the thread pool: when every
pool thread is stuck on a hung database, the orchestrator must still hear from them."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from lily_adapters.container import Container
from lily_adapters.metrics import exposition

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (it touches nothing else)."""
    return {"status": "ok"}


_READINESS = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@router.get(
    "/readyz",
    responses={
        200: {"description": "Ready", "content": {"application/json": {"schema": _READINESS}}},
        503: {
            "description": "Not ready: `checks` says what is unreachable or not migrated",
            "content": {"application/json": {"schema": _READINESS}},
        },
    },
)
async def readyz(request: Request) -> JSONResponse:
    """The database and the queue answer, each within a short deadline: 200, or 503 naming
    what is not ready ("unreachable", "not migrated"). The reasons go to the log."""
    container: Container = request.app.state.container
    results = await container.readiness().check_async()
    ready = all(result.ok for result in results.values())
    return JSONResponse(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {name: result.status for name, result in results.items()},
        },
        status_code=200 if ready else 503,
    )


METRICS_TIMEOUT_SECONDS = 5.0


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus: the counts of every process (PROMETHEUS_MULTIPROC_DIR) and the queue's
    depth, read in a thread of the event loop's own (not the request pool) and given up
    after a few seconds, when `lily_queue_up` is left out."""
    container: Container = request.app.state.container
    try:
        queue = container.queue()
        body = await asyncio.wait_for(asyncio.to_thread(exposition, queue), METRICS_TIMEOUT_SECONDS)
    except TimeoutError:
        body = await asyncio.to_thread(exposition, None)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

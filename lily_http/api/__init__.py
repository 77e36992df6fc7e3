"""The dashboard API under /api/v1 (DESIGN §4.2): one router a resource, each route taking
its caller from `lily_http.api.auth` and answering errors as `lily_http.api.errors` says."""

from __future__ import annotations

from fastapi import APIRouter

from lily_http.api import me

__all__ = ["api_router"]

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(me.router)

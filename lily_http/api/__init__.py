"""The dashboard API under /api/v1 (DESIGN §4.2): one router a resource, each route taking
its caller from `lily_http.api.auth` and answering errors as `lily_http.api.errors` says."""

from __future__ import annotations

from fastapi import APIRouter

from lily_http.api import (
    apikeys,
    billing,
    bookings,
    compliance,
    leads,
    me,
    media,
    pricebook,
    quotes,
    stats,
    tenant,
    tokens,
    uploads,
)

__all__ = ["api_router"]

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(me.router)
api_router.include_router(tokens.router)
api_router.include_router(apikeys.router)
api_router.include_router(leads.router)
api_router.include_router(media.router)
api_router.include_router(quotes.router)
api_router.include_router(bookings.router)
api_router.include_router(pricebook.router)
api_router.include_router(tenant.router)
api_router.include_router(uploads.router)
api_router.include_router(stats.router)
api_router.include_router(billing.router)
api_router.include_router(compliance.router)

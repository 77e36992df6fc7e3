"""Reading, importing and editing a tenant's versioned price book, and quote previews: by
slug for the CLI, for the caller's tenant for the dashboard API."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lily_core.domain.geo import require_zip
from lily_core.domain.pricebook import PriceBook, PriceBookVersion
from lily_core.domain.principal import Principal
from lily_core.domain.quoting import QuoteResult, QuotingService
from lily_core.domain.sanitize import clean_text
from lily_core.errors import InvalidInput, NotFound
from lily_core.ports.clock import Clock
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.tenants import find_tenant


def current_pricebook(uow: UnitOfWork, tenant_id: str) -> PriceBookVersion:
    """The tenant's current price-book version; NotFound if it has none yet."""
    version = uow.pricebooks.current(tenant_id)
    if version is None:
        raise NotFound(
            "this tenant has no price book yet: import one "
            "(lily pricebook import, or PUT /api/v1/pricebook)"
        )
    return version


def save_pricebook(
    uow: UnitOfWork, clock: Clock, tenant_id: str, document: object
) -> PriceBookVersion:
    """Validate `document` and store it as the tenant's next version, unless it equals the
    current one (then the current version is returned). Call inside `with uow:`."""
    canonical = PriceBook.from_document(_storable(document)).to_document()
    current = uow.pricebooks.current(tenant_id)
    if current is not None and current.document == canonical:
        return current
    version = PriceBookVersion(
        tenant_id=tenant_id,
        version=(current.version + 1) if current else 1,
        document=canonical,
        created_at=clock.now(),
    )
    uow.pricebooks.add(version)
    return version


def _storable(value: object, depth: int = 0) -> object:
    """`value` with every string in it made storable text (clean_text: NULs dropped, lone
    surrogates replaced), as a webhook's JSON is. A price book is three levels deep: what
    lies deeper is left as it is, for validation to refuse."""
    if isinstance(value, str):
        return clean_text(value)
    if depth > 8:
        return value
    if isinstance(value, Mapping):
        return {_storable(k, depth + 1): _storable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item, depth + 1) for item in value]
    return value


class ImportPriceBook:
    """Replace a tenant's price book with a validated document, as a new version."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, slug: str, document: object) -> PriceBookVersion:
        with self.uow:
            tenant = find_tenant(self.uow, slug)
            version = save_pricebook(self.uow, self.clock, tenant.id, document)
            self.uow.commit()
        return version


class SetService:
    """Add or change one service of a tenant's price book, as a new version. A tenant
    without a price book gets a starter one around its ZIP."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(
        self,
        slug: str,
        key: str,
        *,
        low: float,
        high: float,
        keywords: Sequence[str] | None = None,
        name: str | None = None,
    ) -> PriceBookVersion:
        with self.uow:
            tenant = find_tenant(self.uow, slug)
            current = self.uow.pricebooks.current(tenant.id)
            if current is not None:
                document: dict[str, Any] = copy.deepcopy(current.document)
            elif tenant.zip:
                document = starter_document(tenant.zip)
            else:
                raise InvalidInput(
                    "the tenant has no ZIP to centre a price book on: set one with "
                    "`lily tenant update SLUG --zip ZIP` or import a price book",
                    field="zip",
                )
            services: list[dict[str, Any]] = document["services"]
            existing = next((s for s in services if s["key"] == key), None)
            entry = existing or {"key": key, "keywords": []}
            entry.update(low=low, high=high)
            if keywords is not None:
                entry["keywords"] = list(keywords)
            if name is not None:
                entry["name"] = name
            if existing is None:
                services.append(entry)
            version = save_pricebook(self.uow, self.clock, tenant.id, document)
            self.uow.commit()
        return version


def starter_document(base_zip: str) -> dict[str, Any]:
    return {
        "currency": "USD",
        "minimum_charge": 0,
        "round_to": 5,
        "service_area": {"base_zip": base_zip, "radius_miles": 30, "free_miles": 15},
        "services": [],
        "default_services": [],
    }


class PreviewQuote:
    """What a lead in `zip_code` writing `text` would be quoted, without storing anything.
    A ZIP that is not a known US ZIP is InvalidInput (field `zip`); a known one outside the
    service area is an answer (`in_service_area` False)."""

    def __init__(self, uow: UnitOfWork, quoting: QuotingService | None = None) -> None:
        self.uow, self.quoting = uow, quoting or QuotingService()

    def __call__(self, slug: str, zip_code: str, text: str = "") -> tuple[QuoteResult, int]:
        zip_code = require_zip(zip_code)
        with self.uow:
            tenant = find_tenant(self.uow, slug)
            version = current_pricebook(self.uow, tenant.id)
        return self.quoting.quote(version.pricebook, zip_code, text), version.version


def preview_as_dict(result: QuoteResult, pricebook_version: int) -> dict[str, object]:
    """A quote preview as data: what `lily quote --json` prints and
    `POST /api/v1/quotes/preview` answers."""
    return {
        "zip": result.zip,
        "in_service_area": result.in_service_area,
        "low_cents": result.low_cents,
        "high_cents": result.high_cents,
        "currency": result.currency,
        "range": result.range_text if result.in_service_area else None,
        "services": list(result.services),
        "distance_miles": round(result.distance_miles, 2)
        if result.distance_miles is not None
        else None,
        "lines": [line.as_dict() for line in result.lines],
        "explanation": result.explanation,
        "reason": result.reason,
        "pricebook_version": pricebook_version,
    }


class GetPriceBook:
    """The caller's tenant's current price-book version; NotFound if it has none yet."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(self, principal: Principal) -> PriceBookVersion:
        with self.uow.for_tenant(principal.tenant.id):
            return current_pricebook(self.uow, principal.tenant.id)


class ReplacePriceBook:
    """Replace the caller's tenant's price book with `document`, validated as
    `ImportPriceBook` validates a file (PriceBookInvalid naming the field path), as a new
    version (none if it equals the current one). Owners only (Forbidden otherwise)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, principal: Principal, document: object) -> PriceBookVersion:
        principal.require_owner()
        with self.uow.for_tenant(principal.tenant.id):
            version = save_pricebook(self.uow, self.clock, principal.tenant.id, document)
            self.uow.commit()
        return version


class ListPriceBookVersions:
    """(version, created_at) of every version of the caller's tenant's price book, newest
    first (empty without a price book)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(self, principal: Principal) -> list[tuple[int, datetime]]:
        with self.uow.for_tenant(principal.tenant.id):
            return self.uow.pricebooks.history(principal.tenant.id)

"""The tenant's price book (DESIGN §4.2, §5): `/api/v1/pricebook...`. The book is the YAML/JSON
form of `lily pricebook import|export`, in whole currency units; every change is a version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from lily_core.domain.pricebook import PriceBookVersion
from lily_core.errors import PriceBookInvalid
from lily_http.api.auth import Caller, OwnerCaller
from lily_http.api.errors import error_responses
from lily_http.deps import ContainerDep

router = APIRouter(prefix="/pricebook", tags=["price book"])

# Whole currency units (or miles): a number, or a decimal string when a float would not hold
# the exact amount.
Amount = int | float | str


class ServiceArea(BaseModel):
    base_zip: str
    radius_miles: Amount = Field(description="Farther is out of the service area")
    free_miles: Amount
    travel_fee_per_mile: Amount = Field(description="Beyond free_miles, added to both bounds")
    extra_zips: list[str] = Field(description="Always served")
    excluded_zips: list[str] = Field(description="Never served")


class Service(BaseModel):
    key: str
    name: str
    keywords: list[str]
    low: Amount
    high: Amount


class Modifier(BaseModel):
    key: str
    name: str
    keywords: list[str]
    multiplier: Amount


class Book(BaseModel):
    currency: str
    minimum_charge: Amount
    round_to: Amount
    service_area: ServiceArea
    services: list[Service]
    modifiers: list[Modifier]
    default_services: list[str] = Field(description="Priced when the text names no service")


class PriceBookOut(BaseModel):
    version: int
    created_at: datetime
    book: Book

    @classmethod
    def of(cls, version: PriceBookVersion) -> PriceBookOut:
        return cls(
            version=version.version,
            created_at=version.created_at,
            book=Book.model_validate(version.document),
        )


class PriceBookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    book: dict[str, Any] = Field(
        description="The price book as `GET /api/v1/pricebook` gives it (or as a YAML file "
        "for `lily pricebook import` holds it, as JSON); optional keys may be left out"
    )


class VersionItem(BaseModel):
    version: int
    created_at: datetime


@router.get("", operation_id="getPriceBook", responses=error_responses(401, 404))
def get_pricebook(caller: Caller, container: ContainerDep) -> PriceBookOut:
    """The current price book (404 until one is imported)."""
    return PriceBookOut.of(container.get_pricebook()(caller))


@router.put("", operation_id="putPriceBook", responses=error_responses(400, 401, 403, 422))
def put_pricebook(caller: OwnerCaller, container: ContainerDep, body: PriceBookIn) -> PriceBookOut:
    """Replace the price book, validated as `lily pricebook import` validates a file (422
    naming the field, as `book.services[0].low`), as a new version; the same book again
    makes no new version. Owners only."""
    try:
        version = container.replace_pricebook()(caller, body.book)
    except PriceBookInvalid as exc:
        field = f"book.{exc.field}" if exc.field else "book"
        raise PriceBookInvalid(exc.reason, field=field) from None
    return PriceBookOut.of(version)


@router.get("/versions", operation_id="listPriceBookVersions", responses=error_responses(401))
def list_pricebook_versions(caller: Caller, container: ContainerDep) -> list[VersionItem]:
    """Every version of the price book, newest first (empty before the first import)."""
    history = container.list_pricebook_versions()(caller)
    return [VersionItem(version=v, created_at=at) for v, at in history]

"""The quotes Lily sent, and quote previews (DESIGN §4.2): `/api/v1/quotes...`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from lily_core.domain.quoting import LineKind
from lily_core.domain.records import Quote
from lily_core.use_cases.pricebooks import preview_as_dict
from lily_http.api.auth import Caller
from lily_http.api.errors import error_responses
from lily_http.api.pagination import CursorParam, LimitParam, Paged, cursor_from
from lily_http.deps import ContainerDep

router = APIRouter(prefix="/quotes", tags=["quotes"])

QuoteId = Annotated[str, Path(max_length=64, description="The quote's id")]


class QuoteLine(BaseModel):
    """One step that changed the range: a service, a modifier, the travel fee, the minimum
    charge or the rounding; the cents are what it added."""

    kind: LineKind
    key: str
    label: str
    low_cents: int
    high_cents: int


class QuoteItem(BaseModel):
    id: str
    lead_id: str
    zip: str
    in_service_area: bool
    low_cents: int
    high_cents: int
    currency: str
    lines: list[QuoteLine]
    explanation: str
    pricebook_version: int
    created_at: datetime

    @classmethod
    def of(cls, quote: Quote) -> QuoteItem:
        return cls(
            id=quote.id,
            lead_id=quote.lead_id,
            zip=quote.zip,
            in_service_area=quote.in_service_area,
            low_cents=quote.low_cents,
            high_cents=quote.high_cents,
            currency=quote.currency,
            lines=[QuoteLine.model_validate(line) for line in quote.lines],
            explanation=quote.explanation,
            pricebook_version=quote.pricebook_version,
            created_at=quote.created_at,
        )


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zip: str = Field(max_length=10, description="The customer's 5-digit US ZIP")
    text: str = Field("", max_length=2000, description="What the customer wrote")


class QuotePreview(BaseModel):
    """What `lily quote --json` prints."""

    zip: str
    in_service_area: bool
    low_cents: int
    high_cents: int
    currency: str
    range: str | None = Field(description='As the SMS shows it ("$270–$590"); null out of area')
    services: list[str] = Field(description="The keys of the services priced")
    distance_miles: float | None = Field(description="From the service area's base ZIP")
    lines: list[QuoteLine]
    explanation: str
    reason: str | None = Field(description="Why the ZIP is out of the service area")
    pricebook_version: int


@router.get("", operation_id="listQuotes", responses=error_responses(401, 422))
def list_quotes(
    caller: Caller,
    container: ContainerDep,
    lead_id: Annotated[
        str | None, Query(max_length=64, description="Only this lead's quotes")
    ] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> Paged[QuoteItem]:
    """The tenant's quotes, newest first."""
    page = container.list_quotes()(caller, lead_id=lead_id, limit=limit, after=cursor_from(cursor))
    return Paged(items=[QuoteItem.of(q) for q in page.items], next_cursor=page.next_cursor)


@router.post(
    "/preview",
    operation_id="previewQuote",
    responses=error_responses(400, 401, 403, 404, 422),
)
def preview_quote(caller: Caller, container: ContainerDep, body: PreviewRequest) -> QuotePreview:
    """The quote a customer in `zip` writing `text` would get from the current price book;
    stores nothing (404 without a price book, 422 for a ZIP that is not a US ZIP)."""
    result, version = container.preview_quote()(caller.tenant.slug, body.zip, body.text)
    preview: dict[str, Any] = preview_as_dict(result, version)
    return QuotePreview.model_validate(preview)


@router.get("/{quote_id}", operation_id="getQuote", responses=error_responses(401, 404, 422))
def get_quote(caller: Caller, container: ContainerDep, quote_id: QuoteId) -> QuoteItem:
    """One quote."""
    return QuoteItem.of(container.get_quote()(caller, quote_id))

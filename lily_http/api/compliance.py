"""`GET /api/v1/compliance/ledger` (issue 16): the tenant's opt-out ledger, as `lily
compliance export` prints it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from lily_core.domain.consent import ConsentRecord
from lily_http.api.auth import Caller
from lily_http.api.errors import error_responses
from lily_http.deps import ContainerDep

router = APIRouter(prefix="/compliance", tags=["compliance"])


class ConsentRecordOut(BaseModel):
    id: str
    created_at: dt.datetime
    action: str = Field(description="opt_out or opt_in")
    phone: str = Field(description="The customer's number (E.164)")
    evidence: str = Field(
        description="keyword:<as written>, OptOutType:<Twilio's>, or carrier:<error code>"
    )
    message_sid: str | None = Field(description="The message that carried it, if any")
    channel: str = Field(description="sms or chatwoot")
    lead_id: str | None = Field(description="The lead then; it may have been deleted since")

    @classmethod
    def of(cls, record: ConsentRecord) -> ConsentRecordOut:
        return cls(
            id=record.id,
            created_at=record.created_at,
            action=record.action.value,
            phone=record.phone,
            evidence=record.evidence,
            message_sid=record.message_sid,
            channel=record.channel,
            lead_id=record.lead_id,
        )


class ConsentLedgerOut(BaseModel):
    items: list[ConsentRecordOut] = Field(description="Oldest first")


@router.get(
    "/ledger",
    operation_id="getConsentLedger",
    responses=error_responses(401, 422),
    description="Every opt-out and opt-in of the tenant's customers, with its evidence, "
    "deleted leads' included.",
)
def get_consent_ledger(
    caller: Caller,
    container: ContainerDep,
    since: Annotated[
        dt.datetime | None, Query(description="From this time on (ISO 8601; default: all)")
    ] = None,
) -> ConsentLedgerOut:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    records = container.export_consent_ledger().for_caller(caller, since)
    return ConsentLedgerOut(items=[ConsentRecordOut.of(record) for record in records])

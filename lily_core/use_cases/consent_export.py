"""`lily compliance export SLUG --since DATE`: the tenant's opt-out ledger (issue 16)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lily_core.domain.consent import ConsentRecord
from lily_core.domain.principal import Principal
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.tenants import find_tenant

LEDGER_FIELDS = (
    "created_at",
    "action",
    "phone",
    "evidence",
    "message_sid",
    "channel",
    "lead_id",
    "id",
)


def ledger_row(record: ConsentRecord) -> dict[str, Any]:
    """One record as the export prints it (CSV columns and JSON keys: LEDGER_FIELDS)."""
    return {
        "created_at": record.created_at.isoformat(),
        "action": record.action.value,
        "phone": record.phone,
        "evidence": record.evidence,
        "message_sid": record.message_sid,
        "channel": record.channel,
        "lead_id": record.lead_id,
        "id": record.id,
    }


class ExportConsentLedger:
    """Every opt-out and opt-in of a tenant's customers from `since` on (all if None),
    oldest first, deleted leads' included; NotFound for an unknown slug."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(self, slug: str, since: datetime | None = None) -> list[ConsentRecord]:
        with self.uow:
            tenant = find_tenant(self.uow, slug)  # scopes the unit of work to the tenant
            return self.uow.consent.list_since(tenant.id, since)

    def for_caller(
        self, principal: Principal, since: datetime | None = None
    ) -> list[ConsentRecord]:
        """The same for the dashboard: the caller's own tenant (owner or operator)."""
        with self.uow.for_tenant(principal.tenant.id):
            return self.uow.consent.list_since(principal.tenant.id, since)

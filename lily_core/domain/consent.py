"""The opt-out ledger (issue 16): every opt-out and opt-in a tenant's customer made, with its
evidence, kept apart from the lead so that deleting a lead leaves the record (and the
recipient's choice) standing."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from lily_core.domain.ids import new_id

CONSENT_EVIDENCE_MAX = 64


class ConsentAction(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


@attrs.define(slots=False, eq=False, kw_only=True)
class ConsentRecord:
    """One opt-out or opt-in: who (the number, and the lead then), what proved it (the
    keyword as written, Twilio's OptOutType, or the carrier's error 21610), the message it
    came in (or the outbound one the carrier refused), when, and on which channel."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    phone: str
    lead_id: str | None = None  # no foreign key: the record outlives the lead
    action: ConsentAction
    evidence: str  # "keyword:STOP", "OptOutType:STOP", "carrier:21610"
    message_sid: str | None = None
    channel: str = "sms"
    created_at: datetime

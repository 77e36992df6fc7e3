from __future__ import annotations

from datetime import datetime

from lily_core.domain.consent import ConsentAction
from lily_core.domain.leads import ERROR_CODE_MAX, PROVIDER_SID_MAX, MessageStatus
from lily_core.domain.sanitize import require_id
from lily_core.domain.tenant import Tenant
from lily_core.ports.clock import Clock
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.inbound import record_consent, suppress_queued

_PROVIDER_STATUS = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
}
# Callbacks can arrive out of order: never move a message back to an earlier state.
_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
}


CARRIER_OPTED_OUT = "21610"  # Twilio: "Attempt to send to unsubscribed recipient"


class RecordDeliveryStatus:
    """Apply a provider delivery callback (sent, delivered, undelivered, failed + error
    code such as 30003-30007) to the stored message. Unknown SIDs and statuses that add
    nothing (queued, sending...) are ignored; returns whether the message changed. A missing
    SID, or a SID or error code longer than Lily keeps, is InvalidInput. The carrier's 21610
    (the recipient unsubscribed) opts the lead out and goes into the opt-out ledger."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(
        self, tenant: Tenant, sid: str, status: str, error_code: str | None = None
    ) -> bool:
        require_id(sid, field="MessageSid", limit=PROVIDER_SID_MAX)
        if error_code:
            require_id(error_code, field="ErrorCode", limit=ERROR_CODE_MAX)
        new = _PROVIDER_STATUS.get(status.lower())
        if new is None:
            return False
        with self.uow.for_tenant(tenant.id):
            message = self.uow.messages.get_by_provider_sid(tenant.id, sid)
            if message is None or _RANK.get(message.status, 3) > _RANK[new]:
                return False
            if message.status == new and not error_code:
                return False
            message.status = new
            if error_code:
                message.error_code = error_code
            message.updated_at = now = self.clock.now()
            if error_code == CARRIER_OPTED_OUT:
                self._opt_out(tenant, message.lead_id, sid, now)
            self.uow.commit()
        return True

    def _opt_out(self, tenant: Tenant, lead_id: str, sid: str, now: datetime) -> None:
        lead = self.uow.leads.get(tenant.id, lead_id)
        if lead is None or lead.opted_out:
            return
        lead.opted_out, lead.opted_out_at = True, now
        suppress_queued(self.uow, tenant.id, lead.id)
        evidence = f"carrier:{CARRIER_OPTED_OUT}"
        record_consent(self.uow, lead, ConsentAction.OPT_OUT, evidence, now, message_sid=sid)

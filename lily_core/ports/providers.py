from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import attrs

from lily_core.domain.billing import Plan, StripeSubscription
from lily_core.domain.tenant import Tenant


@attrs.frozen
class SentSms:
    provider_sid: str
    status: str  # the provider's status ("queued", "sent"...) or "sandbox"


class SmsSender(Protocol):
    def send(
        self,
        tenant: Tenant,
        *,
        to: str,
        body: str,
        media_urls: Sequence[str] = (),
        status_callback: str | None = None,
    ) -> SentSms:
        """Send from the tenant's business number. Raises RecipientOptedOut,
        PermanentDeliveryError or TransientDeliveryError."""
        ...

    def find_sent(
        self, tenant: Tenant, *, to: str, body: str, since: datetime
    ) -> Sequence[SentSms]:
        """The messages with this body the provider accepted from the tenant's business
        number to `to` at or after `since`, most recent first (none: an empty list). For a
        re-run that finds a send interrupted: adopt what went out rather than send it
        twice. Raises TransientDeliveryError when it cannot tell."""
        ...


@attrs.frozen
class CalendarEvent:
    summary: str
    description: str
    start: datetime
    end: datetime
    timezone: str
    location: str | None = None


class Calendar(Protocol):
    def upsert_event(self, calendar_id: str, event_id: str, event: CalendarEvent) -> None:
        """Create the event under `event_id`, or update it if it exists already."""
        ...

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Remove the event; a missing event is not an error."""
        ...


class PaymentGateway(Protocol):
    """Stripe, in the core's terms (lily_core.domain.billing). Every call raises
    TransientDeliveryError when Stripe cannot be reached or fails, PermanentDeliveryError
    when it refuses the request, InvalidInput (field "plan") for a plan without a price."""

    def create_customer(self, tenant: Tenant) -> str:
        """The id of a new customer for the tenant (its metadata carries the tenant id).
        Asked again for the same tenant, the same customer: a retry never makes two."""
        ...

    def checkout_url(
        self,
        tenant: Tenant,
        *,
        plan: Plan,
        customer_id: str,
        success_url: str,
        cancel_url: str,
    ) -> str:
        """A hosted checkout page starting a subscription to `plan` for the customer, its
        client reference the tenant's id."""
        ...

    def portal_url(self, customer_id: str, *, return_url: str) -> str:
        """A hosted billing portal page for the customer."""
        ...

    def subscription(self, subscription_id: str) -> StripeSubscription:
        """The subscription as Stripe has it now; NotFound if Stripe has no such one."""
        ...

    def latest_subscription(self, customer_id: str) -> StripeSubscription | None:
        """The customer's newest subscription, whatever its status; None if it has none."""
        ...


@attrs.frozen
class PresignedUpload:
    url: str
    fields: dict[str, str]
    key: str


class PhotoStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes:
        """The stored bytes; raise NotFound if there are none under `key`."""
        ...

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_seconds: int
    ) -> PresignedUpload:
        """A form a browser can POST the file to directly."""
        ...

    def url_for(self, key: str, *, expires_seconds: int) -> str:
        """A link that fetches the photo under `key` without other credentials, for
        `expires_seconds`. Made without asking the store whether the photo exists."""
        ...


@attrs.frozen
class FetchedMedia:
    data: bytes
    content_type: str


class MediaFetcher(Protocol):
    def fetch(self, tenant: Tenant, url: str, *, max_bytes: int) -> FetchedMedia:
        """Download a provider media URL with the tenant's provider credentials. Raises
        PermanentDeliveryError if it is too big or not found, TransientDeliveryError else."""
        ...


class ChatwootClient(Protocol):
    def reply(self, tenant: Tenant, conversation_id: int, body: str) -> str:
        """Post an outgoing message into a Chatwoot conversation; return its id."""
        ...

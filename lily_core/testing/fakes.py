from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs

from lily_core.domain.billing import Plan, StripeSubscription
from lily_core.domain.tenant import Tenant
from lily_core.errors import DeliveryError, NotFound, PermanentDeliveryError
from lily_core.ports.providers import CalendarEvent, FetchedMedia, PresignedUpload, SentSms


class FakeClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 6, 1, 15, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        self.current += timedelta(seconds=seconds, **kwargs)
        return self.current


@attrs.frozen
class SentMessage:
    tenant_id: str
    from_: str
    to: str
    body: str
    media_urls: tuple[str, ...]
    sid: str


class FakeSmsSender:
    """Records what it sends. Put errors in `fail_next` to have the next sends raise them."""

    def __init__(self) -> None:
        self.sent: list[SentMessage] = []
        self.fail_next: list[DeliveryError] = []
        self._ids = itertools.count(1)

    def send(
        self,
        tenant: Tenant,
        *,
        to: str,
        body: str,
        media_urls: Sequence[str] = (),
        status_callback: str | None = None,
    ) -> SentSms:
        if self.fail_next:
            raise self.fail_next.pop(0)
        sid = f"SM{next(self._ids):032d}"
        self.sent.append(SentMessage(tenant.id, tenant.phone, to, body, tuple(media_urls), sid))
        return SentSms(sid, "queued")

    def find_sent(self, tenant: Tenant, *, to: str, body: str, since: datetime) -> list[SentSms]:
        """The recorded messages from the tenant's number to `to` with this body, last
        first (the fake keeps no times: `since` is not checked). `fail_next` applies as for
        send."""
        if self.fail_next:
            raise self.fail_next.pop(0)
        wanted = (tenant.id, tenant.phone, to, body)
        return [
            SentSms(m.sid, "sent")
            for m in reversed(self.sent)
            if (m.tenant_id, m.from_, m.to, m.body) == wanted
        ]


class FakeCalendar:
    """Events per calendar, keyed by event id; `fail_next` raises like FakeSmsSender."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, CalendarEvent]] = {}
        self.fail_next: list[DeliveryError] = []

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def upsert_event(self, calendar_id: str, event_id: str, event: CalendarEvent) -> None:
        self._maybe_fail()
        self.events.setdefault(calendar_id, {})[event_id] = event

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        self._maybe_fail()
        self.events.get(calendar_id, {}).pop(event_id, None)


class InMemoryPhotoStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = (data, content_type)

    def get(self, key: str) -> bytes:
        try:
            return self.objects[key][0]
        except KeyError:
            raise NotFound(f"no photo under {key!r}") from None

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_seconds: int
    ) -> PresignedUpload:
        return PresignedUpload(f"memory://{key}", {"Content-Type": content_type}, key)

    def url_for(self, key: str, *, expires_seconds: int) -> str:
        return f"memory://{key}?expires_in={expires_seconds}"


class FakeMediaFetcher:
    """Serves `media[url]`; an unknown URL is a permanent failure, like a 404."""

    def __init__(self, media: dict[str, FetchedMedia] | None = None) -> None:
        self.media = media or {}

    def fetch(self, tenant: Tenant, url: str, *, max_bytes: int) -> FetchedMedia:
        found = self.media.get(url)
        if found is None:
            raise PermanentDeliveryError(f"{url} not found", code="404")
        if len(found.data) > max_bytes:
            raise PermanentDeliveryError(f"{url} is larger than {max_bytes} bytes")
        return found


class FakeChatwootClient:
    def __init__(self) -> None:
        self.replies: list[tuple[str, int, str]] = []

    def reply(self, tenant: Tenant, conversation_id: int, body: str) -> str:
        self.replies.append((tenant.id, conversation_id, body))
        return str(len(self.replies))


class FakePaymentGateway:
    """Stripe as the core sees it: one customer per tenant however often asked, the
    checkout and portal sessions it made (`checkouts`, `portals`), and the subscriptions
    Stripe holds (`subscriptions`, set by a test). Put errors in `fail_next` to have the
    next calls raise them."""

    def __init__(self) -> None:
        self.customers: dict[str, str] = {}  # tenant id -> customer id
        self.checkouts: list[dict[str, str]] = []
        self.portals: list[dict[str, str]] = []
        self.subscriptions: dict[str, StripeSubscription] = {}
        self.fail_next: list[Exception] = []
        self.calls = 0

    def _call(self) -> None:
        self.calls += 1
        if self.fail_next:
            raise self.fail_next.pop(0)

    def create_customer(self, tenant: Tenant) -> str:
        self._call()
        return self.customers.setdefault(tenant.id, f"cus_{len(self.customers) + 1:04d}")

    def checkout_url(
        self,
        tenant: Tenant,
        *,
        plan: Plan,
        customer_id: str,
        success_url: str,
        cancel_url: str,
    ) -> str:
        self._call()
        session = {
            "tenant_id": tenant.id,
            "plan": str(plan),
            "customer": customer_id,
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        self.checkouts.append(session)
        return f"https://checkout.example/{tenant.slug}/{plan}/{len(self.checkouts)}"

    def portal_url(self, customer_id: str, *, return_url: str) -> str:
        self._call()
        self.portals.append({"customer": customer_id, "return_url": return_url})
        return f"https://portal.example/{customer_id}"

    def subscription(self, subscription_id: str) -> StripeSubscription:
        self._call()
        found = self.subscriptions.get(subscription_id)
        if found is None:
            raise NotFound(f"no such subscription: {subscription_id}")
        return found

    def latest_subscription(self, customer_id: str) -> StripeSubscription | None:
        self._call()
        mine = [s for s in self.subscriptions.values() if s.customer_id == customer_id]
        return mine[-1] if mine else None

"""CopyMedia (COPY_MEDIA task): a lead's photos go from the provider to the photo store,
once, under tenant-scoped keys; what cannot be copied is recorded, not retried forever."""

from __future__ import annotations

from typing import Any

import pytest

from lily_core.domain.leads import Direction, Lead, Message, MessageKind, MessageStatus
from lily_core.domain.photos import photo_key
from lily_core.domain.tenant import Tenant
from lily_core.errors import PermanentDeliveryError, TransientDeliveryError
from lily_core.ports.providers import FetchedMedia
from lily_core.ports.queue import Task, TaskType
from lily_core.testing import FakeClock, FakeMediaFetcher, InMemoryPhotoStore, InMemoryUnitOfWork
from lily_core.use_cases.copy_media import CopyMedia, CopyMediaResult, needs_copy

JPEG = b"\xff\xd8\xff\xe0 a photo of a driveway"
PNG = b"\x89PNG a photo of a deck"
MAX_BYTES = 1000


class CountingFetcher(FakeMediaFetcher):
    """A FakeMediaFetcher that counts fetches and can fail a URL transiently."""

    def __init__(self, media: dict[str, FetchedMedia]) -> None:
        super().__init__(media)
        self.fetched: list[str] = []
        self.flaky: set[str] = set()

    def fetch(self, tenant: Tenant, url: str, *, max_bytes: int) -> FetchedMedia:
        self.fetched.append(url)
        if url in self.flaky:
            raise TransientDeliveryError("503 from the media host", code="503")
        return super().fetch(tenant, url, max_bytes=max_bytes)


class Setup:
    def __init__(self, media: list[dict[str, Any]]) -> None:
        self.clock = FakeClock()
        self.uow = InMemoryUnitOfWork()
        self.tenant = Tenant(name="Acme", slug="acme", phone="+12145550100",
                             created_at=self.clock.now())  # fmt: skip
        lead = Lead(tenant_id=self.tenant.id, phone="+12145550123", created_at=self.clock.now())
        self.message = Message(
            tenant_id=self.tenant.id,
            lead_id=lead.id,
            direction=Direction.INBOUND,
            kind=MessageKind.INBOUND,
            body="here",
            media=media,
            status=MessageStatus.RECEIVED,
            created_at=self.clock.now(),
            updated_at=self.clock.now(),
        )
        with self.uow.across_tenants():
            self.uow.tenants.add(self.tenant)
            self.uow.leads.add(lead)
            self.uow.messages.add(self.message)
            self.uow.commit()
        self.fetcher = CountingFetcher(
            {
                "https://m/1": FetchedMedia(JPEG, "image/jpeg"),
                "https://m/2": FetchedMedia(PNG, "Image/PNG; charset=binary"),
                "https://m/big": FetchedMedia(b"x" * (MAX_BYTES + 1), "image/jpeg"),
                "https://m/html": FetchedMedia(b"<html>login</html>", "text/html"),
                "https://m/video": FetchedMedia(b"mp4", "video/mp4"),
            }
        )
        self.store = InMemoryPhotoStore()
        self.copy = CopyMedia(self.uow, self.fetcher, self.store, self.clock, MAX_BYTES)

    def task(self, message_id: str | None = None, tenant_id: str | None = None) -> Task:
        return Task(
            id="t1",
            type=TaskType.COPY_MEDIA,
            tenant_id=tenant_id or self.tenant.id,
            payload={"message_id": message_id or self.message.id},
            run_at=self.clock.now(),
        )

    def media(self) -> list[dict[str, Any]]:
        with self.uow.across_tenants():
            message = self.uow.messages.get(self.tenant.id, self.message.id)
            assert message is not None
            return list(message.media)


def entry(url: str, content_type: str = "image/jpeg") -> dict[str, Any]:
    return {"url": url, "content_type": content_type}


def test_photos_are_stored_under_tenant_scoped_keys() -> None:
    s = Setup([entry("https://m/1"), entry("https://m/2", "image/*")])
    assert s.copy(s.task()) == CopyMediaResult(stored=2, rejected=0)

    first, second = s.media()
    assert first["stored_key"] == photo_key(s.tenant.id, s.message.id, 0, "image/jpeg")
    assert first["stored_key"].startswith(f"tenants/{s.tenant.id}/photos/")
    key = f"tenants/{s.tenant.id}/photos/{s.message.id}-1.png"
    assert second == {"url": "https://m/2", "content_type": "image/png", "stored_key": key}
    assert s.store.get(first["stored_key"]) == JPEG
    assert s.store.objects[second["stored_key"]] == (PNG, "image/png")


def test_a_second_run_fetches_nothing() -> None:
    s = Setup([entry("https://m/1"), entry("https://m/missing")])
    s.copy(s.task())
    s.fetcher.fetched.clear()
    assert s.copy(s.task()) == CopyMediaResult(stored=0, rejected=0)
    assert s.fetcher.fetched == []
    with s.uow.across_tenants():
        message = s.uow.messages.get(s.tenant.id, s.message.id)
        assert message is not None and not needs_copy(message)


def test_what_cannot_be_stored_is_recorded_and_the_rest_still_stored() -> None:
    s = Setup([
        entry("https://m/missing"),  # 404
        entry("https://m/big"),  # over max_bytes
        entry("https://m/html"),  # an image by its MMS type, HTML when fetched
        entry("https://m/1"),
    ])  # fmt: skip
    assert s.copy(s.task()) == CopyMediaResult(stored=1, rejected=3)
    missing, big, html, good = s.media()
    assert "not found" in missing["error"] and "stored_key" not in missing
    assert "larger than" in big["error"]
    assert "text/html" in html["error"]
    assert "stored_key" in good and len(s.store.objects) == 1


def test_media_that_is_not_a_photo_is_left_alone() -> None:
    s = Setup([entry("https://m/video", "video/mp4"), entry("https://m/vcard", "text/vcard")])
    assert s.copy(s.task()) == CopyMediaResult(stored=0, rejected=0)
    assert s.fetcher.fetched == []
    assert s.media() == [
        entry("https://m/video", "video/mp4"),
        entry("https://m/vcard", "text/vcard"),
    ]


def test_a_transient_failure_is_raised_after_the_others_are_recorded() -> None:
    s = Setup([entry("https://m/1"), entry("https://m/2")])
    s.fetcher.flaky.add("https://m/2")
    with pytest.raises(TransientDeliveryError):
        s.copy(s.task())
    first, second = s.media()
    assert "stored_key" in first and "stored_key" not in second and "error" not in second

    s.fetcher.flaky.clear()
    s.fetcher.fetched.clear()
    assert s.copy(s.task()) == CopyMediaResult(stored=1, rejected=0)
    assert s.fetcher.fetched == ["https://m/2"]  # only what was left


def test_an_unknown_message_or_another_tenants_is_permanent() -> None:
    s = Setup([entry("https://m/1")])
    with pytest.raises(PermanentDeliveryError):
        s.copy(s.task(message_id="nope"))
    with pytest.raises(PermanentDeliveryError):
        s.copy(s.task(tenant_id="another-tenant"))
    assert s.store.objects == {}

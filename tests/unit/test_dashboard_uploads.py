"""Presigned photo uploads for the dashboard, on the in-memory doubles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lily_core.domain.photos import MAX_PHOTO_BYTES
from lily_core.errors import InvalidInput, NotFound
from lily_core.testing import FakeClock, InMemoryDatabase, InMemoryPhotoStore, InMemoryUnitOfWork
from lily_core.use_cases.uploads import UPLOAD_EXPIRES_SECONDS, CreateUpload
from tests.unit.dashboard_world import lead, operator, owner, save, tenant


@pytest.fixture
def db() -> InMemoryDatabase:
    return InMemoryDatabase()


def test_an_upload_is_presigned_under_the_tenant_for_its_lead(db: InMemoryDatabase) -> None:
    acme = tenant()
    jane = lead(acme)
    save(db, acme, jane)
    clock = FakeClock(datetime(2026, 6, 1, 15, 0, 0, 750_000, tzinfo=UTC))
    create = CreateUpload(InMemoryUnitOfWork(db), InMemoryPhotoStore(), clock)

    upload = create(operator(acme), content_type="Image/JPEG", size=1234, lead_id=jane.id)
    loose = create(owner(acme), content_type="image/png", size=MAX_PHOTO_BYTES)

    assert upload.key.startswith(f"tenants/{acme.id}/leads/{jane.id}/uploads/")
    assert upload.key.endswith(".jpg") and upload.url == f"memory://{upload.key}"
    assert upload.fields == {"Content-Type": "image/jpeg"}
    assert upload.expires_at == datetime(2026, 6, 1, 15, 15, tzinfo=UTC)
    assert upload.expires_at - clock.now() < timedelta(seconds=UPLOAD_EXPIRES_SECONDS)
    assert loose.key.startswith(f"tenants/{acme.id}/uploads/") and loose.key.endswith(".png")
    assert loose.key != create(owner(acme), content_type="image/png", size=1).key


@pytest.mark.parametrize(
    ("content_type", "size", "field"),
    [
        ("application/pdf", 100, "content_type"),
        ("image/svg+xml", 100, "content_type"),
        ("image/jpeg", 0, "size"),
        ("image/jpeg", MAX_PHOTO_BYTES + 1, "size"),
    ],
)
def test_only_photos_within_the_limit_are_presigned(
    db: InMemoryDatabase, content_type: str, size: int, field: str
) -> None:
    acme = tenant()
    save(db, acme)
    create = CreateUpload(InMemoryUnitOfWork(db), InMemoryPhotoStore(), FakeClock())
    with pytest.raises(InvalidInput) as caught:
        create(owner(acme), content_type=content_type, size=size)
    assert caught.value.field == field


def test_an_upload_for_another_tenants_lead_is_not_found(db: InMemoryDatabase) -> None:
    acme, other = tenant(), tenant()
    stranger = lead(other)
    save(db, acme, other, stranger)
    create = CreateUpload(InMemoryUnitOfWork(db), InMemoryPhotoStore(), FakeClock())
    for lead_id in (stranger.id, "../../etc/passwd"):
        with pytest.raises(NotFound):
            create(owner(acme), content_type="image/jpeg", size=10, lead_id=lead_id)

"""Handing a browser a presigned upload for a photo (DESIGN §2.2.5, `POST /api/v1/uploads`):
the browser sends the file straight to the photo store, never through the API."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from lily_core.domain.ids import new_id
from lily_core.domain.photos import check_photo, photo_extension, require_photo_key
from lily_core.domain.principal import Principal
from lily_core.ports.clock import Clock
from lily_core.ports.providers import PhotoStore
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.scoping import find_in_tenant

__all__ = ["UPLOAD_EXPIRES_SECONDS", "CreateUpload", "Upload", "upload_key"]

UPLOAD_EXPIRES_SECONDS = 15 * 60


@attrs.frozen
class Upload:
    """Where and how to POST the file: `fields` go with it as form fields, `key` is where it
    will be stored, and the form is refused after `expires_at`."""

    url: str
    fields: dict[str, str]
    key: str
    expires_at: datetime


def upload_key(tenant_id: str, upload_id: str, content_type: str, lead_id: str | None) -> str:
    """`tenants/{tenant}/leads/{lead}/uploads/{id}.jpg`, or `tenants/{tenant}/uploads/{id}.jpg`
    without a lead: under the tenant's prefix, like every photo key."""
    name = f"{upload_id}{photo_extension(content_type)}"
    if lead_id is None:
        return require_photo_key(f"tenants/{tenant_id}/uploads/{name}")
    return require_photo_key(f"tenants/{tenant_id}/leads/{lead_id}/uploads/{name}")


class CreateUpload:
    """A presigned upload for one photo of `content_type` and `size` bytes (at most that
    many are accepted), for the caller's tenant and optionally one of its leads. InvalidInput
    (field `content_type` or `size`) for what check_photo refuses; NotFound for a lead that
    is not the tenant's."""

    def __init__(self, uow: UnitOfWork, store: PhotoStore, clock: Clock) -> None:
        self.uow, self.store, self.clock = uow, store, clock

    def __call__(
        self, principal: Principal, *, content_type: str, size: int, lead_id: str | None = None
    ) -> Upload:
        content_type = check_photo(content_type, size)
        tenant_id = principal.tenant.id
        if lead_id is not None:
            with self.uow.for_tenant(tenant_id):
                find_in_tenant(self.uow.leads.get, tenant_id, lead_id, "lead")
        key = upload_key(tenant_id, new_id(), content_type, lead_id)
        # Whole seconds: the local store signs an integer expiry, S3 rounds likewise.
        expires_at = self.clock.now().replace(microsecond=0) + timedelta(
            seconds=UPLOAD_EXPIRES_SECONDS
        )
        presigned = self.store.presign_upload(
            key, content_type=content_type, max_bytes=size, expires_seconds=UPLOAD_EXPIRES_SECONDS
        )
        return Upload(presigned.url, presigned.fields, presigned.key, expires_at)

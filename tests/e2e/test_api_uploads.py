"""`POST /api/v1/uploads` over HTTP on both backends: a photo really uploaded through the form
it gives, to the local store and to S3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import httpx
import pytest
from dependency_injector import providers

from lily_adapters.photos.local import LocalPhotoStore
from lily_adapters.photos.s3 import S3PhotoStore
from lily_core.domain.leads import Lead
from lily_core.domain.photos import MAX_PHOTO_BYTES
from tests.e2e.conftest import CALLER, PUBLIC_URL, START, Lily
from tests.e2e.dashboard_api import error_of, other_tenant, owner_headers
from tests.e2e.test_quote_flow import JPEG
from tests.standins.s3 import FAKE_AWS_ENV, moto_server


def test_an_upload_form_stores_the_photo_in_the_local_store(lily: Lily) -> None:
    lead = lily_lead(lily)
    response = lily.client.post(
        "/api/v1/uploads",
        json={"content_type": "image/jpeg", "size": len(JPEG), "lead_id": lead},
        headers=owner_headers(lily),
    )

    assert response.status_code == 201, response.text
    form = response.json()
    key = form["key"]
    assert key.startswith(f"tenants/{lily.tenant.id}/leads/{lead}/uploads/")
    assert form["url"] == f"{PUBLIC_URL}/api/v1/uploads/local/{key}"
    assert form["expires_at"] == "2026-06-01T15:15:00Z"
    stored = lily.client.post(
        form["url"].removeprefix(PUBLIC_URL),
        data=form["fields"],
        files={"file": ("photo.jpg", JPEG, "image/jpeg")},
    )
    assert (stored.status_code, stored.json()) == (201, {"key": key})
    store = lily.container.photo_store()
    assert isinstance(store, LocalPhotoStore) and store.get(key) == JPEG
    bigger = lily.client.post(
        form["url"].removeprefix(PUBLIC_URL),
        data=form["fields"],
        files={"file": ("photo.jpg", JPEG + b"more", "image/jpeg")},
    )
    assert bigger.status_code == 400  # at most the size declared


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content_type": "application/pdf", "size": 10}, "content_type"),
        ({"content_type": "image/jpeg", "size": 0}, "size"),
        ({"content_type": "image/jpeg", "size": MAX_PHOTO_BYTES + 1}, "size"),
        ({"content_type": "image/jpeg"}, "size"),
        ({"content_type": "image/jpeg", "size": 1, "key": "mine"}, "key"),
    ],
)
def test_only_photos_within_the_limit_get_a_form(
    lily: Lily, body: dict[str, object], field: str
) -> None:
    response = lily.client.post("/api/v1/uploads", json=body, headers=owner_headers(lily))
    assert error_of(response) == (422, "invalid", field)


def test_an_upload_for_another_tenants_lead_is_404(lily: Lily) -> None:
    rival = other_tenant(lily)
    theirs = lily_lead(lily, rival.id)
    body = {"content_type": "image/png", "size": 10, "lead_id": theirs}
    response = lily.client.post("/api/v1/uploads", json=body, headers=owner_headers(lily))
    assert error_of(response) == (404, "not_found", None)
    assert lily.client.post("/api/v1/uploads", json=body).status_code == 401
    mine = lily.client.post("/api/v1/uploads", json=body, headers=owner_headers(lily, rival))
    assert mine.status_code == 201


def lily_lead(lily: Lily, tenant_id: str | None = None) -> str:
    lead = Lead(tenant_id=tenant_id or lily.tenant.id, phone=CALLER, created_at=START)
    with lily.container.uow().across_tenants() as uow:
        uow.leads.add(lead)
        uow.commit()
    return lead.id


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS_ENV.items():
            patch.setenv(name, value)
        with moto_server() as url:
            yield url


def test_with_s3_the_form_is_a_presigned_post(
    lily: Lily, s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    bucket = f"lily-uploads-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_url).create_bucket(Bucket=bucket)
    lily.container.photo_store.override(providers.Object(S3PhotoStore(bucket, s3_url)))

    response = lily.client.post(
        "/api/v1/uploads",
        json={"content_type": "image/jpeg", "size": len(JPEG)},
        headers=owner_headers(lily),
    )

    assert response.status_code == 201, response.text
    form = response.json()
    assert form["url"].startswith(s3_url) and form["fields"]["key"] == form["key"]
    posted = httpx.post(
        form["url"], data=form["fields"], files={"file": ("photo.jpg", JPEG, "image/jpeg")}
    )
    assert posted.status_code in (200, 201, 204), posted.text
    stored = boto3.client("s3", endpoint_url=s3_url).get_object(Bucket=bucket, Key=form["key"])
    assert stored["Body"].read() == JPEG and stored["ContentType"] == "image/jpeg"

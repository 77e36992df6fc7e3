"""POST /api/v1/uploads/local/{key}: a browser posts a photo with the fields of a
LocalPhotoStore presigned upload; only what was signed, unexpired and within its limits is
stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from fastapi.testclient import TestClient

from lily_adapters.container import Container, build_container
from lily_adapters.photos.local import LocalPhotoStore
from lily_adapters.settings import Settings
from lily_core.ports.providers import PresignedUpload
from lily_core.testing import FakeClock, InMemoryPhotoStore
from lily_http.app import create_app

PUBLIC_URL = "http://testserver"
KEY = "tenants/t1/uploads/abc-0.jpg"
JPEG = b"\xff\xd8\xff\xe0 a photo of a patio"


def _app(tmp_path: Path, store: object) -> tuple[TestClient, Container]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'lily.db'}", _env_file=None)
    container = build_container(settings)
    container.photo_store.override(providers.Object(store))
    api = create_app(container)
    return TestClient(api, base_url=PUBLIC_URL), container


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> LocalPhotoStore:
    return LocalPhotoStore(tmp_path / "photos", "signing-key", PUBLIC_URL, clock=clock)


@pytest.fixture
def client(tmp_path: Path, store: LocalPhotoStore) -> Iterator[TestClient]:
    client, _ = _app(tmp_path, store)
    with client:
        yield client


def presign(store: LocalPhotoStore, max_bytes: int = 1000) -> PresignedUpload:
    return store.presign_upload(KEY, content_type="image/jpeg", max_bytes=max_bytes,
                                expires_seconds=600)  # fmt: skip


def post(
    client: TestClient,
    upload: PresignedUpload,
    data: bytes = JPEG,
    content_type: str = "image/jpeg",
    changes: dict[str, str] | None = None,
) -> Any:
    fields = {**upload.fields, **(changes or {})}
    path = upload.url.removeprefix(PUBLIC_URL)
    return client.post(path, data=fields, files={"file": ("photo.jpg", data, content_type)})


def test_a_signed_upload_is_stored(client: TestClient, store: LocalPhotoStore) -> None:
    response = post(client, presign(store))
    assert (response.status_code, response.json()) == (201, {"key": KEY})
    assert store.get(KEY) == JPEG and store.content_type(KEY) == "image/jpeg"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"signature": "0" * 64}, 403),
        ({"max_bytes": "99999999"}, 403),  # altered after signing
        ({"key": "tenants/t2/uploads/abc-0.jpg"}, 403),
    ],
)
def test_forged_fields_are_refused(
    client: TestClient, store: LocalPhotoStore, changes: dict[str, str], status: int
) -> None:
    assert post(client, presign(store), changes=changes).status_code == status
    assert not (store.root / KEY).exists()


def test_an_expired_upload_is_refused(
    client: TestClient, store: LocalPhotoStore, clock: FakeClock
) -> None:
    upload = presign(store)
    clock.advance(601)
    assert post(client, upload).status_code == 403


def test_a_file_other_than_what_was_signed_is_refused(
    client: TestClient, store: LocalPhotoStore
) -> None:
    assert post(client, presign(store), content_type="image/png").status_code == 400
    assert post(client, presign(store, max_bytes=10)).status_code == 400  # too big
    assert post(client, presign(store), data=b"").status_code == 400
    assert not (store.root / KEY).exists()


def test_a_form_without_the_file_is_400(client: TestClient, store: LocalPhotoStore) -> None:
    upload = presign(store)
    response = client.post(upload.url.removeprefix(PUBLIC_URL), data=upload.fields)
    assert response.status_code == 400 and "file" in response.json()["error"]["message"]


def test_without_a_local_store_the_route_is_404(tmp_path: Path) -> None:
    client, _ = _app(tmp_path, InMemoryPhotoStore())
    with client:
        response = client.post(f"/api/v1/uploads/local/{KEY}", data={"key": KEY})
    assert response.status_code == 404

"""One PhotoStore contract, run against the in-memory fake, local files and S3 (moto_server)."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from lily_adapters.photos import LocalPhotoStore, S3PhotoStore
from lily_core.errors import InvalidInput, NotFound
from lily_core.ports import PhotoStore
from lily_core.testing import FakeClock, InMemoryPhotoStore
from tests.standins.s3 import FAKE_AWS_ENV, moto_server

KEY = "tenants/t1/photos/m1-0.jpg"
JPEG = b"\xff\xd8\xff\xe0" + b"pressure-washed" * 10
BAD_KEYS = [
    "../outside.jpg",
    "tenants/t1/../../outside.jpg",
    "/etc/passwd",
    "tenants//photos/x.jpg",
    "tenants/t1/photos/.hidden.jpg",
    "tenants\\t1\\x.jpg",
    "",
]


@pytest.fixture(scope="session")
def s3_url() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in FAKE_AWS_ENV.items():
            mp.setenv(name, value)
        with moto_server() as url:
            yield url


def _s3_store(s3_url: str) -> S3PhotoStore:
    # A bucket per test keeps tests independent on the shared server.
    bucket = f"lily-photos-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1").create_bucket(Bucket=bucket)
    return S3PhotoStore(bucket, endpoint_url=s3_url, region="us-east-1")


def _local_store(tmp_path: Path, clock: FakeClock | None = None) -> LocalPhotoStore:
    return LocalPhotoStore(
        tmp_path / "photos", "local-signing-key", "http://127.0.0.1:8000/", clock=clock
    )


@pytest.fixture(params=["memory", "local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> PhotoStore:
    if request.param == "memory":
        return InMemoryPhotoStore()
    if request.param == "local":
        return _local_store(tmp_path)
    return _s3_store(request.getfixturevalue("s3_url"))


# The in-memory fake does not check keys; the real stores must.
@pytest.fixture(params=["local", "s3"])
def real_store(request: pytest.FixtureRequest, tmp_path: Path) -> PhotoStore:
    if request.param == "local":
        return _local_store(tmp_path)
    return _s3_store(request.getfixturevalue("s3_url"))


def test_put_then_get_returns_the_same_bytes(store: PhotoStore) -> None:
    store.put(KEY, JPEG, "image/jpeg")
    assert store.get(KEY) == JPEG


def test_put_again_replaces_the_photo(store: PhotoStore) -> None:
    store.put(KEY, JPEG, "image/jpeg")
    store.put(KEY, b"second", "image/jpeg")
    assert store.get(KEY) == b"second"


def test_keys_are_independent(store: PhotoStore) -> None:
    store.put("tenants/t1/photos/a.jpg", b"one", "image/jpeg")
    store.put("tenants/t2/photos/a.jpg", b"two", "image/jpeg")
    assert store.get("tenants/t1/photos/a.jpg") == b"one"
    assert store.get("tenants/t2/photos/a.jpg") == b"two"


def test_get_of_a_missing_key_is_not_found(store: PhotoStore) -> None:
    with pytest.raises(NotFound):
        store.get("tenants/t1/photos/never-stored.jpg")


def test_presign_upload_names_the_key(store: PhotoStore) -> None:
    upload = store.presign_upload(
        KEY, content_type="image/jpeg", max_bytes=1000, expires_seconds=600
    )
    assert upload.key == KEY
    assert upload.url
    assert upload.fields


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_refused(real_store: PhotoStore, key: str) -> None:
    with pytest.raises(InvalidInput):
        real_store.put(key, JPEG, "image/jpeg")
    with pytest.raises(InvalidInput):
        real_store.get(key)
    with pytest.raises(InvalidInput):
        real_store.presign_upload(
            key, content_type="image/jpeg", max_bytes=1000, expires_seconds=60
        )


# -- S3: a browser-style multipart POST to the presigned form really stores the file -----------


def test_s3_presigned_post_uploads_the_file(s3_url: str) -> None:
    store = _s3_store(s3_url)
    upload = store.presign_upload(
        KEY, content_type="image/jpeg", max_bytes=5000, expires_seconds=600
    )

    response = httpx.post(
        upload.url, data=upload.fields, files={"file": ("photo.jpg", JPEG, "image/jpeg")}
    )

    assert response.status_code in (200, 201, 204), response.text
    assert store.get(KEY) == JPEG


def test_s3_presigned_policy_pins_type_size_and_key(s3_url: str) -> None:
    # moto does not enforce POST policies, so check the policy S3 itself would enforce.
    upload = _s3_store(s3_url).presign_upload(
        KEY, content_type="image/png", max_bytes=4096, expires_seconds=600
    )
    policy = json.loads(base64.b64decode(upload.fields["policy"]))
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert ["content-length-range", 1, 4096] in policy["conditions"]
    assert {"key": KEY} in policy["conditions"]
    assert upload.fields["Content-Type"] == "image/png"


def test_s3_missing_bucket_is_a_permanent_error(s3_url: str) -> None:
    from lily_core.errors import PermanentDeliveryError

    store = S3PhotoStore("no-such-bucket-here", endpoint_url=s3_url, region="us-east-1")
    with pytest.raises(PermanentDeliveryError):
        store.put(KEY, JPEG, "image/jpeg")


def test_s3_unreachable_server_is_a_transient_error(s3_url: str) -> None:
    from lily_core.errors import TransientDeliveryError

    store = S3PhotoStore("lily-photos", endpoint_url="http://127.0.0.1:9", region="us-east-1")
    with pytest.raises(TransientDeliveryError):
        store.get(KEY)


# -- local files: the signed local upload ------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def local(tmp_path: Path, clock: FakeClock) -> LocalPhotoStore:
    return _local_store(tmp_path, clock)


def _presign(local: LocalPhotoStore) -> dict[str, str]:
    upload = local.presign_upload(
        KEY, content_type="image/jpeg", max_bytes=5000, expires_seconds=600
    )
    assert upload.url == f"http://127.0.0.1:8000/api/v1/uploads/local/{KEY}"
    return upload.fields


def test_local_upload_fields_verify(local: LocalPhotoStore) -> None:
    assert local.verify_upload(_presign(local), path_key=KEY) == (KEY, "image/jpeg", 5000)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("key", "tenants/t2/photos/m1-0.jpg"),
        ("content_type", "image/png"),
        ("max_bytes", "999999999"),
        ("expires", "9999999999"),
        ("signature", "0" * 64),
    ],
)
def test_local_upload_with_a_tampered_field_is_refused(
    local: LocalPhotoStore, field: str, value: str
) -> None:
    fields = {**_presign(local), field: value}
    with pytest.raises(InvalidInput):
        local.verify_upload(fields)


def test_local_upload_missing_a_field_is_refused(local: LocalPhotoStore) -> None:
    fields = _presign(local)
    del fields["signature"]
    with pytest.raises(InvalidInput):
        local.verify_upload(fields)


def test_local_upload_signed_with_another_key_is_refused(
    local: LocalPhotoStore, tmp_path: Path
) -> None:
    other = LocalPhotoStore(tmp_path / "other", "another-key", "http://127.0.0.1:8000")
    with pytest.raises(InvalidInput):
        other.verify_upload(_presign(local))


def test_local_upload_posted_to_another_path_is_refused(local: LocalPhotoStore) -> None:
    with pytest.raises(InvalidInput):
        local.verify_upload(_presign(local), path_key="tenants/t1/photos/other.jpg")


def test_local_upload_expires(local: LocalPhotoStore, clock: FakeClock) -> None:
    fields = _presign(local)
    clock.advance(599)
    local.verify_upload(fields)
    clock.advance(2)
    with pytest.raises(InvalidInput):
        local.verify_upload(fields)


def test_local_accept_upload_stores_the_file_with_its_type(local: LocalPhotoStore) -> None:
    assert local.accept_upload(_presign(local), JPEG, "image/jpeg", path_key=KEY) == KEY
    assert local.get(KEY) == JPEG
    assert local.content_type(KEY) == "image/jpeg"


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(b"x" * 5001, "image/jpeg"), (b"", "image/jpeg"), (JPEG, "image/png")],
)
def test_local_accept_upload_holds_the_file_to_what_was_signed(
    local: LocalPhotoStore, data: bytes, content_type: str
) -> None:
    with pytest.raises(InvalidInput):
        local.accept_upload(_presign(local), data, content_type)
    with pytest.raises(NotFound):
        local.get(KEY)


def test_local_put_leaves_no_temporary_files(local: LocalPhotoStore) -> None:
    local.put(KEY, JPEG, "image/jpeg")
    local.put(KEY, b"again", "image/jpeg")
    leftovers = [p for p in local.root.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_local_store_refuses_a_symlink_out_of_its_root(
    local: LocalPhotoStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (local.root / "tenants").mkdir(parents=True)
    os.symlink(outside, local.root / "tenants" / "t1")
    with pytest.raises(InvalidInput):
        local.put(KEY, JPEG, "image/jpeg")
    assert list(outside.iterdir()) == []

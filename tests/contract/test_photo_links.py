"""PhotoStore.url_for: a short-lived link that reads a stored photo without other
credentials -- an S3 presigned GET, or a local link signed like the local uploads."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from lily_adapters.photos import LocalPhotoStore
from lily_core.errors import InvalidInput, NotFound
from lily_core.testing import FakeClock, InMemoryPhotoStore
from tests.contract.test_photo_store import JPEG, KEY, _local_store, _s3_store, s3_url

__all__ = ["s3_url"]  # the fixture, shared with the PhotoStore contract


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_the_fake_names_key_and_lifetime() -> None:
    assert InMemoryPhotoStore().url_for(KEY, expires_seconds=60) == f"memory://{KEY}?expires_in=60"


def test_an_s3_link_is_a_presigned_get_of_the_object(s3_url: str) -> None:
    store = _s3_store(s3_url)
    store.put(KEY, JPEG, "image/jpeg")
    url = store.url_for(KEY, expires_seconds=300)
    assert urlsplit(url).path.endswith(KEY) and _query(url)["X-Amz-Expires"] == "300"
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == JPEG
    assert response.headers["content-type"] == "image/jpeg"


def test_a_local_link_opens_the_photo_until_it_expires(tmp_path: Path) -> None:
    clock = FakeClock()
    store = _local_store(tmp_path, clock)
    store.put(KEY, JPEG, "image/jpeg")
    url = store.url_for(KEY, expires_seconds=300)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"http://127.0.0.1:8000/api/v1/media/{KEY}"
    )
    query = _query(url)
    assert store.open_link(KEY, query["expires"], query["signature"]) == (JPEG, "image/jpeg")

    clock.advance(301)
    with pytest.raises(InvalidInput) as expired:
        store.open_link(KEY, query["expires"], query["signature"])
    assert expired.value.field == "expires"


@pytest.mark.parametrize(
    "change",
    [
        {"key": "tenants/t2/photos/m1-0.jpg"},
        {"expires": "99999999999"},
        {"signature": "0" * 64},
        {"signature": "é"},
    ],
)
def test_a_local_link_altered_in_any_part_is_refused(
    tmp_path: Path, change: dict[str, str]
) -> None:
    store = _local_store(tmp_path)
    store.put(KEY, JPEG, "image/jpeg")
    link = {"key": KEY, **_query(store.url_for(KEY, expires_seconds=300))}
    link.update(change)
    with pytest.raises(InvalidInput) as refused:
        store.open_link(link["key"], link["expires"], link["signature"])
    assert refused.value.field == "signature"


def test_an_upload_signature_does_not_open_a_link(tmp_path: Path) -> None:
    store = _local_store(tmp_path)
    store.put(KEY, JPEG, "image/jpeg")
    upload = store.presign_upload(
        KEY, content_type="image/jpeg", max_bytes=100, expires_seconds=300
    ).fields
    with pytest.raises(InvalidInput):
        store.open_link(KEY, upload["expires"], upload["signature"])


def test_a_link_to_a_photo_that_is_gone_is_not_found(tmp_path: Path) -> None:
    store: LocalPhotoStore = _local_store(tmp_path)
    query = _query(store.url_for(KEY, expires_seconds=300))
    with pytest.raises(NotFound):
        store.open_link(KEY, query["expires"], query["signature"])

from __future__ import annotations

import pytest

from lily_core.domain.photos import (
    MAX_PHOTO_BYTES,
    check_photo,
    photo_extension,
    photo_key,
    require_photo_key,
)
from lily_core.errors import InvalidInput


@pytest.mark.parametrize(
    ("content_type", "extension"),
    [
        ("image/jpeg", ".jpg"),
        ("IMAGE/PNG", ".png"),
        ("image/gif", ".gif"),
        ("image/webp; q=1", ".webp"),
        ("image/heic", ".heic"),
    ],
)
def test_allowed_photo_types(content_type: str, extension: str) -> None:
    assert photo_extension(content_type) == extension


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "video/mp4", ""])
def test_other_types_are_not_photos(content_type: str) -> None:
    with pytest.raises(InvalidInput):
        photo_extension(content_type)


def test_photo_key_is_tenant_scoped_and_stable() -> None:
    key = photo_key("t1", "m9", 2, "image/png")
    assert key == "tenants/t1/photos/m9-2.png"
    assert photo_key("t1", "m9", 2, "image/png") == key
    assert photo_key("t2", "m9", 2, "image/png") != key


def test_photo_key_refuses_unsafe_parts() -> None:
    with pytest.raises(InvalidInput):
        photo_key("..", "m9", 0, "image/png")
    with pytest.raises(InvalidInput):
        photo_key("t1", "m9", -1, "image/png")
    with pytest.raises(InvalidInput):
        photo_key("t1", "m9", 0, "application/pdf")


def test_check_photo_limits_size_and_normalizes_type() -> None:
    assert check_photo("Image/JPEG", 1) == "image/jpeg"
    assert check_photo("image/jpeg", MAX_PHOTO_BYTES) == "image/jpeg"
    with pytest.raises(InvalidInput):
        check_photo("image/jpeg", MAX_PHOTO_BYTES + 1)
    with pytest.raises(InvalidInput):
        check_photo("image/jpeg", 0)
    with pytest.raises(InvalidInput):
        check_photo("image/jpeg", 101, max_bytes=100)


@pytest.mark.parametrize("key", ["tenants/t1/photos/a.jpg", "a", "x_y-z.1/b.png"])
def test_safe_keys(key: str) -> None:
    assert require_photo_key(key) == key


@pytest.mark.parametrize("key", ["", "/a.jpg", "a/../b", "a//b", "a/", ".a", "a/b c", "a\x00b"])
def test_unsafe_keys(key: str) -> None:
    with pytest.raises(InvalidInput):
        require_photo_key(key)

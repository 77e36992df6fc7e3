"""Rules for the photos a lead sends: which content types count, how big they may be, and
where in the photo store each one lives."""

from __future__ import annotations

import re

from lily_core.errors import InvalidInput

__all__ = [
    "ALLOWED_PHOTO_TYPES",
    "MAX_PHOTO_BYTES",
    "check_photo",
    "normalize_content_type",
    "photo_extension",
    "photo_key",
    "require_photo_key",
]

# Content type -> file extension of the images Lily accepts as photos of the job.
ALLOWED_PHOTO_TYPES: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
}
# Carriers cap MMS at a few MB; a phone's full-size photo uploaded directly stays under this.
MAX_PHOTO_BYTES = 10 * 1024 * 1024

# A key is slash-separated segments of letters, digits, '-', '_' and '.', none of which starts
# with '.' (so no '..', no hidden files, and nothing that collides with a store's own metadata).
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
_MAX_KEY_LENGTH = 512


def normalize_content_type(content_type: str) -> str:
    """`Image/JPEG; charset=x` -> `image/jpeg`: lower case, parameters dropped."""
    return content_type.split(";", 1)[0].strip().lower()


def photo_extension(content_type: str) -> str:
    """The file extension (with its dot) for an allowed photo content type; raise
    InvalidInput for any other type."""
    extension = ALLOWED_PHOTO_TYPES.get(normalize_content_type(content_type))
    if extension is None:
        allowed = ", ".join(ALLOWED_PHOTO_TYPES)
        raise InvalidInput(
            f"{content_type!r} is not a photo type Lily accepts ({allowed})", field="content_type"
        )
    return extension


def check_photo(content_type: str, size: int, *, max_bytes: int = MAX_PHOTO_BYTES) -> str:
    """Return the normalized content type if a file of this type and size may be stored as a
    photo; raise InvalidInput if the type is not allowed, the file is empty or too big."""
    photo_extension(content_type)
    if size <= 0:
        raise InvalidInput("the photo is empty", field="size")
    if size > max_bytes:
        raise InvalidInput(f"the photo is {size} bytes, over the {max_bytes} limit", field="size")
    return normalize_content_type(content_type)


def require_photo_key(key: str) -> str:
    """Return `key` if it is a safe relative store key (`tenants/t1/photos/m1-0.jpg`); raise
    InvalidInput for absolute paths, `..`, empty or hidden segments, or odd characters."""
    segments = key.split("/")
    if len(key) > _MAX_KEY_LENGTH or not all(_SEGMENT_RE.match(s) for s in segments):
        raise InvalidInput(f"{key!r} is not a valid photo key", field="key")
    return key


def photo_key(tenant_id: str, message_id: str, index: int, content_type: str) -> str:
    """The store key of the `index`-th photo of a message:
    `tenants/{tenant_id}/photos/{message_id}-{index}{ext}`. Keys of different tenants never
    overlap, and a task copying the same media twice writes the same key (idempotent)."""
    if index < 0:
        raise InvalidInput("photo index must not be negative", field="index")
    key = f"tenants/{tenant_id}/photos/{message_id}-{index}{photo_extension(content_type)}"
    return require_photo_key(key)

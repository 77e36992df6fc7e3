"""Photos as files under a directory: the embedded default (no S3).

Uploads straight from a browser are "presigned" the way S3 does it, with an HMAC instead of AWS
credentials: `presign_upload` signs the key, content type, size limit and expiry, and the HTTP
route that receives `POST {public_url}/api/v1/uploads/local/{key}` calls `accept_upload` (or
`verify_upload`) with the form fields, which refuses anything forged, altered or expired.

Links to read a photo are signed the same way: `url_for` gives
`{public_url}/api/v1/media/{key}?expires=...&signature=...`, and the route serving it calls
`open_link`. A link's signature covers ("get", key, expires), a list of another length than
an upload's, so neither can stand for the other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from lily_core.domain.photos import normalize_content_type, require_photo_key
from lily_core.errors import InvalidInput, NotFound
from lily_core.ports import Clock, PhotoStore, PresignedUpload

__all__ = ["LocalPhotoStore"]

# Content types live in a parallel tree; keys cannot start a segment with ".", so no key
# can reach into it.
_META_DIR = ".meta"
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_SIGNED_FIELDS = ("key", "content_type", "max_bytes", "expires")


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class LocalPhotoStore(PhotoStore):
    """Stores each photo at `root/{key}` (written atomically) and its content type at
    `root/.meta/{key}`."""

    def __init__(
        self, root: Path, signing_key: str, public_url: str, *, clock: Clock | None = None
    ) -> None:
        if not signing_key:
            raise ValueError("LocalPhotoStore needs a non-empty signing key")
        self.root = Path(root).resolve()
        self._signing_key = signing_key.encode()
        self.public_url = public_url.rstrip("/")
        self._clock = clock or _UtcClock()

    # -- PhotoStore --------------------------------------------------------------------------

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        self._write_atomically(path, data)
        # Content type after data: a reader that finds the data but no type gets the default
        # rather than a type for data that never landed.
        self._write_atomically(self._meta_path(key), normalize_content_type(content_type).encode())

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no photo under {key!r}") from None

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_seconds: int
    ) -> PresignedUpload:
        require_photo_key(key)
        expires = int(self._clock.now().timestamp()) + expires_seconds
        fields = {
            "key": key,
            "content_type": normalize_content_type(content_type),
            "max_bytes": str(max_bytes),
            "expires": str(expires),
        }
        fields["signature"] = self._sign(fields)
        return PresignedUpload(f"{self.public_url}/api/v1/uploads/local/{key}", fields, key)

    def url_for(self, key: str, *, expires_seconds: int) -> str:
        require_photo_key(key)
        expires = str(int(self._clock.now().timestamp()) + expires_seconds)
        signature = self._sign_link(key, expires)
        return f"{self.public_url}/api/v1/media/{key}?expires={expires}&signature={signature}"

    # -- beyond the port ---------------------------------------------------------------------

    def content_type(self, key: str) -> str:
        """The content type stored with `key`; raise NotFound if there is no photo."""
        self.get(key)  # NotFound first, so a missing photo never reads as octet-stream
        try:
            return self._meta_path(key).read_text().strip() or _DEFAULT_CONTENT_TYPE
        except FileNotFoundError:
            return _DEFAULT_CONTENT_TYPE

    def verify_upload(
        self, fields: dict[str, str], *, path_key: str | None = None
    ) -> tuple[str, str, int]:
        """Check the fields a browser posted with a presigned local upload and return
        `(key, content_type, max_bytes)`. Raise InvalidInput if a field is missing, the
        signature does not match, the upload expired, or `path_key` (the key in the URL the
        form was posted to) differs from the signed key."""
        try:
            signed = {name: fields[name] for name in _SIGNED_FIELDS}
            signature = fields["signature"]
        except KeyError as exc:
            raise InvalidInput("missing upload field", field=str(exc.args[0])) from None
        if not hmac.compare_digest(self._sign(signed), signature):
            raise InvalidInput("the upload signature does not match", field="signature")
        if path_key is not None and path_key != signed["key"]:
            raise InvalidInput("the upload URL does not match the signed key", field="key")
        try:
            expires, max_bytes = int(signed["expires"]), int(signed["max_bytes"])
        except ValueError:  # only reachable with the signing key, but never trust a parse
            raise InvalidInput("malformed upload fields") from None
        if self._clock.now().timestamp() > expires:
            raise InvalidInput("the upload link has expired", field="expires")
        return require_photo_key(signed["key"]), signed["content_type"], max_bytes

    def accept_upload(
        self, fields: dict[str, str], data: bytes, content_type: str, *, path_key: str | None = None
    ) -> str:
        """Verify a presigned local upload, check the file against what was signed, store it,
        and return its key. Raise InvalidInput if anything does not match."""
        key, signed_type, max_bytes = self.verify_upload(fields, path_key=path_key)
        if normalize_content_type(content_type) != signed_type:
            raise InvalidInput(
                f"the file is {content_type!r}, the upload was signed for {signed_type!r}",
                field="content_type",
            )
        if not 0 < len(data) <= max_bytes:
            raise InvalidInput(f"the file must be 1 to {max_bytes} bytes", field="file")
        self.put(key, data, signed_type)
        return key

    def open_link(self, key: str, expires: str, signature: str) -> tuple[bytes, str]:
        """The photo and content type a `url_for` link points to. Raise InvalidInput (field
        `signature` or `expires`) for a forged, altered or expired link, NotFound if the
        photo is gone."""
        if not (signature.isascii() and expires.isascii()) or not hmac.compare_digest(
            self._sign_link(key, expires), signature
        ):
            raise InvalidInput("the link signature does not match", field="signature")
        if not expires.isdigit() or self._clock.now().timestamp() > int(expires):
            raise InvalidInput("the link has expired", field="expires")
        return self.get(key), self.content_type(key)

    # -- internals ---------------------------------------------------------------------------

    def _sign_link(self, key: str, expires: str) -> str:
        message = json.dumps(["get", key, expires])
        return hmac.new(self._signing_key, message.encode(), hashlib.sha256).hexdigest()

    def _sign(self, fields: dict[str, str]) -> str:
        # A JSON list is an unambiguous encoding whatever characters the values hold.
        message = json.dumps([fields[name] for name in _SIGNED_FIELDS])
        return hmac.new(self._signing_key, message.encode(), hashlib.sha256).hexdigest()

    def _path(self, key: str) -> Path:
        return self._resolve_under(self.root, key)

    def _meta_path(self, key: str) -> Path:
        return self._resolve_under(self.root / _META_DIR, key)

    def _resolve_under(self, base: Path, key: str) -> Path:
        require_photo_key(key)
        path = (base / key).resolve()
        # Belt and braces: the key rules already forbid "..", but a symlink could still point out.
        if not path.is_relative_to(self.root):
            raise InvalidInput(f"{key!r} escapes the photo directory", field="key")
        return path

    @staticmethod
    def _write_atomically(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

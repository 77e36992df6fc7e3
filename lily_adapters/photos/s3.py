"""Photos in an S3 bucket (AWS or any S3-compatible server), through boto3.

Credentials come the usual boto3 way (environment, shared config, instance role). Errors are
mapped onto the core's: a missing object is NotFound; throttling, 5xx and network failures are
TransientDeliveryError (the copying task retries); other refusals (no such bucket, access
denied) are PermanentDeliveryError, since retrying cannot fix configuration.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
)

from lily_core.domain.photos import normalize_content_type, require_photo_key
from lily_core.errors import NotFound, PermanentDeliveryError, TransientDeliveryError
from lily_core.ports import PhotoStore, PresignedUpload

__all__ = ["S3PhotoStore"]

_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout"}


class S3PhotoStore(PhotoStore):
    """Stores each photo as the object `{key}` in `bucket`, with its content type."""

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.bucket = bucket
        config = Config(
            signature_version="s3v4",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "max_attempts": 3},
            # S3-compatible servers (MinIO, moto, R2 behind a plain host) rarely resolve
            # bucket subdomains, so talk path-style to any custom endpoint.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self._client: Any = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        require_photo_key(key)
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=normalize_content_type(content_type),
            )
        except (ClientError, BotoCoreError) as exc:
            raise _delivery_error(exc, f"storing {key!r}") from exc

    def get(self, key: str) -> bytes:
        require_photo_key(key)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            return bytes(response["Body"].read())
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                raise NotFound(f"no photo under {key!r}") from None
            raise _delivery_error(exc, f"reading {key!r}") from exc
        except BotoCoreError as exc:
            raise _delivery_error(exc, f"reading {key!r}") from exc

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_seconds: int
    ) -> PresignedUpload:
        """An S3 presigned POST: the browser posts `fields` plus a `file` part to `url`. S3
        itself refuses another content type or a file over `max_bytes`."""
        require_photo_key(key)
        content_type = normalize_content_type(content_type)
        # Signing is local (no request is made), so only configuration errors can happen here.
        presigned = self._client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=expires_seconds,
        )
        fields = {str(name): str(value) for name, value in presigned["fields"].items()}
        return PresignedUpload(str(presigned["url"]), fields, key)

    def url_for(self, key: str, *, expires_seconds: int) -> str:
        """A presigned GET of the object (signed locally, no request made)."""
        require_photo_key(key)
        return str(
            self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=expires_seconds,
            )
        )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _delivery_error(exc: ClientError | BotoCoreError, doing: str) -> Exception:
    if isinstance(exc, NoCredentialsError | ParamValidationError):
        return PermanentDeliveryError(f"S3 is misconfigured for {doing}: {exc}")
    if isinstance(exc, BotoCoreError):  # connection refused, timeouts, bad endpoint...
        return TransientDeliveryError(f"S3 unreachable while {doing}: {exc}")
    code = _error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    message = f"S3 refused {doing}: {code or status}"
    if status >= 500 or status == 429 or code in _TRANSIENT_CODES:
        return TransientDeliveryError(message, code=code or None)
    return PermanentDeliveryError(message, code=code or None)

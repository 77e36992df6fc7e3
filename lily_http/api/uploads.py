"""`POST /api/v1/uploads` (DESIGN §2.2.5): a presigned upload, so a browser sends a photo
straight to the photo store (an S3 presigned POST; in the embedded default, a signed form for
the local receiver, `lily_http.routes.uploads`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from lily_core.domain.photos import ALLOWED_PHOTO_TYPES, MAX_PHOTO_BYTES
from lily_http.api.auth import Caller
from lily_http.api.errors import error_responses
from lily_http.deps import ContainerDep

router = APIRouter(prefix="/uploads", tags=["uploads"])


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_type: str = Field(
        max_length=200, description=f"One of {', '.join(ALLOWED_PHOTO_TYPES)}"
    )
    size: int = Field(description=f"The file's size in bytes, 1 to {MAX_PHOTO_BYTES}")
    lead_id: str | None = Field(None, max_length=64, description="The lead the photo is of")


class UploadForm(BaseModel):
    url: str = Field(description="Where to POST the multipart form")
    fields: dict[str, str] = Field(description="Form fields to send as given, before `file`")
    key: str = Field(description="Where the photo will be stored")
    expires_at: datetime = Field(description="The form is refused after this")


@router.post(
    "",
    status_code=201,
    operation_id="createUpload",
    responses=error_responses(400, 401, 403, 404, 422),
)
def create_upload(caller: Caller, container: ContainerDep, body: UploadRequest) -> UploadForm:
    """A form to upload one photo of this type and size (the file is sent with the form's
    fields as a `file` part; a larger one, or another type, is refused). 404 for a lead that
    is not the tenant's."""
    upload = container.create_upload()(
        caller, content_type=body.content_type, size=body.size, lead_id=body.lead_id
    )
    return UploadForm(
        url=upload.url, fields=upload.fields, key=upload.key, expires_at=upload.expires_at
    )

"""Direct photo uploads into the local photo store (the embedded default, DESIGN §2.2.5).

`POST /api/v1/uploads/local/{key}` receives the multipart form a browser posts with the
fields of a LocalPhotoStore presigned upload (`key`, `content_type`, `max_bytes`,
`expires`, `signature`) and the photo as `file`. The signature is the authentication: the
route exists only when the photo store is a LocalPhotoStore (with S3 the browser posts to
the bucket), and answers 404 otherwise."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from lily_adapters.photos.local import LocalPhotoStore
from lily_core.domain.photos import MAX_PHOTO_BYTES
from lily_core.errors import InvalidInput
from lily_http.bodies import read_body
from lily_http.deps import ContainerDep, rejected
from lily_http.openapi_shapes import errors

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])

# Room for the form fields and multipart boundaries around the largest photo allowed.
MAX_BODY_BYTES = MAX_PHOTO_BYTES + 64 * 1024
# Failures of the signed fields: the request is not authorized, as opposed to a bad file.
_AUTH_FIELDS = frozenset({"signature", "expires", "key"})
_SIGNED_FIELD = {"type": "string", "description": "as the presigned upload gave it"}
UPLOAD_FORM = {
    "type": "object",
    "required": ["key", "content_type", "max_bytes", "expires", "signature", "file"],
    "properties": {
        **{name: _SIGNED_FIELD for name in ("key", "content_type", "max_bytes", "expires")},
        "signature": {"type": "string", "description": "the presigned upload's signature"},
        "file": {"type": "string", "format": "binary", "description": "the photo"},
    },
}
_STORED = {
    "type": "object",
    "required": ["key"],
    "properties": {"key": {"type": "string", "description": "where the photo is stored"}},
}


@router.post(
    "/local/{key:path}",
    status_code=201,
    response_class=JSONResponse,
    responses={
        201: {"description": "Stored", "content": {"application/json": {"schema": _STORED}}},
        **errors(400, 403, 404, 413),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": UPLOAD_FORM}},
        }
    },
)
async def local_upload(key: str, request: Request, container: ContainerDep) -> JSONResponse:
    store = container.photo_store()
    if not isinstance(store, LocalPhotoStore):
        logger.bind(key=key[:200]).warning("local upload refused: no local photo store")
        raise HTTPException(404, "uploads go to the photo bucket, not here")
    await read_body(request, MAX_BODY_BYTES)
    try:
        form = await request.form()
    except Exception:
        logger.bind(key=key[:200]).warning("local upload refused: not a multipart form")
        raise HTTPException(400, "the body is not a multipart form") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("is required", field="file")
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        if not fields.get("signature", "").isascii():
            # what LocalPhotoStore's compare_digest would raise TypeError on
            raise InvalidInput("the upload signature does not match", field="signature")
        _, _, max_bytes = store.verify_upload(fields, path_key=key)
        data = await upload.read(max_bytes + 1)  # one byte over is enough to refuse it
        content_type = upload.content_type or "application/octet-stream"
        stored = await run_in_threadpool(
            store.accept_upload, fields, data, content_type, path_key=key
        )
    except InvalidInput as exc:
        status = 403 if exc.field in _AUTH_FIELDS else 400
        raise rejected(logger.bind(key=key[:200]), "local upload refused", exc, status) from None
    finally:
        await form.close()
    logger.bind(key=stored, size=len(data)).info("local upload stored")
    return JSONResponse({"key": stored}, status_code=201)

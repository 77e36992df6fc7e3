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
from lily_http.deps import ContainerDep

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])

# Room for the form fields and multipart boundaries around the largest photo allowed.
_MAX_BODY_BYTES = MAX_PHOTO_BYTES + 64 * 1024
# Failures of the signed fields: the request is not authorized, as opposed to a bad file.
_AUTH_FIELDS = frozenset({"signature", "expires", "key"})


@router.post("/local/{key:path}", status_code=201)
async def local_upload(key: str, request: Request, container: ContainerDep) -> JSONResponse:
    store = container.photo_store()
    if not isinstance(store, LocalPhotoStore):
        raise HTTPException(404, "uploads go to the photo bucket, not here")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > _MAX_BODY_BYTES:
        raise HTTPException(413, "the upload is too large")
    try:
        form = await request.form()
    except Exception:
        raise HTTPException(400, "the body is not a multipart form") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("is required", field="file")
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        _, _, max_bytes = store.verify_upload(fields, path_key=key)
        data = await upload.read(max_bytes + 1)  # one byte over is enough to refuse it
        content_type = upload.content_type or "application/octet-stream"
        stored = await run_in_threadpool(
            store.accept_upload, fields, data, content_type, path_key=key
        )
    except InvalidInput as exc:
        status = 403 if exc.field in _AUTH_FIELDS else 400
        logger.bind(key=key, field=exc.field).warning("local upload refused")
        raise HTTPException(status, str(exc)) from None
    finally:
        await form.close()
    logger.bind(key=stored, size=len(data)).info("local upload stored")
    return JSONResponse({"key": stored}, status_code=201)

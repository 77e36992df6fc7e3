"""`GET /api/v1/media/{key}`: a stored photo, through the short-lived signed link that the
local photo store's `url_for` makes (the embedded default; with S3 the links point at the
bucket, and this route answers 404). The signature is the authentication, as for
`/api/v1/uploads/local`: an `<img src>` sends no bearer token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from loguru import logger
from starlette.concurrency import run_in_threadpool

from lily_adapters.photos.local import LocalPhotoStore
from lily_core.errors import InvalidInput, NotFound
from lily_http.api.errors import ErrorBody, error_responses
from lily_http.deps import ContainerDep

router = APIRouter(prefix="/media", tags=["media"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The photo", "content": {"image/*": {}}},
    403: {"model": ErrorBody, "description": "The link is forged, altered or expired"},
    404: {"model": ErrorBody, "description": "No such photo (or no local photo store)"},
    **error_responses(422),
}


@router.get(
    "/{key:path}",
    operation_id="getMedia",
    response_class=Response,
    responses=_RESPONSES,
)
async def get_media(
    key: str,
    container: ContainerDep,
    expires: Annotated[str, Query(max_length=20, description="As the link gave it")],
    signature: Annotated[str, Query(max_length=128, description="As the link gave it")],
) -> Response:
    """A stored photo, for as long as its link lasts."""
    store = container.photo_store()
    if not isinstance(store, LocalPhotoStore):
        raise HTTPException(404, "photos are served by the photo bucket, not here")
    try:
        data, content_type = await run_in_threadpool(store.open_link, key, expires, signature)
    except InvalidInput as exc:
        logger.bind(key=key[:200], field=exc.field).warning("media link refused")
        raise HTTPException(403, "the link is not valid (forged, altered or expired)") from None
    except NotFound:
        raise HTTPException(404, "no such photo") from None
    headers = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}
    return Response(data, media_type=content_type, headers=headers)

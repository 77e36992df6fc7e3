"""Request bodies read with a cap, so that what a request may cost in memory is known before
anyone has been authenticated: every route that reads a body reads it through `read_body`."""

from __future__ import annotations

from contextlib import aclosing

from fastapi import HTTPException, Request
from loguru import logger
from starlette.requests import ClientDisconnect

__all__ = ["read_body"]


async def read_body(request: Request, limit: int) -> bytes:
    """The body of `request`, refused with 413 as soon as it passes `limit` bytes: before
    reading anything when Content-Length says so, else while the chunks stream in (a
    chunked body has no Content-Length), so at most `limit` bytes plus one chunk are held.
    The body is left in Starlette's own cache on the request: `request.form()` parses it."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise _too_large(request, limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with aclosing(request.stream()) as stream:
            async for chunk in stream:
                size += len(chunk)
                if size > limit:
                    raise _too_large(request, limit)
                chunks.append(chunk)
    except ClientDisconnect:
        raise HTTPException(400, "the client went away before the body ended") from None
    body = b"".join(chunks)
    request._body = body  # Starlette's cache, which Request.body() and .form() read
    return body


def _too_large(request: Request, limit: int) -> HTTPException:
    logger.bind(path=request.url.path, limit=limit).warning("request body too large")
    return HTTPException(413, f"the body is larger than {limit} bytes")

"""The web dashboard (`web/`, a Next.js static export) at `/`, on the API's own origin.

The built files ship inside the package (`lily_http/web/`, made by the package build:
see `setup.py`). Every page gets a strict Content-Security-Policy: scripts only from this
origin, plus the page's own inline scripts (Next.js inlines its bootstrap) by their SHA-256,
computed here from the files, so that no other inline script can run. Content-hashed assets
under `/_next/static/` are cached for good; pages are revalidated on every load, so a new
release shows at once. Unknown paths under the API's prefixes stay JSON 404s."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

__all__ = ["DASHBOARD_DIR", "content_security_policy", "photo_origins", "serve_dashboard"]

DASHBOARD_DIR = Path(str(resources.files("lily_http"))) / "web"

# Paths the API owns: a miss there is the API's JSON 404, never the dashboard's page.
_API_PREFIXES = ("api/", "webhooks/", "docs", "redoc", "openapi.json", "metrics")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)
_IMMUTABLE = "public, max-age=31536000, immutable"

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lily</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;
padding: 0 1rem; line-height: 1.5">
<h1>Lily is running; its web dashboard is not built</h1>
<p>This installation was made without Node.js, so the dashboard was left out. The API works:
see <a href="/docs">/docs</a>.</p>
<p>To add the dashboard, install Node.js 20 or later with npm, then reinstall from the
project's folder:</p>
<pre>pip install .</pre>
<p>(or build it by hand: <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>, and copy
<code>web/out</code> to <code>lily_http/web</code>).</p>
</body></html>
"""


def content_security_policy(html: bytes, image_sources: tuple[str, ...] = ()) -> str:
    """The policy for one page: its inline scripts allowed by hash, nothing else inline;
    images also from `image_sources` (the photo bucket's origin)."""
    hashes = sorted(
        {
            "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
            for body in _INLINE_SCRIPT.findall(html)
            if body.strip()
        }
    )
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *hashes]),
            # Tailwind ships a stylesheet; React sets style attributes (inline styles cannot
            # run code, so they are allowed)
            "style-src 'self' 'unsafe-inline'",
            " ".join(["img-src 'self' data: blob:", *image_sources]),
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        ]
    )


def photo_origins(s3_bucket: str | None, s3_endpoint_url: str | None) -> tuple[str, ...]:
    """Where the dashboard's photos come from besides this origin: an S3 bucket's presigned
    links (its endpoint's origin, or AWS's hosts), none with photos on local disk."""
    if not s3_bucket:
        return ()
    if not s3_endpoint_url:
        return ("https://*.amazonaws.com",)
    endpoint = urlsplit(s3_endpoint_url)
    return (f"{endpoint.scheme}://{endpoint.netloc}", f"{endpoint.scheme}://*.{endpoint.netloc}")


@lru_cache(maxsize=256)
def _policy_of(path: str, mtime_ns: int, image_sources: tuple[str, ...]) -> str:
    return content_security_policy(Path(path).read_bytes(), image_sources)


class _Dashboard(StaticFiles):
    """StaticFiles (with `html=True`: `/inbox/` serves `inbox/index.html`, a miss the
    export's `404.html` for a browser, the API's JSON 404 for any other client) plus the
    headers above."""

    def __init__(self, directory: Path, image_sources: tuple[str, ...]) -> None:
        super().__init__(directory=directory, html=True)
        self.image_sources = image_sources

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        accepts = dict(scope["headers"]).get(b"accept", b"")
        if response.status_code == 404 and b"text/html" not in accepts:
            raise HTTPException(404, "not found")
        return response

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        if str(full_path).endswith(".html"):
            headers["Cache-Control"] = "no-cache"
            headers["Content-Security-Policy"] = _policy_of(
                str(full_path), stat_result.st_mtime_ns, self.image_sources
            )
            headers["Referrer-Policy"] = "same-origin"
            headers["X-Frame-Options"] = "DENY"
        elif "/_next/static/" in Path(full_path).as_posix():
            headers["Cache-Control"] = _IMMUTABLE
        else:
            headers["Cache-Control"] = "public, max-age=3600"
        return response


async def _not_built(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["path"] not in ("/", "/index.html"):
        raise HTTPException(404, "not found")
    await HTMLResponse(_NOT_BUILT, headers={"Cache-Control": "no-cache"})(scope, receive, send)


def serve_dashboard(
    app: FastAPI, directory: Path = DASHBOARD_DIR, image_sources: tuple[str, ...] = ()
) -> None:
    """Serve the dashboard at `/` for every GET that no route of the app answers (the
    router's default, so routes added later still win, and a wrong method on a route is
    still its 405); a page saying how to build it when it was not built. Its pages may show
    images from `image_sources` too (see `photo_origins`)."""
    files: Any = (
        _Dashboard(directory, image_sources) if (directory / "index.html").is_file() else _not_built
    )

    async def dashboard(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].lstrip("/")
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(404, "not found")
        if path.startswith(_API_PREFIXES):
            raise HTTPException(404, "not found")
        await files(scope, receive, send)

    app.router.default = dashboard

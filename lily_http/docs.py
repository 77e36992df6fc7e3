"""`/docs` (Swagger UI) and `/redoc` served without a CDN: FastAPI's own pages load their
JavaScript and CSS from cdn.jsdelivr.net and stay blank offline. The assets come from the
fastapi-offline package (which vendors swagger-ui-dist and redoc) and are served from Lily's
own origin under `/docs/static`."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = "/docs/static"
_OAUTH2_REDIRECT = "/docs/oauth2-redirect"

router = APIRouter(include_in_schema=False)


def add_docs(app: FastAPI) -> None:
    """Mount the offline `/docs` and `/redoc` on `app` (created with `docs_url=None,
    redoc_url=None`)."""
    app.mount(STATIC, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-static")
    app.include_router(router)


def _static(request: Request, name: str) -> str:
    return f"{request.scope.get('root_path', '')}{STATIC}/{name}"


def _openapi_url(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}{request.app.openapi_url}"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - API",
        oauth2_redirect_url=_OAUTH2_REDIRECT,
        swagger_js_url=_static(request, "swagger-ui-bundle.js"),
        swagger_css_url=_static(request, "swagger-ui.css"),
        swagger_favicon_url=_static(request, "favicon.png"),
        # else Swagger UI sends the spec's URL to validator.swagger.io for a badge
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get(_OAUTH2_REDIRECT)
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=_static(request, "redoc.standalone.js"),
        redoc_favicon_url=_static(request, "favicon.png"),
        with_google_fonts=False,
    )

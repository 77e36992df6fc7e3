"""The web dashboard at `/`: the static export served with its caching headers and a strict
Content-Security-Policy, the API's paths untouched, and a page saying how to build it when it
was not built. (The real dashboard in a real browser: `web/e2e/`.)"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lily_adapters.container import build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_http.app import create_app
from lily_http.dashboard import DASHBOARD_DIR, content_security_policy, photo_origins

BOOT = 'self.__next_f=self.__next_f||[];self.__next_f.push([0,"<b>"])'
PAGE = f"""<!DOCTYPE html><html><head><script src="/_next/static/chunks/main-1a2b.js" async>
</script></head><body><h1>Inbox</h1><script>{BOOT}</script><script>{BOOT}</script></body></html>
"""


def _client(tmp_path: Path, dashboard: Path) -> TestClient:
    url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(url)
    app = create_app(build_container(Settings(database_url=url, _env_file=None)), dashboard)
    return TestClient(app)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A static export as Next.js lays it out (trailingSlash: a folder per page)."""
    out = tmp_path / "out"
    (out / "inbox").mkdir(parents=True)
    (out / "_next" / "static" / "chunks").mkdir(parents=True)
    (out / "index.html").write_text(PAGE)
    (out / "inbox" / "index.html").write_text(PAGE.replace("Inbox", "Inbox page"))
    (out / "404.html").write_text("<!DOCTYPE html><p>This page could not be found.</p>")
    (out / "_next" / "static" / "chunks" / "main-1a2b.js").write_text("console.log(1)")
    (out / "icon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return out


def test_pages_carry_a_csp_that_allows_exactly_their_inline_scripts(
    tmp_path: Path, built: Path
) -> None:
    with _client(tmp_path, built) as client:
        page = client.get("/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["x-frame-options"] == "DENY"
    directives = page.headers["content-security-policy"].split("; ")
    policy = dict(directive.split(" ", 1) for directive in directives)
    digest = base64.b64encode(hashlib.sha256(BOOT.encode()).digest()).decode()
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"  # once, though inlined twice
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in str(policy)


def test_hashed_assets_are_cached_for_good_and_pages_by_folder(tmp_path: Path, built: Path) -> None:
    with _client(tmp_path, built) as client:
        chunk = client.get("/_next/static/chunks/main-1a2b.js")
        icon = client.get("/icon.svg")
        inbox = client.get("/inbox/")
        bare = client.get("/inbox", follow_redirects=False)

    assert chunk.status_code == 200
    assert chunk.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert icon.headers["cache-control"] == "public, max-age=3600"
    assert "Inbox page" in inbox.text and "content-security-policy" in inbox.headers
    assert bare.status_code in (307, 308) and bare.headers["location"].endswith("/inbox/")


def test_misses_are_the_exports_404_page_but_the_apis_stay_json(
    tmp_path: Path, built: Path
) -> None:
    with _client(tmp_path, built) as client:
        page = client.get("/no/such/page", headers={"Accept": "text/html,*/*;q=0.8"})
        script = client.get("/no/such/page")  # not a browser asking for a page: JSON
        api = client.get("/api/v1/no-such-route", headers={"Accept": "text/html"})
        webhook = client.get("/webhooks/nope")
        posted = client.post("/")
        health = client.get("/healthz")
        docs = client.get("/openapi.json")

    assert page.status_code == 404 and "could not be found" in page.text
    assert script.status_code == 404 and script.json()["error"]["code"] == "not_found"
    for response in (api, webhook):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert posted.status_code == 404 and posted.json()["error"]["code"] == "not_found"
    assert health.status_code == 200 and docs.status_code == 200


def test_without_a_build_the_root_says_how_to_build_the_dashboard(tmp_path: Path) -> None:
    with _client(tmp_path, tmp_path / "not-built") as client:
        root = client.get("/")
        page = client.get("/inbox/")

    assert root.status_code == 200
    assert "dashboard is not built" in root.text and "npm" in root.text
    assert page.status_code == 404 and page.json()["error"]["code"] == "not_found"


@pytest.mark.skipif(
    not (DASHBOARD_DIR / "index.html").is_file(), reason="the web dashboard is not built here"
)
def test_the_installed_dashboard_is_served_at_the_root(tmp_path: Path) -> None:
    with _client(tmp_path, DASHBOARD_DIR) as client:
        root = client.get("/")
        signin = client.get("/signin/")

    assert root.status_code == 200 and "content-security-policy" in root.headers
    assert signin.status_code == 200 and "Sign in" in signin.text


def test_photos_from_the_bucket_are_allowed_images_and_nothing_else_is() -> None:
    assert photo_origins(None, None) == ()
    assert photo_origins("photos", None) == ("https://*.amazonaws.com",)
    minio = photo_origins("photos", "http://127.0.0.1:9000/")
    assert minio == ("http://127.0.0.1:9000", "http://*.127.0.0.1:9000")

    policy = content_security_policy(PAGE.encode(), minio)

    img_src = next(d for d in policy.split("; ") if d.startswith("img-src"))
    assert img_src == "img-src 'self' data: blob: http://127.0.0.1:9000 http://*.127.0.0.1:9000"
    assert "connect-src 'self';" in policy  # the bucket only for images

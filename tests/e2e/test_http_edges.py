"""The HTTP app's edges: one access log line per request, metrics labelled by route
template, unhandled errors as a JSON 500, and `/docs` served without a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from loguru import logger
from prometheus_client import REGISTRY

from lily_adapters.container import build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_http.app import create_app


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(url)
    return create_app(build_container(Settings(database_url=url, _env_file=None)))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def records() -> Iterator[list[Any]]:
    """Every log record made while the test runs."""
    records: list[Any] = []
    sink = logger.add(lambda message: records.append(message.record), level="DEBUG")
    yield records
    logger.remove(sink)


def access_lines(records: list[Any]) -> list[dict[str, Any]]:
    return [r["extra"] for r in records if r["name"] == "lily_http.app" and "route" in r["extra"]]


def requests_total(method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("lily_http_requests_total", labels) or 0.0


def test_each_request_logs_one_access_line_with_the_route_template(
    client: TestClient, records: list[Any]
) -> None:
    response = client.post(
        "/webhooks/calcom/no-such-tenant?token=s3cret", headers={"X-Request-ID": "req-42"}
    )
    assert response.status_code == 404

    [line] = access_lines(records)
    assert line["method"] == "POST"
    assert line["route"] == "/webhooks/calcom/{tenant_slug}"
    assert line["path"] == "/webhooks/calcom/no-such-tenant"
    assert line["status"] == 404
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == "req-42"
    assert not any("s3cret" in str(r["message"]) + str(r["extra"]) for r in records)


@pytest.mark.parametrize(
    ("method", "path", "route", "status"),
    [
        ("GET", "/docs", "/docs", 200),
        ("GET", "/docs/oauth2-redirect", "/docs/oauth2-redirect", 200),
        ("GET", "/redoc", "/redoc", 200),
        ("GET", "/openapi.json", "/openapi.json", 200),
        ("POST", "/openapi.json", "/openapi.json", 405),
        ("GET", "/docs/static/swagger-ui.css", "/docs/static/{path}", 200),
        ("GET", "/docs/static/nope.js", "/docs/static/{path}", 404),
        ("GET", "/metrics", "/metrics", 200),
        ("GET", "/healthz", "/healthz", 200),
        ("GET", "/no/such/page", "unmatched", 404),
    ],
)
def test_metrics_label_every_route_by_its_template(
    client: TestClient, method: str, path: str, route: str, status: int
) -> None:
    before = requests_total(method, route, status)
    assert client.request(method, path).status_code == status
    assert requests_total(method, route, status) == before + 1


def test_an_unhandled_error_is_a_json_500_logged_once_with_its_traceback(
    app: FastAPI, records: list[Any]
) -> None:
    @app.get("/test-only/boom/{thing}")
    def boom(thing: str) -> None:
        raise RuntimeError(f"no {thing} here")

    before = requests_total("GET", "/test-only/boom/{thing}", 500)
    # raise_server_exceptions stays on: the error must not escape the app to the server
    with TestClient(app) as client:
        response = client.get("/test-only/boom/widget", headers={"X-Request-ID": "req-500"})

    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-500"
    error = response.json()["error"]
    assert error["code"] == "internal" and error["request_id"] == "req-500"
    assert "widget" not in error["message"]

    [logged] = [r for r in records if r["exception"] is not None]
    assert logged["extra"]["request_id"] == "req-500"
    assert isinstance(logged["exception"].value, RuntimeError)
    assert logged["exception"].traceback is not None
    [line] = access_lines(records)
    assert line["status"] == 500 and line["route"] == "/test-only/boom/{thing}"
    assert requests_total("GET", "/test-only/boom/{thing}", 500) == before + 1


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_nothing_from_another_host(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"(?:https?:)?//", html), "the page names another host"

    assets = re.findall(r'(?:src|href|spec-url)="([^"]+)"', html)
    assert any(asset.endswith(".js") for asset in assets)
    expected = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}
    for asset in assets:
        fetched = client.get(asset)
        assert fetched.status_code == 200, asset
        kind = next(v for k, v in expected.items() if asset.endswith(k))
        assert kind in fetched.headers["content-type"], asset


def test_swagger_ui_asks_no_online_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_docs_pages_are_not_in_the_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(path.startswith(("/docs", "/redoc")) for path in paths)


@pytest.mark.parametrize("given", ["x" * 65, "two words", "a\tb", ""])
def test_an_unlikely_request_id_is_replaced(client: TestClient, given: str) -> None:
    rid = client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)

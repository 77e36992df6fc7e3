from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from lily_adapters.container import build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_http.app import create_app


def _client(tmp_path: Path) -> TestClient:
    url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(url)
    return TestClient(create_app(build_container(Settings(database_url=url, _env_file=None))))


def test_health_ready_metrics_and_request_id(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "queue": "ok"}
        echoed = client.get("/healthz", headers={"X-Request-ID": "abc123"})
        assert echoed.headers["X-Request-ID"] == "abc123"
        assert len(client.get("/healthz").headers["X-Request-ID"]) == 32
        assert "lily_http_requests_total" in client.get("/metrics").text
        assert "/webhooks/twilio/voice" in client.get("/openapi.json").json()["paths"]


def test_readyz_reports_an_unreachable_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/missing/dir/lily.db", _env_file=None)
    with TestClient(create_app(build_container(settings))) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "unreachable"


def test_errors_are_json(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        missing = client.get("/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"

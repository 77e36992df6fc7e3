from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from loguru import logger

from lily_adapters.container import build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_http.app import create_app
from tests.faults import SilentServer


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


# -- failing dependencies get fast, honest answers ------------------------------------------


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` on a real uvicorn server (its event loop, its thread pool) on a free port."""
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def production_logging() -> Iterator[None]:
    """Log as `lily serve` does (no variable dumps in tracebacks): loguru's default sink
    would spend the event loop's time formatting the failed webhooks' tracebacks."""
    logger.remove()
    sink = logger.add(sys.stderr, level="WARNING", backtrace=False, diagnose=False)
    yield
    logger.remove(sink)
    logger.add(sys.stderr)


def timed_get(client: httpx.Client, url: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = client.get(url)
    return response, time.perf_counter() - started


@pytest.mark.usefixtures("production_logging")
def test_a_hung_database_gets_fast_answers_from_healthz_and_readyz(tmp_path: Path) -> None:
    """A database that accepts connections and never answers: 60 webhooks wait on it (the
    whole thread pool), yet /healthz answers at once and /readyz says 503 within its
    deadline; the webhooks themselves fail after the driver's timeouts instead of hanging."""
    with SilentServer() as database:
        settings = Settings(
            database_url=f"postgresql+psycopg://postgres@127.0.0.1:{database.port}/lily",
            data_dir=tmp_path,
            _env_file=None,
        )
        container = build_container(settings)
        form = {"CallSid": "CA1", "From": "+12145550123", "To": "+12145550100"}
        with (
            serving(create_app(container)) as url,
            ThreadPoolExecutor(60) as pool,
            httpx.Client(base_url=url, timeout=60) as load,
            httpx.Client(base_url=url, timeout=10) as probe,
        ):
            webhooks = [
                pool.submit(load.post, "/webhooks/twilio/voice", data=form) for _ in range(60)
            ]
            time.sleep(0.5)  # every one of them is waiting on the database now
            health = [timed_get(probe, "/healthz") for _ in range(5)]
            ready, ready_seconds = timed_get(probe, "/readyz")
            again, again_seconds = timed_get(probe, "/readyz")  # while the first check hangs
            still_stuck = sum(not w.done() for w in webhooks)
            started = time.perf_counter()
            statuses = [w.result().status_code for w in webhooks]
            drained = time.perf_counter() - started
        container.shutdown_resources()

    print(
        f"\nhung database: healthz max {max(s for _, s in health) * 1000:.0f} ms with "
        f"{still_stuck} webhooks stuck; readyz {ready_seconds * 1000:.0f} ms, then "
        f"{again_seconds * 1000:.0f} ms; the webhooks all answered 500 {drained:.1f} s later"
    )
    assert still_stuck >= 40  # the load was real: the thread pool was full
    assert all(r.status_code == 200 and r.json() == {"status": "ok"} for r, _ in health)
    assert all(seconds < 1.0 for _, seconds in health)
    for response, seconds in ((ready, ready_seconds), (again, again_seconds)):
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == "unreachable"
        assert seconds < 2.0
    assert set(statuses) == {500}  # answered, after connect_timeout / pool_timeout


def test_a_hung_check_holds_one_thread_however_often_readyz_is_asked(tmp_path: Path) -> None:
    with SilentServer() as database:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{database.port}/lily"
        container = build_container(Settings(database_url=url, _env_file=None))
        with TestClient(create_app(container)) as client:
            for _ in range(10):
                assert client.get("/readyz").status_code == 503
            checking = [t for t in threading.enumerate() if t.name == "lily-ready-database"]
            assert len(checking) == 1
        container.shutdown_resources()


def test_readyz_is_not_ready_on_a_database_that_was_never_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lily.db'}"
    container = build_container(Settings(database_url=url, _env_file=None))
    with TestClient(create_app(container)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "not migrated"
        migrate.upgrade(url)
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.json()
        assert ready.json()["checks"] == {"database": "ok", "queue": "ok"}

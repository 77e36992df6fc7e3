"""`lily serve` as an operator runs it (a real process): a port it cannot have is one line
and exit 1 (an impossible one, a usage error); unreachable dependencies are said once at
start-up, in one line each, and Lily starts anyway, backing off instead of flooding the log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.faults import SilentServer, closed_port

LILY = [sys.executable, "-c", "from lily_cli.main import main; main()"]
# production (PostgreSQL) takes its encryption keys from the environment
PRODUCTION_KEYS = {
    "LILY_ENCRYPTION_KEYS": "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    "LILY_BLIND_INDEX_KEY": "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8",
}


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LILY_")}
    env.update(
        LILY_DATABASE_URL=f"sqlite:///{tmp_path / 'lily.db'}",
        LILY_DATA_DIR=str(tmp_path / "data"),
        LILY_LOG_FORMAT="json",
    )
    return env | settings


def run_lily(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LILY, *args],
        capture_output=True,
        text=True,
        env=environment(tmp_path),
        cwd=tmp_path,
        timeout=60,
    )


def test_an_impossible_port_is_a_usage_error(tmp_path: Path) -> None:
    for port in ("99999", "0", "-1"):
        done = run_lily(tmp_path, "serve", "--port", port)
        assert done.returncode == 2, done.stderr
        assert "--port" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = run_lily(tmp_path, "serve", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr == f"error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    assert not (tmp_path / "lily.db").exists()  # nothing else happened


def test_an_address_that_is_not_ours_is_one_line_and_exit_1(tmp_path: Path) -> None:
    done = run_lily(tmp_path, "serve", "--host", "192.0.2.1", "--port", "8000")  # TEST-NET-1
    assert done.returncode == 1
    assert (
        done.stderr == "error: cannot listen on 192.0.2.1:8000: cannot assign requested address\n"
    )


@contextmanager
def serving(
    tmp_path: Path, *args: str, **settings: str
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """`lily serve *args` in the background: its URL once it listens, and its log lines so
    far."""
    port = closed_port()
    process = subprocess.Popen(
        [*LILY, "serve", "--port", str(port), *args],
        stderr=subprocess.PIPE,
        text=True,
        env=environment(tmp_path, **settings),
        cwd=tmp_path,
    )
    lines: list[dict[str, Any]] = []
    listening = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(json.loads(line))
            if lines[-1]["message"].startswith("listening on"):
                listening.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert listening.wait(timeout=60), lines
        yield f"http://127.0.0.1:{port}", lines
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)  # uvicorn re-raises the SIGINT once shut down: exit 130
        reader.join(timeout=10)


def test_unreachable_database_and_redis_are_said_once_and_lily_starts_anyway(
    tmp_path: Path,
) -> None:
    with SilentServer() as database:
        settings = {
            "LILY_DATABASE_URL": f"postgresql+psycopg://lily:s3cret@127.0.0.1:{database.port}/lily",
            "LILY_REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0",
            **PRODUCTION_KEYS,
        }
        with serving(tmp_path, **settings) as (url, lines):
            assert httpx.get(f"{url}/healthz").status_code == 200
            ready = httpx.get(f"{url}/readyz", timeout=10)
            time.sleep(4)  # the in-process worker keeps trying the queue meanwhile

    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "unreachable", "queue": "unreachable"}
    said = {r["check"]: r["message"] for r in lines if r.get("status") == "unreachable"}
    assert said["database"].startswith("database: unreachable at postgresql+psycopg://lily:***@")
    assert "timeout" in said["database"] and "s3cret" not in said["database"]
    assert said["queue"].startswith("queue: unreachable at redis://127.0.0.1:")
    assert "Connection refused" in said["queue"]
    retries = [r for r in lines if r["message"].startswith("queue unavailable")]
    # backing off from 0.5 s (0.5, 1, 2 s...): a handful of lines, where polling every 0.5 s
    # would have written one a poll
    assert 2 <= len(retries) <= 5, [r["message"] for r in retries]
    assert [r["retry_in"] for r in retries[:3]] == [0.5, 1.0, 2.0]
    assert not [r for r in lines if "exception" in r], "no traceback in the log"


def test_workers_serve_the_api_from_several_processes_with_one_queue_worker(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, "--workers", "2") as (url, lines):
        deadline = time.monotonic() + 60
        while len(_server_processes(lines)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        answers = [httpx.get(f"{url}/readyz", timeout=10).status_code for _ in range(20)]

    assert len(_server_processes(lines)) == 2, [r["message"] for r in lines]
    assert set(answers) == {200}
    workers = [r for r in lines if r["message"].startswith("worker: running")]
    assert len(workers) == 1  # the queue worker runs once, beside the API processes


def _server_processes(lines: list[dict[str, Any]]) -> set[str]:
    """The pids of uvicorn's "Started server process [pid]" lines."""
    started = (r["message"] for r in lines if r["message"].startswith("Started server process"))
    return {message.split("[")[1].rstrip("]") for message in started}

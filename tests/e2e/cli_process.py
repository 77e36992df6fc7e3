"""Running the `lily` command as an operator runs it: a real process, on a fresh SQLite
database in a temporary directory unless told otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

Lily = Callable[..., subprocess.CompletedProcess[str]]


def lily_runner(tmp_path: Path, **env: str) -> Lily:
    """A function running `lily *args` in `tmp_path`; `env` overrides the environment. It
    asserts exit status 0 unless called with `ok=False`."""
    environment = {
        **os.environ,
        "LILY_DATABASE_URL": f"sqlite:///{tmp_path / 'lily.db'}",
        "LILY_DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    environment.pop("LILY_REDIS_URL", None)

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-c", "from lily_cli.main import main; main()", *args],
            capture_output=True,
            text=True,
            env=environment,
            cwd=tmp_path,
            timeout=60,
        )
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    return run


def fails_cleanly(
    done: subprocess.CompletedProcess[str], needle: str, *, code: int | None = None
) -> str:
    """Assert `done` failed (with `code`, if given) with one line on stderr, no traceback,
    that contains `needle`; return that line."""
    assert done.returncode != 0
    if code is not None:
        assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert needle in lines[0]
    return lines[0]

"""`lily --help` and a command group's help load only the CLI: the service (database,
web framework, providers' clients, the phone-number geocoder) is imported by the commands
that use it, when they run. Counted by module, not by clock (bench/cli.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# what made `lily --help` take seconds: each costs from tens of milliseconds to a second
HEAVY = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "httpx",
    "twilio",
    "stripe",
    "boto3",
    "redis",
    "dependency_injector",
    "pydantic_settings",
    "phonenumbers.geocoder",
    "lily_adapters",
    "lily_http",
    "lily_worker",
    # the core's ports and use cases (the repository ports alone pull in most of the
    # domain: about 0.1 s)
    "lily_core.ports",
    "lily_core.use_cases",
)


def _modules_after(args: list[str]) -> set[str]:
    script = (
        "import json, sys\n"
        "from lily_cli.main import run\n"
        f"code = run({args!r})\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 0
    return set(modules)


@pytest.mark.parametrize("args", [["--help"], ["tenant", "--help"], ["queue", "--help"], []])
def test_help_imports_none_of_the_service(args: list[str]) -> None:
    loaded = _modules_after(args)
    heavy = sorted(
        m
        for m in loaded
        if any(m == h or m.startswith(h + ".") for h in HEAVY)
        and m not in ("lily_adapters", "lily_adapters.logs")  # the log's masking: light
    )
    assert heavy == []


def test_a_command_still_imports_what_it_needs() -> None:
    """Guards the test above: the check sees a command's imports."""
    assert "lily_adapters.crypto" in _modules_after(["keys", "new"])

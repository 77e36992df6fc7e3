"""`lily user add` and `lily apikey`, run as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from lily_adapters.sql.uow import set_tenant_scope
from tests.e2e.cli_process import Lily, fails_cleanly, lily_runner

PASSWORD = "correct horse battery"


@pytest.fixture
def lily(tmp_path: Path) -> Lily:
    run = lily_runner(tmp_path)
    run("tenant", "create", "--name", "Acme Wash Co", "--phone", "+12145550100")
    return run


def lily_with_stdin(tmp_path: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`lily *args` as lily_runner runs it, with `stdin` as its standard input (a pipe, not
    a terminal)."""
    environment = {
        **os.environ,
        "LILY_DATABASE_URL": f"sqlite:///{tmp_path / 'lily.db'}",
        "LILY_DATA_DIR": str(tmp_path / "data"),
    }
    environment.pop("LILY_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-c", "from lily_cli.main import main; main()", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )


def stored_hashes(tmp_path: Path) -> dict[str, str]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'lily.db'}")
    try:
        with engine.connect() as conn:
            set_tenant_scope(conn, None)  # every tenant's rows
            rows = conn.execute(sa.text("SELECT email, password_hash FROM users")).all()
    finally:
        engine.dispose()
    return {email: password_hash for email, password_hash in rows}


def test_user_add_reads_the_password_from_stdin(lily: Lily, tmp_path: Path) -> None:
    add = ("user", "add", "--tenant", "acme-wash-co", "--email", "Owner@Acme.test")

    done = lily_with_stdin(tmp_path, PASSWORD + "\n", *add, "--password-stdin")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "user owner@acme.test (owner) added to acme-wash-co"
    assert PASSWORD not in done.stdout + done.stderr
    [password_hash] = stored_hashes(tmp_path).values()
    assert password_hash.startswith("$argon2id$")


def test_user_add_with_a_role_and_a_password_option(lily: Lily, tmp_path: Path) -> None:
    done = lily(
        "user",
        "add",
        "--tenant",
        "acme-wash-co",
        "--email",
        "ops@acme.test",
        "--password",
        PASSWORD,
        "--role",
        "operator",
    )

    assert "ops@acme.test (operator)" in done.stdout
    assert list(stored_hashes(tmp_path)) == ["ops@acme.test"]


def test_user_add_without_a_password_and_no_terminal_is_one_line(
    lily: Lily, tmp_path: Path
) -> None:
    add = ("user", "add", "--tenant", "acme-wash-co", "--email", "owner@acme.test")

    fails_cleanly(lily_with_stdin(tmp_path, "", *add), "--password-stdin", code=1)
    fails_cleanly(lily_with_stdin(tmp_path, "short\n", *add, "--password-stdin"), "10 characters")
    both = lily_with_stdin(tmp_path, PASSWORD, *add, "--password", PASSWORD, "--password-stdin")
    fails_cleanly(both, "not both", code=2)
    assert stored_hashes(tmp_path) == {}


def test_apikey_revoke(lily: Lily) -> None:
    key = json.loads(lily("apikey", "create", "--tenant", "acme-wash-co", "--json").stdout)

    done = lily("apikey", "revoke", key["id"])

    assert done.stdout.strip() == f"API key {key['id']} (default) revoked"
    fails_cleanly(lily("apikey", "revoke", key["id"], ok=False), key["id"], code=1)
    fails_cleanly(lily("apikey", "revoke", "no-such-key", ok=False), "no-such-key", code=1)

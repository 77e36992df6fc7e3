"""How `lily` fails: usage errors as a normal CLI reports them (exit 2, the option's name,
the usage), settings and database problems named in one line (exit 1), help that reads
`--zip ZIP`, and bare command groups that print their help."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
import sqlalchemy as sa

from lily_adapters.sql.uow import create_engine_for
from tests.conftest import in_schema
from tests.e2e.cli_process import Lily, fails_cleanly, lily_runner

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pricebook.yaml"
SCHEMA = "lily_cli_unmigrated"


@pytest.fixture
def lily(tmp_path: Path) -> Lily:
    return lily_runner(tmp_path)


def test_a_missing_option_is_a_usage_error_naming_the_flag(lily) -> None:
    line = fails_cleanly(lily("quote", "acme-wash-co", ok=False), "Missing option '--zip'", code=2)
    assert "Usage: lily quote [OPTIONS]" in line
    assert "zip_code" not in line  # never the internal name
    fails_cleanly(lily("quote", ok=False), "Missing argument 'SLUG'", code=2)
    fails_cleanly(lily("tenant", "create", "--name", "A", ok=False), "'--phone'", code=2)


def test_unknown_options_commands_and_bad_values_are_usage_errors(lily) -> None:
    fails_cleanly(lily("tenant", "list", "--nope", ok=False), "No such option: --nope", code=2)
    fails_cleanly(lily("frobnicate", ok=False), "No such command 'frobnicate'", code=2)
    fails_cleanly(lily("quote", "x", "--zip", "75201", "--photos", "many", ok=False), "'--photos'")


@pytest.mark.parametrize("group", [(), ("tenant",), ("pricebook",), ("queue",), ("db",)])
def test_a_bare_command_group_prints_its_help_and_succeeds(lily, group: tuple[str, ...]) -> None:
    done = lily(*group)
    assert done.stdout.startswith(f"Usage: {' '.join(('lily', *group))} [OPTIONS] COMMAND")
    assert done.stderr == ""


def test_help_names_option_values_like_a_normal_cli(lily) -> None:
    quote_help = lily("quote", "--help").stdout
    assert "--zip ZIP" in quote_help
    assert "--text TEXT" in quote_help
    for command in (("quote",), ("tenant", "create"), ("tenant", "update"), ("simulate", "sms")):
        options = [
            line for line in lily(*command, "--help").stdout.splitlines() if line.startswith("  -")
        ]
        assert options, command
        assert not [line for line in options if "<" in line], command  # no <str>, <bool>


def test_version_comes_from_the_package_metadata(lily) -> None:
    assert lily("--version").stdout == f"lily {metadata.version('lily')}\n"


def test_a_bad_setting_is_named_in_one_line(tmp_path: Path) -> None:
    line = fails_cleanly(
        lily_runner(tmp_path, LILY_LOG_FORMAT="xml")("tenant", "list", ok=False),
        "LILY_LOG_FORMAT: must be 'json' or 'pretty'",
        code=1,
    )
    assert "validation error" not in line
    fails_cleanly(
        lily_runner(tmp_path, LILY_WORKER_CONCURRENCY="lots")("queue", "stats", ok=False),
        "LILY_WORKER_CONCURRENCY: must be a valid integer",
    )
    fails_cleanly(
        lily_runner(tmp_path, LILY_DATABASE_URL="not a url")("db", "upgrade", ok=False),
        "LILY_DATABASE_URL",
    )


def test_validation_errors_name_the_option_typed(lily) -> None:
    lily("tenant", "create", "--name", "Acme Wash Co", "--phone", "+12145550100")
    lily("pricebook", "import", "acme-wash-co", str(EXAMPLE))
    fails_cleanly(
        lily("quote", "acme-wash-co", "--zip", "SW1A1AA", ok=False),
        "--zip: 'SW1A1AA' is not a 5-digit US ZIP code",
        code=1,
    )
    far = lily("quote", "acme-wash-co", "--zip", "10001")  # a real ZIP, out of the area
    assert "Out of the service area" in far.stdout
    fails_cleanly(
        lily("tenant", "update", "acme-wash-co", "--forward-to", "(214) 555-0100", ok=False),
        "--forward-to: must differ from the business number",
    )
    fails_cleanly(
        lily("tenant", "update", "acme-wash-co", "--missed-call-template", "Hi {nope}", ok=False),
        "--missed-call-template: unknown placeholder {nope}",
    )
    fails_cleanly(
        lily("tenant", "create", "--name", "Pub Wash", "--phone", "+442071838750", ok=False),
        "--phone: '+442071838750' must be a US or Canadian (+1) number",
    )
    shown = json.loads(lily("tenant", "show", "acme-wash-co", "--json").stdout)
    assert shown["forward_to"] is None
    assert "{nope}" not in shown["missed_call_template"]


@pytest.fixture
def unmigrated_url(postgres_url: str) -> Iterator[str]:
    """An empty schema of the PostgreSQL test database, with a password in its URL."""
    admin = create_engine_for(postgres_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    url = sa.make_url(in_schema(postgres_url, SCHEMA))
    yield url.set(password=url.password or "s3cret").render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    admin.dispose()


@pytest.mark.postgres
def test_an_unmigrated_database_says_to_run_db_upgrade(tmp_path: Path, unmigrated_url) -> None:
    lily = lily_runner(tmp_path, LILY_DATABASE_URL=unmigrated_url)
    password = sa.make_url(unmigrated_url).password
    for command in (("tenant", "list"), ("queue", "stats"), ("quote", "x", "--zip", "75201")):
        line = fails_cleanly(lily(*command, ok=False), "is not migrated: run 'lily db upgrade'")
        assert line.startswith("error: the database at postgresql+psycopg://")
        assert password not in line
    # a database left behind the head revision (here: at base, its version table empty)
    admin = create_engine_for(unmigrated_url)
    with admin.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
    admin.dispose()
    fails_cleanly(lily("tenant", "list", ok=False), "is not migrated", code=1)
    assert "database at revision" in lily("db", "upgrade").stdout
    assert json.loads(lily("tenant", "list", "--json").stdout) == []

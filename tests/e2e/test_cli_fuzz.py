"""Generated command lines: whatever is typed, `lily` answers with an exit status of 0, 1 or
2, never a traceback, and a failure is one line on stderr. Runs in-process (lily_cli.main.run)
on a SQLite database holding one tenant with a price book, so each example costs
milliseconds."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lily_cli import common
from lily_cli.main import run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pricebook.yaml"

V = None  # in a command line to start from: a generated value
# Command lines to start from (required arguments and options in place), and the options
# that may follow, with whether each takes a value.
COMMANDS: list[tuple[tuple[str | None, ...], dict[str, bool]]] = [
    (("quote", "acme-wash-co", "--zip", V), {"--text": True, "--photos": True, "--json": False}),
    (("quote", V), {"--zip": True, "--nope": False}),
    (
        ("tenant", "create", "--name", V, "--phone", V),
        {"--forward-to": True, "--timezone": True, "--zip": True, "--slug": True},
    ),
    (
        ("tenant", "update", "acme-wash-co"),
        {
            "--forward-to": True,
            "--zip": True,
            "--quiet-hours": True,
            "--missed-call-template": True,
            "--review-delay-hours": True,
            "--strict-quiet-hours": False,
            "--chatwoot-account-id": True,
            "--twilio-account-sid": True,
            "--twilio-auth-token": True,
        },
    ),
    (("tenant", "show", V), {"--json": False}),
    (
        ("pricebook", "set-service", "acme-wash-co", V, "--low", V, "--high", V),
        {"--keywords": True, "--name": True},
    ),
    (("pricebook", "export", "acme-wash-co"), {"--format": True}),
    (("queue", "retry"), {"--all": False}),
    ((), {"--version": False, "--help": False, "tenant": False, "quote": False}),
]
VALUES = [
    "acme-wash-co",
    "75201",
    "10001",
    "SW1A1AA",
    "00000",
    "+12145550100",
    "+12145550199",
    "+442071838750",
    "Hi {nope}",
    "Hi {business",
    "Hi from {business}",
    "21:00-08:00",
    "9pm",
    "-1",
    "400",
    "1e9",
    "nan",
    "",
    "roof",
    "--",
]
values = st.one_of(
    st.sampled_from(VALUES),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """A command line that mostly parses (so the commands themselves run), with some noise."""
    start, options = draw(st.sampled_from(COMMANDS))
    args = [draw(values) if part is V else part for part in start]
    for option in draw(st.lists(st.sampled_from(sorted(options)), max_size=4)):
        args += [option, draw(values)] if options[option] else [option]
    noise = draw(st.lists(values, max_size=1)) if draw(st.integers(0, 4)) == 0 else []
    return args + noise


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("lily-fuzz")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        mp.setenv("LILY_DATABASE_URL", f"sqlite:///{home / 'lily.db'}")
        mp.setenv("LILY_DATA_DIR", str(home / "data"))
        mp.delenv("LILY_REDIS_URL", raising=False)
        common.container.cache_clear()
        for args in (
            ["tenant", "create", "--name", "Acme Wash Co", "--phone", "+12145550100"],
            ["pricebook", "import", "acme-wash-co", str(EXAMPLE)],
        ):
            assert _run(args)[0] == 0
        yield
        common.container().shutdown_resources()
        common.container.cache_clear()


def _run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(args)
    return code, out.getvalue(), err.getvalue()


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=command_lines())
def test_any_command_line_exits_0_1_or_2_with_at_most_one_error_line(seeded, args) -> None:
    code, out, err = _run(args)
    assert code in (0, 1, 2), (args, code, err)
    assert "Traceback" not in out + err, args
    if code:
        lines = err.splitlines()
        assert len(lines) == 1, (args, err)
        assert lines[0].startswith("error: "), (args, err)

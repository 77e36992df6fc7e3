from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import click
import typer
from loguru import logger

from lily_adapters.logs import mask_record  # light: loguru and the standard library
from lily_cli.billing import billing_app
from lily_cli.common import (
    JsonFlag,
    SlugArgument,
    TenantOption,
    container,
    new_app,
    print_json,
    show_help_when_bare,
)
from lily_cli.compliance import compliance_app
from lily_cli.keys import keys_app
from lily_cli.leads import leads_app
from lily_cli.ops import demo, doctor
from lily_cli.pricebooks import pricebook_app
from lily_cli.serve import serve
from lily_cli.simulate import simulate_app
from lily_cli.tenants import tenant_app
from lily_cli.worker import queue_app, worker
from lily_core.errors import InvalidInput, LilyError

# Typer 0.29 vendors click: its errors (usage errors and the like) derive from
# typer.TyperException, no longer from click.ClickException as with earlier Typer. Both
# have exit_code, format_message() and, for usage errors, ctx.
CLICK_ERRORS = (click.ClickException, getattr(typer, "TyperException", click.ClickException))
ABORTS = (click.exceptions.Abort, typer.Abort)

app = new_app("Lily: missed-call text-back, photo quotes and bookings for exterior cleaners.")


def _print_version(wanted: bool) -> None:
    if wanted:
        from importlib import metadata

        typer.echo(f"lily {metadata.version('lily')}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def lily(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    show_help_when_bare(ctx)


app.command("serve")(serve)
app.command("worker")(worker)
app.command("demo")(demo)
app.command("doctor")(doctor)
app.add_typer(queue_app, name="queue")
app.add_typer(tenant_app, name="tenant")
app.add_typer(pricebook_app, name="pricebook")
app.add_typer(simulate_app, name="simulate")
app.add_typer(leads_app, name="leads")
app.add_typer(billing_app, name="billing")
app.add_typer(compliance_app, name="compliance")
app.add_typer(keys_app, name="keys")
db_app = new_app("Database schema.")
app.add_typer(db_app, name="db")
user_app = new_app("Dashboard users.")
app.add_typer(user_app, name="user")
apikey_app = new_app("Dashboard API keys.")
app.add_typer(apikey_app, name="apikey")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    from lily_adapters.settings import load_settings
    from lily_adapters.sql import migrate

    url = load_settings().database_url
    migrate.upgrade(url)
    typer.echo(f"database at revision {migrate.current(url)}")


@user_app.command("add")
def user_add(
    tenant: TenantOption,
    email: Annotated[str, typer.Option(metavar="EMAIL", help="Their sign-in email.")],
    password: Annotated[
        str | None,
        typer.Option(
            metavar="PASSWORD",
            help="Their password (seen by anyone who can list processes: prefer "
            "--password-stdin, or leave both out to be asked).",
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
    role: Annotated[str, typer.Option(metavar="ROLE", help="owner or operator.")] = "owner",
) -> None:
    """Add a dashboard user to a tenant."""
    secret = _new_password(password, password_stdin)
    user = container().add_user()(tenant, email, secret, role)
    typer.echo(f"user {user.email} ({user.role}) added to {tenant}")


def _new_password(given: str | None, from_stdin: bool) -> str:
    """The password from --password, from stdin's first line, or asked for (hidden, twice)
    when stdin is a terminal."""
    if given is not None and from_stdin:
        raise click.UsageError("give --password or --password-stdin, not both")
    if given is not None:
        return given
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInput(
            "no password: give --password-stdin (or --password), or run in a terminal to be asked"
        )
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@apikey_app.command("create")
def apikey_create(
    tenant: TenantOption,
    name: Annotated[str, typer.Option(metavar="NAME", help="What the key is for.")] = "default",
    as_json: JsonFlag = False,
) -> None:
    """Make an API key for the dashboard API; it is shown once."""
    key, token = container().create_api_key()(tenant, name)
    if as_json:
        print_json({"id": key.id, "name": key.name, "token": token})
    else:
        typer.echo(token)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id.")],
) -> None:
    """Revoke an API key: it stops working at once."""
    key = container().revoke_api_key()(key_id)
    typer.echo(f"API key {key.id} ({key.name}) revoked")


@app.command("quote")
def quote(
    slug: SlugArgument,
    zip_code: Annotated[
        str, typer.Option("--zip", metavar="ZIP", help="The customer's 5-digit ZIP code.")
    ],
    text: Annotated[str, typer.Option(metavar="TEXT", help="What the customer wrote.")] = "",
    photos: Annotated[
        int, typer.Option(metavar="N", help="Photos sent (a preview quotes regardless).")
    ] = 1,
    as_json: JsonFlag = False,
) -> None:
    """Preview the quote a lead would get; stores nothing."""
    from lily_core.use_cases.pricebooks import preview_as_dict

    result, version = container().preview_quote()(slug, zip_code, text)
    if as_json:
        print_json(preview_as_dict(result, version))
        return
    if result.in_service_area:
        typer.echo(f"{result.range_text}  (price book v{version})")
    typer.echo(result.explanation)


def run(args: Sequence[str] | None = None) -> int:
    """Run `lily` with `args` (default: the command line) and return its exit status: 0,
    1 for an error, 2 for a usage error. Every error is one line on stderr, never a
    traceback."""
    args = list(sys.argv[1:] if args is None else args)
    logger.remove()
    logger.configure(patcher=mask_record)  # customers' numbers masked, no local variables
    logger.add(sys.stderr, level="WARNING", format="{message}", backtrace=False, diagnose=False)
    try:
        code = app(args, prog_name="lily", standalone_mode=False)  # typer.Exit(n) returns n
    except CLICK_ERRORS as exc:
        return _fail(_usage_message(exc), exc.exit_code)
    except ABORTS:
        return _fail("aborted", 1)
    except InvalidInput as exc:
        where = _option_for(exc.field, args) if exc.field else None
        return _fail(f"{where}: {exc.reason}" if where else str(exc), 1)
    except LilyError as exc:
        return _fail(str(exc), 1)
    except Exception as exc:  # settings that do not hold, a database not migrated; or else
        from lily_adapters.settings import InvalidSettings  # (imported by then if either)
        from lily_adapters.sql.migrate import NotMigrated

        if isinstance(exc, InvalidSettings | NotMigrated):
            return _fail(str(exc), 1)
        # the last line of defence
        first_line = next(iter(str(exc).splitlines()), "")
        return _fail(f"{type(exc).__name__}: {first_line}", 1)
    return code if isinstance(code, int) else 0


def main() -> None:
    """The `lily` command."""
    sys.exit(run())


def _fail(message: str, code: int) -> int:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return code


def _usage_message(exc: click.ClickException) -> str:
    """Click's (or Typer's copy of click's) message, with the command's usage when it is a
    usage error."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return message
    return f"{message.rstrip('.')}. {ctx.get_usage()} (try '{ctx.command_path} --help')"


def _option_for(field: str, args: Sequence[str]) -> str:
    """The option the user typed for a field (`forward_to` -> `--forward-to`), else the
    field's name."""
    option = "--" + field.replace("_", "-")
    typed = any(arg == option or arg.startswith(option + "=") for arg in args)
    return option if typed else field

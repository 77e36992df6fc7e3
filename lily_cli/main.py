from __future__ import annotations

import sys
from typing import Annotated

import click
import typer
from loguru import logger

from lily_cli.common import container, new_app, print_json
from lily_cli.pricebooks import pricebook_app
from lily_cli.serve import serve
from lily_cli.simulate import simulate_app
from lily_cli.tenants import tenant_app
from lily_cli.worker import queue_app, worker
from lily_core.domain.quoting import QuoteResult
from lily_core.errors import LilyError

app = new_app("Lily: missed-call text-back, photo quotes and bookings for exterior cleaners.")
app.command("serve")(serve)
app.command("worker")(worker)
app.add_typer(queue_app, name="queue")
app.add_typer(tenant_app, name="tenant")
app.add_typer(pricebook_app, name="pricebook")
app.add_typer(simulate_app, name="simulate")
db_app = new_app("Database schema.")
app.add_typer(db_app, name="db")
user_app = new_app("Dashboard users.")
app.add_typer(user_app, name="user")
apikey_app = new_app("Dashboard API keys.")
app.add_typer(apikey_app, name="apikey")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    from lily_adapters.settings import Settings
    from lily_adapters.sql import migrate

    url = Settings().database_url
    migrate.upgrade(url)
    typer.echo(f"database at revision {migrate.current(url)}")


@user_app.command("add")
def user_add(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    email: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    role: Annotated[str, typer.Option(help="owner or operator")] = "owner",
) -> None:
    """Add a dashboard user to a tenant."""
    user = container().add_user()(tenant, email, password, role)
    typer.echo(f"user {user.email} ({user.role}) added to {tenant}")


@apikey_app.command("create")
def apikey_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    name: Annotated[str, typer.Option()] = "default",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Make an API key for the dashboard API; it is shown once."""
    key, token = container().create_api_key()(tenant, name)
    if as_json:
        print_json({"id": key.id, "name": key.name, "token": token})
    else:
        typer.echo(token)


def _quote_json(result: QuoteResult, version: int) -> dict[str, object]:
    return {
        "zip": result.zip,
        "in_service_area": result.in_service_area,
        "low_cents": result.low_cents,
        "high_cents": result.high_cents,
        "currency": result.currency,
        "range": result.range_text if result.in_service_area else None,
        "services": list(result.services),
        "distance_miles": round(result.distance_miles, 2)
        if result.distance_miles is not None
        else None,
        "lines": [line.as_dict() for line in result.lines],
        "explanation": result.explanation,
        "reason": result.reason,
        "pricebook_version": version,
    }


@app.command("quote")
def quote(
    slug: str,
    zip_code: Annotated[str, typer.Option("--zip", help="The customer's ZIP code.")],
    text: Annotated[str, typer.Option(help="What the customer wrote.")] = "",
    photos: Annotated[int, typer.Option(help="Photos sent (a preview quotes regardless).")] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Preview the quote a lead would get; stores nothing."""
    result, version = container().preview_quote()(slug, zip_code, text)
    if as_json:
        print_json(_quote_json(result, version))
        return
    if result.in_service_area:
        typer.echo(f"{result.range_text}  (price book v{version})")
    typer.echo(result.explanation)


def main() -> None:
    """The `lily` command: one clear line on stderr and a non-zero exit for any error."""
    logger.remove()
    logger.add(sys.stderr, level="WARNING", format="{message}")
    try:
        code = app(standalone_mode=False)  # typer.Exit(n) comes back as n here
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LilyError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # the last line of defence: never a traceback
        message = str(exc).splitlines()[0] if str(exc) else ""
        typer.echo(f"error: {type(exc).__name__}: {message}", err=True)
        sys.exit(1)

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from lily_adapters.container import Container

# The commands import what they need when they run, never at the top of a module (`lily
# --help` would import the whole service: seconds instead of a fraction of one).

# Every value option names its value (`--zip ZIP`): Typer would print `<str>`.
SlugArgument = Annotated[str, typer.Argument(metavar="SLUG", help="The tenant's slug.")]
TenantOption = Annotated[str, typer.Option("--tenant", metavar="SLUG", help="The tenant's slug.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@cache
def container() -> Container:
    """The CLI's container. The embedded SQLite database is brought up to date on first use,
    so the commands work on a fresh machine; any other database must already be at the
    latest revision (`lily db upgrade`), or migrate.NotMigrated is raised."""
    from lily_adapters.container import build_container
    from lily_adapters.settings import load_settings
    from lily_adapters.sql import migrate

    settings = load_settings()
    built = build_container(settings)
    if settings.database_url.startswith("sqlite"):
        migrate.upgrade(settings.database_url)
    elif not migrate.is_at_head(built.engine()):
        raise migrate.NotMigrated(settings.database_url)
    return built


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def show_help_when_bare(ctx: typer.Context) -> None:
    """A command group run without a command prints its help and succeeds, as `--help`."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


def new_app(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        callback=show_help_when_bare,
        invoke_without_command=True,
        # plain help, as click prints it: options read `--zip ZIP`, flags carry no type
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )

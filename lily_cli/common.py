from __future__ import annotations

import json
from functools import cache
from typing import Any

import typer

from lily_adapters.container import Container, build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate


@cache
def container() -> Container:
    """The CLI's container. The embedded SQLite database is brought up to date on first use,
    so the commands work on a fresh machine; PostgreSQL needs `lily db upgrade`."""
    settings = Settings()
    built = build_container(settings)
    if settings.database_url.startswith("sqlite"):
        migrate.upgrade(settings.database_url)
    return built


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def new_app(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, pretty_exceptions_enable=False)

"""`lily demo` and `lily doctor`: their options only. The work is imported when a command
runs, so that `lily --help` stays fast."""

from __future__ import annotations

from typing import Annotated

import typer


def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave it running afterwards, for the dashboard.")
    ] = False,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to serve on (0: a free one).")
    ] = 0,
    jitter: Annotated[
        float,
        typer.Option(min=0, metavar="SECONDS", help="Longest reply delay (live: 10-45 s)."),
    ] = 3.0,
    pause: Annotated[
        float,
        typer.Option(min=0, metavar="SECONDS", help="The customer's pause between steps."),
    ] = 2.0,
) -> None:
    """A scripted customer through the real stack, offline: missed call, photos + ZIP,
    quote, Cal.com booking, review request; each text printed as it is sent."""
    from lily_cli.demo import run_demo

    run_demo(keep=keep, port=port, jitter=jitter, pause=pause)


def doctor() -> None:
    """Check a deployment's configuration: database, queue, Twilio, the webhook URLs each
    tenant needs, Google, S3, keys; one line per check, with what to do. Exit 1 if any
    check failed."""
    from lily_adapters.container import build_container
    from lily_adapters.doctor import FAIL, run_checks
    from lily_adapters.settings import load_settings

    built = build_container(load_settings())  # not the CLI's: it must not migrate anything
    failed = False
    for finding in run_checks(built):
        failed = failed or finding.status == FAIL
        typer.echo(f"{finding.status:<5} {finding.check:<20} {finding.detail}")
    if failed:
        raise typer.Exit(1)
    built.shutdown_resources()

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lily_cli.common import JsonFlag, container, new_app, print_json
from lily_core.errors import NotFound

queue_app = new_app("Inspect the task queue and retry dead tasks.")


def worker(
    burst: Annotated[bool, typer.Option("--burst", help="Run what is due, then exit.")] = False,
) -> None:
    """Run the worker: claim due tasks and run them until SIGTERM/SIGINT."""
    from lily_adapters.container import log_disabled_integrations
    from lily_adapters.logs import configure_logging
    from lily_adapters.metrics import prepare_multiprocess_dir
    from lily_adapters.settings import InvalidSettings, load_settings
    from lily_worker.run import run_worker
    from lily_worker.wiring import build_worker

    prepare_multiprocess_dir()
    if missing := load_settings().missing_keys():  # before the container connects
        raise InvalidSettings(missing)
    c = container()
    settings = c.settings()
    configure_logging(settings.log_format, settings.log_level)
    log_disabled_integrations(settings)
    code = run_worker(build_worker(c), burst=burst)
    c.shutdown_resources()
    sys.exit(code)


@queue_app.command("stats")
def stats(as_json: JsonFlag = False) -> None:
    """Tasks scheduled, due, in flight and dead; and `ambiguous`: texts whose send was
    interrupted and could not be cleared up with the provider (marked failed, not resent)."""
    from lily_core.use_cases.send_message import AMBIGUOUS_SEND

    c = container()
    s = c.queue().stats()
    with c.uow().across_tenants() as uow:
        ambiguous = uow.messages.count_failed(AMBIGUOUS_SEND)
    data = {"scheduled": s.scheduled, "due": s.due, "in_flight": s.in_flight, "dead": s.dead}
    data["ambiguous"] = ambiguous
    if as_json:
        print_json(data)
    else:
        typer.echo("  ".join(f"{k}={v}" for k, v in data.items()))


@queue_app.command("dead")
def dead(
    limit: Annotated[int, typer.Option(metavar="N", help="How many to list.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Dead-lettered tasks, most recent first, with their last error."""
    tasks = container().queue().dead(limit)
    if as_json:
        print_json(
            [
                {
                    "id": t.id,
                    "type": t.type,
                    "tenant_id": t.tenant_id,
                    "attempts": t.attempts,
                    "last_error": t.last_error,
                    "payload": dict(t.payload),
                }
                for t in tasks
            ]
        )
        return
    if not tasks:
        typer.echo("no dead tasks")
    for t in tasks:
        typer.echo(f"{t.id}  {t.type:<20} attempts={t.attempts}  {t.last_error or ''}")


@queue_app.command("retry")
def retry(
    task_id: Annotated[
        str | None, typer.Argument(metavar="TASK_ID", help="A dead task's id.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Retry every dead task.")] = False,
) -> None:
    """Make dead tasks due again, with fresh attempts."""
    if bool(task_id) == all_:
        raise typer.BadParameter("give a task ID or --all (not both)")
    count = container().queue().requeue_dead(None if all_ else task_id)
    if task_id and count == 0:
        raise NotFound(f"no dead task {task_id}")
    typer.echo(f"requeued {count} task(s)")

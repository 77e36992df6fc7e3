from __future__ import annotations

import socket
import threading
from typing import Annotated, NoReturn

import typer

LISTEN_BACKLOG = 2048  # uvicorn's default


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Run the API only.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, metavar="N", help="API processes (one per core); one worker in all."
        ),
    ] = 1,
) -> None:
    """Run the API (and, unless --no-worker, a worker in the same process). With --workers
    N, N processes serve the API on the one port and the queue worker runs once, beside
    them in the process that supervises them."""
    sock = listen(host, port)  # first: a port we cannot have is one line, before anything
    import uvicorn
    from loguru import logger

    from lily_adapters.container import (
        build_container,
        log_disabled_integrations,
        report_dependencies,
    )
    from lily_adapters.logs import configure_logging
    from lily_adapters.metrics import prepare_multiprocess_dir
    from lily_adapters.settings import InvalidSettings, load_settings
    from lily_adapters.sql import migrate
    from lily_http.app import APP_FACTORY, create_app
    from lily_worker.wiring import build_worker

    prepare_multiprocess_dir()
    settings = load_settings()
    if missing := settings.missing_keys():
        raise InvalidSettings(missing)
    configure_logging(settings.log_format, settings.log_level)
    log_disabled_integrations(settings)
    if settings.database_url.startswith("sqlite"):
        migrate.upgrade(settings.database_url)
        logger.info("database: embedded SQLite schema up to date")
    container = build_container(settings)
    report_dependencies(container)
    worker = None if no_worker else build_worker(container)
    thread = (
        threading.Thread(target=worker.run, name="lily-worker", daemon=True) if worker else None
    )
    if thread:
        thread.start()
        logger.info("worker: running in-process (use --no-worker and `lily worker` to split)")
    logger.info("listening on http://{}:{}", host, port)
    try:
        if workers == 1:
            app = create_app(container)
            uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False)).run([sock])
        else:  # each process imports the app by name and makes its own container
            from uvicorn.supervisors import Multiprocess

            config = uvicorn.Config(
                APP_FACTORY, factory=True, workers=workers, log_config=None, access_log=False
            )
            logger.info("API: {} processes", workers)
            Multiprocess(config, sockets=[sock]).run()  # until SIGINT or SIGTERM
    finally:
        if worker and thread:
            worker.stop()
            thread.join(timeout=30)


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port for uvicorn to serve on; a port that cannot be had
    (in use, not permitted, no such address) is one line on stderr and exit 1."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        _cannot_listen(host, port, exc)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)  # from now on connections wait for the server
    except OSError as exc:
        sock.close()
        _cannot_listen(host, port, exc)
    return sock


def _cannot_listen(host: str, port: int, exc: OSError) -> NoReturn:
    reason = (exc.strerror or str(exc)).lower()
    typer.echo(f"error: cannot listen on {host}:{port}: {reason}", err=True)
    raise typer.Exit(1)

from __future__ import annotations

import threading
from typing import Annotated

import typer
import uvicorn
from loguru import logger

from lily_adapters.container import build_container, log_disabled_integrations
from lily_adapters.logs import configure_logging
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_http.app import create_app
from lily_worker.wiring import build_worker


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Run the API only.")] = False,
) -> None:
    """Run the API (and, unless --no-worker, a worker in the same process)."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    log_disabled_integrations(settings)
    if settings.database_url.startswith("sqlite"):
        migrate.upgrade(settings.database_url)
        logger.info("database: embedded SQLite schema up to date")
    container = build_container(settings)
    app = create_app(container)
    worker = None if no_worker else build_worker(container)
    thread = (
        threading.Thread(target=worker.run, name="lily-worker", daemon=True) if worker else None
    )
    if thread:
        thread.start()
        logger.info("worker: running in-process (use --no-worker and `lily worker` to split)")
    try:
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
    finally:
        if worker and thread:
            worker.stop()
            thread.join(timeout=30)

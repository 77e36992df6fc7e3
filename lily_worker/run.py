from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from loguru import logger

from lily_worker.worker import Worker


def run_worker(worker: Worker, *, burst: bool) -> int:
    """Run `worker` in the foreground and return the process exit code.

    In the main thread, the first SIGTERM/SIGINT stops claiming and lets in-flight tasks
    finish (exit 0); a second one exits at once (exit 1), leaving unfinished tasks to come
    back when their leases run out. Burst mode drains what is due and returns."""
    with _shutdown_signals(worker):
        logger.bind(burst=burst).info("worker started")
        try:
            worker.run_burst() if burst else worker.run()
        except Exception:
            logger.exception("worker stopped on an error")
            return 1
    logger.info("worker stopped")
    return 0


@contextmanager
def _shutdown_signals(worker: Worker) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if worker.stopping:
            logger.bind(signal=name).warning("second signal: exiting now")
            os._exit(1)  # skip joining task threads: their leases will hand them out again
        logger.bind(signal=name).info("stopping: finishing in-flight tasks")
        worker.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

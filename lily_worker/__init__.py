"""The worker daemon: claims due tasks from a JitterQueue and runs their handlers."""

from lily_worker.run import run_worker
from lily_worker.worker import Handler, PeriodicJob, Worker

__all__ = ["Handler", "PeriodicJob", "Worker", "run_worker"]

"""A worker process for the crash and signal tests: a RedisJitterQueue and a Worker whose
SLOW handler pushes `start <label> <task id> <attempt>` to the `<queue>:events` list, sleeps
`--sleep` seconds, then pushes `done ...`.

    python tests/integration/redis_worker_script.py REDIS_URL QUEUE LABEL --sleep S --lease L
"""

from __future__ import annotations

import argparse
import sys
import time

import redis

from lily_adapters.clock import SystemClock
from lily_adapters.queue.redis import RedisJitterQueue
from lily_core.ports.queue import Task
from lily_worker import Worker, run_worker


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("queue")
    parser.add_argument("label")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--lease", type=float, default=2.0)
    args = parser.parse_args()

    events = redis.Redis.from_url(args.url, decode_responses=True)
    events_key = f"{args.queue}:events"

    def slow(task: Task) -> None:
        events.rpush(events_key, f"start {args.label} {task.id} {task.attempts}")
        time.sleep(args.sleep)
        events.rpush(events_key, f"done {args.label} {task.id} {task.attempts}")

    queue = RedisJitterQueue.from_url(args.url, name=args.queue)
    worker = Worker(
        queue, {"SLOW": slow}, SystemClock(), lease_seconds=args.lease, poll_interval=0.1
    )
    return run_worker(worker, burst=False)


if __name__ == "__main__":
    sys.exit(main())

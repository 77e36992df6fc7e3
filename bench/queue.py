"""Lily's Redis queue + Worker against arq on the same Redis, in one run (see README.md).

    python -m bench.queue          # from the repository root; flushes LILY_BENCH_REDIS_URL

Three scenarios at concurrency 4: (1) drain 20,000 no-op tasks; (2) drain 1,000 tasks that
each spend 50 ms in simulated I/O (bound: 80 tasks/s); (3) tasks falling due at a steady
200/s for 10 s, measuring lateness (handler start - due time). arq runs with its default
poll delay (0.5 s) and a tuned 10 ms one. The last line printed is one JSON object."""

import sys

# Before any other import: run as a script, this file would shadow the stdlib `queue`.
if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module, from the repository root: python -m bench.queue")

import asyncio
import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker as ArqWorker
from loguru import logger

from lily_adapters.clock import SystemClock
from lily_adapters.queue.redis import RedisJitterQueue
from lily_core.ports.queue import Task
from lily_worker import Worker

URL = os.environ.get("LILY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
CONCURRENCY = 4
NOOP_TASKS = 20_000
IO_TASKS, IO_SECONDS = 1_000, 0.05
RATE, STEADY_SECONDS = 200, 10.0
LEAD_SECONDS = 2.0  # between enqueueing the steady load and its first due time
ARQ_POLL_DELAYS = {"arq (default 0.5 s poll)": 0.5, "arq (10 ms poll)": 0.01}

LATENESS: list[float] = []  # seconds; filled by the lateness handlers of either system


def flush() -> None:
    redis.Redis.from_url(URL).flushdb()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- Lily -----------------------------------------------------------------------------------


def lily_run(handler: Callable[[Task], None], count: int, due: Callable[[int], datetime]) -> float:
    """Enqueue `count` tasks due at due(i); run a Worker until all ran; the seconds it took."""
    flush()
    queue = RedisJitterQueue.from_url(URL, name="bench")
    for i in range(count):
        run_at = due(i)
        queue.enqueue("bench", tenant_id=None, payload={"due": run_at.timestamp()}, run_at=run_at)
    done, lock = [0], threading.Lock()

    def counted(task: Task) -> None:
        handler(task)
        with lock:
            done[0] += 1
            if done[0] == count:
                worker.stop()

    worker = Worker(queue, {"bench": counted}, SystemClock(), concurrency=CONCURRENCY)
    started = time.perf_counter()
    worker.run()
    elapsed = time.perf_counter() - started
    queue.close()
    return elapsed


def lily_noop(task: Task) -> None:
    pass


def lily_io(task: Task) -> None:
    time.sleep(IO_SECONDS)


def lily_late(task: Task) -> None:
    LATENESS.append(time.time() - float(task.payload["due"]))


# -- arq ------------------------------------------------------------------------------------


async def arq_noop(ctx: dict[str, Any], due: float) -> None:
    pass


async def arq_io(ctx: dict[str, Any], due: float) -> None:
    await asyncio.sleep(IO_SECONDS)


async def arq_late(ctx: dict[str, Any], due: float) -> None:
    LATENESS.append(time.time() - due)


async def arq_run_async(
    function: Callable[..., Any], count: int, due: Callable[[int], datetime], poll_delay: float
) -> float:
    flush()
    settings = RedisSettings.from_dsn(URL)
    pool = await create_pool(settings)
    for start in range(0, count, 500):  # enqueue in concurrent batches: it is not measured
        batch = range(start, min(start + 500, count))
        await asyncio.gather(
            *(
                pool.enqueue_job(function.__name__, due(i).timestamp(), _defer_until=due(i))
                for i in batch
            )
        )
    await pool.aclose()
    worker = ArqWorker(
        functions=[function],
        redis_settings=settings,
        max_jobs=CONCURRENCY,
        poll_delay=poll_delay,
        burst=True,
        handle_signals=False,
    )
    started = time.perf_counter()
    await worker.main()
    elapsed = time.perf_counter() - started
    await worker.close()
    return elapsed


def arq_run(
    function: Callable[..., Any], count: int, due: Callable[[int], datetime], poll_delay: float
) -> float:
    return asyncio.run(arq_run_async(function, count, due, poll_delay))


# -- the scenarios --------------------------------------------------------------------------


def due_now(i: int) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)


def steady_due() -> Callable[[int], datetime]:
    first = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
    return lambda i: first + timedelta(seconds=i / RATE)


def main() -> None:
    logger.remove()  # one log line per task would measure the terminal, not the queue
    steady_count = int(RATE * STEADY_SECONDS)
    rows: list[tuple[str, float, float, float, float]] = []

    systems: list[tuple[str, Callable[..., float], tuple[Any, Any, Any], float]] = [
        ("lily", lily_run, (lily_noop, lily_io, lily_late), 0.0),
        *(
            (name, arq_run, (arq_noop, arq_io, arq_late), delay)
            for name, delay in ARQ_POLL_DELAYS.items()
        ),
    ]
    for name, run, (noop, io, late), delay in systems:
        extra = () if run is lily_run else (delay,)
        noop_rate = NOOP_TASKS / run(noop, NOOP_TASKS, due_now, *extra)
        io_rate = IO_TASKS / run(io, IO_TASKS, due_now, *extra)
        LATENESS.clear()
        run(late, steady_count, steady_due(), *extra)
        late_ms = [max(s, 0.0) * 1000 for s in LATENESS]
        p50, p99 = statistics.median(late_ms), percentile(late_ms, 99)
        rows.append((name, noop_rate, io_rate, p50, p99))
        print(f"{name}: done", flush=True)

    bound = CONCURRENCY / IO_SECONDS
    print(f"\nconcurrency {CONCURRENCY}, Redis {URL}")
    print(f"{'system':<26}{'no-op tasks/s':>15}{'50 ms I/O tasks/s':>20}{'late p50 ms':>13}"
          f"{'late p99 ms':>13}")  # fmt: skip
    for name, noop_rate, io_rate, p50, p99 in rows:
        print(f"{name:<26}{noop_rate:>15.0f}{io_rate:>11.1f} ({io_rate / bound:>4.0%}){p50:>13.1f}"
              f"{p99:>13.1f}")  # fmt: skip
    print(f"(50 ms I/O bound: {bound:.0f} tasks/s; lateness over {steady_count} tasks at {RATE}/s)")
    lily, arq_tuned = rows[0], rows[-1]
    print(
        json.dumps(
            {
                "lily_noop_per_s": round(lily[1]),
                "arq_noop_per_s": round(arq_tuned[1]),
                "lily_io_per_s": round(lily[2], 1),
                "arq_io_per_s": round(arq_tuned[2], 1),
                "lily_late_p99_ms": round(lily[4], 1),
                "arq_late_p99_ms": round(arq_tuned[4], 1),
            }
        )
    )


if __name__ == "__main__":
    main()

"""Crash-proof sending under chaos (issue 13): N missed calls through signed webhooks into a
real `lily serve` (one call every 0-1 s, at random), texts sent to the Twilio stand-in, while
`lily worker` is SIGKILLed every 5 s and restarted (and, on Redis, the queue is FLUSHed once,
halfway through the calls).

    python -m bench.chaos --backend embedded --calls 1000
    python -m bench.chaos --backend postgres-redis --calls 1000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/lily_h13 \\
        --redis-url redis://127.0.0.1:6379/12

On PostgreSQL, Lily's tables go in a schema `chaos_bench` of --database-url's database,
dropped and made afresh; the Redis database is flushed. Not a test: it prints, per lead, how
many texts the stand-in got (exactly one / none / two or more), dead-lettered tasks and
`lily queue stats`, the time from each kill to the re-run of the tasks the killed worker held
(p50/max), and the call-to-text latency (p50/p99). The last line printed is one JSON object."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import redis
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from tests.standins.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioStandIn

ROOT = Path(__file__).resolve().parents[1]
BUSINESS = "+12145550100"
SCHEMA = "chaos_bench"  # on PostgreSQL: dropped and made afresh in --database-url's database
LILY = [sys.executable, "-c", "from lily_cli.main import main; main()"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Chaos:
    def __init__(self, args: argparse.Namespace, workdir: Path, twilio: TwilioStandIn) -> None:
        self.args = args
        self.workdir = workdir
        self.port = free_port()
        self.public_url = f"http://127.0.0.1:{self.port}"
        self.redis_url: str | None = args.redis_url if args.backend == "postgres-redis" else None
        database_url = (
            args.database_url
            if args.backend == "postgres-redis"
            else f"sqlite:///{workdir / 'lily.db'}"
        )
        self.database_url = database_url
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LILY_DATABASE_URL": database_url,
            "LILY_DATA_DIR": str(workdir / "data"),
            "LILY_PUBLIC_URL": self.public_url,
            "LILY_TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
            "LILY_TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
            "LILY_TWILIO_API_URL": twilio.url,
            "LILY_JITTER_MIN_SECONDS": "0",
            "LILY_JITTER_MAX_SECONDS": str(args.jitter),
            "LILY_TASK_LEASE_SECONDS": str(args.lease),
            "LILY_WORKER_CONCURRENCY": str(args.concurrency),
            # one business number sends every text: Twilio's 1/s for a long code would be
            # the bottleneck, not what is measured here
            "LILY_SMS_RATE_PER_NUMBER": "1000",
            "LILY_LOG_FORMAT": "json",
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        }
        self.env.pop("LILY_REDIS_URL", None)
        if self.redis_url:
            self.env["LILY_REDIS_URL"] = self.redis_url
        self.twilio = twilio
        self.posted: dict[str, float] = {}  # caller -> when its webhook was answered
        self.kills: list[tuple[float, list[str]]] = []  # (when, tasks the worker held)
        self.worker_logs: list[Path] = []
        self.flushed_at: float | None = None

    # -- setup ------------------------------------------------------------------------------

    def lily(self, *args: str) -> str:
        done = subprocess.run(
            [*LILY, *args], env=self.env, cwd=self.workdir, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            sys.exit(f"lily {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def prepare(self) -> None:
        (self.workdir / "metrics").mkdir()
        if self.args.backend == "postgres-redis":
            # A schema of its own in the given database, made afresh; Lily connects as the
            # non-superuser role the tests use (row-level security applies), if it exists.
            admin = sa.create_engine(self.database_url)
            with admin.begin() as conn:
                role = conn.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = 'lily_app'"))
                owner = " AUTHORIZATION lily_app" if role else ""
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
                conn.execute(sa.text(f'CREATE SCHEMA "{SCHEMA}"{owner}'))
            admin.dispose()
            options = f"-csearch_path={SCHEMA}" + (" -crole=lily_app" if role else "")
            url = sa.make_url(self.database_url).update_query_dict({"options": options})
            self.database_url = url.render_as_string(hide_password=False)
            self.env["LILY_DATABASE_URL"] = self.database_url
            keys = dict(
                line.split("=", 1) for line in self.lily("keys", "new").splitlines() if "=" in line
            )
            self.env.update(keys)
            redis.Redis.from_url(str(self.redis_url)).flushdb()
        self.lily("db", "upgrade")
        self.lily("tenant", "create", "--name", "Chaos Car Wash", "--phone", BUSINESS)

    @contextmanager
    def server(self) -> Iterator[None]:
        log = (self.workdir / "serve.log").open("w")
        process = subprocess.Popen(
            [*LILY, "serve", "--no-worker", "--port", str(self.port)],
            env=self.env, cwd=self.workdir, stdout=log, stderr=log,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{self.public_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    sys.exit(f"lily serve did not start: see {self.workdir / 'serve.log'}")
                time.sleep(0.2)
            yield
        finally:
            process.terminate()
            process.wait(30)
            log.close()

    # -- the worker, killed and restarted -----------------------------------------------------

    def start_worker(self) -> subprocess.Popen[bytes]:
        path = self.workdir / f"worker-{len(self.worker_logs):04d}.log"
        self.worker_logs.append(path)
        with path.open("wb") as log:
            return subprocess.Popen(
                [*LILY, "worker"], env=self.env, cwd=self.workdir, stdout=log, stderr=log
            )

    def in_flight(self) -> list[str]:
        """The ids of the tasks claimed and not finished, read from the queue's storage."""
        if self.redis_url:
            client = redis.Redis.from_url(self.redis_url, decode_responses=True)
            ids = client.zrange("lily:{default}:inflight", 0, -1)
            client.close()
            return list(ids)
        engine = sa.create_engine(self.database_url)
        with engine.connect() as conn:
            ids = conn.scalars(sa.text("SELECT id FROM tasks WHERE state = 'inflight'")).all()
        engine.dispose()
        return list(ids)

    def ready(self, worker: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
        """Wait until the worker logged that it started (Python's start-up, on a busy
        machine, takes seconds: the next worker is started before the running one is
        killed, as a supervisor with a warm spare would, so the kills measure the leases
        and not the interpreter)."""
        log, deadline = self.worker_logs[-1], time.monotonic() + timeout
        while time.monotonic() < deadline and worker.poll() is None:
            if b"worker started" in log.read_bytes():
                return
            time.sleep(0.1)

    def chaos(self, stop: threading.Event) -> None:
        worker = self.start_worker()
        self.ready(worker)
        spare: subprocess.Popen[bytes] | None = None
        try:
            while not stop.wait(self.args.kill_every):
                spare = self.start_worker()
                self.ready(spare)
                held = self.in_flight()
                worker.send_signal(signal.SIGKILL)
                self.kills.append((time.time(), held))
                worker.wait()
                worker, spare = spare, None
        finally:
            for process in (worker, spare):
                if process is not None:
                    process.kill()
                    process.wait()

    # -- the calls ------------------------------------------------------------------------------

    def call(self, i: int) -> None:
        caller = f"+1512{7000000 + i:07d}"
        path = "/webhooks/twilio/voice"
        form = {
            "CallSid": f"CA{i:032x}",
            "From": caller,
            "To": BUSINESS,
            "CallStatus": "no-answer",
        }
        signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(
            self.public_url + path, form
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        for attempt in range(5):
            try:
                response = httpx.post(
                    self.public_url + path, content=urlencode(form), headers=headers, timeout=15
                )
            except httpx.HTTPError:
                time.sleep(0.5 * (attempt + 1))
                continue
            if response.status_code == 200:
                self.posted[caller] = time.time()
                return
            time.sleep(0.5 * (attempt + 1))
        print(f"call {i}: the webhook failed 5 times", file=sys.stderr)

    def post_calls(self) -> None:
        """One call after another, 0 to --gap seconds apart (each posted on a thread of a
        pool, so a slow answer does not hold up the next); Redis is flushed halfway."""
        with ThreadPoolExecutor(self.args.posters) as pool:
            for i in range(self.args.calls):
                if i == self.args.calls // 2 and self.redis_url:  # the queue forgets it all
                    redis.Redis.from_url(self.redis_url).flushdb()
                    self.flushed_at = time.time()
                pool.submit(self.call, i)
                time.sleep(random.uniform(0, self.args.gap))

    def stats(self) -> dict[str, int]:
        return dict(json.loads(self.lily("queue", "stats", "--json")))

    def texted(self) -> Counter[str]:
        return Counter(m.to for m in self.twilio.messages)

    def run(self) -> dict[str, Any]:
        self.prepare()
        with self.server():
            stop = threading.Event()
            killer = threading.Thread(target=self.chaos, args=(stop,), daemon=True)
            started = time.time()
            killer.start()
            try:
                self.post_calls()
                posted_at = time.time()
                deadline = posted_at + self.args.drain_timeout
                while time.time() < deadline:
                    texted = self.texted()
                    if all(texted[c] for c in self.posted):
                        s = self.stats()
                        if s["scheduled"] + s["due"] + s["in_flight"] == 0:
                            break
                    time.sleep(2)
            finally:
                stop.set()
                killer.join()
            final = self.stats()
        return self.report(started, posted_at, final)

    # -- the figures -----------------------------------------------------------------------------

    def reruns(self) -> list[float]:
        """For each task a killed worker held: seconds from the kill to its next start (its
        outcome line's time minus its duration, in a later worker's log)."""
        starts: dict[str, list[float]] = {}
        runs: dict[str, list[tuple[float, float]]] = {}  # task -> (start, end) of each run
        for path in self.worker_logs:
            for line in path.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                task_id, duration = record.get("task_id"), record.get("duration_ms")
                if not task_id or duration is None:
                    continue
                end = datetime.fromisoformat(record["time"]).timestamp()
                starts.setdefault(task_id, []).append(end - float(duration) / 1000)
                runs.setdefault(task_id, []).append((end - float(duration) / 1000, end))
        waits = []
        rerun_at: dict[str, float] = {}  # a task's re-run after the last kill counted for it
        for killed_at, held in self.kills:
            for task_id in held:
                if rerun_at.get(task_id, 0.0) > killed_at:
                    continue  # still waiting for its lease since an earlier kill: not re-held
                if any(s < killed_at < e for s, e in runs.get(task_id, [])):
                    continue  # the warm spare had it: it ran across the kill, not cut by it
                later = [s for s in starts.get(task_id, []) if s > killed_at]
                if later:
                    rerun_at[task_id] = min(later)
                    waits.append(min(later) - killed_at)
        return waits

    def report(self, started: float, posted_at: float, final: dict[str, int]) -> dict[str, Any]:
        texted = self.texted()
        counts = Counter(min(texted[c], 2) for c in self.posted)
        first_text: dict[str, float] = {}
        for m in self.twilio.messages:
            first_text.setdefault(m.to, m.date_created.timestamp())
        latency = [first_text[c] - t for c, t in self.posted.items() if c in first_text]
        reruns = self.reruns()
        return {
            "backend": self.args.backend,
            "calls": self.args.calls,
            "webhooks_answered": len(self.posted),
            "exactly_one": counts[1],
            "none": counts[0],
            "two_or_more": counts[2],
            "dead_lettered": final["dead"],
            "queue_stats": final,
            "kills": len(self.kills),
            "killed_with_tasks_held": sum(1 for _, held in self.kills if held),
            "rerun_after_kill_s": {
                "n": len(reruns),
                "p50": round(percentile(reruns, 50), 1),
                "max": round(max(reruns, default=0.0), 1),
            },
            "call_to_text_s": {
                "p50": round(percentile(latency, 50), 2),
                "p99": round(percentile(latency, 99), 2),
            },
            "redis_flushed": self.flushed_at is not None,
            "posting_s": round(posted_at - started, 1),
            "total_s": round(time.time() - started, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["embedded", "postgres-redis"], default="embedded")
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/lily_h13"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--kill-every", type=float, default=5.0, help="seconds between SIGKILLs")
    parser.add_argument("--gap", type=float, default=1.0, help="0..GAP s between two calls")
    parser.add_argument("--jitter", type=float, default=1.0, help="text-back jitter 0..J s")
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--posters", type=int, default=8, help="webhooks posted at once")
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    random.seed(13)
    # SIGTERM ends the run as Ctrl-C does: the finally blocks stop `lily serve` and the worker
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    workdir = Path(tempfile.mkdtemp(prefix="lily-chaos-"))
    with TwilioStandIn() as twilio:
        result = Chaos(args, workdir, twilio).run()
    print(f"backend {result['backend']}: {result['calls']} missed calls")
    print(
        f"  leads with exactly one text: {result['exactly_one']}, none: {result['none']},"
        f" two or more: {result['two_or_more']}; dead-lettered: {result['dead_lettered']}"
    )
    r, lat = result["rerun_after_kill_s"], result["call_to_text_s"]
    print(
        f"  {result['kills']} kills; kill -> re-run of the held tasks ({r['n']}):"
        f" p50 {r['p50']} s, max {r['max']} s"
    )
    print(f"  call -> text: p50 {lat['p50']} s, p99 {lat['p99']} s; total {result['total_s']} s")
    if args.keep:
        print(f"  work directory: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

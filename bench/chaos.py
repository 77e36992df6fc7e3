"""Crash-proof sending under chaos (issue 13): N missed calls through signed webhooks into a
real `lily serve` (one call every 0-1 s, at random), texts sent to the Twilio stand-in, while
`lily worker` is SIGKILLed every 5 s and restarted (and, on Redis, the queue is FLUSHed once,
halfway through the calls), and Twilio is down for a minute (--outage: every API request
answers 503 from a quarter of the calls on, --outage-at).

    python -m bench.chaos --backend embedded --calls 1000
    python -m bench.chaos --backend postgres-redis --calls 1000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/lily_h13 \\
        --redis-url redis://127.0.0.1:6379/12

On PostgreSQL, Lily's tables go in a schema `chaos_bench` of --database-url's database,
dropped and made afresh; the Redis database is flushed. Not a test: it prints, per lead, how
many texts the stand-in got (exactly one / none / two or more), dead-lettered tasks and
`lily queue stats`, the time from each kill to the re-run of the tasks the killed worker held
(p50/max), the call-to-text latency (p50/p99), and the workers' task outcomes (ok, retry,
deferred by an open circuit, dead). The last line printed is one JSON object."""

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
        # (when, [(task id, its attempts)] of the tasks claimed at the kill)
        self.kills: list[tuple[float, list[tuple[str, int]]]] = []
        self.worker_logs: list[Path] = []
        self.flushed_at: float | None = None
        self.outage: list[float] = []  # [went down, came back]

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

    def in_flight(self) -> list[tuple[str, int]]:
        """The tasks claimed and not finished, with their attempts so far, read from the
        queue's storage."""
        if self.redis_url:
            client = redis.Redis.from_url(self.redis_url, decode_responses=True)
            ids = client.zrange("lily:{default}:inflight", 0, -1)
            attempts = client.hmget("lily:{default}:attempts", ids) if ids else []
            client.close()
            return [(i, int(a or 0)) for i, a in zip(ids, attempts, strict=True)]
        engine = sa.create_engine(self.database_url)
        query = "SELECT id, attempts FROM tasks WHERE state = 'inflight'"
        with engine.connect() as conn:
            rows = [(str(i), int(a)) for i, a in conn.execute(sa.text(query))]
        engine.dispose()
        return rows

    def ready(self, worker: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
        """Wait until the latest worker logged that it started (Python's start-up takes
        seconds on a busy machine: a spare is started right after each kill, as under a
        supervisor with a warm spare, so the kills measure the leases, not the interpreter)."""
        log, deadline = self.worker_logs[-1], time.monotonic() + timeout
        while time.monotonic() < deadline and worker.poll() is None:
            if b"worker started" in log.read_bytes():
                return
            time.sleep(0.1)

    def chaos(self, stop: threading.Event) -> None:
        """Every `kill_every` seconds, SIGKILL the worker that has run longest; a spare,
        started right after the last kill, takes over (and is killed at the next tick)."""
        worker = self.start_worker()
        self.ready(worker)
        spare: subprocess.Popen[bytes] | None = self.start_worker()
        try:
            while not stop.wait(self.args.kill_every):
                assert spare is not None
                self.ready(spare)  # never no worker at all: a kill waits for the spare
                held = self.in_flight()
                worker.send_signal(signal.SIGKILL)
                self.kills.append((time.time(), held))
                worker.wait()
                worker, spare = spare, self.start_worker()
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
        pool, so a slow answer does not hold up the next); Redis is flushed halfway; Twilio
        goes down for --outage seconds at --outage-at of the calls."""
        down_at = int(self.args.calls * self.args.outage_at) if self.args.outage > 0 else -1
        with ThreadPoolExecutor(self.args.posters) as pool:
            for i in range(self.args.calls):
                if i == self.args.calls // 2 and self.redis_url:  # the queue forgets it all
                    redis.Redis.from_url(self.redis_url).flushdb()
                    self.flushed_at = time.time()
                if i == down_at:
                    self.twilio.go_down()  # every API request: 503, code 20503
                    self.outage.append(time.time())
                    threading.Timer(self.args.outage, self.end_outage).start()
                pool.submit(self.call, i)
                time.sleep(random.uniform(0, self.args.gap))

    def end_outage(self) -> None:
        self.twilio.come_back()
        self.outage.append(time.time())

    def outcomes(self) -> Counter[str]:
        """The workers' task outcome lines: ok, retry, deferred (an open circuit), dead."""
        found: Counter[str] = Counter()
        for path in self.worker_logs:
            for line in path.read_text(errors="replace").splitlines():
                try:
                    outcome = json.loads(line).get("outcome")
                except (ValueError, AttributeError):
                    continue
                if outcome:
                    found[str(outcome)] += 1
        return found

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

    def reruns(self) -> tuple[list[float], int]:
        """For each task a kill cut (claimed at the kill, attempt n): seconds from the kill
        to the start of attempt n + 1 (its outcome line's time minus its duration, in a
        later worker's log). A task counts once per attempt, from the first kill that
        found it at that attempt (later snapshots may still list it while its lease runs
        out); one that ran across the kill (the warm spare had it) was not cut. Also
        returns how many cut tasks have no line for attempt n + 1 (that run was cut by a
        kill too, or, after a Redis flush, the reconciler re-queued the message as a new
        task)."""
        # (task, attempt) -> [(start, end)]: a deferral (an open circuit) gives its attempt
        # back, so an attempt number can run more than once
        runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for path in self.worker_logs:
            for line in path.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                task_id, duration = record.get("task_id"), record.get("duration_ms")
                if not task_id or duration is None or record.get("attempt") is None:
                    continue
                end = datetime.fromisoformat(record["time"]).timestamp()
                run = (end - float(duration) / 1000, end)
                runs.setdefault((task_id, int(record["attempt"])), []).append(run)
        waits, cut, seen = [], 0, set()
        for killed_at, held in self.kills:
            for task_id, attempt in held:
                if (task_id, attempt) in seen:
                    continue
                seen.add((task_id, attempt))
                these = runs.get((task_id, attempt), [])
                if any(start < killed_at < end for start, end in these):
                    continue  # it ran across the kill: the warm spare had it
                before = [run for run in these if run[0] < killed_at]
                if before and max(before)[1] <= killed_at:
                    continue  # its latest run before the kill had finished
                later = [start for start, _ in runs.get((task_id, attempt + 1), [])]
                rerun = min((start for start in later if start > killed_at), default=None)
                if rerun is not None:
                    waits.append(rerun - killed_at)
                elif not any(t == task_id and n > attempt for t, n in runs):
                    continue  # never ran again: it had finished (acked) before the kill
                else:
                    cut += 1  # attempt n + 1 left no line: a kill cut it too
        return waits, cut

    def report(self, started: float, posted_at: float, final: dict[str, int]) -> dict[str, Any]:
        (self.workdir / "kills.json").write_text(json.dumps(self.kills))
        texted = self.texted()
        counts = Counter(min(texted[c], 2) for c in self.posted)
        first_text: dict[str, float] = {}
        for m in self.twilio.messages:
            first_text.setdefault(m.to, m.date_created.timestamp())
        latency = [first_text[c] - t for c, t in self.posted.items() if c in first_text]
        reruns, cut = self.reruns()
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
                "without_a_logged_rerun": cut,
                "p50": round(percentile(reruns, 50), 1),
                "max": round(max(reruns, default=0.0), 1),
            },
            "call_to_text_s": {
                "p50": round(percentile(latency, 50), 2),
                "p99": round(percentile(latency, 99), 2),
            },
            "redis_flushed": self.flushed_at is not None,
            "twilio_outage_s": round(self.outage[1] - self.outage[0], 1)
            if len(self.outage) == 2
            else 0.0,
            "task_outcomes": dict(self.outcomes()),
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
    parser.add_argument(
        "--outage", type=float, default=60.0, help="seconds Twilio answers 503 (0: none)"
    )
    parser.add_argument(
        "--outage-at", type=float, default=0.25, help="the outage starts at this share of calls"
    )
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
    print(
        f"  Twilio down {result['twilio_outage_s']} s; task outcomes:"
        f" {json.dumps(result['task_outcomes'], sort_keys=True)}"
    )
    if args.keep:
        print(f"  work directory: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

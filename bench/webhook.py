"""Signed Twilio webhooks in `lily serve` beside a bare FastAPI form POST on the same
uvicorn (issue 17): throughput at full load, latency at half of it, CPU per request, and
the database round trips of one webhook, on PostgreSQL + Redis and on the embedded SQLite.
Two more servers, the floors (`floor()` and, on PostgreSQL, `floor_async()` below), are the
least an honest webhook can do -- check the signature, commit the event, queue it -- so the
table shows how much of the gap to the bare POST any design could close.

    .venv/bin/python -m bench.webhook [--backend postgres|sqlite|both] [--seconds 10]
        [--connections 50] [--rounds 3] [--webhook voice|sms|status|calcom|all]

--webhook picks what is posted (ROUTES): a missed call (the default), a text from a new
customer, a delivery status callback, or a Cal.com booking by a new attendee. Each server is
one process (`lily serve --no-worker`, so the text-backs wait in the queue; `uvicorn
bench.webhook:bare`; `uvicorn --factory bench.webhook:floor`, `:floor_async`). Every request
is a new caller with a new CallSid (MessageSid, booking uid), signed with the tenant's
secret, so none is a replay Lily could answer from its ledger. Full load is wrk (`apt-get
install wrk`) at --connections, the servers' rounds interleaved; half load is wrk again with
each connection pausing before each request twice as long as one request took it at full
load, on average (a random pause, so that the connections do not post in waves; about half
the rate, as the answers are short beside the pauses; the rate reached is printed).
CPU is the server process's user + system time over a round, per request. Round trips are
counted in-process: the same app under Starlette's TestClient, every statement, BEGIN,
COMMIT/ROLLBACK and pool checkout (a pre-ping) on the engine, over 200 webhooks.

Needs PostgreSQL (`--database-url`, an admin connection; a database `lily_bench_webhook_<pid>`
is made and dropped) and Redis (`LILY_BENCH_REDIS_URL`, default index 15, FLUSHED) for the
postgres backend. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response

ADMIN_URL = os.environ.get(
    "LILY_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("LILY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
VOICE = "/webhooks/twilio/voice"
# what --webhook measures: a missed call from a new caller; a text from a new customer; a
# delivery status callback (for a message SID Lily has not sent: the signature check, the
# lookup, nothing to record -- the floor of that webhook)
ROUTES = {
    "voice": VOICE,
    "sms": "/webhooks/twilio/sms",
    "status": "/webhooks/twilio/sms/status",
    "calcom": "/webhooks/calcom/bench-wash",
}
CALCOM_SECRET = "bench-calcom-secret"
# measured in this order, round after round (floor_async: on PostgreSQL + Redis only)
SERVERS = ("bare", "floor", "floor_async", "lily")
TENANT_PHONE = "+18885550142"
LILY = "from lily_cli.main import main; main()"

# -- the peer: what any FastAPI webhook costs before its work -------------------------------

bare = FastAPI()


@bare.post(ROUTES["voice"])
@bare.post(ROUTES["sms"])
@bare.post(ROUTES["status"])
async def _voice(request: Request) -> Response:
    form = await request.form()
    return Response(f"<Response><!-- {form.get('CallSid')} --></Response>", media_type="text/xml")


@bare.post(ROUTES["calcom"])
async def _calcom(request: Request) -> Response:
    document = json.loads(await request.body())
    return Response(status_code=200 if document.get("triggerEvent") else 400)


# -- the floor: the least an honest webhook can do ------------------------------------------


Record = Callable[[str, str, bytes], Awaitable[None]]  # (event id, route, payload)


def _floor_app(record: Record, lifespan: Any = None) -> FastAPI:
    """The floors' webhooks: read the form (the JSON for Cal.com), check its signature with
    Lily's own functions, `record` the provider's event, answer. Configured by the
    environment the bench gives it (BENCH_FLOOR_*)."""
    from lily_adapters.calcom import verify_signature
    from lily_adapters.twilio.webhooks import is_valid_signature

    public_url = os.environ["BENCH_FLOOR_PUBLIC_URL"]
    token = os.environ["BENCH_FLOOR_TWILIO_TOKEN"]
    app = FastAPI(lifespan=lifespan)

    async def twilio(request: Request) -> Response:
        form = await request.form()
        params = {key: str(value) for key, value in form.items()}
        signature = request.headers.get("x-twilio-signature")
        if not is_valid_signature(token, public_url + request.url.path, params, signature):
            return Response(status_code=403)
        event_id = params.get("CallSid") or params.get("MessageSid") or ""
        await record(event_id, request.url.path, urlencode(params).encode())
        return Response("<Response><Hangup/></Response>", media_type="text/xml")

    async def calcom(request: Request) -> Response:
        body = await request.body()
        if not verify_signature(CALCOM_SECRET, body, request.headers.get("x-cal-signature-256")):
            return Response(status_code=403)
        await record(str(json.loads(body)["payload"]["uid"]), request.url.path, body)
        return Response(status_code=200)

    for route in ("voice", "sms", "status"):
        app.add_api_route(ROUTES[route], twilio, methods=["POST"])
    app.add_api_route(ROUTES["calcom"], calcom, methods=["POST"])
    return app


def floor() -> FastAPI:
    """`uvicorn --factory bench.webhook:floor`: the least a webhook that keeps DESIGN §2's
    promise ("validates, records, enqueues and answers") can do, without Lily: check the
    signature, commit the provider's event as one row keyed by its id (INSERT ... ON
    CONFLICT DO NOTHING, SQLAlchemy Core, in the thread pool as any blocking driver call
    must be) and, with Redis, queue it (one LPUSH); then answer. No lead, no conversation,
    no log line: all of that would be left to a worker. Lily's ratio can be no better."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql, sqlite
    from starlette.concurrency import run_in_threadpool

    from lily_adapters.sql.uow import create_engine_for

    url = os.environ["BENCH_FLOOR_DATABASE_URL"]
    if url.startswith("sqlite"):
        engine = create_engine_for(url)  # WAL, BEGIN IMMEDIATE: Lily's way with SQLite
    else:
        engine = sa.create_engine(url, pool_size=20, max_overflow=10)  # no pre-ping
    events = sa.Table(
        "bench_floor_events",
        sa.MetaData(),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    events.create(engine, checkfirst=True)
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(events).on_conflict_do_nothing()
    queue = None
    if os.environ.get("BENCH_FLOOR_REDIS_URL"):
        import redis

        queue = redis.Redis.from_url(os.environ["BENCH_FLOOR_REDIS_URL"])

    def record_now(event_id: str, route: str, payload: bytes) -> None:
        with engine.begin() as conn:
            conn.execute(insert, {"id": event_id, "route": route, "payload": payload})
        if queue is not None:
            queue.lpush("bench-floor-events", event_id)

    async def record(event_id: str, route: str, payload: bytes) -> None:
        await run_in_threadpool(record_now, event_id, route, payload)

    return _floor_app(record)


def floor_async() -> FastAPI:
    """`uvicorn --factory bench.webhook:floor_async`, PostgreSQL + Redis only: the floor
    without SQLAlchemy and without the thread pool -- ten psycopg AsyncConnections (in
    autocommit, handed out by a queue) and redis.asyncio, on the event loop. The most a
    rewrite of the ingest path onto raw async drivers could reach."""
    import asyncio
    from contextlib import asynccontextmanager

    import psycopg
    import redis.asyncio as aioredis
    import sqlalchemy as sa

    url = sa.make_url(os.environ["BENCH_FLOOR_DATABASE_URL"]).set(drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)
    queue = aioredis.Redis.from_url(os.environ["BENCH_FLOOR_REDIS_URL"])
    pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    insert = (
        "INSERT INTO bench_floor_async_events (id, route, payload) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING"
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS bench_floor_async_events"
                " (id varchar(64) PRIMARY KEY, route varchar(64) NOT NULL, payload bytea NOT NULL)"
            )
        for _ in range(10):
            pool.put_nowait(await psycopg.AsyncConnection.connect(dsn, autocommit=True))
        yield
        while not pool.empty():
            await pool.get_nowait().close()

    async def record(event_id: str, route: str, payload: bytes) -> None:
        conn = await pool.get()
        try:
            await conn.execute(insert, (event_id, route, payload))
        finally:
            pool.put_nowait(conn)
        await queue.lpush("bench-floor-events", event_id)

    return _floor_app(record, lifespan)


# -- requests -----------------------------------------------------------------------------


def signed_calls(
    url: str, token: str, first: int, count: int, webhook: str = "voice"
) -> list[tuple[str, str]]:
    """`count` webhooks of this kind (ROUTES) from new callers, as (body, signature);
    `url` is the route's public URL, `token` the tenant's Twilio token."""
    if webhook == "calcom":
        from lily_adapters.calcom import sign

        bodies = [_booking(n) for n in range(first, first + count)]
        return [(body, sign(CALCOM_SECRET, body.encode())) for body in bodies]
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(token)
    calls = []
    for n in range(first, first + count):
        form = _form(webhook, n)
        calls.append((urlencode(form), validator.compute_signature(url, form)))
    return calls


def headers(webhook: str, signature: str) -> dict[str, str]:
    if webhook == "calcom":
        return {"Content-Type": "application/json", "X-Cal-Signature-256": signature}
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }


def _booking(n: int) -> str:
    """A Cal.com BOOKING_CREATED (version 2021-10-20) by a new attendee, a new uid."""
    attendee = {
        "name": f"Pat {n}",
        "email": f"pat{n}@example.com",
        "timeZone": "America/Chicago",
        "phoneNumber": f"+1469{2_000_000 + n % 7_000_000:07d}",
    }
    payload = {
        "type": "house-wash-estimate",
        "title": "House wash estimate",
        "startTime": "2031-06-03T15:00:00Z",
        "endTime": "2031-06-03T16:00:00Z",
        "organizer": {"name": "Sam Owner", "timeZone": "America/Chicago"},
        "attendees": [attendee],
        "location": "12 Elm St, Dallas, TX 75201",
        "uid": f"bench-{n:012d}",
        "status": "ACCEPTED",
    }
    document = {"triggerEvent": "BOOKING_CREATED", "createdAt": "2031-06-01T15:00:00.000Z"}
    return json.dumps({**document, "payload": payload})


def _form(webhook: str, n: int) -> dict[str, str]:
    caller = f"+1469{2_000_000 + n % 7_000_000:07d}"  # exchanges 200-899
    account = "AC" + "0" * 32
    if webhook == "sms":
        return {
            "AccountSid": account,
            "MessageSid": f"SM{n:032d}",
            "From": caller,
            "To": TENANT_PHONE,
            "Body": "Hi, how much for a driveway?",
            "NumMedia": "0",
            "ApiVersion": "2010-04-01",
        }
    if webhook == "status":
        return {
            "AccountSid": account,
            "MessageSid": f"SM{n:032d}",
            "MessageStatus": "delivered",
            "From": TENANT_PHONE,
            "To": caller,
            "ApiVersion": "2010-04-01",
        }
    return {
        "AccountSid": account,
        "CallSid": f"CA{n:032d}",
        "From": caller,
        "To": TENANT_PHONE,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


def _lua(
    calls: list[tuple[str, str]], path: Path, delay_ms: float = 0, webhook: str = "voice"
) -> Path:
    """A wrk script posting `calls` to `webhook`'s route in turn; each connection waits
    `delay_ms` on average before each of its requests, a random 0 to twice that (none: as
    fast as the server answers). A fixed pause would keep the connections in step: all of
    them would post at once, wait, and post at once again, and the answers at the end of
    each wave would measure the wave, not the load."""
    content_type = headers(webhook, "")["Content-Type"]
    signed_by = next(name for name in headers(webhook, "") if name != "Content-Type")
    entries = ",\n".join(f"{{{json.dumps(body)}, {json.dumps(sig)}}}" for body, sig in calls)
    path.write_text(
        f"""local calls = {{
{entries}
}}
local i = 0
delay = function() return math.random(0, {round(2 * delay_ms)}) end
request = function()
  i = i + 1
  local call = calls[(i - 1) % #calls + 1]
  return wrk.format("POST", "{ROUTES[webhook]}", {{
    ["Content-Type"] = "{content_type}",
    ["{signed_by}"] = call[2],
  }}, call[1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{{"requests": %d, "us": %d, "failed": %d, "p50": %d, "p99": %d}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""
    )
    return path


def wrk(url: str, script: Path, seconds: float, connections: int) -> dict[str, Any]:
    args = ["-t1", f"-c{connections}", f"-d{round(seconds)}s", "--timeout", "10s", "-s"]
    done = subprocess.run(
        ["wrk", *args, str(script), url], capture_output=True, text=True, timeout=seconds + 60
    )
    if done.returncode:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "per_s": result["requests"] / (result["us"] / 1e6),
        "requests": result["requests"],
        "failed": result["failed"],
        "p50_ms": result["p50"] / 1000,
        "p99_ms": result["p99"] / 1000,
    }


# -- servers ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(args: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError(f"{args[:4]} did not start: {_tail(log)}") from None
                time.sleep(0.1)
        yield process
        if process.poll() is not None:
            raise RuntimeError(f"{args[:4]} stopped: {_tail(log)}")
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _tail(log: Any) -> str:
    log.seek(0)
    return str(log.read().decode(errors="replace")[-2000:])


@contextmanager
def _backend(kind: str, workdir: Path, port: int) -> Iterator[dict[str, str]]:
    """The environment of a `lily` on `kind`, migrated, with one tenant."""
    env = {
        **os.environ,
        "LILY_DATA_DIR": str(workdir / "data"),
        "LILY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LILY_LOG_LEVEL": "WARNING",
    }
    env.pop("LILY_REDIS_URL", None)
    database = f"lily_bench_webhook_{os.getpid()}"
    admin = None
    if kind == "postgres":
        import redis
        import sqlalchemy as sa

        admin_url = os.environ.get("LILY_BENCH_DATABASE_URL", ADMIN_URL)
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
        env["LILY_DATABASE_URL"] = admin_url.rsplit("/", 1)[0] + "/" + database
        env["LILY_REDIS_URL"] = REDIS_URL
        keys = subprocess.run(  # PostgreSQL needs them from the environment
            [sys.executable, "-c", LILY, "keys", "new"], capture_output=True, text=True, check=True
        )
        for line in keys.stdout.split():
            name, value = line.split("=", 1)
            env[name] = value
        redis.Redis.from_url(REDIS_URL).flushdb()
    else:
        env["LILY_DATABASE_URL"] = f"sqlite:///{workdir / 'lily.db'}"
    try:
        lily = [sys.executable, "-c", LILY]
        subprocess.run([*lily, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run(
            [
                *lily,
                "tenant",
                "create",
                "--name",
                "Bench Wash",
                "--phone",
                TENANT_PHONE,
                "--calcom-secret",
                CALCOM_SECRET,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        yield env
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.dispose()


def _token(env: dict[str, str]) -> str:
    shown = subprocess.run(
        [sys.executable, "-c", LILY, "tenant", "show", "bench-wash", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return str(json.loads(shown.stdout)["sandbox_auth_token"])


def _answers(url: str, call: tuple[str, str], webhook: str = "voice") -> None:
    """One webhook, checked: a benchmark of refusals would measure nothing."""
    import httpx

    body, signature = call
    response = httpx.post(
        url + ROUTES[webhook], content=body, headers=headers(webhook, signature), timeout=30
    )
    if response.status_code not in (200, 204):
        raise RuntimeError(f"Lily answered {response.status_code}: {response.text[:500]}")


def round_trips(
    env: dict[str, str], url: str, token: str, count: int = 200, webhook: str = "voice"
) -> dict[str, float]:
    """Statements, transactions and pool checkouts of one webhook, in-process."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        import sqlalchemy as sa
        from loguru import logger
        from starlette.testclient import TestClient

        from lily_adapters.container import build_container
        from lily_adapters.settings import load_settings
        from lily_http.app import create_app

        logger.remove()  # a log line per request would be most of what is measured
        container = build_container(load_settings())
        engine = container.engine()
        counts = {"statements": 0, "begins": 0, "ends": 0, "checkouts": 0}

        def counter(name: str) -> Any:
            def count(*_: Any, **__: Any) -> None:
                counts[name] += 1

            return count

        sa.event.listen(engine, "before_cursor_execute", counter("statements"))
        sa.event.listen(engine, "begin", counter("begins"))
        sa.event.listen(engine, "commit", counter("ends"))
        sa.event.listen(engine, "rollback", counter("ends"))
        sa.event.listen(engine.pool, "checkout", counter("checkouts"))
        route = ROUTES[webhook]
        calls = signed_calls(url + route, token, 900_000_000, count, webhook)
        with TestClient(create_app(container), base_url=url) as client:
            for body, signature in calls:
                response = client.post(route, content=body, headers=headers(webhook, signature))
                response.raise_for_status()
        per = {name: value / count for name, value in counts.items()}
        per["round_trips"] = per["statements"] + per["begins"] + per["ends"] + per["checkouts"]
        return per
    finally:
        os.environ.clear()
        os.environ.update(saved)


# -- the run ------------------------------------------------------------------------------


def bench(
    kind: str, seconds: float, connections: int, rounds: int, webhook: str = "voice"
) -> dict[str, Any]:
    route = ROUTES[webhook]
    servers = SERVERS if kind == "postgres" else tuple(n for n in SERVERS if n != "floor_async")
    ports = {name: _free_port() for name in servers}
    with tempfile.TemporaryDirectory() as tmp, _backend(kind, Path(tmp), ports["lily"]) as env:
        token = _token(env)
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
        floor_env = {
            **env,
            "BENCH_FLOOR_DATABASE_URL": env["LILY_DATABASE_URL"]
            if kind == "postgres"
            else f"sqlite:///{Path(tmp) / 'floor.db'}",
            "BENCH_FLOOR_PUBLIC_URL": urls["lily"],  # the URL every request is signed for
            "BENCH_FLOOR_TWILIO_TOKEN": token,
        }
        if kind == "postgres":
            floor_env["BENCH_FLOOR_REDIS_URL"] = REDIS_URL
        commands = {
            "bare": ([*uvicorn, "bench.webhook:bare", "--port", str(ports["bare"])], env),
            **{
                name: (
                    [*uvicorn, "--factory", f"bench.webhook:{name}", "--port", str(port)],
                    floor_env,
                )
                for name, port in ports.items()
                if name.startswith("floor")
            },
            "lily": (
                [sys.executable, "-c", LILY, "serve", "--no-worker", "--port", str(ports["lily"])],
                env,
            ),
        }
        full: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        cpu: dict[str, list[float]] = {name: [] for name in servers}
        per_round = 40_000
        first = 0
        with ExitStack() as stack:
            processes = {
                name: stack.enter_context(_server(args, ports[name], server_env))
                for name, (args, server_env) in commands.items()
            }
            warm = signed_calls(urls["lily"] + route, token, 999_000_000, 1, webhook)
            for name in servers:
                if name != "bare":
                    _answers(urls[name], warm[0], webhook)
            for n in range(rounds):
                for name in servers:
                    calls = signed_calls(urls["lily"] + route, token, first, per_round, webhook)
                    first += per_round
                    script = _lua(calls, Path(tmp) / f"{name}{n}.lua", webhook=webhook)
                    pid = processes[name].pid
                    before = _cpu_seconds(pid)
                    result = wrk(urls[name], script, seconds, connections)
                    cpu[name].append((_cpu_seconds(pid) - before) / result["requests"])
                    full[name].append(result)
                    print(f"  round {n + 1} {name:<11} {result['per_s']:8.0f} req/s", flush=True)
            half: dict[str, dict[str, Any]] = {}
            for name in servers:
                # half the rate: at full load a connection's turn (its request and its
                # answer) takes connections / rate; each now waits twice that, on average,
                # before each request, and at half load the answer is short beside the wait
                rate = statistics.median(r["per_s"] for r in full[name])
                calls = signed_calls(urls["lily"] + route, token, first, per_round, webhook)
                first += per_round
                delay = 2 * connections * 1000 / rate
                script = _lua(calls, Path(tmp) / f"{name}-half.lua", delay, webhook)
                half[name] = wrk(urls[name], script, seconds, connections)
        trips = round_trips(env, urls["lily"], token, webhook=webhook)
    summary: dict[str, Any] = {"backend": kind, "webhook": webhook}
    for name in servers:
        summary[name] = {
            "per_s": round(statistics.median(r["per_s"] for r in full[name]), 1),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in full[name]), 2),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in full[name]), 2),
            "failed": sum(r["failed"] for r in full[name]),
            "cpu_ms": round(statistics.median(cpu[name]) * 1000, 2),
            "half_per_s": round(half[name]["per_s"], 1),
            "half_p50_ms": round(half[name]["p50_ms"], 2),
            "half_p99_ms": round(half[name]["p99_ms"], 2),
            "half_failed": half[name]["failed"],
        }
    summary["ratio"] = round(summary["lily"]["per_s"] / summary["bare"]["per_s"], 3)
    for name in servers:
        if name.startswith("floor"):
            summary[f"{name}_ratio"] = round(summary[name]["per_s"] / summary["bare"]["per_s"], 3)
    summary["round_trips"] = {k: round(v, 2) for k, v in trips.items()}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="an admin connection")
    parser.add_argument("--webhook", choices=[*ROUTES, "all"], default="voice")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench.webhook needs wrk: apt-get install wrk")
    if options.database_url:
        os.environ["LILY_BENCH_DATABASE_URL"] = options.database_url
    kinds = ["postgres", "sqlite"] if options.backend == "both" else [options.backend]
    webhooks = list(ROUTES) if options.webhook == "all" else [options.webhook]
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    results = []
    for kind in kinds:
        for webhook in webhooks:
            print(f"{kind}, {webhook}:", flush=True)
            results.append(
                bench(kind, options.seconds, options.connections, options.rounds, webhook)
            )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    header = (
        "backend   webhook server       req/s   p50 ms  p99 ms  failed  cpu ms/req"
        "  half: req/s  p50 ms  p99 ms"
    )
    print(header)
    for r in results:
        for name in SERVERS:
            if name not in r:
                continue
            s = r[name]
            print(
                f"{r['backend']:<9} {r['webhook']:<7} {name:<11} {s['per_s']:7.0f}"
                f" {s['p50_ms']:7.1f} {s['p99_ms']:7.1f} {s['failed']:7d} {s['cpu_ms']:11.2f}"
                f" {s['half_per_s']:12.0f}"
                f" {s['half_p50_ms']:7.1f} {s['half_p99_ms']:7.1f}"
            )
        floors = ", ".join(
            f"{name} {r[f'{name}_ratio']:.3f}" for name in SERVERS if f"{name}_ratio" in r
        )
        print(f"{'':<17} ratio  {r['ratio']:.3f} ({floors})")
        print(f"{'':<17} round trips/webhook: {r['round_trips']}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()

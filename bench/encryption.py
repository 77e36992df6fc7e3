"""Encryption at rest (issue 14): the voice webhook's throughput and lead-by-phone lookups,
before and after, in the same run.

"After" is the committed code (`git archive HEAD`, in a temporary directory); "before" is
the same with the encryption commits taken back out (`git revert --no-commit` of each, in a
shared clone: a three-way merge, so later changes near the same lines still apply; conflicts
are allowed in prose, tests and benches only, which the probe does not run from the tree, and
those files are kept as at HEAD), and migration 0012 made
a no-op when later migrations follow it, so everything else -- other features, the machine,
the moment -- is the same. Each side
runs in its own process (`--probe`, with PYTHONPATH on its tree): a fresh
database (PostgreSQL `lily_bench_enc_<pid>` made and dropped, or an SQLite file), a tenant,
then

1. `--calls` missed calls from as many new numbers through the app (FastAPI's TestClient,
   signed as Twilio signs, the whole request path: the dial action's webhook writes the
   lead, the call and the queued text-back) -- webhooks/s;
2. `--lookups` lead-by-phone lookups of those numbers through the unit of work, as the
   webhooks make them -- lookups/s.

Rounds alternate before/after (`--rounds`), and the medians are compared. The last line is
one JSON object: `webhook_per_s_before`, `webhook_per_s_after`, `webhook_ratio`,
`lookup_per_s_before`, `lookup_per_s_after`, `lookup_ratio`, and the same of the process's
CPU time per webhook and per lookup (`webhook_cpu_ms_*`, `webhook_cpu_ratio`, ...: after
over before, so 1.10 is 10 % more). Target: the webhook at 90 % of its unencrypted
throughput or better. On a shared machine the wall-clock rates move with the load (other
processes' CPU and fsyncs); the CPU time per webhook -- every thread of the probe, the
server's and the test client's -- moves far less, and is the figure to compare there.

    .venv/bin/python -m bench.encryption --backend postgres --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# the commits that made the SQL adapter encrypt, taken back out (newest first) for "before"
ENCRYPTION_COMMIT_SUBJECTS = (
    "A new lead's search keys in one statement with the keys as one JSON parameter",
    "Six search keys a lead, not seventeen",
    "Migration 0012 keeps its own copy of the search-key rule",
    "The blind-index key rotates (issue 14)",
    "A new lead's search keys in an executemany again",
    "A new lead's search keys in one INSERT",
    "Customers' data and tenants' secrets encrypted at rest",
)
PUBLIC_URL = "http://testserver"
TOKEN = "bench_platform_token_0123456789abcdef"


def probe(args: argparse.Namespace) -> dict[str, Any]:
    """One side's figures, in this process (PYTHONPATH decides which code it is)."""
    import sqlalchemy as sa
    from loguru import logger
    from starlette.testclient import TestClient
    from twilio.request_validator import RequestValidator

    from lily_adapters.container import build_container
    from lily_adapters.settings import Settings
    from lily_adapters.sql import migrate
    from lily_http.app import create_app

    logger.remove()  # a log line per request would measure the terminal
    workdir = Path(tempfile.mkdtemp(prefix="lily-bench-enc-"))
    if args.backend == "sqlite":
        url = f"sqlite:///{workdir / 'lily.db'}"
        drop = None
    else:
        admin = sa.create_engine(args.database_url, isolation_level="AUTOCOMMIT")
        name = f"lily_bench_enc_{os.getpid()}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        url = str(
            sa.make_url(args.database_url)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )

        def drop() -> None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.dispose()

    try:
        migrate.upgrade(url)
        settings = Settings(
            _env_file=None,
            database_url=url,
            public_url=PUBLIC_URL,
            twilio_account_sid="AC" + "0" * 32,
            twilio_auth_token=TOKEN,
            twilio_api_url="http://127.0.0.1:9",  # nothing is sent: the worker does not run
            data_dir=workdir / "data",
        )
        container = build_container(settings)
        tenant = container.onboard_tenant()(
            name="Bench Wash",
            phone="+15125550100",
            forward_to="+15125550199",
            timezone="America/Chicago",
        )
        validator = RequestValidator(TOKEN)
        path = "/webhooks/twilio/voice"
        # valid North American numbers (area codes 214-219, exchange 555), all different
        callers = [
            f"+1{214 + n // 10000}555{n % 10000:04d}" for n in range(args.warmup + args.calls)
        ]

        def missed(client: TestClient, n: int, caller: str) -> None:
            form = {
                "AccountSid": "AC" + "0" * 32,
                "CallSid": f"CA{n:032d}",
                "From": caller,
                "To": tenant.phone,
                "CallStatus": "in-progress",
                "DialCallStatus": "no-answer",
                "Direction": "inbound",
            }
            signature = validator.compute_signature(PUBLIC_URL + path, form)
            response = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
            assert response.status_code == 200, response.text

        app = create_app(container)
        with TestClient(app, base_url=PUBLIC_URL) as client:
            for n in range(args.warmup):
                missed(client, n, callers[n])
            started, cpu = time.perf_counter(), time.process_time()
            for n in range(args.warmup, len(callers)):
                missed(client, n, callers[n])
            webhook_s = time.perf_counter() - started
            webhook_cpu = time.process_time() - cpu

        uow = container.uow()
        started, cpu = time.perf_counter(), time.process_time()
        for n in range(args.lookups):
            with uow.for_tenant(tenant.id):
                assert uow.leads.get_by_phone(tenant.id, callers[n % len(callers)]) is not None
        lookup_s = time.perf_counter() - started
        lookup_cpu = time.process_time() - cpu
        container.shutdown_resources()
        return {
            "webhook_per_s": args.calls / webhook_s,
            "lookup_per_s": args.lookups / lookup_s,
            "webhook_cpu_ms": 1000 * webhook_cpu / args.calls,
            "lookup_cpu_ms": 1000 * lookup_cpu / args.lookups,
        }
    finally:
        if drop is not None:
            drop()


def _git(*args: str, cwd: Path = ROOT, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


# what the probe does not run from the tree (it runs this file, from the checkout)
_NOT_RUN = ("tests", "bench", "web")


def _trees(after: Path, before: Path) -> str:
    """HEAD into `after`, HEAD with the encryption commits reverted into `before`; returns
    the encryption commit's id."""
    commits = []
    for subject in ENCRYPTION_COMMIT_SUBJECTS:
        found = _git("log", "--format=%H", "-1", "--fixed-strings", f"--grep={subject}")
        if not found:
            sys.exit(f"no commit {subject!r} in this checkout's history")
        commits.append(found)
    head = _git("rev-parse", "HEAD")
    archive = subprocess.run(["git", "archive", head], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(after)], input=archive.stdout, check=True)
    _git("clone", "--quiet", "--shared", "--no-checkout", str(ROOT), str(before))
    _git("checkout", "--quiet", "--detach", head, cwd=before)
    for commit in commits:  # newest first
        _git("revert", "--no-commit", commit, cwd=before, check=False)
        conflicts = _git("diff", "--name-only", "--diff-filter=U", cwd=before).split()
        code = [f for f in conflicts if not f.endswith(".md") and f.split("/")[0] not in _NOT_RUN]
        if code:
            sys.exit(f"reverting {commit[:12]} conflicts in {', '.join(code)}")
        if conflicts:  # kept as at HEAD, so that the next revert can start
            _git("checkout", head, "--", *conflicts, cwd=before)
    _keep_the_chain(after, before)
    return commits[-1]


def _keep_the_chain(after: Path, before: Path) -> None:
    """The reverted encryption migration back as a no-op, if later ones name it."""
    [migration] = (after / "migrations" / "versions").glob("*_encryption.py")
    text = migration.read_text()
    ids = {
        name: re.search(rf'^{name} = "(\w+)"', text, re.MULTILINE)
        for name in ("revision", "down_revision")
    }
    revision, down = (m.group(1) if m else "" for m in ids.values())
    later = [
        path
        for path in (before / "migrations" / "versions").glob("*.py")
        if f'down_revision = "{revision}"' in path.read_text()
    ]
    if later:
        (before / "migrations" / "versions" / migration.name).write_text(
            f'"""No-op: the encryption, taken out for the bench."""\n\n'
            f'revision = "{revision}"\ndown_revision = "{down}"\n'
            "branch_labels = None\ndepends_on = None\n\n\n"
            "def upgrade() -> None:\n    pass\n\n\n"
            "def downgrade() -> None:\n    pass\n"
        )


def _run_side(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    # -P: this script's directory (bench/, with its queue.py) is not put on sys.path
    command = [
        sys.executable,
        "-P",
        __file__,
        "--probe",
        "--backend",
        args.backend,
        "--database-url",
        args.database_url,
        "--calls",
        str(args.calls),
        "--lookups",
        str(args.lookups),
        "--warmup",
        str(args.warmup),
    ]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"probe in {tree} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="an admin connection (PostgreSQL)",
    )
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args)))
        return
    with tempfile.TemporaryDirectory(prefix="lily-bench-trees-") as trees:
        after, before = Path(trees) / "after", Path(trees) / "before"
        after.mkdir()
        before.mkdir()
        commit = _trees(after, before)
        sides: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
        for n in range(args.rounds):
            for side, tree in (("before", before), ("after", after)):
                sides[side].append(_run_side(tree, args))
                figures = sides[side][-1]
                print(
                    f"round {n + 1} {side:6} {figures['webhook_per_s']:8.1f} webhooks/s "
                    f"{figures['webhook_cpu_ms']:6.2f} CPU ms/webhook",
                    flush=True,
                )

    def median(side: str, figure: str) -> float:
        return float(statistics.median(r[figure] for r in sides[side]))

    summary: dict[str, Any] = {
        "backend": args.backend,
        "encryption_commit": commit[:12],
        "rounds": args.rounds,
        "calls": args.calls,
        "lookups": args.lookups,
    }
    print(f"median of {args.rounds} rounds, {args.backend}")
    figures = ("webhook_per_s", "lookup_per_s", "webhook_cpu_ms", "lookup_cpu_ms")
    print(f"{'':10}{'webhooks/s':>14}{'lookups/s':>14}{'CPU ms/webhook':>16}{'CPU ms/lookup':>16}")
    for side in ("before", "after"):
        a, b, c, d = (median(side, figure) for figure in figures)
        print(f"{side:10}{a:14.1f}{b:14.1f}{c:16.2f}{d:16.3f}")
    for name in ("webhook", "lookup"):
        was, now = median("before", f"{name}_per_s"), median("after", f"{name}_per_s")
        summary[f"{name}_per_s_before"] = round(was, 1)
        summary[f"{name}_per_s_after"] = round(now, 1)
        summary[f"{name}_ratio"] = round(now / was, 3)
        was, now = median("before", f"{name}_cpu_ms"), median("after", f"{name}_cpu_ms")
        summary[f"{name}_cpu_ms_before"] = round(was, 3)
        summary[f"{name}_cpu_ms_after"] = round(now, 3)
        summary[f"{name}_cpu_ratio"] = round(now / was, 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

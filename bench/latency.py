"""Missed call -> text-back at jitter 0 (issue 17): how long after its webhook a text-back
reaches Twilio, with `lily serve` (API and worker in one process) on the embedded SQLite and
on PostgreSQL + Redis.

    .venv/bin/python -m bench.latency [--backend postgres|sqlite|both] [--rate 20]
        [--seconds 30] [--database-url postgresql+psycopg://...]

Signed voice webhooks from new callers at --rate calls/s, paced (not a burst), after a
warm-up; the texts go to the Twilio stand-in (tests/standins/twilio.py) in this process,
which timestamps each as it arrives. Per call: from the webhook's POST to the text's arrival
(`post->sent`: the webhook's own time included) and from the webhook's answer to the text's
arrival (`answer->sent`: the text-back was due before the answer, so this is the queue's
wake and the send). Jitter 0 (LILY_JITTER_MIN/MAX_SECONDS), no per-number rate limit.

The backends are bench/webhook.py's: PostgreSQL needs `--database-url` (an admin
connection; a database `lily_bench_webhook_<pid>` is made and dropped) and Redis at
LILY_BENCH_REDIS_URL (default index 15, FLUSHED). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.chaos import percentile
from bench.webhook import LILY, VOICE, _backend, _free_port, _server, signed_calls
from tests.standins.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioStandIn

WARM_UP_CALLS = 20


def _post(client: httpx.Client, call: tuple[str, str]) -> tuple[float, float]:
    """One webhook; (when it was posted, when it was answered), by time.time()."""
    body, signature = call
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    posted = time.time()
    response = client.post(VOICE, content=body, headers=headers)
    answered = time.time()
    if response.status_code != 200:
        raise RuntimeError(f"Lily answered {response.status_code}: {response.text[:300]}")
    return posted, answered


def _callers(calls: list[tuple[str, str]]) -> list[str]:
    from urllib.parse import parse_qs

    return [parse_qs(body)["From"][0] for body, _ in calls]


def _send_paced(
    client: httpx.Client, calls: list[tuple[str, str]], rate: float
) -> list[tuple[float, float]]:
    """Post `calls` at `rate` a second, each on a thread of a pool (a slow answer does not
    hold up the next); their (posted, answered) times, in order."""
    results: list[tuple[float, float]] = [(0.0, 0.0)] * len(calls)
    with ThreadPoolExecutor(32) as pool:
        start = time.monotonic()
        futures = []
        for i, call in enumerate(calls):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            futures.append(pool.submit(_post, client, call))
        for i, future in enumerate(futures):
            results[i] = future.result()
    return results


def _arrivals(twilio: TwilioStandIn, callers: list[str], timeout: float) -> dict[str, float]:
    """When the first text to each caller reached the stand-in (POSIX seconds)."""
    wanted, deadline = set(callers), time.monotonic() + timeout
    while True:
        got = {}
        for message in list(twilio.messages):
            if message.to in wanted and message.to not in got:
                got[message.to] = message.date_created.timestamp()
        if len(got) == len(wanted) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def bench(kind: str, rate: float, seconds: float) -> dict[str, Any]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    count = round(rate * seconds)
    with (
        TwilioStandIn() as twilio,
        tempfile.TemporaryDirectory() as tmp,
        _backend(kind, Path(tmp), port) as env,
    ):
        env = {
            **env,
            "LILY_TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
            "LILY_TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
            "LILY_TWILIO_API_URL": twilio.url,
            "LILY_JITTER_MIN_SECONDS": "0",
            "LILY_JITTER_MAX_SECONDS": "0",
            "LILY_SMS_RATE_PER_NUMBER": "1000",  # the most it takes: no limit at --rate
        }
        serve = [sys.executable, "-c", LILY, "serve", "--port", str(port)]
        warm = signed_calls(url + VOICE, DEFAULT_AUTH_TOKEN, 800_000_000, WARM_UP_CALLS)
        calls = signed_calls(url + VOICE, DEFAULT_AUTH_TOKEN, 0, count)
        with _server(serve, port, env), httpx.Client(base_url=url, timeout=15) as client:
            _send_paced(client, warm, rate)
            _arrivals(twilio, _callers(warm), timeout=60)
            time.sleep(1.0)  # the worker asleep again, as between real calls
            times = _send_paced(client, calls, rate)
            sent = _arrivals(twilio, _callers(calls), timeout=60)
    post_to_sent, answer_to_sent, missing = [], [], 0
    for caller, (posted, answered) in zip(_callers(calls), times, strict=True):
        if caller not in sent:
            missing += 1
            continue
        post_to_sent.append((sent[caller] - posted) * 1000)
        answer_to_sent.append((sent[caller] - answered) * 1000)
    webhook_ms = [(answered - posted) * 1000 for posted, answered in times]

    def stats(values: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(percentile(values, 50), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(max(values, default=0.0), 1),
        }

    return {
        "backend": kind,
        "rate": rate,
        "calls": count,
        "texts": len(post_to_sent),
        "missing": missing,
        "post_to_sent": stats(post_to_sent),
        "answer_to_sent": stats(answer_to_sent),
        "webhook": stats(webhook_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--rate", type=float, default=20.0, help="calls a second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database-url", default=None, help="an admin connection")
    options = parser.parse_args()
    if options.database_url:
        os.environ["LILY_BENCH_DATABASE_URL"] = options.database_url
    kinds = ["sqlite", "postgres"] if options.backend == "both" else [options.backend]
    load = [f"{x:.1f}" for x in os.getloadavg()]
    results = []
    for kind in kinds:
        print(f"{kind}: {round(options.rate * options.seconds)} calls", flush=True)
        results.append(bench(kind, options.rate, options.seconds))
    print(f"load average before: {' '.join(load)}, after: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}\n")  # fmt: skip
    print("backend   texts/calls  post->sent p50 p99 max ms  answer->sent p50 p99 max ms"
          "  webhook p50 p99 ms")  # fmt: skip
    for r in results:
        ps, ans, hook = r["post_to_sent"], r["answer_to_sent"], r["webhook"]
        print(
            f"{r['backend']:<9} {r['texts']:>5}/{r['calls']:<5}"
            f"  {ps['p50_ms']:8.1f} {ps['p99_ms']:6.1f} {ps['max_ms']:6.1f}"
            f"    {ans['p50_ms']:12.1f} {ans['p99_ms']:6.1f} {ans['max_ms']:6.1f}"
            f"  {hook['p50_ms']:10.1f} {hook['p99_ms']:6.1f}"
        )
    print(json.dumps(results))
    if any(r["missing"] for r in results):
        sys.exit("some calls got no text-back: see the table")


if __name__ == "__main__":
    main()

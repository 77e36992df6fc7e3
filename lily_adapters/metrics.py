"""Lily's Prometheus metrics: what the business did, per tenant, and how the machinery runs.

The entry points count business events where their outcome is known (the webhook routes,
the worker's send handler); lily_core stays free of metrics. The tenant label is the
tenant's slug (bounded by the number of tenants), never a customer's number.

Multi-process: with PROMETHEUS_MULTIPROC_DIR set (an empty directory, e.g. a tmpfs, shared
by the processes of one machine: uvicorn workers, `lily worker`), every process writes its
counts there and `exposition()` adds them up (prometheus-client's multiprocess mode). The
queue depth is not counted by anyone: it is read from the queue at scrape time."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from lily_core.ports.queue import JitterQueue

# -- business, by tenant ----------------------------------------------------------------------

MISSED_CALLS = Counter(
    "lily_missed_calls", "Missed calls (Twilio's retries not counted)", ["tenant"]
)
TEXT_BACKS = Counter("lily_text_backs", "Missed-call text-backs sent", ["tenant"])
QUOTES = Counter("lily_quotes", "Quotes made from photos + ZIP", ["tenant", "in_service_area"])
BOOKINGS = Counter("lily_bookings", "Cal.com bookings by event", ["tenant", "event"])
OPT_OUTS = Counter("lily_opt_outs", "Customers who opted out (STOP, or the carrier)", ["tenant"])
HELD = Counter("lily_messages_held", "Automated texts held, by reason", ["tenant", "reason"])
SPEED_TO_LEAD = Histogram(
    "lily_speed_to_lead_seconds",
    "From the missed call to its text-back leaving Lily",
    ["tenant"],
    buckets=(5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600, 1800, 3600),
)

# -- machinery --------------------------------------------------------------------------------

TASKS = Histogram(
    "lily_task_seconds",
    "Worker tasks: duration by type and outcome (ok, retry, dead)",
    ["type", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
PROVIDER_LATENCY = Histogram(
    "lily_provider_request_seconds",
    "Calls to providers (Twilio, Stripe, Google Calendar, Chatwoot, media downloads)",
    ["provider", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
PROVIDER_ERRORS = Counter(
    "lily_provider_errors", "Failed provider calls, by the provider's code", ["provider", "code"]
)
SIGNATURE_FAILURES = Counter(
    "lily_webhook_signature_failures", "Webhooks refused for a bad signature", ["provider"]
)


@contextmanager
def provider_call(provider: str, operation: str) -> Iterator[None]:
    """Time one call to a provider; an exception is counted under its `code` (the provider's
    error code that core errors carry) or its type, and goes on."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        code = getattr(exc, "code", None) or type(exc).__name__
        PROVIDER_ERRORS.labels(provider, str(code)[:40]).inc()
        raise
    finally:
        PROVIDER_LATENCY.labels(provider, operation).observe(time.perf_counter() - started)


class TenantSlugs:
    """Tenant id -> slug, for labels where only the id is at hand (the worker's tasks);
    `lookup` reads the slug once per tenant."""

    def __init__(self, lookup: Callable[[str], str | None]) -> None:
        self._lookup = lookup
        self._slugs: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, tenant_id: str) -> str:
        with self._lock:
            known = self._slugs.get(tenant_id)
        if known is not None:
            return known
        slug = self._lookup(tenant_id) or "unknown"
        with self._lock:
            self._slugs[tenant_id] = slug
        return slug


# -- the queue, read at scrape time -----------------------------------------------------------

QUEUE_STATES = ("scheduled", "due", "in_flight", "dead")


class QueueDepthCollector(Collector):
    """`lily_queue_tasks{state, type}`: the tasks in the queue now. By task type where the
    queue can say (the SQL queue), else `type="all"` from its stats (Redis)."""

    def __init__(self, queue: JitterQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "lily_queue_tasks",
            "Tasks in the queue, by state and task type",
            labels=["state", "type"],
        )
        up = GaugeMetricFamily("lily_queue_up", "1 if the queue answered this scrape")
        try:
            by_type = getattr(self.queue, "depth_by_type", None)
            if callable(by_type):
                depth: dict[tuple[str, str], int] = by_type()
            else:
                stats = self.queue.stats()
                depth = {(state, "all"): getattr(stats, state) for state in QUEUE_STATES}
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        for (state, task_type), count in sorted(depth.items()):
            gauge.add_metric([state, task_type], count)
        up.add_metric([], 1)
        yield gauge
        yield up


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def prepare_multiprocess_dir() -> None:
    """At a process's start: make PROMETHEUS_MULTIPROC_DIR if it is set and missing (the
    first count would otherwise fail to open its file there)."""
    path = multiprocess_dir()
    if path:
        os.makedirs(path, exist_ok=True)


def exposition(queue: JitterQueue | None) -> bytes:
    """The text a scrape gets: every process's counts (multiprocess mode) or this process's,
    and the queue's depth read now."""
    if multiprocess_dir():
        counted = CollectorRegistry()
        MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
        text = generate_latest(counted)
    else:
        text = generate_latest(REGISTRY)
    if queue is not None:
        live = CollectorRegistry(auto_describe=False)
        live.register(QueueDepthCollector(queue))
        text += generate_latest(live)
    return text

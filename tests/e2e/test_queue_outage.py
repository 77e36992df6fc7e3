"""Redis goes away while webhooks arrive (DESIGN §3: nothing committed is lost). Lily's Redis
URL points at a TCP proxy to the real Redis, which the test cuts (connections refused) and
restores; PostgreSQL stays up. The webhooks answer as usual, the log says the enqueue
failed, and once Redis is back every text goes out exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from loguru import logger

from lily_adapters.queue.spill import SpillingJitterQueue
from lily_adapters.twilio.webhooks import missed_call_twiml
from lily_core.domain.leads import MessageKind, MessageStatus
from tests.e2e.conftest import CALLER, JITTER_MAX, START, Lily, _clean_postgres, after, running_lily
from tests.faults import TcpProxy
from tests.standins.twilio import TwilioStandIn

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def proxy(redis_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(redis_url)
    with TcpProxy((parts.hostname or "127.0.0.1", parts.port or 6379)) as proxy:
        yield proxy


@pytest.fixture
def lily(
    _migrated_postgres: str,
    redis_url: str,
    proxy: TcpProxy,
    twilio: TwilioStandIn,
    tmp_path: Path,
) -> Iterator[Lily]:
    _clean_postgres(_migrated_postgres)
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    proxied = redis_url.replace(f":{urlsplit(redis_url).port}/", f":{proxy.port}/", 1)
    with running_lily((_migrated_postgres, proxied), twilio, tmp_path) as harness:
        yield harness


@pytest.fixture
def warnings() -> Iterator[list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    sink = logger.add(lambda m: records.append(dict(m.record)), level="WARNING")
    yield records
    logger.remove(sink)


def relay_reconcile_and_work(lily: Lily) -> None:
    """What the worker's periodic jobs and its claim loop do once Redis answers again."""
    queue = lily.container.queue()
    assert isinstance(queue, SpillingJitterQueue)
    queue.relay()
    lily.container.reconcile_outbox()()
    lily.run_worker()


def test_with_redis_down_a_missed_call_gets_its_twiml_and_its_text_back_later(
    lily: Lily, proxy: TcpProxy, warnings: list[dict[str, Any]]
) -> None:
    proxy.cut()
    response = lily.missed_call("CA" + "1" * 32)
    help_reply = lily.sms("SM" + "1" * 32, "HELP")

    assert response.status_code == 200
    assert response.text == missed_call_twiml(lily.tenant.name)  # the caller hears no error
    assert help_reply.status_code == 200
    failed = [r for r in warnings if "enqueue of" in r["message"]]
    assert [r["extra"]["task_type"] for r in failed] == ["MISSED_CALL_SMS", "SEND_MESSAGE"]
    assert all("Connection refused" in r["message"] for r in failed)
    assert [m.status for m in lily.outbound()] == [MessageStatus.QUEUED] * 2

    proxy.restore()
    lily.clock.current = after(START, 5 * 60)  # past the jitter and the reconciler's grace
    relay_reconcile_and_work(lily)
    relay_reconcile_and_work(lily)  # a second round finds nothing left to do

    assert sorted(m.kind for m in lily.outbound()) == [MessageKind.HELP, MessageKind.MISSED_CALL]
    assert all(m.status == MessageStatus.SENT for m in lily.outbound())
    assert len(lily.texts_to(CALLER)) == 2  # one text-back, one help reply: no double
    stats = lily.queue_stats()
    assert (stats.scheduled, stats.due, stats.in_flight, stats.dead) == (0, 0, 0, 0)


def test_redis_back_before_the_reconciler_runs_sends_the_spilled_text_back_once(
    lily: Lily, proxy: TcpProxy
) -> None:
    """The relay alone (every few seconds in the worker) brings the spilled task back: the
    text-back goes out at its jitter, not after the reconciler's grace."""
    proxy.cut()
    assert lily.missed_call("CA" + "2" * 32).status_code == 200
    proxy.restore()

    lily.clock.current = after(START, JITTER_MAX + 0.5)
    queue = lily.container.queue()
    assert isinstance(queue, SpillingJitterQueue)
    assert queue.relay() == 1
    lily.run_worker()
    assert len(lily.texts_to(CALLER)) == 1
    assert lily.container.reconcile_outbox()() == 0  # sent: nothing to reconcile

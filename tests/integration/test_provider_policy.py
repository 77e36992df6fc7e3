"""The provider call policy (issue 13) on the Twilio sender, over HTTP against the stand-in:
the circuit breaker per account, bounded retries of what certainly did nothing, the rate of
each sending number (in the process, and shared through Redis); and, end to end through the
worker, a provider outage that defers tasks instead of burning their attempts."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from dependency_injector import providers

from lily_adapters.container import build_container
from lily_adapters.provider_policy import ProviderPolicy
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_adapters.twilio import TwilioSmsSender
from lily_core.domain.leads import MessageStatus
from lily_core.domain.tenant import Tenant
from lily_core.errors import (
    DeliveryOutcomeUnknown,
    PermanentDeliveryError,
    ProviderUnavailable,
    TransientDeliveryError,
)
from lily_core.testing import FakeClock
from lily_core.use_cases.missed_call import VoiceEvent
from lily_worker.wiring import build_worker
from tests.standins.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioStandIn


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn() as twilio:
        yield twilio


def tenant(phone: str = "+15125550199") -> Tenant:
    return Tenant(name="Acme", slug=f"acme-{phone[-4:]}", phone=phone, created_at=datetime.now(UTC))


def sender(standin: TwilioStandIn, **policy: Any) -> TwilioSmsSender:
    options: dict[str, Any] = {"sends_per_second": None, "attempts": 1, **policy}
    return TwilioSmsSender(
        DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, api_url=standin.url,
        policy=ProviderPolicy(**options),
    )  # fmt: skip


def posts(standin: TwilioStandIn) -> int:
    return sum(1 for r in standin.requests if r.method == "POST")


def test_an_outage_opens_the_circuit_and_calls_then_fail_fast(standin: TwilioStandIn) -> None:
    twilio = sender(standin, fail_max=3, reset_timeout=60)
    standin.go_down()
    for _ in range(2):
        with pytest.raises(TransientDeliveryError) as raised:
            twilio.send(tenant(), to="+15125550100", body="Hi")
        assert not isinstance(raised.value, ProviderUnavailable)
    with pytest.raises(ProviderUnavailable):  # the third failure opens it: deferred too
        twilio.send(tenant(), to="+15125550100", body="Hi")
    assert posts(standin) == 3

    with pytest.raises(ProviderUnavailable) as raised:
        twilio.send(tenant(), to="+15125550100", body="Hi")
    assert posts(standin) == 3  # not called
    assert raised.value.retry_after is not None and 50 <= raised.value.retry_after <= 66


def test_the_circuit_closes_when_a_trial_call_succeeds(standin: TwilioStandIn) -> None:
    twilio = sender(standin, fail_max=2, reset_timeout=0.3)
    standin.go_down()
    for _ in range(2):
        with pytest.raises(TransientDeliveryError):
            twilio.send(tenant(), to="+15125550100", body="Hi")
    time.sleep(0.4)
    with pytest.raises(ProviderUnavailable):  # the half-open trial fails: open again
        twilio.send(tenant(), to="+15125550100", body="Hi")
    standin.come_back()
    time.sleep(0.4)

    twilio.send(tenant(), to="+15125550100", body="Hi")
    twilio.send(tenant(), to="+15125550100", body="Again")
    assert [m.body for m in standin.messages] == ["Hi", "Again"]


def test_refusals_do_not_open_the_circuit(standin: TwilioStandIn) -> None:
    twilio = sender(standin, fail_max=2)
    for _ in range(5):
        standin.fail_next(400, 21211, "Invalid 'To' Phone Number")
        with pytest.raises(PermanentDeliveryError):
            twilio.send(tenant(), to="+15125550100", body="Hi")
    twilio.send(tenant(), to="+15125550100", body="Hi")
    assert len(standin.messages) == 1


def test_each_account_has_its_own_circuit(standin: TwilioStandIn) -> None:
    other_sid, other_token = "AC" + "2" * 32, "other-token"
    standin.accounts[other_sid] = other_token
    twilio = sender(standin, fail_max=1)
    own = tenant("+15125550111")
    own = Tenant(
        name="Own", slug="own", phone=own.phone, created_at=own.created_at,
        twilio_account_sid=other_sid, twilio_auth_token=other_token,
    )  # fmt: skip
    standin.fail_next(500, 20500)
    with pytest.raises(ProviderUnavailable):  # the platform account's circuit opens
        twilio.send(tenant(), to="+15125550100", body="Hi")

    twilio.send(own, to="+15125550100", body="Hi")  # the subaccount's is closed
    assert [m.account_sid for m in standin.messages] == [other_sid]


def test_a_failure_that_did_nothing_is_retried_with_jitter(standin: TwilioStandIn) -> None:
    twilio = sender(standin, attempts=3)
    standin.fail_next(503, 20503)
    standin.fail_next(429, 20429)

    result = twilio.send(tenant(), to="+15125550100", body="Hi")

    assert posts(standin) == 3
    assert [m.sid for m in standin.messages] == [result.provider_sid]


def test_retries_are_bounded(standin: TwilioStandIn) -> None:
    twilio = sender(standin, attempts=3, fail_max=100)
    standin.go_down()
    with pytest.raises(TransientDeliveryError):
        twilio.send(tenant(), to="+15125550100", body="Hi")
    assert posts(standin) == 3


def test_a_lost_answer_is_never_retried_inline(standin: TwilioStandIn) -> None:
    twilio = sender(standin, attempts=3)
    standin.drop_next()
    with pytest.raises(DeliveryOutcomeUnknown):
        twilio.send(tenant(), to="+15125550100", body="Hi")
    assert posts(standin) == 1
    assert len(standin.messages) == 1  # it went out once: the re-run adopts it


def test_one_number_sends_at_its_rate_others_are_not_held_up(standin: TwilioStandIn) -> None:
    twilio = sender(standin, sends_per_second=2)
    started = time.monotonic()
    for i in range(5):
        twilio.send(tenant(), to=f"+1512555010{i}", body="Hi")
    one_number = time.monotonic() - started
    started = time.monotonic()
    for i in range(5):
        twilio.send(tenant(f"+151255502{i:02d}"), to="+15125550100", body="Hi")
    many_numbers = time.monotonic() - started

    assert one_number >= 1.0  # 5 sends at 2 a second: at least two more windows
    assert many_numbers < 1.0
    assert len(standin.messages) == 10


def test_a_number_with_no_slot_in_time_is_deferred(standin: TwilioStandIn) -> None:
    twilio = sender(standin, sends_per_second=1, max_wait=0.2)
    twilio.send(tenant(), to="+15125550100", body="Hi")
    with pytest.raises(ProviderUnavailable):
        twilio.send(tenant(), to="+15125550101", body="Hi")
    assert len(standin.messages) == 1


@pytest.mark.redis
def test_the_rate_is_shared_by_every_worker_through_redis(
    standin: TwilioStandIn, redis_url: str
) -> None:
    number = f"+1512{uuid.uuid4().int % 10**7:07d}"  # a key of its own in a shared Redis
    workers = [sender(standin, sends_per_second=1, redis_url=redis_url) for _ in range(2)]
    times: list[float] = []

    def send(twilio: TwilioSmsSender, to: str) -> None:
        twilio.send(tenant(number), to=to, body="Hi")
        times.append(time.monotonic())

    threads = [
        threading.Thread(target=send, args=(w, f"+1512555011{i}"))
        for i, w in enumerate(workers * 2)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(standin.messages) == 4
    assert max(times) - started >= 2.5  # four sends, one a second, across two "workers"
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"*{number}*"):
        client.delete(key)


def test_an_outage_defers_tasks_and_dead_letters_none(
    tmp_path: Path, standin: TwilioStandIn
) -> None:
    """Twilio is down while ten text-backs fall due, for many times the attempts' backoff;
    when it is back every text goes out once, and no task was dead-lettered."""
    db_url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(db_url)
    container = build_container(
        Settings(
            database_url=db_url, data_dir=tmp_path, _env_file=None,
            twilio_account_sid=DEFAULT_ACCOUNT_SID, twilio_auth_token=DEFAULT_AUTH_TOKEN,
            twilio_api_url=standin.url, task_max_attempts=3,
        )
    )  # fmt: skip
    clock = FakeClock()
    container.clock.override(providers.Object(clock))
    container.sms_sender.override(
        providers.Object(sender(standin, fail_max=3, reset_timeout=0.2, attempts=2))
    )
    shop = container.onboard_tenant()(name="Acme Wash Co", phone="+12145550100")
    callers = [f"+121455501{i:02d}" for i in range(10)]
    for i, caller in enumerate(callers):
        container.handle_voice_call()(shop, VoiceEvent(f"CA{i:032d}", caller, "no-answer", None))
    standin.go_down()
    worker = build_worker(container)
    for _ in range(30):  # half an hour on the fake clock
        clock.advance(minutes=1)
        worker.run_burst()
        time.sleep(0.25)  # the breaker's reset timeout is real time
    assert standin.messages == []
    assert container.queue().stats().dead == 0

    standin.come_back()
    for _ in range(30):
        clock.advance(minutes=1)
        worker.run_burst()
        if len(standin.messages) == len(callers):
            break
        time.sleep(0.25)

    assert sorted(m.to for m in standin.messages) == callers
    assert container.queue().stats() == type(container.queue().stats())(0, 0, 0, 0)
    uow = container.uow()
    with uow.for_tenant(shop.id):
        recorded = [uow.messages.get_by_provider_sid(shop.id, m.sid) for m in standin.messages]
        assert [m.status if m else None for m in recorded] == [MessageStatus.SENT] * 10
    container.shutdown_resources()

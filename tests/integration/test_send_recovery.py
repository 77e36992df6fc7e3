"""A text-back whose send was interrupted, and whose task was lost with it (the worker died
mid-send, then Redis was flushed): the reconciler re-queues the message stuck in SENDING,
and the re-run asks the provider: over HTTP, the Twilio stand-in's Messages list has it, so
its SID is adopted and nothing is sent twice; the sandbox never sent anything, so it is
sent (logged) once more. Either way the message is recorded sent, once (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from dependency_injector import providers
from loguru import logger

from lily_adapters.container import Container, build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_core.domain.leads import MessageStatus
from lily_core.testing import FakeClock
from lily_core.use_cases.missed_call import VoiceEvent
from lily_worker.wiring import build_worker
from tests.standins.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioStandIn

pytestmark = pytest.mark.redis

CALLER = "+12145550123"


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn() as twilio:
        yield twilio


def _lily(tmp_path: Path, redis_url: str, **settings: Any) -> tuple[Container, FakeClock]:
    redis.Redis.from_url(redis_url).flushdb()
    db_url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(db_url)
    container = build_container(
        Settings(
            database_url=db_url, redis_url=redis_url, data_dir=tmp_path, _env_file=None,
            **settings,
        )
    )  # fmt: skip
    clock = FakeClock()
    container.clock.override(providers.Object(clock))
    return container, clock


def _crash_mid_send(container: Container, clock: FakeClock, *, provider_accepts: bool) -> str:
    """A missed call's text-back, claimed by a worker that marks it SENDING, hands it to
    the provider (or not) and dies; then Redis loses every task. Returns the message id."""
    tenant = container.onboard_tenant()(name="Acme Wash Co", phone="+12145550100")
    result = container.handle_voice_call()(
        tenant, VoiceEvent("CA" + "1" * 32, CALLER, "no-answer", None)
    )
    message_id = str(result.message_id)
    clock.advance(minutes=1)
    assert len(container.queue().claim(1, lease_seconds=30)) == 1  # the worker has it
    uow = container.uow()
    with uow.for_tenant(tenant.id):
        message = uow.messages.get(tenant.id, message_id)
        assert message is not None
        message.status, message.updated_at = MessageStatus.SENDING, clock.now()
        uow.commit()
        body = message.body
    if provider_accepts:
        container.sms_sender().send(tenant, to=CALLER, body=body)
    redis.Redis.from_url(container.settings().redis_url or "").flushdb()
    assert container.queue().stats().in_flight == 0  # the task is gone with the flush
    return message_id


def _status_and_sid(container: Container, message_id: str) -> tuple[MessageStatus, str | None]:
    uow = container.uow()
    with uow.across_tenants():
        tenants = uow.tenants.list()
        for tenant in tenants:
            message = uow.messages.get(tenant.id, message_id)
            if message is not None:
                return message.status, message.provider_sid
    raise AssertionError("no such message")


def test_twilio_an_interrupted_send_that_went_out_is_adopted(
    tmp_path: Path, redis_url: str, standin: TwilioStandIn
) -> None:
    container, clock = _lily(
        tmp_path, redis_url, twilio_account_sid=DEFAULT_ACCOUNT_SID,
        twilio_auth_token=DEFAULT_AUTH_TOKEN, twilio_api_url=standin.url,
    )  # fmt: skip
    message_id = _crash_mid_send(container, clock, provider_accepts=True)
    [accepted] = standin.messages

    assert container.reconcile_outbox()() == 0  # within the grace: its task may be running
    clock.advance(minutes=3)
    reconciled = container.reconcile_outbox().reconcile()
    assert (reconciled.queued, reconciled.sending) == (0, 1)
    assert container.reconcile_outbox().reconcile().total == 0  # queued once
    build_worker(container).run_burst()

    assert _status_and_sid(container, message_id) == (MessageStatus.SENT, accepted.sid)
    assert len(standin.messages) == 1  # not sent twice
    assert container.queue().stats() == type(container.queue().stats())(0, 0, 0, 0)
    container.shutdown_resources()


def test_twilio_an_interrupted_send_that_never_went_out_is_sent_once(
    tmp_path: Path, redis_url: str, standin: TwilioStandIn
) -> None:
    container, clock = _lily(
        tmp_path, redis_url, twilio_account_sid=DEFAULT_ACCOUNT_SID,
        twilio_auth_token=DEFAULT_AUTH_TOKEN, twilio_api_url=standin.url,
    )  # fmt: skip
    message_id = _crash_mid_send(container, clock, provider_accepts=False)
    clock.advance(minutes=3)

    assert container.reconcile_outbox()() == 1
    build_worker(container).run_burst()

    [sent] = standin.messages
    assert sent.to == CALLER
    assert _status_and_sid(container, message_id) == (MessageStatus.SENT, sent.sid)
    container.shutdown_resources()


def test_twilio_a_lost_answer_is_not_sent_twice(
    tmp_path: Path, redis_url: str, standin: TwilioStandIn
) -> None:
    """Twilio accepts the text-back and the connection breaks before its answer: the task
    retries, the retry finds the message in Twilio's list and adopts it."""
    container, clock = _lily(
        tmp_path, redis_url, twilio_account_sid=DEFAULT_ACCOUNT_SID,
        twilio_auth_token=DEFAULT_AUTH_TOKEN, twilio_api_url=standin.url,
    )  # fmt: skip
    tenant = container.onboard_tenant()(name="Acme Wash Co", phone="+12145550100")
    result = container.handle_voice_call()(
        tenant, VoiceEvent("CA" + "2" * 32, CALLER, "no-answer", None)
    )
    standin.drop_next()
    clock.advance(minutes=1)
    build_worker(container).run_burst()  # the send's answer is lost: retried later
    assert _status_and_sid(container, str(result.message_id))[0] == MessageStatus.SENDING

    clock.advance(minutes=10)  # past the retry's backoff
    build_worker(container).run_burst()

    [accepted] = standin.messages
    assert _status_and_sid(container, str(result.message_id)) == (
        MessageStatus.SENT,
        accepted.sid,
    )
    container.shutdown_resources()


def test_sandbox_an_interrupted_send_is_sent_again_and_recorded_once(
    tmp_path: Path, redis_url: str
) -> None:
    container, clock = _lily(tmp_path, redis_url)
    message_id = _crash_mid_send(container, clock, provider_accepts=True)
    clock.advance(minutes=3)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO")
    try:
        assert container.reconcile_outbox()() == 1
        build_worker(container).run_burst()
    finally:
        logger.remove(sink)

    status, sid = _status_and_sid(container, message_id)
    assert status == MessageStatus.SANDBOX and sid is not None
    assert any("interrupted send recovered" in line for line in lines)
    assert container.reconcile_outbox()() == 0
    container.shutdown_resources()

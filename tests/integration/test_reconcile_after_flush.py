"""The database is the source of truth for what must be sent: a Redis that loses every
task (FLUSHDB, as after a restart without persistence) loses no text-back."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from dependency_injector import providers

from lily_adapters.container import build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_core.domain.leads import MessageStatus
from lily_core.testing import FakeClock
from lily_core.use_cases.missed_call import CallOutcome, VoiceEvent
from lily_worker.wiring import build_worker

pytestmark = pytest.mark.redis


def test_a_flushed_redis_loses_no_committed_message(tmp_path: Path, redis_url: str) -> None:
    redis.Redis.from_url(redis_url).flushdb()
    db_url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(db_url)
    container = build_container(
        Settings(database_url=db_url, redis_url=redis_url, data_dir=tmp_path, _env_file=None)
    )
    clock = FakeClock()
    container.clock.override(providers.Object(clock))
    tenant = container.onboard_tenant()(name="Acme Wash Co", phone="+12145550100")
    result = container.handle_voice_call()(
        tenant, VoiceEvent("CA" + "1" * 32, "+12145550123", "no-answer", None)
    )
    assert result.outcome == CallOutcome.MISSED
    queue = container.queue()
    assert queue.stats().scheduled == 1

    redis.Redis.from_url(redis_url).flushdb()  # the queue forgets everything
    assert queue.stats().scheduled == 0

    clock.advance(minutes=5)  # past the jitter and the reconciler's grace
    assert container.reconcile_outbox()() == 1
    assert container.reconcile_outbox()() == 0  # its task is queued again: no double
    build_worker(container).run_burst()

    uow = container.uow()
    with uow.across_tenants():
        message = uow.messages.get(tenant.id, result.message_id)
        assert message is not None and message.status == MessageStatus.SANDBOX
    assert container.reconcile_outbox()() == 0  # sent: nothing left to reconcile
    assert queue.stats() == type(queue.stats())(0, 0, 0, 0)
    container.shutdown_resources()

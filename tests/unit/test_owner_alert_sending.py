"""SendOwnerAlerts and the flows' alerts (issue 18) against the in-memory fakes: what the
owner's phones receive, what is recorded, and what goes wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lily_core.domain.compliance import Jitter
from lily_core.domain.owner_alerts import AlertStatus
from lily_core.domain.tenant import Tenant
from lily_core.errors import RecipientOptedOut, TransientDeliveryError
from lily_core.ports.queue import Task
from lily_core.testing import FakeClock, FakeSmsSender, InMemoryDatabase, InMemoryUnitOfWork
from lily_core.testing.queue import InMemoryJitterQueue
from lily_core.use_cases.missed_call import HandleVoiceCall, VoiceEvent
from lily_core.use_cases.owner_alerts import (
    OWNER_ALERTS_TASK,
    AlertOutcome,
    ReconcileOwnerAlerts,
    SendOwnerAlerts,
)

NOW = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 10:00 in Chicago
OWNER, OWNER_2 = "+15125550199", "+15125550177"
CALLER = "+15125550123"


class World:
    def __init__(self, **settings: object) -> None:
        self.db = InMemoryDatabase()
        self.clock = FakeClock(NOW)
        self.queue = InMemoryJitterQueue(self.clock)
        self.sms = FakeSmsSender()
        self.tenant = Tenant(
            name="Acme", slug="acme", phone="+15125550100", forward_to=OWNER, created_at=NOW
        )
        for key, value in settings.items():
            setattr(self.tenant, key, value)
        with self.uow() as uow:
            uow.tenants.add(self.tenant)
            uow.commit()

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)

    def missed_call(self, sid: str, caller: str = CALLER) -> None:
        call = HandleVoiceCall(self.uow(), self.queue, self.clock, Jitter(10, 45))
        call(self.tenant, VoiceEvent(sid, caller, "in-progress", "no-answer"))

    def flush(self, at: datetime) -> AlertOutcome:
        self.clock.current = at
        task = Task(id="t", type=OWNER_ALERTS_TASK, tenant_id=self.tenant.id, payload={}, run_at=at)
        send = SendOwnerAlerts(self.uow(), self.queue, self.clock, self.sms, "https://l.example")
        return send(task)

    def alerts(self) -> list[AlertStatus]:
        """The committed alerts' statuses."""
        return [a.status for a in self.db.tables["owner_alerts"].values()]

    def owner_tasks(self) -> list[datetime]:
        return [t.run_at for t in self.queue.scheduled if t.type == OWNER_ALERTS_TASK]


def test_a_missed_call_schedules_one_alert_a_minute_later_and_it_goes_once() -> None:
    world = World()
    world.missed_call("CA1")
    world.missed_call("CA1")  # the same call again: no second alert
    assert world.owner_tasks() == [NOW + timedelta(minutes=1)]
    assert world.flush(NOW + timedelta(seconds=30)) == AlertOutcome.NOT_DUE
    assert world.flush(NOW + timedelta(minutes=1)) == AlertOutcome.SENT
    [sent] = world.sms.sent
    assert sent.to == OWNER and "Missed call from (512) 555-0123" in sent.body
    assert world.flush(NOW + timedelta(minutes=2)) == AlertOutcome.NOTHING
    assert world.alerts() == [AlertStatus.SENT]


def test_every_number_gets_it_and_a_carrier_stop_is_recorded() -> None:
    world = World(notify_to=[OWNER, OWNER_2])
    world.missed_call("CA1")
    world.sms.fail_next = [RecipientOptedOut("21610", code="21610")]
    assert world.flush(NOW + timedelta(minutes=1)) == AlertOutcome.SENT
    assert [m.to for m in world.sms.sent] == [OWNER_2]
    with world.uow() as uow:
        tenant = uow.tenants.get(world.tenant.id)
    assert tenant is not None and list(tenant.alert_stops) == [OWNER]
    assert tenant.alert_recipients() == [OWNER_2]


def test_no_number_drops_the_alerts_and_a_failure_everywhere_is_recorded() -> None:
    world = World(forward_to=None)
    world.missed_call("CA1")  # no one to tell: nothing raised at all
    assert world.owner_tasks() == []

    world = World()
    world.missed_call("CA2")
    world.sms.fail_next = [TransientDeliveryError("down")]
    assert world.flush(NOW + timedelta(minutes=1)) == AlertOutcome.FAILED
    assert world.alerts() == [AlertStatus.DROPPED]
    with world.uow().for_tenant(world.tenant.id) as uow:
        [text] = uow.owner_alerts.texts_since(world.tenant.id, NOW)
    assert (text.sent, text.failed) == (0, True)


def test_two_workers_never_send_the_same_alerts() -> None:
    world = World()
    world.missed_call("CA1")
    at = NOW + timedelta(minutes=1)
    world.clock.current = at
    task = Task(id="t", type=OWNER_ALERTS_TASK, tenant_id=world.tenant.id, payload={}, run_at=at)
    first = world.uow().for_tenant(world.tenant.id)
    with first:
        [alert] = first.owner_alerts.pending(world.tenant.id)
        assert first.owner_alerts.claim(world.tenant.id, [alert.id], "other")
        first.commit()
    send = SendOwnerAlerts(world.uow(), world.queue, world.clock, world.sms, "https://l.example")
    assert send(task) == AlertOutcome.NOTHING  # nothing pending any more
    assert world.sms.sent == []


def test_the_reconciler_brings_back_a_lost_task() -> None:
    world = World()
    world.missed_call("CA1")
    for task in world.queue.scheduled:
        world.queue.ack(task.id, None)  # the queue lost them all
    world.clock.current = NOW + timedelta(minutes=5)
    assert ReconcileOwnerAlerts(world.uow(), world.queue, world.clock)() == 1
    assert world.owner_tasks() == [NOW + timedelta(minutes=1)]

"""SendOwnerAlerts and the flows' alerts (issue 18) against the in-memory fakes: what the
owner's phones receive, what is recorded, and what goes wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lily_core.domain.billing import BillingPolicy
from lily_core.domain.chatwoot_events import ChatwootInbound
from lily_core.domain.compliance import Jitter
from lily_core.domain.owner_alerts import ANSWER_GRACE, AlertStatus
from lily_core.domain.tenant import Tenant
from lily_core.errors import RecipientOptedOut, TransientDeliveryError
from lily_core.ports.queue import Task
from lily_core.testing import FakeClock, FakeSmsSender, InMemoryDatabase, InMemoryUnitOfWork
from lily_core.testing.queue import InMemoryJitterQueue
from lily_core.testing.stats import InMemoryStatsRepository
from lily_core.use_cases.billing_gate import BillingGate
from lily_core.use_cases.chatwoot_inbound import HandleChatwootMessage
from lily_core.use_cases.digest import SendDailyDigests
from lily_core.use_cases.inbound import InboundOutcome
from lily_core.use_cases.missed_call import HandleVoiceCall, VoiceEvent
from lily_core.use_cases.owner_alerts import (
    OWNER_ALERTS_TASK,
    AlertOutcome,
    ReconcileOwnerAlerts,
    SendOwnerAlerts,
)
from lily_core.use_cases.send_message import SendMessage, SendOutcome
from lily_core.use_cases.stats import GetStats

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

    def flush(self, at: datetime, billing: BillingGate | None = None) -> AlertOutcome:
        self.clock.current = at
        task = Task(id="t", type=OWNER_ALERTS_TASK, tenant_id=self.tenant.id, payload={}, run_at=at)
        send = SendOwnerAlerts(
            self.uow(), self.queue, self.clock, self.sms, "https://l.example", billing
        )
        return send(task)

    def send_customer_texts(self, at: datetime) -> list[SendOutcome]:
        """The worker's sends of the customers' texts due by `at`, at `at`."""
        self.clock.current = at
        send = SendMessage(
            self.uow(),
            self.queue,
            self.clock,
            self.sms,
            status_callback_url=None,
            jitter=Jitter(0, 0),
            max_attempts=3,
        )
        outcomes = []
        for task in self.queue.claim(50, 60):
            if task.type == OWNER_ALERTS_TASK:
                self.queue.retry(task.id, task.run_at, "not this test's worker")
                continue
            outcomes.append(send(task))
            self.queue.ack(task.id)
        return outcomes

    def alerts(self) -> list[AlertStatus]:
        """The committed alerts' statuses."""
        return [a.status for a in self.db.tables["owner_alerts"].values()]

    def digests(self, billing: BillingGate | None = None) -> SendDailyDigests:
        stats = GetStats(InMemoryStatsRepository(self.db), self.clock)
        return SendDailyDigests(
            self.uow(), stats, self.clock, self.sms, "https://l.example", billing=billing
        )

    def trial_over(self) -> None:
        """The tenant was made 30 days ago: the 14-day trial is over, with no subscription."""
        self.tenant.created_at = NOW - timedelta(days=30)
        with self.uow() as uow:
            stored = uow.tenants.get(self.tenant.id)
            assert stored is not None
            stored.created_at = self.tenant.created_at
            uow.commit()

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


def test_the_text_back_going_out_closes_the_alerts_batch_a_few_seconds_later() -> None:
    world = World()
    world.missed_call("CA1")
    sent_at = NOW + timedelta(seconds=45)  # the text-back's jitter is at most 45 s
    assert world.send_customer_texts(sent_at) == [SendOutcome.SENT]
    assert world.sms.sent[0].to == CALLER
    closes = sent_at + ANSWER_GRACE
    assert closes in world.owner_tasks()  # the task for the batch's close, from the send
    assert world.flush(closes - timedelta(seconds=1)) == AlertOutcome.NOT_DUE
    assert world.flush(closes) == AlertOutcome.SENT
    assert [m.to for m in world.sms.sent] == [CALLER, OWNER]


def test_a_caller_the_carrier_says_opted_out_alerts_the_owner_once() -> None:
    world = World()
    world.missed_call("CA1")
    world.sms.fail_next = [RecipientOptedOut("unsubscribed", code="21610")]
    assert world.send_customer_texts(NOW + timedelta(seconds=45)) == [SendOutcome.OPTED_OUT]
    assert world.flush(NOW + timedelta(minutes=1)) == AlertOutcome.SENT
    [alert] = world.sms.sent
    assert "Missed call from (512) 555-0123" in alert.body
    assert "they opted out of texts (replied STOP)" in alert.body
    assert world.alerts() == [AlertStatus.SENT, AlertStatus.SENT]


def test_a_subscription_that_holds_texts_drops_the_alerts() -> None:
    world = World()
    world.trial_over()
    world.missed_call("CA1")
    held = BillingGate(BillingPolicy())
    assert world.flush(NOW + timedelta(minutes=1), held) == AlertOutcome.HELD
    assert world.sms.sent == []
    assert world.alerts() == [AlertStatus.DROPPED]
    with world.uow().for_tenant(world.tenant.id) as uow:
        [text] = uow.owner_alerts.texts_since(world.tenant.id, NOW)
    assert (text.sent, text.failed) == (0, True)
    assert text.error is not None and "trial ended" in text.error

    world.missed_call("CA2", caller="+15125550124")  # billing off: it goes
    assert world.flush(NOW + timedelta(minutes=2), BillingGate(None)) == AlertOutcome.SENT


def test_the_daily_digest_does_not_count_toward_the_hourly_limit() -> None:
    world = World(alerts_per_hour=1)
    [digest] = world.digests()()  # 10:00 local: the 07:00 digest is due, and goes
    assert digest.sms_sent == 1
    world.missed_call("CA1")
    assert world.flush(NOW + timedelta(minutes=1)) == AlertOutcome.SENT
    world.clock.current = NOW + timedelta(minutes=2)
    world.missed_call("CA2", caller="+15125550124")  # the limit counts the alert, not the digest
    assert world.flush(NOW + timedelta(minutes=3)) == AlertOutcome.NOT_DUE
    assert world.owner_tasks()[-1] == NOW + timedelta(minutes=1) + timedelta(hours=1)


def test_an_opt_out_in_chatwoot_alerts_the_owner_once() -> None:
    world = World(chatwoot_account_id=1, chatwoot_inbox_id=7)
    handle = HandleChatwootMessage(world.uow(), world.queue, world.clock)
    stop = ChatwootInbound(
        event="message_created",
        message_type="incoming",
        is_incoming=True,
        account_id=1,
        inbox_id=7,
        conversation_id=42,
        message_id=101,
        content="Stop.",
        sender_name="Pat Doe",
        sender_phone=CALLER,
        sender_email=None,
    )
    assert handle(world.tenant, stop).outcome == InboundOutcome.OPTED_OUT
    assert handle(world.tenant, stop).outcome == InboundOutcome.DUPLICATE  # delivered twice
    assert world.owner_tasks() == [NOW + timedelta(minutes=1)]
    assert world.flush(NOW + timedelta(minutes=1)) == AlertOutcome.SENT
    [alert] = world.sms.sent
    assert alert.to == OWNER
    assert "Pat Doe (512) 555-0123 opted out of texts (replied STOP)" in alert.body
    assert world.alerts() == [AlertStatus.SENT]


def test_a_subscription_that_holds_texts_holds_the_digests_sms_but_not_its_email() -> None:
    world = World()
    world.trial_over()
    [result] = world.digests(BillingGate(BillingPolicy()))()
    assert result.sms_sent == 0 and world.sms.sent == []
    assert result.errors == ("SMS held: the trial ended with no subscription",)

    world = World()  # in its trial: the digest goes
    [result] = world.digests(BillingGate(BillingPolicy()))()
    assert result.sms_sent == 1 and result.errors == ()

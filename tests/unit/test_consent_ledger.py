"""Issue 16's opt-out ledger with the in-memory fakes: every opt-out and opt-in recorded with
its evidence and message SID, the carrier's 21610 too; the ledger outlives a deleted lead
and is consulted at send time; the export lists it by tenant and date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lily_core.domain.compliance import Jitter
from lily_core.domain.consent import ConsentAction, ConsentRecord
from lily_core.domain.leads import MessageKind, MessageStatus
from lily_core.domain.tenant import Tenant
from lily_core.errors import NotFound, RecipientOptedOut
from lily_core.testing import (
    FakeClock,
    FakeSmsSender,
    InMemoryDatabase,
    InMemoryJitterQueue,
    InMemoryUnitOfWork,
)
from lily_core.use_cases.consent_export import ExportConsentLedger, ledger_row
from lily_core.use_cases.inbound import HandleInboundSms, InboundSms
from lily_core.use_cases.outbox import enqueue_send, open_conversation, queue_message, upsert_lead
from lily_core.use_cases.send_message import SendMessage, SendOutcome

START = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 10:00 in Dallas
CUSTOMER = "+12145550123"


class World:
    def __init__(self) -> None:
        self.db = InMemoryDatabase()
        self.clock = FakeClock(START)
        self.queue = InMemoryJitterQueue(self.clock)
        self.sms = FakeSmsSender()
        self.tenant = Tenant(name="Acme", slug="acme", phone="+12145550100", created_at=START)
        self.other = Tenant(name="Other", slug="other", phone="+12145550199", created_at=START)
        with self.uow().across_tenants() as uow:
            uow.tenants.add(self.tenant)
            uow.tenants.add(self.other)
            uow.commit()

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)

    def inbound(self, sid: str, body: str, opt_out_type: str | None = None) -> None:
        handle = HandleInboundSms(self.uow(), self.queue, self.clock)
        handle(self.tenant, InboundSms(sid, CUSTOMER, body, opt_out_type=opt_out_type))
        self.clock.advance(60)

    def queue_text(self) -> str:
        now = self.clock.now()
        with self.uow().for_tenant(self.tenant.id) as uow:
            lead, _ = upsert_lead(uow, self.tenant, CUSTOMER, now)
            conversation = open_conversation(uow, self.tenant, lead, now)
            conversation.last_customer_activity_at = now
            message = queue_message(
                uow, lead, conversation, kind=MessageKind.QUOTE, body="Hi", now=now
            )
            uow.commit()
        enqueue_send(self.queue, message, now)
        return message.id

    def send_due(self) -> list[SendOutcome]:
        send = SendMessage(
            self.uow(),
            self.queue,
            self.clock,
            self.sms,
            status_callback_url=None,
            jitter=Jitter(0, 0),
            max_attempts=5,
        )
        outcomes = []
        for task in self.queue.claim(10, lease_seconds=30):
            try:
                outcomes.append(send(task))
            finally:
                self.queue.ack(task.id)
        return outcomes

    def ledger(self, tenant: Tenant | None = None) -> list[ConsentRecord]:
        return ExportConsentLedger(self.uow())((tenant or self.tenant).slug)

    def delete_lead(self) -> None:
        with self.uow().for_tenant(self.tenant.id) as uow:
            lead = uow.leads.get_by_phone(self.tenant.id, CUSTOMER)
            assert lead is not None
            del uow.working["leads"][lead.id]
            uow.commit()


@pytest.fixture
def world() -> World:
    return World()


def test_every_stop_and_start_is_recorded_with_its_evidence_and_sid(world: World) -> None:
    world.inbound("SM" + "1" * 32, "  Stop! ")
    world.inbound("SM" + "2" * 32, "start")
    world.inbound("SM" + "3" * 32, "please stop texting me", opt_out_type="STOP")

    rows = [ledger_row(record) for record in world.ledger()]

    assert [(r["action"], r["evidence"], r["message_sid"]) for r in rows] == [
        ("opt_out", "keyword:Stop!", "SM" + "1" * 32),
        ("opt_in", "keyword:start", "SM" + "2" * 32),
        ("opt_out", "OptOutType:STOP", "SM" + "3" * 32),
    ]
    assert {(r["phone"], r["channel"]) for r in rows} == {(CUSTOMER, "sms")}
    assert rows[0]["created_at"] < rows[1]["created_at"] < rows[2]["created_at"]
    assert world.ledger(world.other) == []  # per tenant


def test_a_redelivered_stop_is_recorded_once(world: World) -> None:
    world.inbound("SM" + "1" * 32, "STOP")
    world.inbound("SM" + "1" * 32, "STOP")
    assert len(world.ledger()) == 1


def test_ordinary_messages_are_not_recorded(world: World) -> None:
    world.inbound("SM" + "1" * 32, "can you stop by tomorrow?")
    world.inbound("SM" + "2" * 32, "help")
    assert world.ledger() == []


def test_the_carriers_21610_is_recorded(world: World) -> None:
    world.queue_text()
    world.sms.fail_next.append(RecipientOptedOut("unsubscribed recipient", code="21610"))

    assert world.send_due() == [SendOutcome.OPTED_OUT]

    [record] = world.ledger()
    assert (record.action, record.evidence, record.phone) == (
        ConsentAction.OPT_OUT,
        "carrier:21610",
        CUSTOMER,
    )


def test_the_ledger_outlives_the_lead_and_is_consulted_at_send_time(world: World) -> None:
    world.inbound("SM" + "1" * 32, "STOP")
    world.delete_lead()
    assert len(world.ledger()) == 1

    message_id = world.queue_text()  # a new lead for the same number
    assert world.send_due() == [SendOutcome.SUPPRESSED]
    assert world.sms.sent == []
    with world.uow().for_tenant(world.tenant.id) as uow:
        message = uow.messages.get(world.tenant.id, message_id)
        assert message is not None and message.status == MessageStatus.SUPPRESSED


def test_an_opt_in_after_the_stop_lets_texts_go_again(world: World) -> None:
    world.inbound("SM" + "1" * 32, "STOP")
    world.inbound("SM" + "2" * 32, "UNSTOP")
    world.queue_text()
    assert world.send_due() == [SendOutcome.SENT]


def test_the_export_starts_at_since(world: World) -> None:
    world.inbound("SM" + "1" * 32, "STOP")
    world.clock.advance(timedelta(days=2).total_seconds())
    world.inbound("SM" + "2" * 32, "START")

    since = START + timedelta(days=1)
    [record] = ExportConsentLedger(world.uow())(world.tenant.slug, since)
    assert record.message_sid == "SM" + "2" * 32


def test_an_unknown_tenant_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        ExportConsentLedger(world.uow())("nobody")

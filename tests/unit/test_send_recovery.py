"""An interrupted send, found SENDING by its task's re-run (issue 13): the re-run asks the
provider and adopts what went out, or sends what did not; what cannot be cleared up is
marked FAILED (AMBIGUOUS_SEND), never sent twice and never left silent. With the fakes: the
worker's crash is an exception no handler catches, and its re-run is the task claimed again
after its lease ran out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lily_core.domain.compliance import Jitter
from lily_core.domain.leads import Channel, Lead, Message, MessageKind, MessageStatus
from lily_core.domain.tenant import Tenant
from lily_core.errors import DeliveryOutcomeUnknown, TransientDeliveryError
from lily_core.ports.providers import SentSms
from lily_core.testing import (
    FakeClock,
    FakeSmsSender,
    InMemoryDatabase,
    InMemoryJitterQueue,
    InMemoryUnitOfWork,
)
from lily_core.use_cases.outbox import enqueue_send, open_conversation, queue_message
from lily_core.use_cases.send_message import (
    AMBIGUOUS_SEND,
    AmbiguousDelivery,
    SendMessage,
    SendOutcome,
)

START = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 10:00 in Dallas: no quiet hours
LEASE = 30.0
MAX_ATTEMPTS = 5


class Crash(BaseException):
    """The worker process dying: nothing in the send path catches it."""


class ScriptedSender(FakeSmsSender):
    """A FakeSmsSender whose sends follow a script, one step per call (then plain sends):
    ok; crash_before / crash_after (the process dies before or after the provider accepted
    the message); lost / lost_unsent (the answer is lost: DeliveryOutcomeUnknown, with the
    message accepted or not). `lookups_down` makes that many find_sent calls fail."""

    def __init__(self, script: Sequence[str] = (), lookups_down: int = 0) -> None:
        super().__init__()
        self.script = list(script)
        self.lookups_down = lookups_down
        self.lookups = 0

    def send(self, tenant: Tenant, **kwargs: object) -> SentSms:  # type: ignore[override]
        step = self.script.pop(0) if self.script else "ok"
        if step in ("crash_before", "lost_unsent"):
            raise Crash() if step == "crash_before" else DeliveryOutcomeUnknown("read timeout")
        sent = super().send(tenant, **kwargs)  # type: ignore[arg-type]
        if step == "crash_after":
            raise Crash()
        if step == "lost":
            raise DeliveryOutcomeUnknown("connection cut")
        return sent

    def find_sent(self, tenant: Tenant, *, to: str, body: str, since: datetime) -> list[SentSms]:
        self.lookups += 1
        if self.lookups_down:
            self.lookups_down -= 1
            raise TransientDeliveryError("Twilio 503 listing messages")
        return super().find_sent(tenant, to=to, body=body, since=since)


class World:
    def __init__(self, sms: ScriptedSender) -> None:
        self.db = InMemoryDatabase()
        self.clock = FakeClock(START)
        self.queue = InMemoryJitterQueue(self.clock)
        self.sms = sms
        self.tenant = Tenant(
            name="Acme Wash", slug="acme-wash", phone="+12145550100", created_at=START
        )
        with self.uow().across_tenants() as uow:
            uow.tenants.add(self.tenant)
            uow.commit()
        self.lead = Lead(tenant_id=self.tenant.id, phone="+12145550177", created_at=START)
        with self.uow().for_tenant(self.tenant.id) as uow:
            uow.leads.add(self.lead)
            uow.commit()

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)

    def queue_text(
        self, body: str = "Sorry we missed your call!", channel: Channel = Channel.SMS
    ) -> str:
        now = self.clock.now()
        with self.uow().for_tenant(self.tenant.id) as uow:
            lead = uow.leads.get(self.tenant.id, self.lead.id)
            assert lead is not None
            conversation = open_conversation(uow, self.tenant, lead, now, channel)
            conversation.last_customer_activity_at = now
            message = queue_message(
                uow, lead, conversation, kind=MessageKind.MISSED_CALL, body=body, now=now
            )
            uow.commit()
        enqueue_send(self.queue, message, now, conversation=conversation)
        return message.id

    def run_worker(self, rounds: int = 20) -> list[object]:
        """Claim and run due tasks as the worker does, until none is left: a Crash leaves
        the task leased (its re-run comes when the lease runs out), a transient error
        retries it a minute later, the last attempt or a permanent error dead-letters it.
        Returns each run's outcome (or the error it raised)."""
        send = SendMessage(
            self.uow(),
            self.queue,
            self.clock,
            self.sms,
            status_callback_url=None,
            jitter=Jitter(0, 0),
            max_attempts=MAX_ATTEMPTS,
        )
        outcomes: list[object] = []
        for _ in range(rounds):
            self.clock.advance(LEASE + 1)
            tasks = self.queue.claim(10, LEASE)
            if not tasks:
                break
            for task in tasks:
                try:
                    outcomes.append(send(task))
                except Crash:
                    outcomes.append("crash")
                    continue
                except AmbiguousDelivery as exc:
                    outcomes.append(exc)
                    self.queue.dead_letter(task.id, str(exc), task.lease)
                    continue
                except TransientDeliveryError as exc:
                    outcomes.append(exc)
                    if task.attempts >= MAX_ATTEMPTS:
                        self.queue.dead_letter(task.id, str(exc), task.lease)
                    else:
                        self.queue.retry(task.id, self.clock.now(), str(exc), task.lease)
                    continue
                self.queue.ack(task.id, task.lease)
        return outcomes

    def message(self, message_id: str) -> Message:
        with self.uow().for_tenant(self.tenant.id) as uow:
            found = uow.messages.get(self.tenant.id, message_id)
        assert found is not None
        return found


def test_a_crash_after_the_provider_accepted_adopts_its_sid() -> None:
    world = World(ScriptedSender(["crash_after"]))
    message_id = world.queue_text()

    assert world.run_worker() == ["crash", SendOutcome.ADOPTED]

    [sent] = world.sms.sent
    message = world.message(message_id)
    assert (message.status, message.provider_sid) == (MessageStatus.SENT, sent.sid)
    assert world.queue.stats().dead == 0


def test_a_crash_before_the_provider_call_sends_it_on_the_re_run() -> None:
    world = World(ScriptedSender(["crash_before"]))
    message_id = world.queue_text()

    assert world.run_worker() == ["crash", SendOutcome.RESENT]

    [sent] = world.sms.sent
    assert world.message(message_id).provider_sid == sent.sid


@pytest.mark.parametrize(("step", "outcome"), [("lost", "adopted"), ("lost_unsent", "resent")])
def test_a_lost_answer_keeps_the_message_sending_and_the_retry_finds_out(
    step: str, outcome: str
) -> None:
    world = World(ScriptedSender([step]))
    message_id = world.queue_text()

    [lost, result] = world.run_worker()

    assert isinstance(lost, DeliveryOutcomeUnknown)
    assert result == SendOutcome(outcome)
    [sent] = world.sms.sent
    message = world.message(message_id)
    assert (message.status, message.provider_sid) == (MessageStatus.SENT, sent.sid)


def test_a_provider_that_cannot_be_asked_is_asked_again_then_the_send_is_ambiguous() -> None:
    world = World(ScriptedSender(["crash_after"], lookups_down=100))
    message_id = world.queue_text()

    outcomes = world.run_worker()

    assert outcomes[0] == "crash"
    assert all(isinstance(o, TransientDeliveryError) for o in outcomes[1:-1])
    assert isinstance(outcomes[-1], AmbiguousDelivery)
    assert len(outcomes) == MAX_ATTEMPTS
    message = world.message(message_id)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, AMBIGUOUS_SEND)
    assert len(world.sms.sent) == 1  # never sent twice
    assert world.queue.stats().dead == 1


def test_a_lookup_that_recovers_in_time_adopts() -> None:
    world = World(ScriptedSender(["crash_after"], lookups_down=2))
    message_id = world.queue_text()

    outcomes = world.run_worker()

    assert outcomes[-1] == SendOutcome.ADOPTED
    assert world.message(message_id).status == MessageStatus.SENT
    assert len(world.sms.sent) == 1


def test_a_sid_another_message_holds_is_not_adopted() -> None:
    """The same text twice to one lead: the first went out; the second crashed before its
    call. The provider's only match is the first's, so the second is sent."""
    world = World(ScriptedSender(["ok", "crash_before"]))
    first = world.queue_text(body="Reply HELP for help")
    world.run_worker()
    second = world.queue_text(body="Reply HELP for help")

    assert world.run_worker() == ["crash", SendOutcome.RESENT]

    assert len(world.sms.sent) == 2
    assert world.message(first).provider_sid != world.message(second).provider_sid


def test_an_interrupted_chatwoot_reply_is_marked_ambiguous_not_resent() -> None:
    world = World(ScriptedSender())
    message_id = world.queue_text(channel=Channel.CHATWOOT)
    with world.uow().for_tenant(world.tenant.id) as uow:  # as a crash mid-send leaves it
        message = uow.messages.get(world.tenant.id, message_id)
        assert message is not None
        message.status = MessageStatus.SENDING
        uow.commit()

    assert world.run_worker() == [SendOutcome.AMBIGUOUS]
    message = world.message(message_id)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, AMBIGUOUS_SEND)


STEPS = st.sampled_from(["ok", "crash_before", "crash_after", "lost", "lost_unsent"])


@settings(max_examples=200, deadline=None)
@given(
    script=st.lists(STEPS, max_size=MAX_ATTEMPTS - 1),
    lookups_down=st.integers(0, 2),
)
def test_however_sends_are_interrupted_the_text_goes_out_exactly_once(
    script: list[str], lookups_down: int
) -> None:
    """Crashes before and after the provider's acceptance, lost answers, a provider list
    that fails a few times, in any order (fewer interruptions than attempts): the message
    ends SENT, with the SID of the one text the provider has."""
    world = World(ScriptedSender(script, lookups_down=lookups_down))
    message_id = world.queue_text()

    world.run_worker(rounds=40)

    message = world.message(message_id)
    if message.status == MessageStatus.FAILED:  # only if the lookups used up the attempts
        assert message.error_code == AMBIGUOUS_SEND
        assert len(world.sms.sent) <= 1
        return
    [sent] = world.sms.sent
    assert (message.status, message.provider_sid) == (MessageStatus.SENT, sent.sid)

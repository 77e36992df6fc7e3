"""Chatwoot messages (DESIGN §2.2.1): recorded once, tied to a lead by phone or email, and
answered into the same Chatwoot conversation; plus the booking link on its own."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lily_core.domain.chatwoot_events import ChatwootAttachment, ChatwootInbound
from lily_core.domain.compliance import Jitter
from lily_core.domain.conversation import booking_link
from lily_core.domain.leads import Channel, Direction, Lead, Message, MessageKind, MessageStatus
from lily_core.domain.tenant import Tenant
from lily_core.ports.queue import TaskType
from lily_core.testing import (
    FakeChatwootClient,
    FakeClock,
    FakeSmsSender,
    InMemoryDatabase,
    InMemoryUnitOfWork,
)
from lily_core.testing.queue import InMemoryJitterQueue
from lily_core.use_cases.chatwoot_inbound import HandleChatwootMessage, IgnoredChatwootMessage
from lily_core.use_cases.conversation import AdvanceConversation, ConversationOutcome
from lily_core.use_cases.inbound import HandleInboundSms, InboundOutcome, InboundSms
from lily_core.use_cases.pricebooks import save_pricebook
from lily_core.use_cases.send_message import SendMessage, SendOutcome
from tests.unit.test_pricebook import example

PHONE = "+12145550123"


class World:
    def __init__(self) -> None:
        self.db = InMemoryDatabase()
        self.clock = FakeClock()
        self.queue = InMemoryJitterQueue(self.clock)
        self.tenant = Tenant(
            name="Acme Wash",
            slug="acme-wash",
            phone="+12145550100",
            booking_url="https://cal.com/acme/estimate",
            chatwoot_account_id=1,
            chatwoot_inbox_id=7,
            chatwoot_secret="s3cret",
            created_at=self.clock.now(),
        )
        uow = InMemoryUnitOfWork(self.db)
        with uow.across_tenants():
            uow.tenants.add(self.tenant)
            save_pricebook(uow, self.clock, self.tenant.id, example())
            uow.commit()
        self.handle = HandleChatwootMessage(InMemoryUnitOfWork(self.db), self.queue, self.clock)
        self.advance = AdvanceConversation(
            InMemoryUnitOfWork(self.db), self.queue, self.clock, Jitter(10, 45, random.Random(3))
        )
        self.chatwoot = FakeChatwootClient()
        self.send = SendMessage(
            InMemoryUnitOfWork(self.db),
            self.queue,
            self.clock,
            FakeSmsSender(),
            status_callback_url=None,
            jitter=Jitter(0, 0),
            max_attempts=5,
            chatwoot=self.chatwoot,
        )
        self._ids = 100

    def event(self, content: str = "", **changes: Any) -> ChatwootInbound:
        self._ids += 1
        fields: dict[str, Any] = {
            "event": "message_created",
            "message_type": "incoming",
            "is_incoming": True,
            "account_id": 1,
            "inbox_id": 7,
            "conversation_id": 42,
            "message_id": self._ids,
            "content": content,
            "sender_name": "Pat Doe",
            "sender_phone": PHONE,
            "sender_email": "pat@example.com",
        }
        fields.update(changes)
        return ChatwootInbound(**fields)

    def deliver(self, event: ChatwootInbound) -> ConversationOutcome | InboundOutcome:
        self.clock.advance(minutes=1)
        result = self.handle(self.tenant, event)
        if result.outcome != InboundOutcome.CONVERSATION:
            return result.outcome
        assert result.lead_id and result.message_id
        return self.advance(self.tenant, result.lead_id, result.message_id).outcome

    def rows(self, table: str) -> list[Any]:
        return sorted(self.db.tables[table].values(), key=lambda r: r.created_at)

    def outbound(self) -> list[Message]:
        return [m for m in self.rows("messages") if m.direction == Direction.OUTBOUND]

    def run_due(self) -> list[SendOutcome]:
        """Run every due reply task the way the worker would."""
        self.clock.advance(minutes=5)
        tasks = self.queue.claim(10, 60)
        outcomes = []
        for task in tasks:
            if task.type in (TaskType.CHATWOOT_REPLY, TaskType.SEND_MESSAGE):
                outcomes.append(self.send(task))
            self.queue.ack(task.id)
        return outcomes


def image(url: str = "https://chat.example/rails/active_storage/1.jpg") -> ChatwootAttachment:
    return ChatwootAttachment(url, "image")


@pytest.fixture
def world() -> World:
    return World()


def test_photos_and_zip_quote_back_into_the_chatwoot_conversation(world: World) -> None:
    assert world.deliver(world.event("my house", attachments=(image(),))) == (
        ConversationOutcome.PROMPTED
    )
    assert world.deliver(world.event("75201")) == ConversationOutcome.QUOTED

    (lead,) = world.rows("leads")
    assert (lead.phone, lead.email, lead.name) == (PHONE, "pat@example.com", "Pat Doe")
    (conversation,) = world.rows("conversations")
    assert conversation.channel == Channel.CHATWOOT and conversation.chatwoot_conversation_id == 42
    first = world.rows("messages")[0]
    assert first.provider_sid == "chatwoot:1:101"
    assert first.media == [{"url": image().url, "content_type": "image/*"}]

    assert {t.type for t in world.queue.scheduled} >= {TaskType.CHATWOOT_REPLY, TaskType.COPY_MEDIA}
    # The ZIP prompt was still waiting out its jitter when the ZIP came: only the quote goes.
    assert sorted(world.run_due()) == sorted([SendOutcome.ALREADY_DONE, SendOutcome.SENT])
    ((_, conv_id, quote),) = world.chatwoot.replies
    assert conv_id == 42 and "$250–$450" in quote
    link = quote.split("Book a time here: ", 1)[1]
    assert parse_qs(urlsplit(link).query) == {
        "name": ["Pat Doe"],
        "email": ["pat@example.com"],
        "attendeePhoneNumber": [PHONE],
        "metadata[lead_id]": [lead.id],
    }


def test_the_same_chatwoot_message_twice_is_recorded_once(world: World) -> None:
    event = world.event("hello")
    assert world.deliver(event) == ConversationOutcome.PROMPTED
    assert world.deliver(event) == InboundOutcome.DUPLICATE
    assert len([m for m in world.rows("messages") if m.direction == Direction.INBOUND]) == 1
    assert len(world.outbound()) == 1


def test_an_sms_lead_is_found_by_phone(world: World) -> None:
    sms = HandleInboundSms(InMemoryUnitOfWork(world.db), world.queue, world.clock)
    sms(world.tenant, InboundSms("SM1", PHONE, "hi"))
    world.deliver(world.event("hello", sender_email=None))
    (lead,) = world.rows("leads")
    assert lead.name == "Pat Doe"  # filled in from Chatwoot
    assert [c.channel for c in world.rows("conversations")] == [Channel.SMS, Channel.CHATWOOT]


def test_a_contact_without_phone_is_found_by_email(world: World) -> None:
    uow = InMemoryUnitOfWork(world.db)
    with uow.across_tenants():
        uow.leads.add(Lead(tenant_id=world.tenant.id, email="Pat@Example.com",
                           created_at=world.clock.now()))  # fmt: skip
        uow.commit()
    world.deliver(world.event("hello", sender_phone=None))
    (lead,) = world.rows("leads")
    assert lead.phone is None and len(world.rows("conversations")) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"sender_phone": None, "sender_email": None},  # nobody to quote
        {"message_type": "outgoing", "is_incoming": False},  # Chatwoot echoing its own side
        {"inbox_id": 8},  # another inbox of the account
        {"account_id": 2},
    ],
)
def test_what_is_not_for_lily_is_ignored_and_stores_nothing(
    world: World, changes: dict[str, Any]
) -> None:
    with pytest.raises(IgnoredChatwootMessage):
        world.handle(world.tenant, world.event("75201", **changes))
    assert world.rows("messages") == [] and world.rows("leads") == []


def test_stop_in_chatwoot_opts_out_and_suppresses_what_is_queued(world: World) -> None:
    world.deliver(world.event("hi"))  # a prompt is queued
    assert world.deliver(world.event("Stop.")) == InboundOutcome.OPTED_OUT
    assert world.deliver(world.event("75201", attachments=(image(),))) == InboundOutcome.RECORDED
    (prompt,) = world.outbound()
    assert prompt.status == MessageStatus.SUPPRESSED
    assert world.run_due() == [SendOutcome.ALREADY_DONE]
    assert world.chatwoot.replies == [] and world.rows("quotes") == []


def test_help_is_answered_into_chatwoot(world: World) -> None:
    assert world.deliver(world.event("HELP")) == InboundOutcome.HELP
    (reply,) = world.outbound()
    assert reply.kind == MessageKind.HELP
    assert world.run_due() == [SendOutcome.SENT]
    assert "Acme Wash" in world.chatwoot.replies[0][2]


def test_attachments_that_are_not_images_are_not_photos(world: World) -> None:
    video = ChatwootAttachment("https://chat.example/v.mp4", "video")
    assert world.deliver(world.event("75201", attachments=(video,))) == (
        ConversationOutcome.PROMPTED
    )
    assert "photos" in world.outbound()[0].body


def test_booking_link_keeps_the_urls_query_and_overrides_its_own_params() -> None:
    lead = Lead(id="L1", tenant_id="t", phone=PHONE, name="Pat O'Doe & Co",
                created_at=FakeClock().now())  # fmt: skip
    link = booking_link("https://cal.com/acme/wash?duration=30&name=old#top", lead)
    assert link is not None
    parts = urlsplit(link)
    assert (parts.netloc, parts.path, parts.fragment) == ("cal.com", "/acme/wash", "top")
    assert parse_qs(parts.query) == {
        "duration": ["30"],
        "name": ["Pat O'Doe & Co"],
        "attendeePhoneNumber": [PHONE],
        "metadata[lead_id]": ["L1"],
    }
    assert booking_link(None, lead) is None

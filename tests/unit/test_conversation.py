"""Photos + ZIP → quote (DESIGN §2.2.3–4), driven through HandleInboundSms and
AdvanceConversation with the in-memory fakes; assertions are on what would reach the
lead's phone (the queued outbound messages and their tasks) and on the stored state."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lily_core.domain.compliance import Jitter
from lily_core.domain.conversation import Missing
from lily_core.domain.leads import (
    Conversation,
    Direction,
    Lead,
    LeadStatus,
    Message,
    MessageKind,
    MessageStatus,
)
from lily_core.domain.records import Quote
from lily_core.domain.tenant import Tenant
from lily_core.ports.queue import TaskType
from lily_core.testing import FakeClock, InMemoryDatabase, InMemoryUnitOfWork
from lily_core.testing.queue import InMemoryJitterQueue
from lily_core.use_cases.conversation import (
    AdvanceConversation,
    ConversationOutcome,
    ConversationResult,
)
from lily_core.use_cases.inbound import HandleInboundSms, InboundOutcome, InboundSms
from lily_core.use_cases.missed_call import HandleVoiceCall, VoiceEvent
from lily_core.use_cases.pricebooks import save_pricebook
from tests.unit.test_pricebook import example

LEAD_PHONE = "+12145550123"
BOOKING_URL = "https://cal.com/acme/estimate?duration=60"


class World:
    """A tenant with the DESIGN §5 price book, the fakes, and a lead's phone."""

    def __init__(self, *, pricebook: dict[str, Any] | None = example(), **tenant: Any) -> None:
        self.db = InMemoryDatabase()
        self.clock = FakeClock()
        self.queue = InMemoryJitterQueue(self.clock)
        self.uow = InMemoryUnitOfWork(self.db)
        fields = {"name": "Acme Wash", "slug": "acme-wash", "phone": "+12145550100",
                  "booking_url": BOOKING_URL, **tenant}  # fmt: skip
        self.tenant = Tenant(created_at=self.clock.now(), **fields)
        with self.uow.across_tenants():
            self.uow.tenants.add(self.tenant)
            if pricebook is not None:
                save_pricebook(self.uow, self.clock, self.tenant.id, pricebook)
            self.uow.commit()
        self.inbound = HandleInboundSms(InMemoryUnitOfWork(self.db), self.queue, self.clock)
        self.advance = AdvanceConversation(
            InMemoryUnitOfWork(self.db),
            self.queue,
            self.clock,
            Jitter(10, 45, rng=random.Random(7)),
        )
        self._sids = 0

    def text(self, body: str = "", photos: int = 0) -> ConversationResult | None:
        """The lead sends an SMS/MMS a minute after the last one; the conversation result,
        or None if the message was not for the conversation (a keyword, an opted-out lead)."""
        self.clock.advance(minutes=1)
        self._sids += 1
        media = tuple((f"https://api.twilio.com/media/{self._sids}-{i}", "image/jpeg")
                      for i in range(photos))  # fmt: skip
        sms = InboundSms(f"SM{self._sids:032d}", LEAD_PHONE, body, media)
        result = self.inbound(self.tenant, sms)
        if result.outcome != InboundOutcome.CONVERSATION:
            return None
        assert result.lead_id and result.message_id
        return self.advance(self.tenant, result.lead_id, result.message_id)

    def _all(self, table: str) -> list[Any]:
        return list(self.db.tables[table].values())

    def outbound(self) -> list[Message]:
        found = [m for m in self._all("messages") if m.direction == Direction.OUTBOUND]
        return sorted(found, key=lambda m: m.created_at)

    def quotes(self) -> list[Quote]:
        return sorted(self._all("quotes"), key=lambda q: q.created_at)

    def lead(self) -> Lead:
        (lead,) = self._all("leads")
        return lead  # type: ignore[no-any-return]

    def conversation(self) -> Conversation:
        (conversation,) = self._all("conversations")
        return conversation  # type: ignore[no-any-return]

    def send_tasks(self) -> list[str]:
        return [str(t.payload["message_id"]) for t in self.queue.scheduled
                if t.type == TaskType.SEND_MESSAGE]  # fmt: skip


@pytest.fixture
def world() -> World:
    return World()


def test_photos_then_zip_in_two_messages(world: World) -> None:
    first = world.text("here you go", photos=2)
    assert first == ConversationResult(
        ConversationOutcome.PROMPTED, first.reply_id if first else None, missing=Missing.ZIP
    )
    second = world.text("75201")
    assert second is not None and second.outcome == ConversationOutcome.QUOTED

    prompt, quote_msg = world.outbound()
    assert prompt.kind == MessageKind.PROMPT and "ZIP" in prompt.body
    assert quote_msg.kind == MessageKind.QUOTE and quote_msg.status == MessageStatus.QUEUED
    assert "$250–$450" in quote_msg.body and "House wash" in quote_msg.body
    assert world.send_tasks() == [prompt.id, quote_msg.id]
    (quote,) = world.quotes()
    assert (quote.zip, quote.low_cents, quote.high_cents) == ("75201", 250_00, 450_00)
    assert quote.in_service_area and quote.pricebook_version == 1
    assert quote.lines[0]["key"] == "house_wash" and "Total: $250–$450" in quote.explanation
    assert quote.id == second.quote_id
    lead = world.lead()
    assert (lead.zip, lead.status) == ("75201", LeadStatus.QUOTED)
    conversation = world.conversation()
    assert (conversation.photo_count, conversation.quoted_photo_count) == (2, 2)
    assert conversation.quoted_zip == "75201"


def test_zip_then_photos(world: World) -> None:
    first = world.text("Hi! zip 75201")
    assert first is not None and first.missing == Missing.PHOTOS
    assert "photos" in world.outbound()[0].body
    second = world.text("", photos=1)
    assert second is not None and second.outcome == ConversationOutcome.QUOTED
    assert [m.kind for m in world.outbound()] == [MessageKind.PROMPT, MessageKind.QUOTE]


def test_photos_and_zip_in_one_mms_quote_at_once_with_jitter(world: World) -> None:
    result = world.text("House at 75201 please", photos=3)
    assert result is not None and result.outcome == ConversationOutcome.QUOTED
    (reply,) = world.outbound()
    assert reply.kind == MessageKind.QUOTE
    (task,) = [t for t in world.queue.scheduled if t.type == TaskType.SEND_MESSAGE]
    now = world.clock.now()
    assert now + timedelta(seconds=10) <= task.run_at <= now + timedelta(seconds=45)
    # The MMS's photos are copied to the photo store by a task of their own.
    (copy,) = [t for t in world.queue.scheduled if t.type == TaskType.COPY_MEDIA]
    assert copy.run_at == now and copy.tenant_id == world.tenant.id


def test_zip_without_photos_prompts_once_and_never_prices(world: World) -> None:
    results = [world.text(body) for body in ("75201", "hello?", "it's the driveway", "75201!")]
    assert [r.outcome for r in results if r] == [
        ConversationOutcome.PROMPTED,
        ConversationOutcome.WAITING,
        ConversationOutcome.WAITING,
        ConversationOutcome.WAITING,
    ]
    (prompt,) = world.outbound()
    assert prompt.kind == MessageKind.PROMPT and "$" not in prompt.body
    assert world.quotes() == []
    assert world.conversation().last_prompt == Missing.PHOTOS


def test_nothing_yet_prompts_for_both_once(world: World) -> None:
    world.text("hi, how much for a wash?")
    world.text("anyone there?")
    (prompt,) = world.outbound()
    assert "photos" in prompt.body and "ZIP" in prompt.body


def test_the_missed_call_text_counts_as_the_first_prompt(world: World) -> None:
    call = HandleVoiceCall(InMemoryUnitOfWork(world.db), world.queue, world.clock,
                           Jitter(10, 45))  # fmt: skip
    call(world.tenant, VoiceEvent("CA1", LEAD_PHONE, "no-answer", None))
    assert world.text("hi") == ConversationResult(ConversationOutcome.WAITING, missing=Missing.BOTH)
    third = world.text("my zip is 75204")
    assert third is not None and third.outcome == ConversationOutcome.PROMPTED
    assert [m.kind for m in world.outbound()] == [MessageKind.MISSED_CALL, MessageKind.PROMPT]


def test_out_of_area_zip_is_declined_without_a_price(world: World) -> None:
    result = world.text("78701", photos=1)  # Austin, ~180 mi from 75201
    assert result is not None and result.outcome == ConversationOutcome.DECLINED
    (reply,) = world.outbound()
    assert reply.kind == MessageKind.DECLINE and "$" not in reply.body and "78701" in reply.body
    (quote,) = world.quotes()
    assert not quote.in_service_area and (quote.low_cents, quote.high_cents) == (0, 0)
    assert "Out of the service area" in quote.explanation
    assert world.lead().status != LeadStatus.QUOTED
    assert world.text("so you can't come?", photos=1) is not None
    assert len(world.outbound()) == 1  # declined once


def test_excluded_zip_is_declined() -> None:
    doc = example()
    doc["service_area"]["excluded_zips"] = ["75204"]
    world = World(pricebook=doc)
    result = world.text("75204", photos=1)
    assert result is not None and result.outcome == ConversationOutcome.DECLINED
    assert "excluded" in world.quotes()[0].explanation


def test_more_photos_after_a_quote_do_not_quote_again(world: World) -> None:
    world.text("75201", photos=1)
    again = world.text("here are a few more", photos=2)
    assert again == ConversationResult(ConversationOutcome.WAITING)
    assert len(world.quotes()) == 1 and len(world.outbound()) == 1
    assert world.conversation().photo_count == 3


def test_a_new_zip_after_a_quote_quotes_again(world: World) -> None:
    world.text("75201", photos=1)
    again = world.text("sorry, it's actually at my other place, 75204")
    assert again is not None and again.outcome == ConversationOutcome.QUOTED
    assert [q.zip for q in world.quotes()] == ["75201", "75204"]
    assert [m.kind for m in world.outbound()] == [MessageKind.QUOTE, MessageKind.QUOTE]
    assert world.lead().zip == "75204"


def test_service_words_and_modifiers_from_all_the_messages(world: World) -> None:
    world.text("Can you do our 2 story house?", photos=1)
    world.text("and the driveway too. 75201")
    # (250 + 100) × 1.25 = 437.50 → 440; (450 + 225) × 1.25 = 843.75 → 845
    (reply,) = [m for m in world.outbound() if m.kind == MessageKind.QUOTE]
    assert "$440–$845" in reply.body
    assert "House wash and Driveway / concrete" in reply.body
    (quote,) = world.quotes()
    assert [line["key"] for line in quote.lines] == ["house_wash", "driveway", "two_story",
                                                     "round_to"]  # fmt: skip


def test_the_minimum_charge_applies(world: World) -> None:
    world.text("just the driveway, 75201", photos=1)
    (reply,) = world.outbound()
    assert "$150–$225" in reply.body  # driveway $100–$225, raised to the $150 minimum
    assert any(line["key"] == "minimum_charge" for line in world.quotes()[0].lines)


def test_the_booking_link_is_prefilled_and_keeps_its_query(world: World) -> None:
    world.text("75201", photos=1)
    (reply,) = world.outbound()
    link = reply.body.split("Book a time here: ", 1)[1]
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://cal.com/acme/estimate"
    assert parse_qs(parts.query) == {
        "duration": ["60"],
        "attendeePhoneNumber": [LEAD_PHONE],
        "metadata[lead_id]": [world.lead().id],
    }


def test_without_a_booking_url_the_lead_is_asked_to_reply() -> None:
    world = World(booking_url=None)
    world.text("75201", photos=1)
    (reply,) = world.outbound()
    assert "http" not in reply.body and "Reply here" in reply.body


def test_a_stopped_lead_gets_nothing(world: World) -> None:
    world.text("hi")  # prompted for both
    assert world.text("STOP") is None
    assert world.text("75201", photos=2) is None  # recorded, not for the conversation
    assert world.quotes() == []
    (prompt,) = world.outbound()
    assert prompt.status == MessageStatus.SUPPRESSED
    # Advancing directly (a task that raced the STOP) sends nothing either.
    inbound = [m for m in world._all("messages") if m.direction == Direction.INBOUND][-1]
    result = world.advance(world.tenant, world.lead().id, inbound.id)
    assert result == ConversationResult(ConversationOutcome.OPTED_OUT)
    assert len(world.outbound()) == 1 and world.quotes() == []


def test_without_a_price_book_the_lead_is_told_once_then_quoted_later() -> None:
    world = World(pricebook=None)
    first = world.text("75201", photos=1)
    assert first is not None and first.outcome == ConversationOutcome.PENDING
    assert world.text("thanks!") == ConversationResult(ConversationOutcome.WAITING)
    with world.uow.across_tenants():
        save_pricebook(world.uow, world.clock, world.tenant.id, example())
        world.uow.commit()
    later = world.text("any news?")
    assert later is not None and later.outcome == ConversationOutcome.QUOTED
    assert [m.kind for m in world.outbound()] == [MessageKind.PROMPT, MessageKind.QUOTE]


def test_advancing_the_same_message_twice_changes_nothing(world: World) -> None:
    world.text("", photos=1)
    result = world.inbound(world.tenant, InboundSms("SMx", LEAD_PHONE, "75201"))
    assert result.lead_id and result.message_id
    first = world.advance(world.tenant, result.lead_id, result.message_id)
    second = world.advance(world.tenant, result.lead_id, result.message_id)
    assert (first.outcome, second.outcome) == (ConversationOutcome.QUOTED,
                                               ConversationOutcome.WAITING)  # fmt: skip
    assert world.conversation().photo_count == 1 and len(world.quotes()) == 1


def test_a_booked_lead_stays_booked_after_a_new_quote(world: World) -> None:
    world.text("75201", photos=1)
    with world.uow.across_tenants():
        lead = world.uow.leads.get(world.tenant.id, world.lead().id)
        assert lead is not None
        lead.status = LeadStatus.BOOKED
        world.uow.commit()
    world.text("75204")
    assert world.lead().status == LeadStatus.BOOKED and len(world.quotes()) == 2


def test_a_returning_customer_starts_a_new_conversation() -> None:

    from lily_core.domain.leads import Lead
    from lily_core.domain.tenant import Tenant
    from lily_core.testing import FakeClock, InMemoryUnitOfWork
    from lily_core.use_cases.outbox import open_conversation

    clock = FakeClock()
    uow = InMemoryUnitOfWork()
    tenant = Tenant(name="T", slug="t", phone="+12145550100", created_at=clock.now())
    lead = Lead(tenant_id=tenant.id, phone="+12145550123", created_at=clock.now())
    with uow.across_tenants():
        first = open_conversation(uow, tenant, lead, clock.now())
        again = open_conversation(uow, tenant, lead, clock.advance(days=29))
        assert again is first
        later = open_conversation(uow, tenant, lead, clock.advance(days=31))
        assert later is not first

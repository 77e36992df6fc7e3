"""The dashboard's leads and conversations (DESIGN §4.2), as use cases on the in-memory fakes:
the activity order and unread flag the flows maintain, filters and search, changes and their
validation, manual replies, held automations, and tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest

from lily_core.domain.compliance import Jitter
from lily_core.domain.lead_search import LeadSearch
from lily_core.domain.leads import (
    Channel,
    Conversation,
    Lead,
    LeadStatus,
    Message,
    MessageKind,
    MessageStatus,
)
from lily_core.domain.pagination import Cursor
from lily_core.domain.tenant import Tenant
from lily_core.errors import Conflict, InvalidInput, NotFound
from lily_core.ports.queue import TaskType
from lily_core.testing import (
    FakeChatwootClient,
    FakeClock,
    FakeSmsSender,
    InMemoryDatabase,
    InMemoryJitterQueue,
    InMemoryPhotoStore,
    InMemoryUnitOfWork,
)
from lily_core.use_cases.dashboard_leads import (
    GetLead,
    ListLeads,
    MarkLeadRead,
    UpdateLead,
    is_unread,
)
from lily_core.use_cases.dashboard_messages import (
    ListLeadMessages,
    SendManualReply,
    ShowLeadThread,
)
from lily_core.use_cases.inbound import HandleInboundSms, InboundSms
from lily_core.use_cases.missed_call import HandleVoiceCall, VoiceEvent
from lily_core.use_cases.send_message import SendMessage, SendOutcome

PHONE = "+12145550123"


class World:
    def __init__(self) -> None:
        self.db = InMemoryDatabase()
        self.clock = FakeClock()
        self.queue = InMemoryJitterQueue(self.clock)
        self.sender = FakeSmsSender()
        self.photos = InMemoryPhotoStore()
        self.tenant = self.add_tenant("Acme Wash", "+12145550100")
        self.other = self.add_tenant("Other Wash", "+12145550200")
        self._sids = 0

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)

    def add_tenant(self, name: str, phone: str) -> Tenant:
        tenant = Tenant(
            name=name, slug=name.lower().replace(" ", "-"), phone=phone, created_at=self.clock.now()
        )
        with self.uow().across_tenants() as uow:
            uow.tenants.add(tenant)
            uow.commit()
        return tenant

    # -- the flows that make leads and messages -----------------------------------------

    def missed_call(self, caller: str = PHONE, tenant: Tenant | None = None) -> str:
        self._sids += 1
        event = VoiceEvent(f"CA{self._sids}", caller, "in-progress", "no-answer")
        handle = HandleVoiceCall(self.uow(), self.queue, self.clock, Jitter(10, 45))
        result = handle(tenant or self.tenant, event)
        assert result.lead_id is not None
        return result.lead_id

    def sms(self, body: str, caller: str = PHONE) -> str:
        self._sids += 1
        handle = HandleInboundSms(self.uow(), self.queue, self.clock)
        result = handle(self.tenant, InboundSms(f"SM{self._sids}", caller, body))
        assert result.lead_id is not None
        return result.lead_id

    def send_due(self) -> list[SendOutcome]:
        send = SendMessage(
            self.uow(),
            self.queue,
            self.clock,
            self.sender,
            status_callback_url=None,
            jitter=Jitter(0, 0),
            max_attempts=5,
            chatwoot=FakeChatwootClient(),
        )
        outcomes = []
        for task in self.queue.claim(50, 60):
            if task.type in (TaskType.MISSED_CALL_SMS, TaskType.SEND_MESSAGE):
                outcomes.append(send(task))
            self.queue.ack(task.id)
        return outcomes

    # -- the use cases under test ---------------------------------------------------------

    def list(self, tenant: Tenant | None = None, **kw: Any) -> list[str]:
        page = ListLeads(self.uow())((tenant or self.tenant).id, limit=200, **kw)
        return [lead.id for lead in page.items]

    def lead(self, lead_id: str) -> Lead:
        return GetLead(self.uow())(self.tenant.id, lead_id)

    def update(self, lead_id: str, **changes: Any) -> Lead:
        return UpdateLead(self.uow())(self.tenant.id, lead_id, changes)

    def reply(self, lead_id: str, body: str = "On my way!", tenant: Tenant | None = None) -> Any:
        return SendManualReply(self.uow(), self.queue, self.clock)(
            (tenant or self.tenant).id, lead_id, body
        )

    def messages(self, lead_id: str) -> list[Message]:
        views = ListLeadMessages(self.uow(), self.photos)(self.tenant.id, lead_id, limit=200)
        return [v.message for v in views.items]


@pytest.fixture
def world() -> World:
    return World()


# --- activity and unread, as the flows maintain them -----------------------------------------


def test_every_message_in_or_out_is_activity_and_inbound_is_unread(world: World) -> None:
    lead_id = world.missed_call()
    called = world.clock.now()
    lead = world.lead(lead_id)
    assert lead.last_activity_at == lead.last_inbound_at == called
    assert is_unread(lead)  # a missed call is the customer reaching out

    world.clock.advance(minutes=1)
    MarkLeadRead(world.uow(), world.clock)(world.tenant.id, lead_id)
    assert not is_unread(world.lead(lead_id))

    world.clock.advance(minutes=3)
    world.sms("my driveway")
    lead = world.lead(lead_id)
    assert lead.last_activity_at == lead.last_inbound_at == world.clock.now()
    assert is_unread(lead)

    world.clock.advance(minutes=1)
    MarkLeadRead(world.uow(), world.clock)(world.tenant.id, lead_id)
    assert not is_unread(world.lead(lead_id))

    world.clock.advance(minutes=1)
    world.sms("and the patio")
    assert is_unread(world.lead(lead_id))


def test_leads_come_newest_activity_first(world: World) -> None:
    first = world.missed_call("+12145550001")
    world.clock.advance(minutes=1)
    second = world.missed_call("+12145550002")
    world.clock.advance(minutes=1)
    world.sms("hello again", caller="+12145550001")
    assert world.list() == [first, second]


# --- filters and search ----------------------------------------------------------------------


def test_filters_by_status_opt_out_and_search(world: World) -> None:
    jane = world.missed_call("+12145550123")
    world.update(jane, name="Jane O'Hara", email="Jane@Example.com")
    world.clock.advance(minutes=1)
    bob = world.missed_call("+14695550999")
    world.update(bob, name="Bob Smith", status="quoted")
    world.clock.advance(minutes=1)
    world.sms("STOP", caller="+14695550999")

    assert world.list(status="quoted") == [bob]
    assert world.list(status=LeadStatus.CONTACTED) == [jane]
    assert world.list(opted_out=True) == [bob]
    assert world.list(opted_out=False) == [jane]
    for q, found in [
        ("jane", [jane]),
        ("O'HARA", [jane]),
        ("example.com", [jane]),
        ("0123", [jane]),
        ("214555", [jane]),
        ("(214) 555-0123", [jane]),
        ("+1 469", [bob]),
        ("555", []),  # the middle of a number
        ("0999", [bob]),
        ("smith", [bob]),
        ("%", []),
        ("   ", [bob, jane]),
    ]:
        assert world.list(search=q) == found, q
    assert world.list(status="quoted", search="jane") == []


def test_search_reads_phone_digits_only_from_phone_like_text() -> None:
    assert LeadSearch.parse("(214) 555-0123") == LeadSearch("(214) 555-0123", "2145550123")
    assert LeadSearch.parse("Jane 2") == LeadSearch("jane 2", None)
    assert LeadSearch.parse("  ") is None
    assert LeadSearch.parse("a\x00b") == LeadSearch("ab", None)


def test_phone_digits_match_how_a_number_starts_or_ends() -> None:
    def matches(q: str, phone: str | None, name: str | None = None) -> bool:
        search = LeadSearch.parse(q)
        assert search is not None
        return search.matches(name, None, phone)

    for q in ["0123", "5550123", "214", "214555", "(214) 555", "+1 214", "12145550123"]:
        assert matches(q, "+12145550123"), q
    for q in ["4555", "55501", "2145550124"]:
        assert not matches(q, "+12145550123"), q
    assert matches("44 20", "+442079460000")  # another country's code is a start too
    assert not matches("0123", None)
    assert not matches("2145", "+19725550000", name="Crew 2145")  # digits are not a name


def test_a_bad_status_or_limit_names_the_field(world: World) -> None:
    with pytest.raises(InvalidInput) as bad:
        world.list(status="maybe")
    assert bad.value.field == "status"
    with pytest.raises(InvalidInput) as too_many:
        ListLeads(world.uow())(world.tenant.id, limit=201)
    assert too_many.value.field == "limit"


def test_pages_walk_every_lead_once_while_leads_arrive(world: World) -> None:
    before = []
    for n in range(7):
        world.clock.advance(seconds=n % 2)  # pairs share an instant: the id decides
        before.append(world.lead(world.missed_call(f"+1214555{n:04d}")))
    newest_first = sorted(before, key=lambda x: (x.last_activity_at, x.id), reverse=True)
    # one lead with no message at all (a Cal.com attendee, say)
    with world.uow().across_tenants() as uow:
        quiet = Lead(tenant_id=world.tenant.id, name="Quiet", created_at=world.clock.now())
        uow.leads.add(quiet)
        uow.commit()
    seen: list[str] = []
    after: Cursor | None = None
    for n in range(20):
        page = ListLeads(world.uow())(world.tenant.id, limit=3, after=after)
        seen += [lead.id for lead in page.items]
        world.clock.advance(seconds=1)
        world.missed_call(f"+1469555{n:04d}")  # newer: on no later page of this walk
        if page.next_cursor is None:
            break
        after = Cursor.decode(page.next_cursor)
    assert seen == [lead.id for lead in newest_first] + [quiet.id]


# --- one lead, and changing it ---------------------------------------------------------------


def test_another_tenants_lead_is_not_found_and_left_alone(world: World) -> None:
    theirs = world.missed_call(tenant=world.other)
    attempts = [
        lambda: world.lead(theirs),
        lambda: world.update(theirs, name="Mine now"),
        lambda: MarkLeadRead(world.uow(), world.clock)(world.tenant.id, theirs),
        lambda: world.messages(theirs),
        lambda: world.reply(theirs),
        lambda: world.lead("no-such-lead\x00"),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()
    assert world.list() == []
    with world.uow().across_tenants() as uow:
        lead = uow.leads.get(world.other.id, theirs)
        assert lead is not None and lead.name is None and lead.last_read_at is None
    assert len(world.queue.scheduled) == 1  # their own text-back only


def test_update_changes_only_the_fields_given(world: World) -> None:
    lead_id = world.missed_call()
    world.update(lead_id, name="  Jane  ", email="JANE@example.com", zip="75201")
    world.update(lead_id, status="quoted", automations_paused=True)
    lead = world.lead(lead_id)
    assert (lead.name, lead.email, lead.zip) == ("Jane", "jane@example.com", "75201")
    assert lead.status == LeadStatus.QUOTED and lead.automations_paused
    world.update(lead_id, name="", email=None, zip=None)
    lead = world.lead(lead_id)
    assert (lead.name, lead.email, lead.zip, lead.status) == (None, None, None, "quoted")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not an email"}, "email"),
        ({"zip": "00000"}, "zip"),
        ({"zip": "W1A"}, "zip"),
        ({"status": "won"}, "status"),
        ({"status": None}, "status"),
        ({"automations_paused": "yes"}, "automations_paused"),
        ({"name": "x" * 201}, "name"),
        ({"phone": "+12145550199"}, "phone"),
        ({"name": "Fine", "zip": "nope"}, "zip"),  # nothing is written: the name neither
    ],
)
def test_a_bad_change_names_its_field_and_writes_nothing(
    world: World, changes: dict[str, Any], field: str
) -> None:
    lead_id = world.missed_call()
    with pytest.raises(InvalidInput) as bad:
        world.update(lead_id, **changes)
    assert bad.value.field == field
    lead = world.lead(lead_id)
    assert (lead.name, lead.zip, lead.status) == (None, None, LeadStatus.CONTACTED)


# --- manual replies and paused automations ---------------------------------------------------


def test_a_manual_reply_is_queued_for_now_and_sent_through_quiet_hours(world: World) -> None:
    lead_id = world.missed_call()
    world.clock.advance(hours=9)  # 00:00 in Dallas: quiet hours, and no recent customer activity
    view = world.reply(lead_id, "  Running late, there by 9  ")
    message = view.message
    assert (message.kind, message.status, message.body) == (
        MessageKind.MANUAL,
        MessageStatus.QUEUED,
        "Running late, there by 9",
    )
    assert view.channel == Channel.SMS
    task = next(t for t in world.queue.scheduled if t.payload["message_id"] == message.id)
    assert task.run_at == world.clock.now()  # no jitter
    assert world.lead(lead_id).last_activity_at == world.clock.now()

    assert SendOutcome.SENT in world.send_due()
    assert world.sender.sent[-1].body == "Running late, there by 9"
    assert world.messages(lead_id)[-1].status == MessageStatus.SENT


def test_a_paused_lead_gets_manual_replies_but_no_automated_text(world: World) -> None:
    lead_id = world.missed_call()
    world.update(lead_id, automations_paused=True)
    world.clock.advance(seconds=5)
    world.reply(lead_id, "I'll call you back myself")
    world.clock.advance(minutes=1)
    assert sorted(world.send_due()) == sorted([SendOutcome.HELD, SendOutcome.SENT])
    text_back, manual = world.messages(lead_id)
    assert (text_back.kind, text_back.status) == (MessageKind.MISSED_CALL, MessageStatus.HELD)
    assert text_back.error_message == "automations paused for this lead"
    assert manual.status == MessageStatus.SENT
    assert [s.body for s in world.sender.sent] == ["I'll call you back myself"]


def test_no_manual_reply_to_a_lead_who_opted_out(world: World) -> None:
    lead_id = world.missed_call()
    world.clock.advance(seconds=5)
    world.sms("STOP")
    scheduled = len(world.queue.scheduled)
    with pytest.raises(Conflict):
        world.reply(lead_id)
    assert [m.kind for m in world.messages(lead_id)] == [MessageKind.MISSED_CALL, "inbound"]
    assert len(world.queue.scheduled) == scheduled


def test_an_opt_out_after_queueing_still_suppresses_the_manual_reply(world: World) -> None:
    lead_id = world.missed_call()
    world.clock.advance(seconds=5)
    world.reply(lead_id)
    world.sms("STOP")
    world.send_due()
    assert world.sender.sent == []
    (manual,) = [m for m in world.messages(lead_id) if m.kind == MessageKind.MANUAL]
    assert manual.status == MessageStatus.SUPPRESSED


@pytest.mark.parametrize("body", ["", "   ", "x" * 1601])
def test_a_manual_reply_body_is_1_to_1600_characters(world: World, body: str) -> None:
    lead_id = world.missed_call()
    with pytest.raises(InvalidInput) as bad:
        world.reply(lead_id, body)
    assert bad.value.field == "body"
    world.reply(lead_id, "x" * 1600)


def test_a_manual_reply_goes_back_into_the_chatwoot_conversation(world: World) -> None:
    with world.uow().across_tenants() as uow:
        lead = Lead(
            tenant_id=world.tenant.id, email="pat@example.com", created_at=world.clock.now()
        )
        uow.leads.add(lead)
        uow.conversations.add(
            Conversation(
                tenant_id=world.tenant.id,
                lead_id=lead.id,
                channel=Channel.CHATWOOT,
                chatwoot_conversation_id=42,
                created_at=world.clock.now(),
                updated_at=world.clock.now(),
            )
        )
        uow.commit()
    view = world.reply(lead.id, "Hi Pat")
    assert view.channel == Channel.CHATWOOT
    assert [t.type for t in world.queue.scheduled] == [TaskType.CHATWOOT_REPLY]


def test_a_lead_without_a_phone_or_chatwoot_cannot_be_texted(world: World) -> None:
    with world.uow().across_tenants() as uow:
        lead = Lead(
            tenant_id=world.tenant.id, email="pat@example.com", created_at=world.clock.now()
        )
        uow.leads.add(lead)
        uow.commit()
    with pytest.raises(Conflict):
        world.reply(lead.id)


# --- the messages -------------------------------------------------------------------------------


def test_messages_come_oldest_first_in_pages_with_photo_links(world: World) -> None:
    lead_id = world.missed_call()
    for n in range(4):
        world.clock.advance(minutes=1)
        world.sms(f"message {n}")
    with world.uow().across_tenants() as uow:
        inbound = uow.messages.list_for_lead(world.tenant.id, lead_id, limit=1).items[0]
        inbound.media = [
            {
                "url": "https://api.twilio.com/m/1",
                "content_type": "image/jpeg",
                "stored_key": "k/1",
            },
            {"url": "https://api.twilio.com/m/2", "content_type": "image/png"},
        ]
        uow.commit()

    use_case = ListLeadMessages(world.uow(), world.photos)
    first = use_case(world.tenant.id, lead_id, limit=3)
    assert first.next_cursor is not None
    rest = use_case(world.tenant.id, lead_id, limit=3, after=Cursor.decode(first.next_cursor))
    assert rest.next_cursor is None
    bodies = [v.message.body for v in [*first.items, *rest.items]]
    assert bodies[1:] == [f"message {n}" for n in range(4)]
    assert first.items[0].message.kind == MessageKind.MISSED_CALL
    last = rest.items[-1]
    assert [(m.url, m.content_type) for m in last.media] == [
        ("memory://k/1?expires_in=900", "image/jpeg"),
        (None, "image/png"),  # not copied from Twilio yet
    ]


def test_the_cli_thread_finds_a_lead_in_any_tenant(world: World) -> None:
    lead_id = world.missed_call(tenant=world.other)
    world.clock.advance(seconds=5)
    world.reply(lead_id, "hello", tenant=world.other)
    thread = ShowLeadThread(world.uow(), world.photos)(lead_id)
    assert thread.tenant_slug == "other-wash"
    assert [v.message.kind for v in thread.messages] == [MessageKind.MISSED_CALL, "manual"]
    with pytest.raises(NotFound):
        ShowLeadThread(world.uow(), world.photos)("nope")


def test_a_cursor_without_a_time_is_refused_by_lists_ordered_by_creation() -> None:
    assert Cursor.decode(Cursor(None, "abc123").encode()) == Cursor(None, "abc123")
    with pytest.raises(InvalidInput):
        _ = Cursor.decode(Cursor(None, "abc123").encode()).created_at
    for garbled in ["!!!", Cursor(None, "a\x00b").encode(), "fA"]:
        with pytest.raises(InvalidInput):
            Cursor.decode(garbled)

"""DESIGN §2.5 end to end: opt-out keywords suppress what is already queued, opt-in words
undo it, HELP answers, and quiet hours defer business-initiated messages (not replies)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from lily_adapters.sql.uow import set_tenant_scope
from lily_core.domain.leads import MessageKind, MessageStatus
from lily_core.use_cases.outbox import enqueue_send, open_conversation, queue_message, upsert_lead
from tests.e2e.conftest import BUSINESS_PHONE, CALLER, JITTER_MAX, JITTER_MIN, START, Lily, after
from tests.e2e.dashboard_api import other_tenant, owner_headers

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
LATER = timedelta(minutes=61)  # past the tenant's 60-minute missed-call dedupe window


def assert_empty_twiml(text: str) -> None:
    root = ElementTree.fromstring(text)
    assert root.tag == "Response"
    assert list(root) == []


@pytest.mark.parametrize(
    ("body", "opt_out_type"),
    [
        ("STOP", None),
        ("stop.", None),
        ("  Stop!! ", None),
        ("Opt Out", None),
        ("REVOKE", None),
        ("optout", None),
        ("unsubscribe", None),
        ("Cancel", None),
        ("please don't text me", "STOP"),
    ],
)
def test_stop_before_the_worker_runs_suppresses_the_queued_text_back(
    lily: Lily, body: str, opt_out_type: str | None
) -> None:
    lily.missed_call("CA" + "1" * 32)
    lily.clock.advance(JITTER_MIN / 2)  # the text-back is still waiting for its jitter
    extra = {"OptOutType": opt_out_type} if opt_out_type else None

    response = lily.sms("SM" + "1" * 32, body, extra=extra)

    assert response.status_code == 200
    assert_empty_twiml(response.text)
    assert lily.lead().opted_out
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    lily.run_worker_at(after(START, 3600))
    assert lily.twilio.messages == []
    [text_back] = [m for m in lily.outbound() if m.kind == MessageKind.MISSED_CALL]
    assert text_back.status == MessageStatus.SUPPRESSED
    assert lily.queue_stats().dead == 0
    # the opt-out ledger (issue 16) has it, with its evidence and the message's SID
    [record] = lily.container.export_consent_ledger()(lily.tenant.slug)
    assert (record.action, record.message_sid, record.phone) == ("opt_out", "SM" + "1" * 32, CALLER)
    assert record.evidence.startswith("OptOutType:STOP" if opt_out_type else "keyword:")
    assert lily.container.export_consent_ledger()(lily.tenant.slug, after(START, 3600)) == []


def test_a_sentence_containing_stop_does_not_opt_out(lily: Lily) -> None:
    lily.missed_call("CA" + "2" * 32)
    lily.sms("SM" + "2" * 32, "can you stop by tomorrow?")

    lily.run_worker_at(after(START, JITTER_MAX + 0.5))

    assert not lily.lead().opted_out
    assert len(lily.twilio.messages) == 1


def test_an_opted_out_caller_gets_no_text_back_for_a_new_call(lily: Lily) -> None:
    lily.sms("SM" + "3" * 32, "STOP")
    lily.clock.advance(LATER.total_seconds())

    assert lily.missed_call("CA" + "3" * 32).status_code == 200
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX + 0.5))

    assert lily.twilio.messages == []
    assert lily.count_rows("calls") == 1  # the call itself is on record


@pytest.mark.parametrize("word", ["START", "unstop", "Yes"])
def test_opting_back_in_brings_the_text_back_again(lily: Lily, word: str) -> None:
    lily.missed_call("CA" + "4" * 32)
    lily.sms("SM" + "4" * 32, "STOP")
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    assert lily.twilio.messages == []

    lily.clock.advance(minutes=5)
    assert lily.sms("SM" + "5" * 32, word).status_code == 200
    assert not lily.lead().opted_out

    lily.clock.advance(LATER.total_seconds())
    lily.missed_call("CA" + "5" * 32)
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX + 0.5))
    [sms] = lily.twilio.messages
    assert (sms.from_, sms.to) == (BUSINESS_PHONE, CALLER)
    assert sms.body is not None and "ZIP" in sms.body


def test_help_gets_one_reply_with_the_business_name_and_how_to_opt_out(lily: Lily) -> None:
    response = lily.sms("SM" + "6" * 32, "help")
    lily.sms("SM" + "6" * 32, "help")  # Twilio retrying the same webhook

    assert response.status_code == 200
    assert_empty_twiml(response.text)  # the reply goes out from the worker
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    [reply] = lily.twilio.messages
    assert (reply.from_, reply.to) == (BUSINESS_PHONE, CALLER)
    # CTIA: the business's name, how to get help, that rates may apply, how to opt out
    assert reply.body == (
        f"Acme Wash Co: for help, call {BUSINESS_PHONE} or reply to this text. "
        "Msg & data rates may apply. Reply STOP to opt out."
    )
    [message] = lily.outbound()
    assert (message.kind, message.status) == (MessageKind.HELP, MessageStatus.SENT)


def test_help_is_answered_even_after_an_opt_out(lily: Lily) -> None:
    lily.sms("SM" + "7" * 32, "STOP")
    lily.sms("SM" + "8" * 32, "INFO")

    lily.run_worker_at(after(START, JITTER_MAX + 0.5))

    [reply] = lily.twilio.messages
    assert reply.body is not None and "STOP" in reply.body


def test_an_ordinary_inbound_sms_is_recorded_and_answered_with_empty_twiml(lily: Lily) -> None:
    response = lily.sms("SM" + "9" * 32, "Hi, how much for a driveway?")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert_empty_twiml(response.text)
    [inbound] = [m for m in lily.messages() if m.direction == "inbound"]
    assert inbound.body == "Hi, how much for a driveway?"
    assert inbound.provider_sid == "SM" + "9" * 32
    assert lily.twilio.messages == []  # whatever the conversation answers, the worker sends


def test_an_inbound_sms_with_a_bad_signature_is_403(lily: Lily) -> None:
    form = {"MessageSid": "SM" + "a" * 32, "From": CALLER, "To": BUSINESS_PHONE, "Body": "STOP"}

    response = lily.post_signed("/webhooks/twilio/sms", form, token="wrong")

    assert response.status_code == 403
    assert lily.count_rows("leads") == 0
    assert lily.count_rows("messages") == 0


@pytest.mark.parametrize(
    "change",
    [{"MessageSid": "", "SmsSid": ""}, {"From": "garbage"}, {"NumMedia": "lots"}],
    ids=["no-sid", "from-garbage", "nummedia-garbage"],
)
def test_malformed_inbound_sms_is_4xx_and_stores_nothing(
    lily: Lily, change: dict[str, str]
) -> None:
    response = lily.sms("SM" + "b" * 32, "STOP", extra=change)

    assert 400 <= response.status_code < 500
    assert lily.count_rows("leads") == 0
    assert lily.count_rows("messages") == 0


def _queue_business_message(lily: Lily, *, lead_zip: str | None = None) -> str:
    """A business-initiated message (a review request, say) queued for the caller now."""
    now = lily.clock.now()
    uow = lily.container.uow()
    with uow.across_tenants():
        lead, _ = upsert_lead(uow, lily.tenant, CALLER, now)
        lead.zip = lead_zip
        conversation = open_conversation(uow, lily.tenant, lead, now)
        message = queue_message(
            uow,
            lead,
            conversation,
            kind=MessageKind.REVIEW_REQUEST,
            body="Thanks for choosing Acme Wash Co! Mind leaving us a review?",
            now=now,
            business_initiated=True,
        )
        uow.commit()
    assert enqueue_send(lily.container.queue(), message, now, conversation=conversation)
    return message.id


def _local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


def test_a_business_message_at_23h_waits_for_8h_plus_jitter(lily: Lily) -> None:
    eleven_pm = _local(CHICAGO, 2026, 6, 1, 23, 0)
    eight_am = _local(CHICAGO, 2026, 6, 2, 8, 0)
    lily.clock.current = eleven_pm
    _queue_business_message(lily, lead_zip="60601")  # Illinois: the federal 8 am-9 pm

    lily.run_worker_at(eleven_pm)
    assert lily.twilio.messages == []
    [message] = lily.outbound()
    assert message.status == MessageStatus.QUEUED  # deferred, not dropped
    assert message.send_after is not None
    assert after(eight_am, JITTER_MIN) <= message.send_after <= after(eight_am, JITTER_MAX)

    lily.run_worker_at(eight_am - timedelta(minutes=1))
    assert lily.twilio.messages == []

    lily.run_worker_at(after(eight_am, JITTER_MAX + 0.5))
    [sms] = lily.twilio.messages
    assert sms.to == CALLER
    assert lily.outbound()[0].status == MessageStatus.SENT
    assert lily.queue_stats().scheduled == 0


def test_quiet_hours_follow_the_leads_zip_timezone(lily: Lily) -> None:
    # 20:30 in Chicago (the tenant) is 21:30 in New York (the lead's ZIP): quiet there
    lily.clock.current = _local(CHICAGO, 2026, 6, 1, 20, 30)
    _queue_business_message(lily, lead_zip="10001")

    lily.run_worker_at(lily.clock.now())

    assert lily.twilio.messages == []
    [message] = lily.outbound()
    eight_am_ny = _local(NEW_YORK, 2026, 6, 2, 8, 0)
    assert message.send_after is not None
    assert after(eight_am_ny, JITTER_MIN) <= message.send_after <= after(eight_am_ny, JITTER_MAX)


def test_a_business_message_outside_quiet_hours_goes_at_once(lily: Lily) -> None:
    lily.clock.current = _local(CHICAGO, 2026, 6, 1, 20, 30)
    _queue_business_message(lily)

    lily.run_worker_at(lily.clock.now())

    assert len(lily.twilio.messages) == 1


def test_a_stop_during_quiet_hours_suppresses_the_deferred_message(lily: Lily) -> None:
    eleven_pm = _local(CHICAGO, 2026, 6, 1, 23, 0)
    lily.clock.current = eleven_pm
    _queue_business_message(lily)
    lily.run_worker_at(eleven_pm)  # deferred to the morning

    lily.sms("SM" + "c" * 32, "STOP")
    lily.run_worker_at(_local(CHICAGO, 2026, 6, 2, 9, 0))

    assert lily.twilio.messages == []
    assert lily.outbound()[0].status == MessageStatus.SUPPRESSED


def test_a_missed_call_text_back_at_23h_goes_at_once(lily: Lily) -> None:
    eleven_pm = _local(CHICAGO, 2026, 6, 1, 23, 0)
    lily.clock.current = eleven_pm

    lily.missed_call("CA" + "d" * 32)
    lily.run_worker_at(after(eleven_pm, JITTER_MAX + 0.5))

    [sms] = lily.twilio.messages  # a reply to the customer's own call: not held
    assert sms.to == CALLER
    assert lily.outbound()[0].status == MessageStatus.SENT


def test_strict_quiet_hours_hold_even_the_text_back(lily: Lily) -> None:
    lily.tenant = lily.update_tenant(strict_quiet_hours="true")
    eleven_pm = _local(CHICAGO, 2026, 6, 1, 23, 0)
    lily.clock.current = eleven_pm

    lily.missed_call("CA" + "e" * 32)
    lily.run_worker_at(after(eleven_pm, JITTER_MAX + 0.5))
    assert lily.twilio.messages == []

    lily.run_worker_at(after(_local(CHICAGO, 2026, 6, 2, 8, 0), JITTER_MAX + 0.5))
    assert len(lily.twilio.messages) == 1


def test_the_dashboard_api_lists_the_ledger_for_the_callers_tenant_only(lily: Lily) -> None:
    lily.sms("SM" + "d" * 32, "STOP")
    lily.clock.advance(minutes=5)
    lily.sms("SM" + "e" * 32, "START")
    other = other_tenant(lily)

    response = lily.client.get("/api/v1/compliance/ledger", headers=owner_headers(lily))

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["action"], i["evidence"], i["message_sid"]) for i in items] == [
        ("opt_out", "keyword:STOP", "SM" + "d" * 32),
        ("opt_in", "keyword:START", "SM" + "e" * 32),
    ]
    since = after(START, 60).isoformat()
    later = lily.client.get(
        "/api/v1/compliance/ledger", params={"since": since}, headers=owner_headers(lily)
    )
    assert [i["action"] for i in later.json()["items"]] == ["opt_in"]
    theirs = lily.client.get("/api/v1/compliance/ledger", headers=owner_headers(lily, other))
    assert theirs.json() == {"items": []}


def test_help_and_the_first_texts_opt_out_line_follow_the_tenants_choices(lily: Lily) -> None:
    owner = owner_headers(lily)
    changes = {"help_contact": "help@acme.example", "opt_out_notice": False}
    response = lily.client.patch("/api/v1/tenant", json=changes, headers=owner)
    assert response.status_code == 200, response.text
    settings = response.json()
    assert (settings["help_contact"], settings["opt_out_notice"]) == ("help@acme.example", False)
    assert settings["opt_out_notice_changed_at"] is not None  # the choice, on record
    lily.tenant = lily.update_tenant()

    lily.missed_call("CA" + "f" * 32)
    lily.sms("SM" + "f" * 32, "HELP")
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))

    texts = {m.kind: m.body for m in lily.outbound()}
    assert "STOP" not in texts[MessageKind.MISSED_CALL]
    assert texts[MessageKind.HELP] == (
        "Acme Wash Co: for help, email help@acme.example or reply to this text. "
        "Msg & data rates may apply. Reply STOP to opt out."
    )


def test_the_ledger_outlives_a_deleted_lead_and_still_stops_its_texts(lily: Lily) -> None:
    lily.sms("SM" + "9" * 32, "STOP")
    with lily.container.engine().begin() as conn:  # the lead erased, its rows with it
        set_tenant_scope(conn, None)
        for table in ("messages", "conversations", "calls", "leads"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    assert lily.count_rows("leads") == 0
    assert lily.count_rows("consent_ledger") == 1

    lily.clock.advance(minutes=5)
    lily.missed_call("CA" + "9" * 32)  # a new lead for the same number
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX + 0.5))

    assert lily.twilio.messages == []
    [text_back] = lily.outbound()
    assert text_back.status == MessageStatus.SUPPRESSED

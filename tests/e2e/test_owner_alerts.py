"""Issue 18 end to end, on both backends with the Twilio stand-in: the owner's phone hears
of every lead. A missed call texts the customer back and, a few seconds after that text, the
owner once, from the business number, naming the caller and linking the conversation; a
burst of events for one lead before its alert goes is one alert; an event in the owner's
quiet hours waits for the morning summary; an owner's STOP turns the alerts off (and START
back on); a customer's opt-out, even one only the carrier knew of (21610), alerts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lily_adapters.sql.uow import set_tenant_scope
from lily_core.domain.owner_alerts import ALERT_SWITCHES, ANSWER_GRACE
from lily_core.domain.tenant import Tenant
from tests.e2e.conftest import (
    BUSINESS_PHONE,
    CALLER,
    FORWARD_TO,
    JITTER_MAX,
    PUBLIC_URL,
    START,
    Lily,
    after,
)
from tests.e2e.dashboard_api import owner_headers
from tests.e2e.test_quote_flow import import_pricebook, mms, new_sid, text

CALLER_NATIONAL = "(512) 555-0123"  # CALLER as the owner reads it
OWNER_2 = "+15125550177"


@pytest.fixture(autouse=True)
def _alerts_on(lily: Lily) -> None:
    """Alerts are on for a new tenant; the harness turns them off for the other suites."""
    fresh = Tenant(name="x", slug="x", phone=BUSINESS_PHONE, created_at=START)
    assert all(getattr(fresh, switch) for switch in ALERT_SWITCHES)
    lily.tenant = lily.update_tenant(**dict.fromkeys(ALERT_SWITCHES, "true"))


def owner_texts(lily: Lily, number: str = FORWARD_TO) -> list[str]:
    return [m.body or "" for m in lily.twilio.messages if m.to == number]


def alert_counts(lily: Lily) -> list[tuple[int, int]]:
    """(events, SMS sent) of every alert text, oldest first."""
    with lily.container.engine().connect() as conn:
        set_tenant_scope(conn, None)
        rows = conn.execute(
            sa.text("SELECT events, sent FROM owner_alert_texts ORDER BY created_at")
        ).all()
    return [(int(events), int(sent)) for events, sent in rows]


def test_a_missed_call_texts_the_customer_back_and_alerts_the_owner_once(lily: Lily) -> None:
    lily.missed_call("CA" + "a" * 32)
    sent_at = after(START, JITTER_MAX + 0.5)
    lily.run_worker_at(sent_at)
    [text_back] = lily.texts_to(CALLER)
    assert text_back.from_ == BUSINESS_PHONE
    assert owner_texts(lily) == []  # the alert waits a few seconds, for what follows

    lily.run_worker_at(sent_at + ANSWER_GRACE - timedelta(milliseconds=100))
    assert owner_texts(lily) == []
    lily.run_worker_at(sent_at + ANSWER_GRACE)  # 5 s after the text-back: the alert
    assert len(owner_texts(lily)) == 1
    lily.run_worker_at(after(START, 3600))  # and nothing more comes later
    [alert] = [m for m in lily.twilio.messages if m.to == FORWARD_TO]
    assert alert.from_ == BUSINESS_PHONE
    body = alert.body or ""
    assert f"Missed call from {CALLER_NATIONAL} — Lily texted them back" in body
    assert f"{PUBLIC_URL}/inbox/?lead={lily.lead().id}" in body
    assert "Acme Wash Co" in body
    assert len(lily.texts_to(CALLER)) == 1  # the customer got the text-back only
    assert alert_counts(lily) == [(1, 1)]  # counted apart from the customers' texts
    assert lily.count_rows("messages") == 1  # an alert is not a message of the lead
    billing = lily.client.get("/api/v1/billing", headers=owner_headers(lily)).json()
    assert (billing["sms_used"], billing["alert_sms"]) == (1, 1)  # and shown apart


def test_alerts_go_to_every_notify_to_number_instead_of_forward_to(lily: Lily) -> None:
    lily.tenant = lily.update_tenant(notify_to=f"{OWNER_2}, (512) 555-0188")
    lily.missed_call("CA" + "b" * 32)
    lily.run_worker_at(after(START, 61))

    assert owner_texts(lily) == []
    assert len(owner_texts(lily, OWNER_2)) == 1
    assert len(owner_texts(lily, "+15125550188")) == 1
    assert alert_counts(lily) == [(1, 2)]


def test_three_events_for_one_lead_before_its_alert_goes_are_one_alert(lily: Lily) -> None:
    import_pricebook(lily)
    lily.missed_call("CA" + "c" * 32)  # 1: a new lead; its text-back waits out 10-45 s
    lily.clock.current = after(START, 1)
    mms(lily, "house, ZIP 75201")  # 2: photos + ZIP
    lily.run_worker_at(after(START, 2))  # the quote is made, and waits out its own jitter
    lily.clock.current = after(START, 3)
    text(lily, "Can you come Tuesday morning instead?")  # 3: words Lily cannot answer
    lily.run_worker_at(after(START, 4))
    assert lily.texts_to(CALLER) == [] and owner_texts(lily) == []

    answered = after(START, JITTER_MAX + 5)
    lily.run_worker_at(answered)  # the text-back and the quote go out
    assert len(lily.texts_to(CALLER)) == 2
    lily.run_worker_at(answered + ANSWER_GRACE - timedelta(milliseconds=100))
    assert owner_texts(lily) == []
    lily.run_worker_at(answered + ANSWER_GRACE)
    lily.run_worker_at(after(START, 3600))
    [alert] = owner_texts(lily)
    assert f"Missed call from {CALLER_NATIONAL}" in alert
    assert "Lily quoted $" in alert and "(ZIP 75201)" in alert
    assert '"Can you come Tuesday morning instead?"' in alert
    assert alert.count(f"/inbox/?lead={lily.lead().id}") == 1
    assert alert_counts(lily) == [(3, 1)]


def test_an_event_in_the_owners_quiet_hours_goes_into_the_morning_summary(lily: Lily) -> None:
    # the owner's quiet hours 22:00-07:00 in Austin; the customers' quiet hours are apart
    lily.tenant = lily.update_tenant(alert_quiet_hours="22:00-07:00")
    night = datetime(2026, 6, 2, 4, 0, tzinfo=UTC)  # 23:00 CDT
    lily.clock.current = night
    lily.missed_call("CA" + "d" * 32)
    lily.clock.current = night + timedelta(minutes=5)
    lily.missed_call("CA" + "e" * 32, caller="+15125550124")
    lily.run_worker_at(night + timedelta(hours=1))
    assert owner_texts(lily) == []  # the owner was not woken

    morning = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)  # 07:00 CDT
    lily.run_worker_at(morning - timedelta(seconds=1))
    assert owner_texts(lily) == []
    lily.run_worker_at(morning + timedelta(seconds=1))
    [summary] = owner_texts(lily)
    assert summary.startswith("Good morning!")
    assert CALLER_NATIONAL in summary and "(512) 555-0124" in summary
    assert alert_counts(lily) == [(2, 1)]


def test_the_owner_replies_stop_and_gets_no_more_alerts_until_start(lily: Lily) -> None:
    assert lily.sms(new_sid(), "STOP", caller=FORWARD_TO).status_code == 200
    assert list(lily.update_tenant().alert_stops) == [FORWARD_TO]
    assert lily.leads() == []  # the owner's STOP made no lead and opted no one out

    lily.missed_call("CA" + "f" * 32)
    lily.run_worker_at(after(START, 120))
    assert len(lily.texts_to(CALLER)) == 1  # the customer is still texted back
    assert owner_texts(lily) == []

    assert lily.sms(new_sid(), "start", caller=FORWARD_TO).status_code == 200
    assert lily.update_tenant().alert_stops == {}
    lily.clock.current = after(START, 7200)
    lily.missed_call("CA" + "9" * 32, caller="+15125550124")
    lily.run_worker_at(after(START, 7200 + 61))
    assert len(owner_texts(lily)) == 1


def test_a_customer_opt_out_alerts_the_owner_and_the_switch_turns_it_off(lily: Lily) -> None:
    lily.tenant = lily.update_tenant(alert_new_lead="false")
    lily.missed_call("CA" + "1" * 31 + "a")
    lily.run_worker_at(after(START, 120))
    assert owner_texts(lily) == []  # new-lead alerts are off

    text(lily, "STOP")
    lily.run_worker_at(after(START, 200))
    [alert] = owner_texts(lily)
    assert f"{CALLER_NATIONAL} opted out of texts" in alert


def test_a_caller_the_carrier_says_unsubscribed_alerts_the_owner(lily: Lily) -> None:
    lily.twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    lily.missed_call("CA" + "2" * 32)
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    assert lily.texts_to(CALLER) == [] and lily.lead().opted_out  # Twilio refused the text
    lily.run_worker_at(after(START, 59))
    assert owner_texts(lily) == []  # no text-back went: the batch waits out its minute

    lily.run_worker_at(after(START, 61))
    [alert] = owner_texts(lily)
    assert f"Missed call from {CALLER_NATIONAL}" in alert
    assert "they opted out of texts" in alert
    assert alert_counts(lily) == [(2, 1)]


def test_the_owner_answers_an_alert_from_their_phone_and_the_customer_gets_it(
    lily: Lily,
) -> None:
    lily.missed_call("CA" + "8" * 32)
    lily.run_worker_at(after(START, 61))
    [alert] = owner_texts(lily)
    assert alert.endswith("Reply R + your text to answer them.")

    sid = new_sid()
    for _ in range(2):  # Twilio delivers it twice: relayed once
        assert lily.sms(sid, "R We can come Tuesday at 9", caller=FORWARD_TO).status_code == 200
    lily.run_worker_at(after(START, 62))
    texts = [m.body for m in lily.texts_to(CALLER)]
    assert texts[1:] == ["We can come Tuesday at 9"]  # after the text-back, from the owner
    [manual] = [m for m in lily.outbound() if m.kind == "manual"]
    assert manual.status == "sent"
    assert all(lead.phone != FORWARD_TO for lead in lily.leads())  # the owner is no lead

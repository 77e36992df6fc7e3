"""DESIGN §2.1 end to end: a missed call to the business number becomes exactly one
text-back from that number, sent by the worker after the jitter, with delivery callbacks."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest

from lily_core.domain.leads import MessageKind, MessageStatus
from lily_core.ports.queue import QueueStats
from tests.e2e.conftest import (
    BUSINESS_PHONE,
    CALLER,
    FORWARD_TO,
    JITTER_MAX,
    JITTER_MIN,
    PUBLIC_URL,
    START,
    Lily,
    after,
)
from tests.standins.twilio import DEFAULT_ACCOUNT_SID

VOICE = "/webhooks/twilio/voice"
EMPTY = QueueStats(scheduled=0, due=0, in_flight=0, dead=0)


def twiml(response_text: str) -> ElementTree.Element:
    root = ElementTree.fromstring(response_text)
    assert root.tag == "Response"
    return root


def assert_goodbye(response_text: str) -> None:
    root = twiml(response_text)
    assert root.find("Dial") is None
    say = root.find("Say")
    assert say is not None and "text" in (say.text or "")
    assert root.find("Hangup") is not None


def assert_nothing_stored(lily: Lily) -> None:
    assert lily.count_rows("leads") == 0
    assert lily.count_rows("calls") == 0
    assert lily.count_rows("messages") == 0
    assert lily.queue_stats() == EMPTY


def test_first_leg_forwards_to_the_business_with_a_ring_timeout(lily: Lily) -> None:
    response = lily.call("CA" + "1" * 32, call_status="ringing")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    dial = twiml(response.text).find("Dial")
    assert dial is not None
    assert dial.get("action") == PUBLIC_URL + VOICE
    assert dial.get("method") == "POST"
    assert dial.get("timeout") is not None and int(dial.get("timeout", "0")) > 0
    assert (dial.text or "").strip() == FORWARD_TO
    assert_nothing_stored(lily)  # ringing is not missed: no lead, no call, no task


@pytest.mark.parametrize("dial_status", ["no-answer", "busy", "failed", "canceled"])
def test_each_missed_outcome_gets_one_text_back_after_the_jitter(
    lily: Lily, dial_status: str
) -> None:
    assert lily.call("CA" + "2" * 32).status_code == 200  # first leg: forwarded
    response = lily.call("CA" + "2" * 32, call_status="in-progress", dial_call_status=dial_status)

    assert response.status_code == 200
    assert_goodbye(response.text)
    assert lily.twilio.messages == []  # never inside the webhook

    lily.run_worker_at(after(START, JITTER_MIN - 0.5))
    assert lily.twilio.messages == []  # not before the jitter's minimum

    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    [sms] = lily.twilio.messages
    assert (sms.from_, sms.to, sms.account_sid) == (BUSINESS_PHONE, CALLER, DEFAULT_ACCOUNT_SID)
    assert sms.body is not None and "photos" in sms.body and "ZIP" in sms.body
    assert "Acme Wash Co" in sms.body
    assert sms.body.endswith("Reply STOP to opt out.")  # the first text to a new lead says how
    assert sms.status_callback == PUBLIC_URL + "/webhooks/twilio/sms/status"

    [message] = lily.outbound()
    assert message.kind == MessageKind.MISSED_CALL
    assert message.status == MessageStatus.SENT
    assert message.provider_sid == sms.sid
    call = lily.call_record("CA" + "2" * 32)
    assert call is not None and call.missed and call.texted_back and call.status == dial_status
    assert lily.queue_stats() == EMPTY


@pytest.mark.parametrize("first_leg_status", ["no-answer", "ringing"])
def test_without_forward_to_the_call_is_missed_at_once(lily: Lily, first_leg_status: str) -> None:
    lily.tenant = lily.update_tenant(forward_to="")
    response = lily.call("CA" + "3" * 32, call_status=first_leg_status)

    assert response.status_code == 200
    assert_goodbye(response.text)
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    [sms] = lily.twilio.messages
    assert (sms.from_, sms.to) == (BUSINESS_PHONE, CALLER)


def test_an_answered_call_sends_nothing(lily: Lily) -> None:
    response = lily.call("CA" + "4" * 32, call_status="in-progress", dial_call_status="completed")

    assert response.status_code == 200
    assert twiml(response.text).find("Say") is None
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    assert lily.twilio.messages == []
    assert_nothing_stored(lily)


def test_the_same_call_sid_twice_sends_one_text(lily: Lily) -> None:
    first = lily.missed_call("CA" + "5" * 32)
    again = lily.missed_call("CA" + "5" * 32)

    assert (first.status_code, again.status_code) == (200, 200)
    assert_goodbye(again.text)
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    lily.missed_call("CA" + "5" * 32)  # a late duplicate, after the text went out
    lily.run_worker_at(after(START, 2 * JITTER_MAX))

    assert len(lily.twilio.messages) == 1
    assert len(lily.outbound()) == 1
    assert lily.count_rows("calls") == 1


def test_a_repeat_caller_inside_the_dedupe_window_gets_no_second_text(lily: Lily) -> None:
    lily.missed_call("CA" + "6" * 32)
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))

    lily.clock.advance(minutes=59)
    lily.missed_call("CA" + "7" * 32)
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX + 0.5))
    assert len(lily.twilio.messages) == 1
    assert lily.count_rows("calls") == 2  # the call is still recorded

    lily.clock.advance(minutes=61)  # now past the 60-minute window of the first text
    lily.missed_call("CA" + "8" * 32)
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX + 0.5))
    assert [m.to for m in lily.twilio.messages] == [CALLER, CALLER]
    assert len(lily.outbound()) == 2


def test_only_the_first_text_back_says_how_to_opt_out(lily: Lily) -> None:
    lily.missed_call("CA" + "a" * 32)
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    lily.clock.advance(minutes=61)  # past the dedupe window: a second text-back
    lily.missed_call("CA" + "b" * 32)
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX + 0.5))

    first, second = (sms.body or "" for sms in lily.twilio.messages)
    assert "Reply STOP to opt out." in first
    assert "STOP" not in second


def test_two_callers_get_a_text_each(lily: Lily) -> None:
    lily.missed_call("CA" + "a" * 32, caller=CALLER)
    lily.missed_call("CA" + "b" * 32, caller="+15125550124")
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))

    assert sorted(m.to for m in lily.twilio.messages) == [CALLER, "+15125550124"]


def _missed_form(call_sid: str = "CA" + "9" * 32) -> dict[str, str]:
    return {
        "AccountSid": DEFAULT_ACCOUNT_SID,
        "CallSid": call_sid,
        "From": CALLER,
        "To": BUSINESS_PHONE,
        "CallStatus": "in-progress",
        "DialCallStatus": "no-answer",
    }


@pytest.mark.parametrize(
    "how", ["wrong_token", "missing", "other_url", "tampered_form", "query_added"]
)
def test_a_bad_signature_is_403_and_stores_nothing(lily: Lily, how: str) -> None:
    form = _missed_form()
    if how == "wrong_token":
        response = lily.post_signed(VOICE, form, token="not-the-token")
    elif how == "missing":
        response = lily.client.post(VOICE, data=form)
    elif how == "other_url":
        response = lily.post_signed(VOICE, form, signed_url="https://evil.example" + VOICE)
    elif how == "tampered_form":
        signature = lily.signature(PUBLIC_URL + VOICE, form)
        tampered = {**form, "From": "+15125550999"}
        response = lily.client.post(VOICE, data=tampered, headers={"X-Twilio-Signature": signature})
    else:
        signature = lily.signature(PUBLIC_URL + VOICE, form)
        response = lily.client.post(
            VOICE + "?x=1", data=form, headers={"X-Twilio-Signature": signature}
        )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    assert_nothing_stored(lily)
    assert lily.twilio.messages == []


def test_a_signed_url_with_a_query_string_is_accepted(lily: Lily) -> None:
    form = _missed_form()
    signature = lily.signature(PUBLIC_URL + VOICE + "?x=1", form)
    response = lily.client.post(
        VOICE + "?x=1", data=form, headers={"X-Twilio-Signature": signature}
    )

    assert response.status_code == 200
    assert lily.count_rows("calls") == 1


def test_an_unknown_business_number_is_404(lily: Lily) -> None:
    response = lily.call("CA" + "c" * 32, to="+15125550777", call_status="no-answer")

    assert response.status_code == 404
    assert_nothing_stored(lily)


@pytest.mark.parametrize(
    "change",
    [
        {"CallSid": None},
        {"CallSid": ""},
        {"From": "garbage"},
        {"From": None},
        {"To": "garbage"},
        {"To": None},
    ],
    ids=["no-callsid", "empty-callsid", "from-garbage", "no-from", "to-garbage", "no-to"],
)
def test_malformed_voice_payloads_are_4xx_and_store_nothing(
    lily: Lily, change: dict[str, str | None]
) -> None:
    form = _missed_form()
    for key, value in change.items():
        if value is None:
            form.pop(key)
        else:
            form[key] = value
    response = lily.post_signed(VOICE, form)

    assert 400 <= response.status_code < 500
    assert "error" in response.json()
    assert_nothing_stored(lily)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"CallSid": "CA1", "To": "+15125550100"}', "application/json"),
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"", "text/plain"),
    ],
    ids=["json", "binary-form", "broken-multipart", "empty"],
)
@pytest.mark.parametrize("path", [VOICE, "/webhooks/twilio/sms", "/webhooks/twilio/sms/status"])
def test_a_body_that_is_not_a_twilio_form_is_4xx(
    lily: Lily, path: str, content: bytes, content_type: str
) -> None:
    response = lily.client.post(
        path, content=content, headers={"Content-Type": content_type, "X-Twilio-Signature": "x"}
    )

    assert 400 <= response.status_code < 500
    assert_nothing_stored(lily)


def test_a_recipient_who_opted_out_at_the_carrier_is_marked_and_not_retried(lily: Lily) -> None:
    lily.twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    lily.missed_call("CA" + "d" * 32)

    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    lily.run_worker_at(after(START, 3600))  # nothing comes back later either

    assert lily.twilio.messages == []
    posts = [r for r in lily.twilio.requests if r.method == "POST"]
    assert len(posts) == 1  # one attempt, not a retry loop
    assert lily.lead().opted_out
    [message] = lily.outbound()
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "21610"
    assert lily.queue_stats() == EMPTY  # acked: not retried, not dead-lettered


def test_a_server_error_at_twilio_is_retried_in_the_task_and_sent_once(lily: Lily) -> None:
    lily.twilio.fail_next(500, 20500, "Internal Server Error")
    lily.missed_call("CA" + "d" * 32)

    lily.run_worker_at(after(START, JITTER_MAX + 0.5))  # the provider policy's retry
    [sms] = lily.twilio.messages
    [message] = lily.outbound()
    assert (message.status, message.provider_sid) == (MessageStatus.SENT, sms.sid)
    assert lily.queue_stats() == EMPTY


def test_a_server_error_at_twilio_is_retried_and_sent_once(lily: Lily) -> None:
    for _ in range(3):  # the task's own retries (the provider policy's) all fail
        lily.twilio.fail_next(500, 20500, "Internal Server Error")
    lily.missed_call("CA" + "e" * 32)

    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    assert lily.twilio.messages == []
    [message] = lily.outbound()
    assert message.status == MessageStatus.QUEUED  # waiting for its retry
    stats = lily.queue_stats()
    assert (stats.scheduled, stats.dead) == (1, 0)

    lily.run_worker_at(after(START, JITTER_MAX + 600))  # past any first backoff
    [sms] = lily.twilio.messages
    [message] = lily.outbound()
    assert (message.status, message.provider_sid) == (MessageStatus.SENT, sms.sid)
    assert lily.queue_stats() == EMPTY


def _sent_text(lily: Lily) -> str:
    lily.missed_call("CA" + "f" * 32)
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))
    [sms] = lily.twilio.messages
    return sms.sid


def test_a_delivered_callback_marks_the_message_delivered(lily: Lily) -> None:
    sid = _sent_text(lily)

    assert lily.status_callback(sid, "sent").status_code == 204
    assert lily.status_callback(sid, "delivered").status_code == 204
    [message] = lily.outbound()
    assert message.status == MessageStatus.DELIVERED
    # a late "sent" arriving after "delivered" does not move it back
    assert lily.status_callback(sid, "sent").status_code == 204
    assert lily.outbound()[0].status == MessageStatus.DELIVERED


@pytest.mark.parametrize("code", ["30003", "30004", "30005", "30006", "30007"])
def test_an_undelivered_callback_records_the_carrier_error(lily: Lily, code: str) -> None:
    sid = _sent_text(lily)

    assert lily.status_callback(sid, "undelivered", error_code=code).status_code == 204
    [message] = lily.outbound()
    assert (message.status, message.error_code) == (MessageStatus.UNDELIVERED, code)


def test_a_21610_in_a_status_callback_opts_the_lead_out_on_the_ledger(lily: Lily) -> None:
    sid = _sent_text(lily)

    assert lily.status_callback(sid, "failed", error_code="21610").status_code == 204
    assert lily.status_callback(sid, "failed", error_code="21610").status_code == 204  # again

    assert lily.lead().opted_out
    [record] = lily.container.export_consent_ledger()(lily.tenant.slug)
    assert (record.action, record.evidence, record.message_sid) == ("opt_out", "carrier:21610", sid)


def test_a_status_callback_needs_a_valid_signature(lily: Lily) -> None:
    sid = _sent_text(lily)
    form = {"MessageSid": sid, "MessageStatus": "delivered", "From": BUSINESS_PHONE}

    response = lily.post_signed("/webhooks/twilio/sms/status", form, token="wrong")

    assert response.status_code == 403
    assert lily.outbound()[0].status == MessageStatus.SENT


def test_a_status_callback_for_an_unknown_sid_changes_nothing(lily: Lily) -> None:
    sid = _sent_text(lily)

    response = lily.status_callback("SM" + "0" * 32, "undelivered", error_code="30005")

    assert response.status_code == 204
    assert lily.outbound()[0].status == MessageStatus.SENT
    assert lily.outbound()[0].provider_sid == sid


def test_a_status_callback_without_a_status_is_400(lily: Lily) -> None:
    sid = _sent_text(lily)
    form = {"MessageSid": sid, "From": BUSINESS_PHONE, "To": CALLER}

    response = lily.post_signed("/webhooks/twilio/sms/status", form)

    assert response.status_code == 400
    assert lily.outbound()[0].status == MessageStatus.SENT


def test_the_clock_moves_only_forward(lily: Lily) -> None:
    """A guard on the harness itself: tests cannot rewind time by accident."""
    lily.clock.advance(timedelta(seconds=5).total_seconds())
    with pytest.raises(AssertionError):
        lily.run_worker_at(START)

"""Issue 18's daily digest end to end, on both backends: at the owner's digest time the owner
gets yesterday's figures by SMS (Twilio stand-in) and by email (a local SMTP server, aiosmtpd),
and they are the figures `GET /api/v1/stats` gives for that day."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from lily_adapters.calcom import SIGNATURE_HEADER, sign
from tests.e2e.conftest import FORWARD_TO, START, Lily, after, running_lily
from tests.e2e.dashboard_api import owner_headers
from tests.e2e.test_booking_flow import calcom_body
from tests.e2e.test_quote_flow import BOOKING_URL, import_pricebook, mms, settle
from tests.standins.twilio import TwilioStandIn

SECRET = "calcom_digest_secret_0123456789"
OTHER_CALLER = "+15125550124"
EVENING = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)  # 20:00 CDT, still June 1 in Austin
SEVEN = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)  # 07:00 CDT, June 2
OWNER_EMAIL = "owner@acme.example"


class Inbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}?from=Lily <lily@lily.example>", inbox
    finally:
        controller.stop()


@pytest.fixture
def lily_mail(
    backend: tuple[str, str | None],
    twilio: TwilioStandIn,
    tmp_path: Path,
    smtp: tuple[str, Inbox],
) -> Iterator[Lily]:
    with running_lily(backend, twilio, tmp_path, smtp_url=smtp[0]) as harness:
        yield harness


def a_busy_day(lily: Lily) -> None:
    """June 1 in Austin: two missed calls, both texted back, one quote, one booking."""
    import_pricebook(lily)
    lily.tenant = lily.update_tenant(booking_url=BOOKING_URL, calcom_secret=SECRET)
    assert lily.missed_call("CA" + "1" * 32).status_code == 200
    lily.run_worker_at(after(START, 46))
    mms(lily, "house in 75201", photos=1)
    settle(lily)
    visit = START + timedelta(days=3)
    body = calcom_body(lead_id=lily.lead().id, start=visit, end=visit + timedelta(hours=1))
    booked = lily.client.post(
        f"/webhooks/calcom/{lily.tenant.slug}",
        content=body,
        headers={SIGNATURE_HEADER: sign(SECRET, body)},
    )
    assert booked.status_code == 200, booked.text
    lily.run_worker_at(EVENING)
    assert lily.missed_call("CA" + "2" * 32, caller=OTHER_CALLER).status_code == 200
    lily.run_worker_at(after(EVENING, 50))


def test_the_digest_at_seven_has_the_figures_of_the_stats_api(
    lily_mail: Lily, smtp: tuple[str, Inbox]
) -> None:
    lily = lily_mail
    lily.tenant = lily.update_tenant(digest_email=OWNER_EMAIL)
    a_busy_day(lily)
    api = lily.client.get(
        "/api/v1/stats",
        params={"from": "2026-06-01", "to": "2026-06-01"},
        headers=owner_headers(lily),
    ).json()
    assert (api["missed_calls"], api["quotes"], api["bookings"]) == (2, 1, 1)  # a real day

    lily.run_worker_at(SEVEN - timedelta(seconds=1))
    assert lily.container.send_daily_digests()() == []  # not yet 07:00
    before = len(lily.texts_to(FORWARD_TO))
    lily.run_worker_at(SEVEN + timedelta(seconds=30))
    [result] = lily.container.send_daily_digests()()
    assert lily.container.send_daily_digests()() == []  # once a day

    [sms] = lily.texts_to(FORWARD_TO)[before:]
    body = sms.body or ""
    figures = [
        f"{api['missed_calls']} missed calls",
        f"{api['texted_back']} texted back",
        f"{api['leads']} new leads",
        f"{api['quotes']} quotes",
        f"{api['bookings']} bookings",
        f"conversion {api['conversion_rate']:.0%}",
        f"speed to lead {api['median_speed_to_lead_seconds']:.0f} s",
    ]
    for figure in figures:
        assert figure in body, (figure, body)
    assert "Mon Jun 1" in body and "http://testserver/stats/" in body
    assert result.sms_sent == 1 and result.emailed

    [(to, mail)] = smtp[1].messages
    assert to == [OWNER_EMAIL]
    assert mail["From"] == "Lily <lily@lily.example>"
    plain = mail.get_body(preferencelist=("plain",))
    rich = mail.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    text, html = plain.get_content(), rich.get_content()
    assert f"Missed calls: {api['missed_calls']}" in text
    assert f"Bookings: {api['bookings']}" in text
    assert f"<th align='left'>Quotes</th><td>{api['quotes']}</td>" in html


def test_no_email_without_an_address_and_no_digest_when_turned_off(lily: Lily) -> None:
    assert lily.missed_call("CA" + "3" * 32).status_code == 200
    lily.run_worker_at(SEVEN + timedelta(minutes=1))
    [result] = lily.container.send_daily_digests()()
    assert not result.emailed  # no LILY_SMTP_URL here
    [sms] = [m for m in lily.texts_to(FORWARD_TO) if "missed calls" in (m.body or "")]
    assert "1 missed calls" in (sms.body or "")

    lily.tenant = lily.update_tenant(digest_enabled="false")
    lily.run_worker_at(SEVEN + timedelta(days=1, minutes=1))
    assert lily.container.send_daily_digests()() == []
    assert len(lily.texts_to(FORWARD_TO)) == 1

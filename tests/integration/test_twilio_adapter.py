"""The Twilio adapter over real HTTP against the Twilio stand-in: what TwilioSmsSender puts
on the wire and how it maps failures; the sandbox sender; media download; webhook signatures
(against the signed samples in tests/fixtures) and TwiML."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from loguru import logger

from lily_adapters.twilio import (
    SandboxSmsSender,
    TwilioMediaFetcher,
    TwilioSmsSender,
    empty_messaging_twiml,
    forward_call_twiml,
    is_valid_signature,
    missed_call_twiml,
    reply_messaging_twiml,
)
from lily_adapters.twilio.sms import retry_after_seconds
from lily_core.domain.tenant import Tenant
from lily_core.errors import (
    DeliveryOutcomeUnknown,
    PermanentDeliveryError,
    RecipientOptedOut,
    TransientDeliveryError,
)
from tests.fixtures import webhook_samples
from tests.standins.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioStandIn

SUBACCOUNT_SID = "AC" + "b" * 32
SUBACCOUNT_TOKEN = "subaccount_token_fedcba9876543210"


def basic(sid: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()


def make_tenant(**overrides: Any) -> Tenant:
    values: dict[str, Any] = dict(
        name="Acme Wash", slug="acme-wash", phone="+15125550199", created_at=datetime.now(UTC)
    )
    return Tenant(**(values | overrides))


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    accounts = {DEFAULT_ACCOUNT_SID: DEFAULT_AUTH_TOKEN, SUBACCOUNT_SID: SUBACCOUNT_TOKEN}
    with TwilioStandIn(accounts) as server:
        yield server


@pytest.fixture
def sender(standin: TwilioStandIn) -> Iterator[TwilioSmsSender]:
    sender = TwilioSmsSender(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, api_url=standin.url)
    yield sender
    sender.close()


# -- TwilioSmsSender: the wire --


def test_send_posts_from_to_body_media_and_status_callback(
    standin: TwilioStandIn, sender: TwilioSmsSender
) -> None:
    result = sender.send(
        make_tenant(),
        to="+15125550100",
        body="Here is your quote",
        media_urls=["https://example.com/a.jpg", "https://example.com/b.jpg"],
        status_callback="https://lily.example/webhooks/twilio/sms/status",
    )

    [message] = standin.messages
    assert message.account_sid == DEFAULT_ACCOUNT_SID
    assert message.form == {
        "To": ["+15125550100"],
        "From": ["+15125550199"],
        "Body": ["Here is your quote"],
        "MediaUrl": ["https://example.com/a.jpg", "https://example.com/b.jpg"],
        "StatusCallback": ["https://lily.example/webhooks/twilio/sms/status"],
    }
    assert (result.provider_sid, result.status) == (message.sid, "queued")
    [request] = standin.requests
    assert request.path == f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    assert request.authorization == basic(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)


def test_a_plain_sms_sends_no_media_or_callback(
    standin: TwilioStandIn, sender: TwilioSmsSender
) -> None:
    sender.send(make_tenant(), to="+15125550100", body="Hi")

    assert standin.messages[0].form == {
        "To": ["+15125550100"],
        "From": ["+15125550199"],
        "Body": ["Hi"],
    }


def test_a_tenant_with_its_own_subaccount_sends_with_it(
    standin: TwilioStandIn, sender: TwilioSmsSender
) -> None:
    own = make_tenant(twilio_account_sid=SUBACCOUNT_SID, twilio_auth_token=SUBACCOUNT_TOKEN)

    sender.send(own, to="+15125550100", body="Hi")
    sender.send(make_tenant(), to="+15125550100", body="Hi")

    assert [m.account_sid for m in standin.messages] == [SUBACCOUNT_SID, DEFAULT_ACCOUNT_SID]
    assert standin.requests[0].authorization == basic(SUBACCOUNT_SID, SUBACCOUNT_TOKEN)


# -- TwilioSmsSender: failures --


def test_21610_means_the_recipient_opted_out(
    standin: TwilioStandIn, sender: TwilioSmsSender
) -> None:
    standin.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")

    with pytest.raises(RecipientOptedOut) as raised:
        sender.send(make_tenant(), to="+15125550100", body="Hi")

    assert raised.value.code == "21610"
    assert "unsubscribed recipient" in str(raised.value)


def test_an_invalid_number_is_permanent(sender: TwilioSmsSender) -> None:
    with pytest.raises(PermanentDeliveryError) as raised:
        sender.send(make_tenant(), to="555-0100", body="Hi")

    assert type(raised.value) is PermanentDeliveryError
    assert raised.value.code == "21211"


@pytest.mark.parametrize(("status", "code"), [(400, 21614), (400, 21602), (404, 20404)])
def test_other_4xx_are_permanent(
    standin: TwilioStandIn, sender: TwilioSmsSender, status: int, code: int
) -> None:
    standin.fail_next(status, code, "nope")

    with pytest.raises(PermanentDeliveryError) as raised:
        sender.send(make_tenant(), to="+15125550100", body="Hi")

    assert type(raised.value) is PermanentDeliveryError
    assert raised.value.code == str(code)


def test_wrong_credentials_are_permanent(standin: TwilioStandIn) -> None:
    wrong = TwilioSmsSender(DEFAULT_ACCOUNT_SID, "not-the-token", api_url=standin.url)

    with pytest.raises(PermanentDeliveryError) as raised:
        wrong.send(make_tenant(), to="+15125550100", body="Hi")

    assert raised.value.code == "20003"
    assert "not-the-token" not in str(raised.value)
    assert standin.messages == []


def test_no_credentials_at_all_is_permanent(standin: TwilioStandIn) -> None:
    unconfigured = TwilioSmsSender(None, None, api_url=standin.url)

    with pytest.raises(PermanentDeliveryError):
        unconfigured.send(make_tenant(), to="+15125550100", body="Hi")

    assert standin.requests == []


def test_429_is_transient_with_retry_after(standin: TwilioStandIn, sender: TwilioSmsSender) -> None:
    standin.fail_next(429, 20429, "Too Many Requests", retry_after="7")

    with pytest.raises(TransientDeliveryError) as raised:
        sender.send(make_tenant(), to="+15125550100", body="Hi")

    assert (raised.value.code, raised.value.retry_after) == ("20429", 7.0)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(standin: TwilioStandIn, sender: TwilioSmsSender, status: int) -> None:
    standin.fail_next(status, 20500, "Internal Server Error")

    with pytest.raises(TransientDeliveryError) as raised:
        sender.send(make_tenant(), to="+15125550100", body="Hi")

    assert raised.value.retry_after is None


def test_a_server_that_is_down_is_transient() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = TwilioSmsSender(
        DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, api_url=f"http://127.0.0.1:{port}"
    )

    with pytest.raises(TransientDeliveryError):
        down.send(make_tenant(), to="+15125550100", body="Hi")


def test_a_timeout_is_transient(standin: TwilioStandIn) -> None:
    impatient = TwilioSmsSender(
        DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, api_url=standin.url, timeout=0.2
    )
    standin.hang_next()

    with pytest.raises(TransientDeliveryError):
        impatient.send(make_tenant(), to="+15125550100", body="Hi")


def test_a_send_whose_answer_is_lost_has_an_unknown_outcome(standin: TwilioStandIn) -> None:
    """Twilio accepted the message, and the connection broke before its answer came: the
    send may have gone out, so it is DeliveryOutcomeUnknown (not a plain retry), and the
    Messages list finds it."""
    sender = TwilioSmsSender(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, api_url=standin.url)
    since = datetime.now(UTC) - timedelta(seconds=1)
    standin.drop_next()

    with pytest.raises(DeliveryOutcomeUnknown):
        sender.send(make_tenant(), to="+15125550100", body="Hi")

    [accepted] = standin.messages
    found = sender.find_sent(make_tenant(), to="+15125550100", body="Hi", since=since)
    assert [s.provider_sid for s in found] == [accepted.sid]


def test_a_read_timeout_has_an_unknown_outcome(standin: TwilioStandIn) -> None:
    impatient = TwilioSmsSender(
        DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, api_url=standin.url, timeout=0.2
    )
    standin.hang_next()

    with pytest.raises(DeliveryOutcomeUnknown):
        impatient.send(make_tenant(), to="+15125550100", body="Hi")


def test_a_refused_connection_is_not_an_unknown_outcome() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = TwilioSmsSender(
        DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, api_url=f"http://127.0.0.1:{port}"
    )

    with pytest.raises(TransientDeliveryError) as raised:
        down.send(make_tenant(), to="+15125550100", body="Hi")
    assert not isinstance(raised.value, DeliveryOutcomeUnknown)


def test_find_sent_asks_twilio_by_to_from_and_date_sent(standin: TwilioStandIn) -> None:
    sender = TwilioSmsSender(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, api_url=standin.url)
    since = datetime(2026, 12, 7, 0, 0, 30, tzinfo=UTC)

    sender.find_sent(make_tenant(), to="+15125550100", body="Hi", since=since)

    [request] = [r for r in standin.requests if r.method == "GET"]
    assert request.path.endswith("/Messages.json")
    [query] = standin.queries
    assert query["To"] == ["+15125550100"]
    assert query["From"] == [make_tenant().phone]
    assert query["DateSent>"] == ["2026-12-06"]  # the day before: clocks around midnight


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)

    assert retry_after_seconds("12", now=now) == 12.0
    assert retry_after_seconds(later, now=now) == 90.0
    assert retry_after_seconds(format_datetime(now - timedelta(hours=1)), now=now) == 0.0
    assert retry_after_seconds("soon", now=now) is None
    assert retry_after_seconds(None, now=now) is None


# -- SandboxSmsSender --


def test_sandbox_sends_nothing_and_logs_one_line_without_secrets() -> None:
    lines: list[Any] = []
    sink = logger.add(lines.append, level="DEBUG", format="{message} {extra}")
    try:
        tenant = make_tenant(twilio_account_sid=SUBACCOUNT_SID, twilio_auth_token=SUBACCOUNT_TOKEN)
        result = SandboxSmsSender().send(tenant, to="+15125550100", body="secret quote text")
    finally:
        logger.remove(sink)

    assert result.status == "sandbox"
    assert re.fullmatch(r"SB[0-9a-f]{32}", result.provider_sid)
    [line] = lines
    assert "acme-wash" in line and "+15125550100" in line and "17 chars" in line
    for secret in (SUBACCOUNT_TOKEN, tenant.sandbox_auth_token, "secret quote text"):
        assert secret not in line


def test_sandbox_sids_are_unique() -> None:
    sandbox = SandboxSmsSender()
    sids = {sandbox.send(make_tenant(), to="+15125550100", body="x").provider_sid for _ in range(3)}
    assert len(sids) == 3


# -- TwilioMediaFetcher --


@pytest.fixture
def fetcher(standin: TwilioStandIn) -> Iterator[TwilioMediaFetcher]:
    fetcher = TwilioMediaFetcher(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, 5.0, api_url=standin.url)
    yield fetcher
    fetcher.close()


def test_media_is_fetched_through_the_redirect_with_auth_on_the_first_hop_only(
    standin: TwilioStandIn, fetcher: TwilioMediaFetcher
) -> None:
    url = standin.add_media("image/jpeg", b"\xff\xd8jpeg-bytes")

    media = fetcher.fetch(make_tenant(), url, max_bytes=1024)

    assert (media.data, media.content_type) == (b"\xff\xd8jpeg-bytes", "image/jpeg")
    first, second = standin.requests
    assert first.path.endswith("/Media/" + url.rsplit("/", 1)[1])
    assert first.authorization == basic(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)
    assert second.path.startswith("/cdn/")
    assert second.authorization is None


def test_media_of_a_subaccount_is_fetched_with_its_credentials(
    standin: TwilioStandIn, fetcher: TwilioMediaFetcher
) -> None:
    url = standin.add_media("image/png", b"png", account_sid=SUBACCOUNT_SID)
    own = make_tenant(twilio_account_sid=SUBACCOUNT_SID, twilio_auth_token=SUBACCOUNT_TOKEN)

    assert fetcher.fetch(own, url, max_bytes=1024).data == b"png"
    assert standin.requests[0].authorization == basic(SUBACCOUNT_SID, SUBACCOUNT_TOKEN)


def test_credentials_never_go_to_a_host_that_is_not_twilio(standin: TwilioStandIn) -> None:
    # configured for the real Twilio, so the stand-in is just some other host
    fetcher = TwilioMediaFetcher(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, 5.0)
    url = standin.add_media("image/jpeg", b"jpeg")

    with pytest.raises(PermanentDeliveryError) as raised:
        fetcher.fetch(make_tenant(), url, max_bytes=1024)

    assert raised.value.code == "401"
    assert [r.authorization for r in standin.requests] == [None]


def test_missing_media_is_permanent(standin: TwilioStandIn, fetcher: TwilioMediaFetcher) -> None:
    url = standin.add_media("image/jpeg", b"jpeg").rsplit("/", 1)[0] + "/ME" + "0" * 32

    with pytest.raises(PermanentDeliveryError) as raised:
        fetcher.fetch(make_tenant(), url, max_bytes=1024)

    assert raised.value.code == "404"


@pytest.mark.parametrize("declare_length", [True, False])
def test_media_larger_than_max_bytes_is_permanent(
    standin: TwilioStandIn, fetcher: TwilioMediaFetcher, declare_length: bool
) -> None:
    url = standin.add_media("image/jpeg", b"x" * 5000, declare_length=declare_length)

    with pytest.raises(PermanentDeliveryError, match="larger than 4999 bytes"):
        fetcher.fetch(make_tenant(), url, max_bytes=4999)

    assert fetcher.fetch(make_tenant(), url, max_bytes=5000).data == b"x" * 5000


def test_media_server_errors_are_transient(
    standin: TwilioStandIn, fetcher: TwilioMediaFetcher
) -> None:
    url = standin.add_media("image/jpeg", b"jpeg")
    standin.fail_next(503, 20503, "Service Unavailable")

    with pytest.raises(TransientDeliveryError):
        fetcher.fetch(make_tenant(), url, max_bytes=1024)


def test_media_timeouts_are_transient(standin: TwilioStandIn) -> None:
    impatient = TwilioMediaFetcher(
        DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, 0.2, api_url=standin.url
    )
    url = standin.add_media("image/jpeg", b"jpeg")
    standin.hang_next()

    with pytest.raises(TransientDeliveryError):
        impatient.fetch(make_tenant(), url, max_bytes=1024)


# -- webhook signatures --


def _twilio_samples() -> dict[str, Any]:
    twilio: dict[str, Any] = webhook_samples()["twilio"]
    return {name: s for name, s in twilio.items() if "headers" in s}


@pytest.mark.parametrize("name", sorted(_twilio_samples()))
def test_signed_samples_validate(name: str) -> None:
    sample = _twilio_samples()[name]
    signature = sample["headers"]["X-Twilio-Signature"]

    assert is_valid_signature(sample["auth_token"], sample["url"], sample["form"], signature)


@pytest.mark.parametrize("name", sorted(_twilio_samples()))
def test_a_tampered_sample_or_the_wrong_token_fails(name: str) -> None:
    sample = _twilio_samples()[name]
    signature, token, url = (
        sample["headers"]["X-Twilio-Signature"],
        sample["auth_token"],
        sample["url"],
    )
    tampered = dict(sample["form"], From="+15125550111")

    assert not is_valid_signature(token, url, tampered, signature)
    assert not is_valid_signature("another_token", url, sample["form"], signature)
    assert not is_valid_signature(token, url + "&x=1", sample["form"], signature)
    assert not is_valid_signature(token, url, sample["form"], "")
    assert not is_valid_signature(token, url, sample["form"], None)


def test_twilio_pythons_own_test_vectors() -> None:
    vector = webhook_samples()["twilio"]["upstream_test_vectors"]
    token, url, form = vector["auth_token"], vector["url"], vector["form"]

    assert is_valid_signature(token, url, form, vector["expected_signature"])
    # Twilio may have signed the URL with the default port spelled out
    assert is_valid_signature(token, url, form, vector["expected_signature_url_with_port_443"])
    assert not is_valid_signature(
        token, url, dict(form, Digits="4321"), vector["expected_signature"]
    )


def _sign(token: str, url: str, form: dict[str, list[str]]) -> str:
    # Twilio's documented scheme: the URL, then each key (sorted) followed by its values
    data = url + "".join(k + v for k in sorted(form) for v in sorted(form[k]))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_repeated_form_keys_are_all_signed() -> None:
    url = "https://lily.example/webhooks/twilio/sms"
    form = {"From": ["+15125550100"], "MediaUrl": ["https://m/2", "https://m/1"]}
    signature = _sign("tok", url, form)

    assert is_valid_signature("tok", url, form, signature)
    assert not is_valid_signature("tok", url, {**form, "MediaUrl": ["https://m/2"]}, signature)
    assert not is_valid_signature("tok", url, {**form, "MediaUrl": "https://m/2"}, signature)


# -- TwiML --


def test_forward_call_twiml_dials_with_timeout_and_action() -> None:
    xml = forward_call_twiml(
        "+15125550123", "https://lily.example/webhooks/twilio/voice?a=1&b=2", 20, "+15125550199"
    )

    root = ET.fromstring(xml)
    [dial] = list(root)
    assert (root.tag, dial.tag, dial.text) == ("Response", "Dial", "+15125550123")
    assert dial.attrib == {
        "action": "https://lily.example/webhooks/twilio/voice?a=1&b=2",
        "method": "POST",
        "timeout": "20",
        "callerId": "+15125550199",
    }


def test_forward_call_twiml_without_caller_id_keeps_the_callers() -> None:
    [dial] = list(ET.fromstring(forward_call_twiml("+15125550123", "https://x/voice", 15)))
    assert "callerId" not in dial.attrib


def test_missed_call_twiml_says_goodbye_and_hangs_up() -> None:
    root = ET.fromstring(missed_call_twiml("Bubbles & Suds <LLC>"))

    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert "Bubbles & Suds <LLC>" in (root[0].text or "")


def test_messaging_twiml() -> None:
    assert list(ET.fromstring(empty_messaging_twiml())) == []
    [message] = list(ET.fromstring(reply_messaging_twiml("Reply STOP to opt out & <bye>")))
    assert (message.tag, message.text) == ("Message", "Reply STOP to opt out & <bye>")

"""The SmsSender contract, held by the in-memory fake and by TwilioSmsSender talking HTTP to
the Twilio stand-in: what a send records, the SID it returns, and how refusals surface."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from lily_adapters.twilio import TwilioSmsSender
from lily_core.domain.tenant import Tenant
from lily_core.errors import (
    DeliveryError,
    PermanentDeliveryError,
    RecipientOptedOut,
    TransientDeliveryError,
)
from lily_core.ports import SmsSender
from lily_core.testing import FakeSmsSender
from tests.standins.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioStandIn

# refusal -> (HTTP status, Twilio code, the core error it must surface as)
REFUSALS: dict[str, tuple[int, int, type[DeliveryError]]] = {
    "opted_out": (400, 21610, RecipientOptedOut),
    "invalid_number": (400, 21211, PermanentDeliveryError),
    "not_mobile": (400, 21614, PermanentDeliveryError),
    "rate_limited": (429, 20429, TransientDeliveryError),
    "server_error": (500, 20500, TransientDeliveryError),
}


@dataclass(frozen=True)
class Sent:
    from_: str | None
    to: str
    body: str
    media: tuple[str, ...]
    sid: str


@dataclass
class Harness:
    sender: SmsSender
    sent: Callable[[], list[Sent]]
    refuse_next: Callable[[str], None]


def _fake() -> Iterator[Harness]:
    fake = FakeSmsSender()

    def refuse(kind: str) -> None:
        status, code, error = REFUSALS[kind]
        fake.fail_next.append(error(f"{status} {code}", code=str(code)))

    yield Harness(
        fake,
        lambda: [Sent(m.from_, m.to, m.body, m.media_urls, m.sid) for m in fake.sent],
        refuse,
    )


def _twilio() -> Iterator[Harness]:
    with TwilioStandIn() as standin:
        sender = TwilioSmsSender(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, api_url=standin.url)

        def refuse(kind: str) -> None:
            status, code, _ = REFUSALS[kind]
            standin.fail_next(status, code, f"refused: {kind}")

        yield Harness(
            sender,
            lambda: [
                Sent(m.from_, m.to, m.body or "", tuple(m.media_urls), m.sid)
                for m in standin.messages
            ],
            refuse,
        )
        sender.close()


@pytest.fixture(params=["fake", "twilio"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    yield from {"fake": _fake, "twilio": _twilio}[request.param]()


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(
        name="Acme Wash", slug="acme-wash", phone="+15125550199", created_at=datetime.now(UTC)
    )


def test_sends_from_the_business_number(harness: Harness, tenant: Tenant) -> None:
    result = harness.sender.send(tenant, to="+15125550100", body="Sorry we missed your call!")

    assert harness.sent() == [
        Sent("+15125550199", "+15125550100", "Sorry we missed your call!", (), result.provider_sid)
    ]
    assert result.status == "queued"
    assert re.fullmatch(r"(SM|MM)[0-9a-fA-F]{32}", result.provider_sid)


def test_sends_media_urls_in_order(harness: Harness, tenant: Tenant) -> None:
    media = ("https://example.com/a.jpg", "https://example.com/b.png")

    harness.sender.send(tenant, to="+15125550100", body="Your quote", media_urls=media)

    [sent] = harness.sent()
    assert sent.media == media
    assert sent.body == "Your quote"


def test_each_send_gets_its_own_sid(harness: Harness, tenant: Tenant) -> None:
    first = harness.sender.send(tenant, to="+15125550100", body="one")
    second = harness.sender.send(tenant, to="+15125550100", body="two")

    assert first.provider_sid != second.provider_sid
    assert [s.sid for s in harness.sent()] == [first.provider_sid, second.provider_sid]


@pytest.mark.parametrize("kind", sorted(REFUSALS))
def test_refusals_surface_as_core_errors(harness: Harness, tenant: Tenant, kind: str) -> None:
    _, code, error = REFUSALS[kind]
    harness.refuse_next(kind)

    with pytest.raises(DeliveryError) as raised:
        harness.sender.send(tenant, to="+15125550100", body="hello")

    assert type(raised.value) is error
    assert raised.value.code == str(code)
    assert harness.sent() == []


def test_a_refusal_affects_only_the_next_send(harness: Harness, tenant: Tenant) -> None:
    harness.refuse_next("server_error")
    with pytest.raises(TransientDeliveryError):
        harness.sender.send(tenant, to="+15125550100", body="hello")

    result = harness.sender.send(tenant, to="+15125550100", body="hello again")

    assert [s.sid for s in harness.sent()] == [result.provider_sid]


# -- finding what an interrupted send sent (issue 13) ---------------------------------------


def test_find_sent_finds_the_message_with_that_body_to_that_number(
    harness: Harness, tenant: Tenant
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    other = harness.sender.send(tenant, to="+15125550100", body="Sorry we missed your call!")
    harness.sender.send(tenant, to="+15125550177", body="Hello")  # another lead
    harness.sender.send(tenant, to="+15125550100", body="Another text")  # another body
    first = harness.sender.send(tenant, to="+15125550100", body="Hello")

    found = harness.sender.find_sent(tenant, to="+15125550100", body="Hello", since=since)

    assert [s.provider_sid for s in found] == [first.provider_sid]
    again = harness.sender.find_sent(
        tenant, to="+15125550100", body="Sorry we missed your call!", since=since
    )
    assert [s.provider_sid for s in again] == [other.provider_sid]


def test_find_sent_finds_nothing_that_was_not_sent(harness: Harness, tenant: Tenant) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    harness.sender.send(tenant, to="+15125550100", body="Hello")
    other = Tenant(name="B", slug="b", phone="+15125550111", created_at=datetime.now(UTC))

    assert harness.sender.find_sent(tenant, to="+15125550100", body="Bye", since=since) == []
    assert harness.sender.find_sent(other, to="+15125550100", body="Hello", since=since) == []


def test_find_sent_surfaces_an_outage_as_transient(harness: Harness, tenant: Tenant) -> None:
    harness.refuse_next("server_error")
    with pytest.raises(TransientDeliveryError):
        harness.sender.find_sent(tenant, to="+15125550100", body="Hello", since=datetime.now(UTC))

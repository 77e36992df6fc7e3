"""HttpChatwootClient over real HTTP against the Chatwoot stand-in."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from lily_adapters.chatwoot import HttpChatwootClient
from lily_core.domain.tenant import Tenant
from lily_core.errors import PermanentDeliveryError, TransientDeliveryError
from tests.standins.chatwoot import ChatwootStandIn, ScriptedFailure

TOKEN = "cw-agent-token"


@pytest.fixture
def chatwoot() -> Iterator[ChatwootStandIn]:
    with ChatwootStandIn(api_token=TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
def client(chatwoot: ChatwootStandIn) -> Iterator[HttpChatwootClient]:
    with HttpChatwootClient(chatwoot.url, TOKEN, timeout=5.0) as http_client:
        yield http_client


def _tenant(account_id: int | None = 3) -> Tenant:
    return Tenant(
        name="Sparkle Wash",
        slug="sparkle-wash",
        phone="+15125550199",
        chatwoot_account_id=account_id,
        chatwoot_inbox_id=9,
        created_at=datetime(2026, 6, 1, tzinfo=UTC),
    )


def test_reply_posts_an_outgoing_message_into_the_conversation(
    chatwoot: ChatwootStandIn, client: HttpChatwootClient
) -> None:
    message_id = client.reply(_tenant(), 77, "Your ballpark: $270–$590")

    [posted] = chatwoot.messages
    assert message_id == str(posted.id)
    assert (posted.account_id, posted.conversation_id) == (3, 77)
    assert posted.content == "Your ballpark: $270–$590"
    assert (posted.message_type, posted.private) == ("outgoing", False)
    [request] = chatwoot.requests
    assert request.path == "/api/v1/accounts/3/conversations/77/messages"
    assert request.headers["api_access_token"] == TOKEN
    assert request.json() == {
        "content": "Your ballpark: $270–$590",
        "message_type": "outgoing",
        "private": False,
    }


def test_a_wrong_token_is_a_permanent_failure(chatwoot: ChatwootStandIn) -> None:
    with (
        HttpChatwootClient(chatwoot.url, "wrong-token") as client,
        pytest.raises(PermanentDeliveryError) as caught,
    ):
        client.reply(_tenant(), 77, "hello")
    assert caught.value.code == "401"
    assert chatwoot.messages == []


def test_a_missing_conversation_is_a_permanent_failure(
    chatwoot: ChatwootStandIn, client: HttpChatwootClient
) -> None:
    chatwoot.fail_next.append(ScriptedFailure(404, {"error": "Resource could not be found"}))
    with pytest.raises(PermanentDeliveryError) as caught:
        client.reply(_tenant(), 404404, "hello")
    assert caught.value.code == "404"


def test_a_server_error_is_transient(chatwoot: ChatwootStandIn, client: HttpChatwootClient) -> None:
    chatwoot.fail_next.append(ScriptedFailure(500))
    with pytest.raises(TransientDeliveryError) as caught:
        client.reply(_tenant(), 77, "hello")
    assert caught.value.code == "500"
    assert chatwoot.messages == []
    # The same client goes on working once Chatwoot recovers.
    assert client.reply(_tenant(), 77, "hello")
    assert len(chatwoot.messages) == 1


def test_rate_limiting_is_transient_with_retry_after(
    chatwoot: ChatwootStandIn, client: HttpChatwootClient
) -> None:
    chatwoot.fail_next.append(ScriptedFailure(429, retry_after="30"))
    with pytest.raises(TransientDeliveryError) as caught:
        client.reply(_tenant(), 77, "hello")
    assert caught.value.retry_after == 30.0


def test_a_timeout_is_transient(chatwoot: ChatwootStandIn) -> None:
    chatwoot.fail_next.append(ScriptedFailure(200, delay_seconds=2.0))
    with (
        HttpChatwootClient(chatwoot.url, TOKEN, timeout=0.2) as client,
        pytest.raises(TransientDeliveryError),
    ):
        client.reply(_tenant(), 77, "hello")


def test_an_unreachable_chatwoot_is_transient() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        HttpChatwootClient(f"http://127.0.0.1:{port}", TOKEN) as client,
        pytest.raises(TransientDeliveryError),
    ):
        client.reply(_tenant(), 77, "hello")


def test_a_tenant_without_a_chatwoot_account_cannot_reply(
    chatwoot: ChatwootStandIn, client: HttpChatwootClient
) -> None:
    with pytest.raises(PermanentDeliveryError):
        client.reply(_tenant(account_id=None), 77, "hello")
    assert chatwoot.requests == []

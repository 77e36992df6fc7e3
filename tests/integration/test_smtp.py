"""SmtpEmailSender against a local SMTP server (aiosmtpd): both parts arrive, and what goes
wrong is the core's delivery errors (a refusal permanent, an unreachable server transient)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from lily_adapters.smtp import SmtpEmailSender
from lily_core.errors import InvalidInput, PermanentDeliveryError, TransientDeliveryError


class Picky:
    """Takes mail for @ok.example only."""

    def __init__(self) -> None:
        self.received: list[Any] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if not address.endswith("@ok.example"):
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_message_with_both_parts_and_the_errors() -> None:
    handler, port = Picky(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sender = SmtpEmailSender(f"smtp://127.0.0.1:{port}", timeout=5)
        sender.send(to="a@ok.example", subject="Hi", text="plain words", html="<p>rich</p>")
        [envelope] = handler.received
        content = envelope.content.decode()
        assert "text/plain" in content and "text/html" in content and "plain words" in content
        with pytest.raises(PermanentDeliveryError):
            sender.send(to="b@elsewhere.example", subject="Hi", text="x", html="<p>x</p>")
    finally:
        controller.stop()
    with pytest.raises(TransientDeliveryError):  # nothing listens there any more
        sender.send(to="a@ok.example", subject="Hi", text="x", html="<p>x</p>")


def test_a_bad_url_is_invalid_and_the_password_never_shows() -> None:
    with pytest.raises(InvalidInput):
        SmtpEmailSender("http://mail.example")
    sender = SmtpEmailSender("smtps://user:s3cret@mail.example")
    assert sender.port == 465 and "s3cret" not in repr(sender)

"""Email over SMTP (LILY_SMTP_URL), with the standard library's smtplib: one connection per
message, a timeout on every socket operation, STARTTLS or implicit TLS as the URL asks.

    smtp://[user:password@]host[:port][?from=Lily <lily@example.com>]   plain (port 25)
    smtp+starttls://...                                                  STARTTLS (587)
    smtps://...                                                          TLS (465)

smtplib rather than an async client: Lily's core is synchronous and the digest is sent from a
worker thread, so a blocking client with a timeout is all it needs."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr
from urllib.parse import parse_qs, unquote, urlsplit

from lily_core.errors import InvalidInput, PermanentDeliveryError, TransientDeliveryError
from lily_core.ports.email import EmailSender

_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
DEFAULT_FROM = formataddr(("Lily", "lily@localhost"))


class SmtpEmailSender(EmailSender):
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _PORTS or not parts.hostname:
            raise InvalidInput(
                "LILY_SMTP_URL must be smtp://, smtp+starttls:// or smtps://host[:port]",
                field="smtp_url",
            )
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = parts.port or _PORTS[parts.scheme]
        self.user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self.sender = parse_qs(parts.query).get("from", [DEFAULT_FROM])[0]
        self.timeout = timeout

    def __repr__(self) -> str:  # never the password
        return f"SmtpEmailSender({self.scheme}://{self.host}:{self.port})"

    def send(self, *, to: str, subject: str, text: str, html: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        try:
            with self._connect() as client:
                if self.user is not None:
                    client.login(self.user, self._password or "")
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError(f"the SMTP server refused {to}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentDeliveryError("the SMTP server refused the login") from exc
        except smtplib.SMTPResponseException as exc:
            error = PermanentDeliveryError if 500 <= exc.smtp_code < 600 else TransientDeliveryError
            raise error(f"SMTP {exc.smtp_code}", code=str(exc.smtp_code)) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, timed out, TLS failed
            raise TransientDeliveryError(f"SMTP: {type(exc).__name__}") from exc

    def _connect(self) -> smtplib.SMTP:
        if self.scheme == "smtps":
            context = ssl.create_default_context()
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.scheme == "smtp+starttls":
            client.starttls(context=ssl.create_default_context())
        return client

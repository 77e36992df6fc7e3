from __future__ import annotations

from typing import Protocol


class EmailSender(Protocol):
    """Sends one email with a plain-text and an HTML part. Raises DeliveryError (Permanent
    or Transient) when it could not."""

    def send(self, *, to: str, subject: str, text: str, html: str) -> None: ...

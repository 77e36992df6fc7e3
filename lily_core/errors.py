"""Errors raised by Lily's core.

LilyError
 ├── InvalidInput            bad input from a user or a provider; `field` names what is wrong
 │    └── PriceBookInvalid   a price book that does not validate (field path or line)
 ├── NotFound                no such thing for this tenant (another tenant's id is not found)
 ├── Conflict                a uniqueness rule would be broken (slug, phone number)
 ├── Unauthenticated         no credentials, or ones that are wrong, expired or revoked
 ├── Forbidden               the caller's role may not do this
 ├── RateLimited             too many attempts; `retry_after` seconds until the next
 └── DeliveryError           an outbound call to a provider failed
      ├── PermanentDeliveryError   retrying cannot help (bad number, 4xx); dead-letter it
      │    └── RecipientOptedOut   the carrier says the recipient opted out (Twilio 21610)
      └── TransientDeliveryError   may succeed later (429, 5xx, timeouts); retry with backoff
           ├── DeliveryOutcomeUnknown  the call may have gone through (timed out or cut off
           │                           after it was sent): find out before sending again
           └── ProviderUnavailable     not called (the provider's circuit is open, or the
                                       sending number's rate is used up): defer, no attempt
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "DeliveryError",
    "DeliveryOutcomeUnknown",
    "Forbidden",
    "InvalidInput",
    "LilyError",
    "NotFound",
    "PermanentDeliveryError",
    "PriceBookInvalid",
    "ProviderUnavailable",
    "RateLimited",
    "RecipientOptedOut",
    "TransientDeliveryError",
    "Unauthenticated",
]


class LilyError(Exception):
    """Base of every error Lily's core raises on purpose."""


class InvalidInput(LilyError):
    """Input that breaks a rule; `field` names the offending field when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


class PriceBookInvalid(InvalidInput):
    """A price book document that does not validate."""


class NotFound(LilyError):
    """The thing asked for does not exist within the caller's tenant."""


class Conflict(LilyError):
    """The change would break a uniqueness rule."""


class Unauthenticated(LilyError):
    """The caller is not known: no credentials, or wrong, expired or revoked ones. The
    message never says which, so that it tells an attacker nothing."""


class Forbidden(LilyError):
    """The caller is known, but its role may not do this."""


class RateLimited(LilyError):
    """Too many attempts; the next may come in `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryError(LilyError):
    """An outbound provider call failed; `code` is the provider's error code if any."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: the task goes to the dead-letter list with this reason."""


class RecipientOptedOut(PermanentDeliveryError):
    """The provider refuses because the recipient has opted out of this sender."""


class TransientDeliveryError(DeliveryError):
    """The provider may accept the same call later; `retry_after` seconds if it said so."""

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class DeliveryOutcomeUnknown(TransientDeliveryError):
    """The request may have reached the provider and been acted on (a read timeout, a
    connection cut after sending): retrying blindly could do it twice."""


class ProviderUnavailable(TransientDeliveryError):
    """The call was not made: the provider is failing for these credentials (its circuit
    breaker is open), or the sending number has no send slot free. The task is deferred to
    `retry_after` without counting an attempt: an outage never dead-letters it."""

"""Twilio webhook signatures and the TwiML Lily answers with."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

FormParams = Mapping[str, str | list[str]]


class _MultiParams(dict[str, list[str]]):
    """Form parameters with every value of a repeated key. RequestValidator reads a
    `getall()` method (the Flask MultiDict protocol) and signs each value of a key; a plain
    dict of lists would make it fail on the unhashable list."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def is_valid_signature(
    auth_token: str, url: str, params: FormParams, signature: str | None
) -> bool:
    """True if `signature` (the X-Twilio-Signature header) signs this form POST to `url`
    (the full public URL Twilio called, query included) with `auth_token`. Twilio signs the
    URL with and without an explicit default port; both are accepted."""
    if not signature or not auth_token:
        return False
    multi = _MultiParams(
        {key: list(value) if isinstance(value, list) else [value] for key, value in params.items()}
    )
    try:
        return bool(RequestValidator(auth_token).validate(url, multi, signature))
    except UnicodeEncodeError:  # a lone surrogate: nothing Twilio sent, so nothing it signed
        return False


def forward_call_twiml(
    forward_to: str, action_url: str, timeout_seconds: int, caller_id: str | None = None
) -> str:
    """Ring `forward_to` for `timeout_seconds`; when that leg ends, Twilio POSTs the outcome
    (DialCallStatus) to `action_url`. Without `caller_id`, the forwarded phone shows the
    caller's number."""
    response = VoiceResponse()
    response.dial(
        forward_to,
        action=action_url,
        method="POST",
        timeout=timeout_seconds,
        caller_id=caller_id,
    )
    return str(response.to_xml())


def missed_call_twiml(business_name: str) -> str:
    """A short apology telling the caller a text is on its way, then hang up."""
    response = VoiceResponse()
    response.say(
        f"Sorry, {business_name} can't come to the phone right now. "
        "We'll send you a text message in a moment. Goodbye!"
    )
    response.hangup()
    return str(response.to_xml())


def empty_messaging_twiml() -> str:
    """Acknowledge an inbound SMS without replying (replies go out later, from the worker)."""
    return str(MessagingResponse().to_xml())


def reply_messaging_twiml(text: str) -> str:
    """Reply to an inbound SMS right away with `text`."""
    response = MessagingResponse()
    response.message(text)
    return str(response.to_xml())

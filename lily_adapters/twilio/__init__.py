"""Twilio: outbound SMS/MMS, inbound media download, webhook signatures and TwiML."""

from lily_adapters.twilio.media import TwilioMediaFetcher
from lily_adapters.twilio.sms import SandboxSmsSender, TwilioSmsSender
from lily_adapters.twilio.webhooks import (
    empty_messaging_twiml,
    forward_call_twiml,
    is_valid_signature,
    missed_call_twiml,
    reply_messaging_twiml,
)

__all__ = [
    "SandboxSmsSender",
    "TwilioMediaFetcher",
    "TwilioSmsSender",
    "empty_messaging_twiml",
    "forward_call_twiml",
    "is_valid_signature",
    "missed_call_twiml",
    "reply_messaging_twiml",
]

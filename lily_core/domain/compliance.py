"""Carrier compliance: opt-out/opt-in/help keywords and quiet hours (DESIGN §2.5)."""

from __future__ import annotations

import enum
import random
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from lily_core.domain.tenant import QuietHours, Tenant


class Keyword(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")
_SPACES = re.compile(r"\s+")
_OPT_OUT_TYPES = {"STOP": Keyword.OPT_OUT, "START": Keyword.OPT_IN, "HELP": Keyword.HELP}


def parse_keyword(body: str | None, opt_out_type: str | None = None) -> Keyword | None:
    """The compliance keyword a message is, if the whole message (case-insensitive,
    surrounding punctuation ignored) is one. Twilio's `OptOutType` wins when present."""
    if opt_out_type and opt_out_type.strip().upper() in _OPT_OUT_TYPES:
        return _OPT_OUT_TYPES[opt_out_type.strip().upper()]
    text = _SPACES.sub(" ", _EDGE_PUNCT.sub("", (body or "").strip())).upper()
    if text in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if text in OPT_IN_WORDS:
        return Keyword.OPT_IN
    if text in HELP_WORDS:
        return Keyword.HELP
    return None


# What CTIA's Messaging Principles and Best Practices ask of a HELP answer: the program's
# (business's) name, how to get help (a phone number or an email address), that message and
# data rates may apply, and how to opt out.
MSG_RATES = "Msg & data rates may apply."
OPT_OUT_LINE = "Reply STOP to opt out."


def help_reply(tenant: Tenant) -> str:
    """The answer to HELP/INFO, with every element CTIA asks for. The tenant may name
    another contact (a phone number or an email address) and add a sentence of its own;
    the elements stay."""
    contact = tenant.help_contact or tenant.phone
    reach = f"email {contact}" if "@" in contact else f"call {contact}"
    own = f" {tenant.help_message.strip()}" if tenant.help_message else ""
    return (
        f"{tenant.name}: for help, {reach} or reply to this text.{own} {MSG_RATES} {OPT_OUT_LINE}"
    )


def with_opt_out_line(body: str) -> str:
    """`body` saying how to opt out: as it is if it already names STOP, else with
    OPT_OUT_LINE after it (the first text a new lead gets, issue 16)."""
    if re.search(r"\bSTOP\b", body, re.IGNORECASE):
        return body
    return f"{body.rstrip()} {OPT_OUT_LINE}"


def quiet_until(now: datetime, timezone: str, quiet: QuietHours) -> datetime | None:
    """None if `now` is outside the quiet window in `timezone`; else the first instant after
    `now` at which the window ends: its local end time on the right day, the second one on a
    fall-back night when `now` is in the repeated hour, and the instant the clock jumps when
    a spring-forward night skips the end time. Returned in `now`'s timezone (UTC)."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return None
    end_day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        end_day += timedelta(days=1)  # in the evening part of an overnight window
    for day in (end_day, end_day + timedelta(days=1)):
        for fold in (0, 1):  # an ambiguous wall time happens twice: the first one after now
            end = _instant_at(datetime.combine(day, quiet.end), zone, fold)
            # a spring-forward jump can skip a short gap between two quiet nights entirely
            reopened = quiet.contains(end.astimezone(zone).time().replace(tzinfo=None))
            if end > now and not reopened:
                return end.astimezone(now.tzinfo)
    raise AssertionError("unreachable: the window's end recurs within two days")


def _instant_at(wall: datetime, zone: ZoneInfo, fold: int) -> datetime:
    """The instant the local clock in `zone` shows the naive `wall` time (the `fold`-th
    time when it shows it twice); a skipped wall time resolves to the end of the gap."""
    instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # Skipped (spring forward). PEP 495: fold=1 reads it with the offset after the jump,
    # fold=0 with the one before, so the jump lies between the two; bisect for it.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    after_jump = high.astimezone(zone).utcoffset()
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after_jump:
            high = middle
        else:
            low = middle
    return high


@attrs.frozen
class Jitter:
    """A uniform random delay in [min_seconds, max_seconds]: replies look human."""

    min_seconds: float
    max_seconds: float
    rng: random.Random = attrs.field(factory=random.Random, eq=False)

    def delay(self) -> timedelta:
        return timedelta(seconds=self.rng.uniform(self.min_seconds, self.max_seconds))

"""Carrier compliance: opt-out/opt-in/help keywords and quiet hours (DESIGN §2.5)."""

from __future__ import annotations

import enum
import random
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from lily_core.domain.tenant import QuietHours


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


def quiet_until(now: datetime, timezone: str, quiet: QuietHours) -> datetime | None:
    """None if `now` is outside the quiet window in `timezone`; else the UTC instant at
    which the window ends (its local end time, on the right day, across DST changes)."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return None
    end_day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        end_day += timedelta(days=1)  # in the evening part of an overnight window
    end = datetime.combine(end_day, quiet.end, tzinfo=zone)
    # A wall time that does not exist (spring forward) resolves to the first valid instant.
    end_utc = end.astimezone(now.tzinfo)
    return end_utc if end_utc > now else now


@attrs.frozen
class Jitter:
    """A uniform random delay in [min_seconds, max_seconds]: replies look human."""

    min_seconds: float
    max_seconds: float
    rng: random.Random = attrs.field(factory=random.Random, eq=False)

    def delay(self) -> timedelta:
        return timedelta(seconds=self.rng.uniform(self.min_seconds, self.max_seconds))

"""Alerts to the business owner's own phone (issue 18), pure: the events, the record of the
texts that carried them, and the rules that decide when a text goes and what it carries.

The rules (`due_at`, `take`), applied to a tenant's pending events and the times of the
alert texts it was sent in the last hour:
- batching: a lead's batch (its pending events) closes at the earlier of
  * a minute (BATCH_WINDOW) after its first pending event, and
  * a few seconds (ANSWER_GRACE) after Lily first answered the lead since that first event
    (a text to them went out: the missed call's text-back, the quote),
  and then goes in one text, with every event of the lead that arrived until then. So the
  owner hears of a missed call a few seconds after the caller got the text-back, and a burst
  for one lead (events until the text goes, up to a minute) is still one text; an event
  after the text went starts the next batch;
- the owner's quiet hours (their own, not the customers'): nothing goes inside them; what
  became due there goes at the window's end, all of it in one morning summary;
- at most `per_hour` texts in any hour: once that many went in the last hour, the next
  waits until the oldest of them is an hour old, and carries everything that is due then.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import attrs
import phonenumbers

from lily_core.domain.compliance import quiet_until
from lily_core.domain.ids import new_id
from lily_core.domain.tenant import QuietHours

BATCH_WINDOW = timedelta(minutes=1)
ANSWER_GRACE = timedelta(seconds=5)  # after Lily's answer, for an event right behind it
HOUR = timedelta(hours=1)
DETAIL_MAX = 200
REF_MAX = 64
REPLY_HINT = "Reply R + your text to answer them."
SUMMARY_LEADS_MAX = 5  # a summary names this many leads, then links the inbox for the rest


class AlertKind(enum.StrEnum):
    NEW_LEAD = "new_lead"  # a missed call (Lily texted the caller back)
    QUOTE_SENT = "quote_sent"  # photos + ZIP came in and the range went out
    BOOKING_MADE = "booking_made"
    BOOKING_RESCHEDULED = "booking_rescheduled"
    BOOKING_CANCELLED = "booking_cancelled"
    NEEDS_REPLY = "needs_reply"  # the customer wrote something Lily cannot answer
    OPT_OUT = "opt_out"  # the customer replied STOP

    @property
    def switch(self) -> str:
        """The tenant setting that turns this kind of alert on or off."""
        return _SWITCHES[self]


_SWITCHES = {
    AlertKind.NEW_LEAD: "alert_new_lead",
    AlertKind.QUOTE_SENT: "alert_quote",
    AlertKind.BOOKING_MADE: "alert_booking",
    AlertKind.BOOKING_RESCHEDULED: "alert_booking",
    AlertKind.BOOKING_CANCELLED: "alert_booking",
    AlertKind.NEEDS_REPLY: "alert_needs_reply",
    AlertKind.OPT_OUT: "alert_opt_out",
}
ALERT_SWITCHES = tuple(dict.fromkeys(_SWITCHES.values()))


class AlertStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its text
    SENDING = "sending"  # claimed by a text being sent
    SENT = "sent"  # went out (or to the sandbox) to at least one of the owner's numbers
    DROPPED = "dropped"  # no one to tell (no number, or every number replied STOP)


@attrs.define(slots=False, eq=False, kw_only=True)
class OwnerAlert:
    """Something the owner should hear about, concerning one lead. `detail` is what the
    text says beyond the lead (a quote's range, a booking's local time), never the
    customer's number; `ref` names what caused it (a call, a message, a booking change) so
    that the same cause never raises two alerts."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    lead_id: str
    kind: AlertKind
    detail: str = ""
    ref: str | None = None
    occurred_at: datetime
    status: AlertStatus = AlertStatus.PENDING
    text_id: str | None = None


@attrs.define(slots=False, eq=False, kw_only=True)
class OwnerAlertText:
    """One alert text, sent to each of the owner's numbers. `sent` counts the SMS that went
    (what the owner's alerts cost, counted apart from the plan's customer allowance)."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    created_at: datetime
    events: int
    recipients: int
    sent: int = 0
    summary: bool = False
    failed: bool = False
    error: str | None = None

    @property
    def digest(self) -> bool:
        """A daily digest (it carries no events): an owner text, counted with the alerts'
        SMS, but not an alert, so not under the hourly limit."""
        return self.events == 0


class Timed(Protocol):
    @property
    def lead_id(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...


T = TypeVar("T", bound=Timed)


@attrs.frozen
class AlertPolicy:
    """A tenant's alert rules: its timezone, the owner's quiet hours (None: none) and the
    most texts in any hour."""

    timezone: str
    quiet: QuietHours | None
    per_hour: int
    window: timedelta = BATCH_WINDOW
    grace: timedelta = ANSWER_GRACE

    def quiet_at(self, instant: datetime) -> datetime | None:
        """None outside the owner's quiet hours; else when they end."""
        return quiet_until(instant, self.timezone, self.quiet) if self.quiet else None


# lead id -> when Lily's first text to the lead since its first pending event went out
Answered = Mapping[str, datetime]


def ready_at(
    pending: Sequence[Timed], policy: AlertPolicy, answered: Answered | None = None
) -> dict[str, datetime]:
    """lead id -> when its batch closes: a window after its first pending event, or a grace
    after Lily's answer to the lead (`answered`) if that is earlier. An answer from before
    the batch's first event does not close it."""
    first: dict[str, datetime] = {}
    for event in pending:
        if event.lead_id not in first or event.occurred_at < first[event.lead_id]:
            first[event.lead_id] = event.occurred_at
    ready = {lead: at + policy.window for lead, at in first.items()}
    for lead, at in (answered or {}).items():
        if lead in first and at >= first[lead]:
            ready[lead] = min(ready[lead], at + policy.grace)
    return ready


def rate_free_at(sent: Sequence[datetime], per_hour: int, at: datetime) -> datetime:
    """The first instant from `at` on when one more text keeps every hour (s - 1h, s] to at
    most `per_hour` texts, given the earlier texts' times `sent` (all before `at`)."""
    recent = sorted(s for s in sent if s > at - HOUR)
    if len(recent) < per_hour:
        return at
    return max(at, recent[-per_hour] + HOUR)


def due_at(
    pending: Sequence[Timed],
    sent: Sequence[datetime],
    policy: AlertPolicy,
    answered: Answered | None = None,
) -> datetime | None:
    """When the next alert text may go: None with nothing pending."""
    ready = ready_at(pending, policy, answered)
    if not ready:
        return None
    at = min(ready.values())
    # Moving later only ever frees the hourly limit, so one pass settles both rules unless
    # the quiet hours' end is itself limited: then a second pass, and so on (bounded).
    for _ in range(4):
        at = rate_free_at(sent, policy.per_hour, at)
        end = policy.quiet_at(at)
        if end is None:
            return at
        at = end
    return at


def take(
    pending: Sequence[T],
    sent: Sequence[datetime],
    now: datetime,
    policy: AlertPolicy,
    answered: Answered | None = None,
) -> list[T] | None:
    """What an alert text sent at `now` carries: every pending event of every lead whose
    batch is closed; None if no text may go at `now`."""
    due = due_at(pending, sent, policy, answered)
    if due is None or now < due:
        return None
    ready = ready_at(pending, policy, answered)
    return [e for e in pending if ready[e.lead_id] <= now]


# -- what the owner reads --------------------------------------------------------------------


def national(phone: str | None) -> str:
    """`+12145550123` -> `(214) 555-0123`; other countries in international form."""
    if not phone:
        return "a customer"
    try:
        parsed = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return phone
    form = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if parsed.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, form)


@attrs.frozen
class LeadView:
    """How an alert names a lead, and where its conversation is."""

    name: str | None
    phone: str | None
    link: str

    @property
    def who(self) -> str:
        number = national(self.phone)
        return f"{self.name} {number}" if self.name and self.phone else self.name or number


def describe(kind: AlertKind, who: str, detail: str) -> str:
    """One event, as a clause of the alert."""
    if kind == AlertKind.NEW_LEAD:
        return f"Missed call from {who} — {detail or 'Lily texted them back'}"
    if kind == AlertKind.QUOTE_SENT:
        return f"{who} sent photos + ZIP; Lily quoted {detail}"
    if kind == AlertKind.BOOKING_MADE:
        return f"{who} booked {detail}"
    if kind == AlertKind.BOOKING_RESCHEDULED:
        return f"{who} moved their booking to {detail}"
    if kind == AlertKind.BOOKING_CANCELLED:
        return f"{who} cancelled their booking for {detail}"
    if kind == AlertKind.NEEDS_REPLY:
        quoted = f': "{detail}"' if detail else ""
        return f"{who} replied and needs you{quoted}"
    return f"{who} opted out of texts (replied STOP)"


def _clauses(events: Sequence[OwnerAlert], who: str) -> str:
    ordered = sorted(events, key=lambda e: e.occurred_at)
    first = describe(ordered[0].kind, who, ordered[0].detail)
    rest = [describe(e.kind, "they", e.detail) for e in ordered[1:]]
    return "; ".join([first, *rest])


def compose(
    business: str,
    events: Sequence[OwnerAlert],
    leads: dict[str, LeadView],
    inbox_link: str,
    *,
    morning: bool,
) -> str:
    """The alert text: one lead's events in a sentence with its conversation's link; several
    leads (a morning summary, or what the hourly limit folded) a line each."""
    by_lead: dict[str, list[OwnerAlert]] = {}
    for event in sorted(events, key=lambda e: e.occurred_at):
        by_lead.setdefault(event.lead_id, []).append(event)
    fallback = LeadView(None, None, inbox_link)
    if len(by_lead) == 1 and not morning:
        [(lead_id, own)] = by_lead.items()
        view = leads.get(lead_id, fallback)
        return f"Lily ({business}): {_clauses(own, view.who)}. {view.link} {REPLY_HINT}"
    head = "Good morning! While your alerts were quiet:" if morning else "Lily:"
    lines = [f"{head} ({business}, {len(by_lead)} leads)"]
    for lead_id, own in list(by_lead.items())[:SUMMARY_LEADS_MAX]:
        view = leads.get(lead_id, fallback)
        lines.append(f"- {_clauses(own, view.who)}. {view.link}")
    if len(by_lead) > SUMMARY_LEADS_MAX:
        lines.append(f"+{len(by_lead) - SUMMARY_LEADS_MAX} more: {inbox_link}")
    return "\n".join(lines)

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import date, datetime, time

import attrs

from lily_core.domain.ids import new_id
from lily_core.errors import InvalidInput

DEFAULT_MISSED_CALL_TEMPLATE = (
    "Hi, this is {business}. Sorry we missed your call! Text us a few photos of the area "
    "you'd like cleaned and your ZIP code, and we'll send you a ballpark quote right away."
)
BUSINESS_PLACEHOLDER = "{business}"
_PLACEHOLDER_RE = re.compile(r"\{[^{}]*\}")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def slugify(name: str) -> str:
    """`Acme Wash Co` -> `acme-wash-co`: ASCII, lower case, words joined by hyphens."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if not slug:
        raise InvalidInput(f"cannot derive a slug from {name!r}; pass one", field="slug")
    return slug


def require_slug(slug: str) -> str:
    """Return `slug` if it is lower-case words joined by hyphens; raise InvalidInput otherwise."""
    if not _SLUG_RE.match(slug) or len(slug) > 63:
        raise InvalidInput(f"{slug!r} must be lower-case letters, digits and hyphens", field="slug")
    return slug


def check_missed_call_template(text: str, *, field: str = "missed_call_template") -> str:
    """Return `text` if its only placeholder is {business} (all that
    `Tenant.render_missed_call_text` fills in); raise InvalidInput naming any other
    placeholder or stray brace, which would otherwise reach the customer as typed."""
    for placeholder in _PLACEHOLDER_RE.findall(text):
        if placeholder != BUSINESS_PLACEHOLDER:
            raise InvalidInput(
                f"unknown placeholder {placeholder}: only {BUSINESS_PLACEHOLDER} is filled in",
                field=field,
            )
    rest = text.replace(BUSINESS_PLACEHOLDER, "")
    if "{" in rest or "}" in rest:
        raise InvalidInput(f"has a brace that is not part of {BUSINESS_PLACEHOLDER}", field=field)
    return text


def new_secret() -> str:
    """A random shared secret for webhook signatures."""
    return secrets.token_hex(24)


@attrs.frozen
class QuietHours:
    """A daily window, in local time, in which business-initiated messages are not sent.
    `start` > `end` wraps past midnight (21:00-08:00)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str, *, field: str = "quiet_hours") -> QuietHours:
        """Parse `HH:MM-HH:MM`; raise InvalidInput on anything else."""
        parts = text.strip().split("-")
        if len(parts) != 2 or not all(_HHMM_RE.match(p.strip()) for p in parts):
            raise InvalidInput(f"{text!r} is not HH:MM-HH:MM", field=field)
        start, end = (time.fromisoformat(p.strip()) for p in parts)
        if start == end:
            raise InvalidInput("start and end must differ", field=field)
        return cls(start, end)

    def contains(self, local: time) -> bool:
        """True if the local wall-clock time falls inside the quiet window."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@attrs.define(slots=False, eq=False, kw_only=True)
class Tenant:
    """A business using Lily: its phone number, where calls forward, and how it wants
    its customers texted."""

    id: str = attrs.field(factory=new_id)
    name: str
    slug: str
    phone: str
    timezone: str = "America/Chicago"
    forward_to: str | None = None
    zip: str | None = None
    booking_url: str | None = None
    review_url: str | None = None
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(8, 0)
    strict_quiet_hours: bool = False
    missed_call_template: str = DEFAULT_MISSED_CALL_TEMPLATE
    missed_call_dedupe_minutes: int = 60
    conversational_window_minutes: int = 15
    review_delay_hours: int = 24
    review_cooldown_days: int = 90
    calcom_secret: str = attrs.field(factory=new_secret, repr=False)
    sandbox_auth_token: str = attrs.field(factory=new_secret, repr=False)
    google_calendar_id: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = attrs.field(default=None, repr=False)
    chatwoot_account_id: int | None = None
    chatwoot_inbox_id: int | None = None
    chatwoot_secret: str | None = attrs.field(default=None, repr=False)
    automations_paused: bool = False
    help_contact: str | None = None  # the HELP answer's phone or email; None: `phone`
    help_message: str | None = None  # a sentence of the tenant's own in the HELP answer
    opt_out_notice: bool = True  # the first text-back says how to opt out
    opt_out_notice_changed_at: datetime | None = None  # when the tenant last chose
    created_at: datetime
    # Alerts to the owner's own phones (issue 18): to notify_to, else forward_to
    notify_to: list[str] = attrs.field(factory=list)
    alert_new_lead: bool = True
    alert_quote: bool = True
    alert_booking: bool = True
    alert_needs_reply: bool = True
    alert_opt_out: bool = True
    alert_quiet_start: time | None = None  # the owner's quiet hours, not the customers'
    alert_quiet_end: time | None = None
    alerts_per_hour: int = 10
    alert_stops: dict[str, str] = attrs.field(factory=dict)  # number -> when it replied STOP
    digest_enabled: bool = True
    digest_time: time = time(7, 0)  # local
    digest_email: str | None = None
    digest_sent_on: date | None = None  # the local day of the last digest sent

    @property
    def quiet_hours(self) -> QuietHours:
        return QuietHours(self.quiet_hours_start, self.quiet_hours_end)

    @quiet_hours.setter
    def quiet_hours(self, value: QuietHours) -> None:
        self.quiet_hours_start, self.quiet_hours_end = value.start, value.end

    @property
    def has_own_twilio(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def uses_chatwoot(self) -> bool:
        return self.chatwoot_account_id is not None and self.chatwoot_inbox_id is not None

    @property
    def alert_quiet_hours(self) -> QuietHours | None:
        if self.alert_quiet_start is None or self.alert_quiet_end is None:
            return None
        return QuietHours(self.alert_quiet_start, self.alert_quiet_end)

    @alert_quiet_hours.setter
    def alert_quiet_hours(self, value: QuietHours | None) -> None:
        self.alert_quiet_start = value.start if value else None
        self.alert_quiet_end = value.end if value else None

    def alert_recipients(self) -> list[str]:
        """The owner's numbers that get alerts: `notify_to`, else `forward_to`, less every
        number that replied STOP to an alert."""
        numbers = self.notify_to or ([self.forward_to] if self.forward_to else [])
        return [n for n in numbers if n not in self.alert_stops]

    def is_owner_number(self, phone: str) -> bool:
        """Whether `phone` is one the owner's alerts go (or went) to."""
        return phone in self.notify_to or phone == self.forward_to or phone in self.alert_stops

    def render_missed_call_text(self) -> str:
        """The missed-call text, with {business} replaced by the business's name."""
        return self.missed_call_template.replace(BUSINESS_PLACEHOLDER, self.name)

"""The owner's daily digest (issue 18): yesterday's missed calls, quotes, bookings, conversion
and speed to lead, every day at the tenant's `digest_time` (local), by SMS to the owner's
alert numbers and, with an EmailSender, by email to `digest_email`. The figures are GetStats'
for that one local day, so they are the ones `GET /api/v1/stats` shows for it."""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from lily_core.domain.owner_alerts import OwnerAlertText
from lily_core.domain.principal import Principal, Role
from lily_core.domain.tenant import Tenant
from lily_core.errors import DeliveryError, RecipientOptedOut
from lily_core.ports.clock import Clock
from lily_core.ports.email import EmailSender
from lily_core.ports.providers import SmsSender
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.billing_gate import BillingGate
from lily_core.use_cases.stats import GetStats, Stats

LATE_LIMIT = timedelta(hours=6)  # a digest not sent by then (Lily was down) waits for tomorrow


def digest_due(tenant: Tenant, now: datetime) -> date | None:
    """The local day whose digest is due at `now` (today's date: it covers yesterday), or
    None: digests off, not yet the time, sent already, or more than LATE_LIMIT late."""
    if not tenant.digest_enabled:
        return None
    local = now.astimezone(ZoneInfo(tenant.timezone))
    today = local.date()
    if tenant.digest_sent_on is not None and tenant.digest_sent_on >= today:
        return None
    at = datetime.combine(today, tenant.digest_time, tzinfo=local.tzinfo)
    return today if at <= local < at + LATE_LIMIT else None


def _rate(stats: Stats) -> str:
    return "n/a" if stats.conversion_rate is None else f"{stats.conversion_rate:.0%}"


def _speed(stats: Stats) -> str:
    seconds = stats.median_speed_to_lead_seconds
    if seconds is None:
        return "n/a"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _figures(stats: Stats) -> list[tuple[str, str]]:
    return [
        ("Missed calls", str(stats.missed_calls)),
        ("Texted back", str(stats.texted_back)),
        ("New leads", str(stats.leads)),
        ("Quotes", str(stats.quotes)),
        ("Bookings", str(stats.bookings)),
        ("Conversion", _rate(stats)),
        ("Speed to lead (median)", _speed(stats)),
    ]


@attrs.frozen
class Digest:
    day: date
    stats: Stats
    sms: str
    subject: str
    text: str
    html: str


def compose_digest(tenant: Tenant, stats: Stats, stats_url: str) -> Digest:
    """The digest of `stats` (one day) as an SMS, and as an email's plain-text and HTML parts."""
    day = f"{stats.start:%a %b} {stats.start.day}"
    sms = (
        f"Lily ({tenant.name}) {day}: {stats.missed_calls} missed calls, "
        f"{stats.texted_back} texted back, {stats.leads} new leads, {stats.quotes} quotes, "
        f"{stats.bookings} bookings; conversion {_rate(stats)}; "
        f"speed to lead {_speed(stats)}. {stats_url}"
    )
    subject = f"Lily daily digest for {tenant.name}: {day}"
    lines = [f"{label}: {value}" for label, value in _figures(stats)]
    text = "\n".join([f"{tenant.name}, {day}", "", *lines, "", f"Details: {stats_url}", ""])
    rows = "".join(
        f"<tr><th align='left'>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in _figures(stats)
    )
    body = (
        f"<html><body><h1>{html.escape(tenant.name)}, {html.escape(day)}</h1>"
        f"<table>{rows}</table>"
        f"<p><a href='{html.escape(stats_url, quote=True)}'>Open the stats</a></p>"
        "</body></html>"
    )
    return Digest(stats.start, stats, sms, subject, text, body)


@attrs.frozen
class DigestResult:
    tenant_id: str
    day: date
    sms_sent: int
    emailed: bool
    errors: tuple[str, ...] = ()


class SendDailyDigests:
    """A periodic job (every minute): for each tenant whose digest is due (`digest_due`),
    mark the day sent (so a digest goes at most once, even with two workers: the mark is
    committed before anything is sent, and a second worker finds it), then send yesterday's
    figures to the owner's alert numbers and, when email is set up and the tenant gave an
    address, by email. The SMS are recorded as an owner alert text: counted apart from the
    plan's customer allowance, and not under the alerts' hourly limit (it carries no alert
    events). A subscription that holds the customers' automated texts (BillingGate) holds
    the digest's SMS too; the email, which costs nothing, still goes."""

    def __init__(
        self,
        uow: UnitOfWork,
        stats: GetStats,
        clock: Clock,
        sms: SmsSender,
        dashboard_url: str,
        email: EmailSender | None = None,
        billing: BillingGate | None = None,
    ) -> None:
        self.uow, self.stats, self.clock, self.sms, self.email = uow, stats, clock, sms, email
        self.dashboard_url = dashboard_url.rstrip("/")
        self.billing = billing or BillingGate(None)

    def __call__(self) -> list[DigestResult]:
        now = self.clock.now()
        with self.uow:
            due = [t.id for t in self.uow.tenants.list() if digest_due(t, now) is not None]
        return [r for tenant_id in due if (r := self._one(tenant_id, now)) is not None]

    def _claim(self, tenant_id: str, now: datetime) -> tuple[Tenant, date, str | None] | None:
        """The tenant, the day, and the billing hold on its SMS (None: none)."""
        with self.uow.for_tenant(tenant_id):
            tenant = self.uow.tenants.get(tenant_id)
            day = digest_due(tenant, now) if tenant is not None else None
            if tenant is None or day is None:
                return None
            tenant.digest_sent_on = day
            hold = self.billing.subscription_hold(self.uow, tenant, now)
            self.uow.commit()
        return tenant, day, hold.explanation if hold else None

    def _one(self, tenant_id: str, now: datetime) -> DigestResult | None:
        claimed = self._claim(tenant_id, now)
        if claimed is None:
            return None
        tenant, today, held = claimed
        yesterday = today - timedelta(days=1)
        stats = self.stats(Principal(tenant, Role.OWNER), start=yesterday, end=yesterday)
        digest = compose_digest(tenant, stats, f"{self.dashboard_url}/stats/")
        recipients = [] if held else tenant.alert_recipients()
        sent, errors = 0, [f"SMS {held}"] if held else []
        for number in recipients:
            try:
                self.sms.send(tenant, to=number, body=digest.sms)
                sent += 1
            except RecipientOptedOut:
                errors.append("an owner's number opted out at the carrier")
            except DeliveryError as exc:
                errors.append(str(exc)[:80])
        emailed = False
        if self.email is not None and tenant.digest_email:
            try:
                self.email.send(
                    to=tenant.digest_email,
                    subject=digest.subject,
                    text=digest.text,
                    html=digest.html,
                )
                emailed = True
            except DeliveryError as exc:
                errors.append(f"email: {str(exc)[:80]}")
        if recipients:
            with self.uow.for_tenant(tenant_id):
                self.uow.owner_alerts.add_text(
                    OwnerAlertText(
                        tenant_id=tenant_id,
                        created_at=now,
                        events=0,
                        recipients=len(recipients),
                        sent=sent,
                        summary=True,
                        failed=sent == 0,
                        error="; ".join(errors)[:200] or None,
                    )
                )
                self.uow.commit()
        return DigestResult(tenant_id, yesterday, sent, emailed, tuple(errors))

"""When a tenant's daily digest is due (lily_core.use_cases.digest.digest_due), and what it says."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from lily_core.domain.tenant import Tenant
from lily_core.use_cases.digest import compose_digest, digest_due
from lily_core.use_cases.stats import Stats


def tenant(**kw: object) -> Tenant:
    base = Tenant(name="Acme", slug="acme", phone="+15125550100", created_at=datetime.now(UTC))
    for key, value in kw.items():
        setattr(base, key, value)
    return base


def test_due_from_the_local_time_until_six_hours_later_once_a_day() -> None:
    t = tenant()  # 07:00 America/Chicago by default
    assert digest_due(t, datetime(2026, 6, 2, 11, 59, tzinfo=UTC)) is None  # 06:59 CDT
    assert digest_due(t, datetime(2026, 6, 2, 12, 0, tzinfo=UTC)) == date(2026, 6, 2)
    assert digest_due(t, datetime(2026, 6, 2, 18, 0, tzinfo=UTC)) is None  # 13:00: too late
    t.digest_sent_on = date(2026, 6, 2)
    assert digest_due(t, datetime(2026, 6, 2, 12, 5, tzinfo=UTC)) is None
    assert digest_due(t, datetime(2026, 12, 3, 13, 0, tzinfo=UTC)) == date(2026, 12, 3)  # CST


def test_off_and_another_time() -> None:
    assert digest_due(tenant(digest_enabled=False), datetime(2026, 6, 2, 12, tzinfo=UTC)) is None
    evening = tenant(digest_time=time(19, 30), timezone="America/Los_Angeles")
    assert digest_due(evening, datetime(2026, 6, 3, 2, 30, tzinfo=UTC)) == date(2026, 6, 2)


def test_the_texts_of_a_quiet_day_and_a_busy_one() -> None:
    quiet = Stats(date(2026, 6, 1), date(2026, 6, 1), 0, 0, 0, 0, 0, None, None, ())
    digest = compose_digest(tenant(), quiet, "https://lily.example/stats/")
    assert digest.sms == (
        "Lily (Acme) Mon Jun 1: 0 missed calls, 0 texted back, 0 new leads, 0 quotes, "
        "0 bookings; conversion n/a; speed to lead n/a. https://lily.example/stats/"
    )
    busy = Stats(date(2026, 6, 1), date(2026, 6, 1), 5, 5, 4, 3, 1, 0.25, 300.0, ())
    digest = compose_digest(tenant(name="A & B <Wash>"), busy, "https://lily.example/stats/")
    assert "conversion 25%; speed to lead 5 min" in digest.sms
    assert "A &amp; B &lt;Wash&gt;" in digest.html and "<Wash>" not in digest.html
    assert "Speed to lead (median): 5 min" in digest.text

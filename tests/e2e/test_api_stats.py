"""`GET /api/v1/stats` over HTTP on both backends, against two scripted days in the tenant's
timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lily_adapters.calcom import SIGNATURE_HEADER, sign
from tests.e2e.conftest import START, Lily, after
from tests.e2e.dashboard_api import error_of, other_tenant, owner_headers
from tests.e2e.test_booking_flow import calcom_body
from tests.e2e.test_quote_flow import BOOKING_URL, import_pricebook, mms, settle

SECOND_CALLER = "+15125550124"
SECRET = "calcom_stats_secret_0123456789"
# Austin is on CDT (UTC-5). Day one, June 1: the first missed call at 10:00 and its quote;
# the booking at 22:00, which is already June 2 in UTC. Day two, June 2: the second missed
# call at 00:30 (05:30 UTC).
BOOKED_AT = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
SECOND_CALL = datetime(2026, 6, 2, 5, 30, tzinfo=UTC)


def test_the_stats_of_two_scripted_days(lily: Lily) -> None:
    import_pricebook(lily)
    lily.tenant = lily.update_tenant(booking_url=BOOKING_URL, calcom_secret=SECRET)
    headers = owner_headers(lily)

    assert lily.missed_call("CA" + "1" * 32).status_code == 200
    lily.run_worker_at(after(START, 46))  # the text-back went out 46 s after the call
    mms(lily, "house in 75201", photos=1)
    settle(lily)
    lily.run_worker_at(BOOKED_AT)
    visit = BOOKED_AT + timedelta(days=2)
    booking = calcom_body(lead_id=lily.lead().id, start=visit, end=visit + timedelta(hours=1))
    booked = lily.client.post(
        f"/webhooks/calcom/{lily.tenant.slug}",
        content=booking,
        headers={SIGNATURE_HEADER: sign(SECRET, booking)},
    )
    assert booked.status_code == 200, booked.text
    lily.run_worker_at(SECOND_CALL)
    assert lily.missed_call("CA" + "2" * 32, caller=SECOND_CALLER).status_code == 200
    lily.run_worker_at(after(SECOND_CALL, 50))  # and this one 50 s after

    response = lily.client.get(
        "/api/v1/stats", params={"from": "2026-06-01", "to": "2026-06-02"}, headers=headers
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "missed_calls": 2,
        "texted_back": 2,
        "leads": 2,
        "quotes": 1,
        "bookings": 1,
        "conversion_rate": 0.5,
        "median_speed_to_lead_seconds": 48.0,
        "by_day": [
            {"date": "2026-06-01", "leads": 1, "quotes": 1, "bookings": 1},
            {"date": "2026-06-02", "leads": 1, "quotes": 0, "bookings": 0},
        ],
    }
    # By default, the 30 days to today (June 2 in Austin): the same figures.
    default = lily.client.get("/api/v1/stats", headers=headers).json()
    assert len(default["by_day"]) == 30 and default["by_day"][-1]["date"] == "2026-06-02"
    assert (default["missed_calls"], default["leads"], default["bookings"]) == (2, 2, 1)
    # Another tenant sees none of it.
    rival = lily.client.get("/api/v1/stats", headers=owner_headers(lily, other_tenant(lily)))
    assert (rival.json()["missed_calls"], rival.json()["conversion_rate"]) == (0, None)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-06-02", "to": "2026-06-01"}, "to"),
        ({"from": "2025-01-01", "to": "2026-06-01"}, "from"),
        ({"from": "June 1"}, "from"),
        ({"to": "2026-02-30"}, "to"),
    ],
)
def test_a_bad_stats_range_is_422(lily: Lily, params: dict[str, str], field: str) -> None:
    response = lily.client.get("/api/v1/stats", params=params, headers=owner_headers(lily))
    assert error_of(response) == (422, "invalid", field)
    assert lily.client.get("/api/v1/stats", params=params).status_code == 401

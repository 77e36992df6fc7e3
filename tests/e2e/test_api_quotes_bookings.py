"""`/api/v1/quotes` and `/api/v1/bookings` over HTTP on both backends: a quote Lily really sent,
previews that match `lily quote --json`, bookings soonest first, and nothing of another
tenant reachable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lily_core.domain.records import BookingStatus, Quote
from lily_core.use_cases.pricebooks import preview_as_dict
from tests.e2e.conftest import CALLER, START, Lily, after
from tests.e2e.dashboard_api import (
    a_booking,
    a_lead,
    add,
    error_of,
    other_tenant,
    owner_headers,
)
from tests.e2e.test_quote_flow import BOOKING_URL, import_pricebook, mms, quotes, settle


@pytest.fixture
def shop(lily: Lily) -> Lily:
    import_pricebook(lily)
    lily.tenant = lily.update_tenant(booking_url=BOOKING_URL)
    return lily


def test_a_quote_lily_sent_is_listed_and_shown(shop: Lily) -> None:
    headers = owner_headers(shop)
    mms(shop, "2 story house, 75201", photos=1)
    settle(shop)
    [stored] = quotes(shop)

    listed = shop.client.get("/api/v1/quotes", headers=headers)
    one = shop.client.get(f"/api/v1/quotes/{stored.id}", headers=headers)

    assert listed.status_code == 200 and one.status_code == 200
    assert listed.json() == {"items": [one.json()], "next_cursor": None}
    body = one.json()
    assert body == {
        "id": stored.id,
        "lead_id": shop.lead().id,
        "zip": "75201",
        "in_service_area": True,
        "low_cents": stored.low_cents,
        "high_cents": stored.high_cents,
        "currency": "USD",
        "lines": stored.lines,
        "explanation": stored.explanation,
        "pricebook_version": 1,
        "created_at": stored.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert [line["kind"] for line in body["lines"]][:2] == ["service", "modifier"]


def test_quotes_page_newest_first_and_filter_by_lead(shop: Lily) -> None:
    headers = owner_headers(shop)
    jane, john = a_lead(shop.tenant, "+15125550111"), a_lead(shop.tenant, "+15125550112")
    made = [
        Quote(
            tenant_id=shop.tenant.id,
            lead_id=(jane if i % 2 else john).id,
            zip="75201",
            in_service_area=True,
            low_cents=100 * i,
            high_cents=200 * i,
            currency="USD",
            lines=[],
            explanation="",
            pricebook_version=1,
            created_at=START + timedelta(minutes=i),
        )
        for i in range(5)
    ]
    add(shop, jane, john, *made)

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = shop.client.get("/api/v1/quotes", params=params, headers=headers).json()
        seen += [q["id"] for q in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [q.id for q in reversed(made)]

    janes = shop.client.get("/api/v1/quotes", params={"lead_id": jane.id}, headers=headers)
    assert [q["id"] for q in janes.json()["items"]] == [made[3].id, made[1].id]
    garbled = shop.client.get("/api/v1/quotes", params={"cursor": "!!"}, headers=headers)
    assert error_of(garbled) == (422, "invalid", "cursor")


def test_another_tenants_quote_is_not_found(shop: Lily) -> None:
    rival = other_tenant(shop)
    theirs = a_lead(rival, CALLER)
    quote = Quote(
        tenant_id=rival.id,
        lead_id=theirs.id,
        zip="75201",
        in_service_area=True,
        low_cents=1,
        high_cents=2,
        currency="USD",
        explanation="",
        pricebook_version=1,
        created_at=START,
    )
    add(shop, theirs, quote)
    headers = owner_headers(shop)

    for path in (f"/api/v1/quotes/{quote.id}", "/api/v1/quotes/0123456789abcdef0123456789abcdef"):
        assert error_of(shop.client.get(path, headers=headers)) == (404, "not_found", None)
    by_lead = shop.client.get("/api/v1/quotes", params={"lead_id": theirs.id}, headers=headers)
    assert by_lead.json() == {"items": [], "next_cursor": None}
    theirs_seen = shop.client.get(f"/api/v1/quotes/{quote.id}", headers=owner_headers(shop, rival))
    assert theirs_seen.status_code == 200


def test_a_preview_is_what_lily_quote_json_prints_and_stores_nothing(shop: Lily) -> None:
    headers = owner_headers(shop)
    text = "2 story house and the driveway"
    response = shop.client.post(
        "/api/v1/quotes/preview", json={"zip": "75032", "text": text}, headers=headers
    )
    out_of_area = shop.client.post("/api/v1/quotes/preview", json={"zip": "10001"}, headers=headers)

    assert response.status_code == 200
    result, version = shop.container.preview_quote()(shop.tenant.slug, "75032", text)
    assert response.json() == preview_as_dict(result, version)  # what `lily quote --json` prints
    assert response.json()["range"] and response.json()["in_service_area"] is True
    assert out_of_area.json()["in_service_area"] is False and out_of_area.json()["reason"]
    assert shop.count_rows("quotes") == 0


def test_a_preview_refuses_a_bad_zip_and_needs_a_price_book(lily: Lily) -> None:
    headers = owner_headers(lily)
    no_book = lily.client.post("/api/v1/quotes/preview", json={"zip": "75201"}, headers=headers)
    assert error_of(no_book) == (404, "not_found", None)
    import_pricebook(lily)
    for body, field in (({"zip": "00000"}, "zip"), ({"text": "house"}, "zip")):
        response = lily.client.post("/api/v1/quotes/preview", json=body, headers=headers)
        assert error_of(response) == (422, "invalid", field)


def test_bookings_soonest_first_with_filters_and_pages(lily: Lily) -> None:
    headers = owner_headers(lily)
    jane = a_lead(lily.tenant, CALLER)
    later, sooner = a_booking(lily.tenant, jane, 48), a_booking(lily.tenant, jane, 24)
    cancelled = a_booking(lily.tenant, jane, 30, status=BookingStatus.CANCELLED)
    past = a_booking(lily.tenant, jane, -24, calendar_event_id="evt123")
    add(lily, jane, later, sooner, cancelled, past)

    def ids(**params: Any) -> list[str]:
        response = lily.client.get("/api/v1/bookings", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [b["id"] for b in response.json()["items"]]

    assert ids() == [past.id, sooner.id, cancelled.id, later.id]
    now = START.isoformat()
    assert ids(**{"from": now}) == [sooner.id, cancelled.id, later.id]
    assert ids(**{"from": now, "to": after(START, 36 * 3600).isoformat()}) == [
        sooner.id,
        cancelled.id,
    ]
    assert ids(status="cancelled") == [cancelled.id]
    assert ids(**{"from": "2026-06-01T10:00:00"}) == [sooner.id, cancelled.id, later.id]  # UTC
    first = lily.client.get("/api/v1/bookings", params={"limit": 3}, headers=headers).json()
    rest = lily.client.get(
        "/api/v1/bookings", params={"limit": 3, "cursor": first["next_cursor"]}, headers=headers
    ).json()
    assert [b["id"] for b in first["items"] + rest["items"]] == ids()
    assert rest["next_cursor"] is None

    one = lily.client.get(f"/api/v1/bookings/{past.id}", headers=headers)
    assert one.json() == {
        "id": past.id,
        "lead_id": jane.id,
        "status": "booked",
        "title": "House wash estimate",
        "start_at": "2026-05-31T15:00:00Z",
        "end_at": "2026-05-31T16:00:00Z",
        "address": "1 Main St",
        "attendee_name": "Pat",
        "calendar_event_id": "evt123",
    }

    # one lead's bookings (the conversation's booking card)
    other = a_lead(lily.tenant, "+15125550999")
    theirs = a_booking(lily.tenant, other, 12)
    add(lily, other, theirs)
    assert ids(lead_id=jane.id) == [past.id, sooner.id, cancelled.id, later.id]
    assert ids(lead_id=other.id) == [theirs.id]
    assert ids(lead_id="not-an-id") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-06-02T00:00:00Z", "to": "2026-06-01T00:00:00Z"}, "to"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_booking_filters_are_422(lily: Lily, params: dict[str, Any], field: str) -> None:
    response = lily.client.get("/api/v1/bookings", params=params, headers=owner_headers(lily))
    assert error_of(response) == (422, "invalid", field)


def test_another_tenants_booking_is_not_found(lily: Lily) -> None:
    rival = other_tenant(lily)
    theirs = a_lead(rival, CALLER)
    booking = a_booking(rival, theirs, 24)
    add(lily, theirs, booking)
    headers = owner_headers(lily)

    response = lily.client.get(f"/api/v1/bookings/{booking.id}", headers=headers)
    assert error_of(response) == (404, "not_found", None)
    assert lily.client.get("/api/v1/bookings", headers=headers).json()["items"] == []
    mine = lily.client.get(f"/api/v1/bookings/{booking.id}", headers=owner_headers(lily, rival))
    assert mine.status_code == 200


def test_quotes_and_bookings_need_a_token(lily: Lily) -> None:
    for path in ("/api/v1/quotes", "/api/v1/bookings", f"/api/v1/bookings/{'0' * 32}"):
        assert error_of(lily.client.get(path)) == (401, "unauthorized", None)

"""`/api/v1/pricebook` and `/api/v1/tenant` over HTTP on both backends: an owner edits, an
operator reads but may not change (403), validation as the CLI's (422 naming the field), and
each tenant sees only its own."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import PUBLIC_URL, Lily
from tests.e2e.dashboard_api import as_operator, error_of, other_tenant, owner_headers

PRICEBOOK = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "examples" / "pricebook.yaml").read_text()
)


def test_the_price_book_is_404_until_an_owner_puts_one(lily: Lily) -> None:
    headers = owner_headers(lily)
    assert error_of(lily.client.get("/api/v1/pricebook", headers=headers))[:2] == (
        404,
        "not_found",
    )
    assert lily.client.get("/api/v1/pricebook/versions", headers=headers).json() == []

    put = lily.client.put("/api/v1/pricebook", json={"book": PRICEBOOK}, headers=headers)
    got = lily.client.get("/api/v1/pricebook", headers=headers)

    assert put.status_code == 200 and got.status_code == 200
    assert put.json() == got.json()
    body = got.json()
    assert (body["version"], body["created_at"]) == (1, "2026-06-01T15:00:00Z")
    with lily.container.uow().across_tenants() as uow:
        current = uow.pricebooks.current(lily.tenant.id)
        assert current is not None
        assert body["book"] == current.document  # what `lily pricebook export` writes
    assert body["book"]["minimum_charge"] == PRICEBOOK["minimum_charge"]  # whole units


def test_each_change_is_a_version_and_the_same_book_is_not(lily: Lily) -> None:
    headers = owner_headers(lily)
    lily.client.put("/api/v1/pricebook", json={"book": PRICEBOOK}, headers=headers)
    lily.clock.advance(60)
    changed = copy.deepcopy(PRICEBOOK)
    changed["services"][0]["high"] = 500
    second = lily.client.put("/api/v1/pricebook", json={"book": changed}, headers=headers)
    again = lily.client.put("/api/v1/pricebook", json={"book": changed}, headers=headers)

    assert (second.json()["version"], again.json()["version"]) == (2, 2)
    assert second.json()["book"]["services"][0]["high"] == 500
    versions = lily.client.get("/api/v1/pricebook/versions", headers=headers)
    assert versions.json() == [
        {"version": 2, "created_at": "2026-06-01T15:01:00Z"},
        {"version": 1, "created_at": "2026-06-01T15:00:00Z"},
    ]


def test_an_invalid_price_book_is_422_naming_the_field(lily: Lily) -> None:
    headers = owner_headers(lily)
    low_above_high = copy.deepcopy(PRICEBOOK)
    low_above_high["services"][1]["low"] = 999
    unknown_zip = copy.deepcopy(PRICEBOOK)
    unknown_zip["service_area"]["base_zip"] = "00000"
    cases: list[tuple[Any, str]] = [
        ({"book": low_above_high}, "book.services[1].low"),
        ({"book": unknown_zip}, "book.service_area.base_zip"),
        ({"book": {"services": []}}, "book.service_area"),
        ({"book": []}, "book"),
        ({}, "book"),
        ({"book": PRICEBOOK, "version": 3}, "version"),
    ]
    for body, field in cases:
        response = lily.client.put("/api/v1/pricebook", json=body, headers=headers)
        assert error_of(response) == (422, "invalid", field), body
    assert lily.count_rows("pricebooks") == 0


def test_text_a_database_cannot_keep_is_made_storable(lily: Lily) -> None:
    book = copy.deepcopy(PRICEBOOK)
    book["services"][0]["name"] = "House\x00 wash \ud800"
    body = json.dumps({"book": book}).encode()  # the lone surrogate as a JSON escape
    headers = owner_headers(lily) | {"Content-Type": "application/json"}

    put = lily.client.put("/api/v1/pricebook", content=body, headers=headers)

    assert put.status_code == 200, put.text
    assert put.json()["book"]["services"][0]["name"] == "House wash \ufffd"
    assert lily.client.get("/api/v1/pricebook", headers=headers).json() == put.json()


def test_an_operator_reads_the_price_book_but_may_not_put_one(lily: Lily) -> None:
    lily.client.put("/api/v1/pricebook", json={"book": PRICEBOOK}, headers=owner_headers(lily))
    with as_operator(lily):
        assert lily.client.get("/api/v1/pricebook").status_code == 200
        assert lily.client.get("/api/v1/pricebook/versions").status_code == 200
        refused = lily.client.put("/api/v1/pricebook", json={"book": PRICEBOOK})
        refused_invalid = lily.client.put("/api/v1/pricebook", json={"book": []})
    assert error_of(refused) == (403, "forbidden", None)
    assert error_of(refused_invalid) == (403, "forbidden", None)
    assert lily.count_rows("pricebooks") == 1


def test_each_tenant_has_its_own_price_book(lily: Lily) -> None:
    rival = other_tenant(lily)
    lily.client.put("/api/v1/pricebook", json={"book": PRICEBOOK}, headers=owner_headers(lily))
    theirs = owner_headers(lily, rival)
    assert lily.client.get("/api/v1/pricebook", headers=theirs).status_code == 404
    assert lily.client.get("/api/v1/pricebook/versions", headers=theirs).json() == []


def test_the_tenant_settings_never_show_a_secret(lily: Lily) -> None:
    lily.tenant = lily.update_tenant(chatwoot_secret="cw-secret-value", zip="78701")
    response = lily.client.get("/api/v1/tenant", headers=owner_headers(lily))

    assert response.status_code == 200
    body = response.json()
    tenant = lily.tenant
    assert {k: body[k] for k in ("id", "slug", "phone", "name", "forward_to", "zip")} == {
        "id": tenant.id,
        "slug": "acme-wash-co",
        "phone": tenant.phone,
        "name": "Acme Wash Co",
        "forward_to": tenant.forward_to,
        "zip": "78701",
    }
    assert (body["quiet_hours"], body["timezone"]) == ("21:00-08:00", "America/Chicago")
    assert (body["calcom_secret_set"], body["chatwoot_secret_set"]) == (True, True)
    assert body["twilio_auth_token_set"] is False
    assert body["webhooks"] == {
        "twilio_voice": f"{PUBLIC_URL}/webhooks/twilio/voice",
        "twilio_sms": f"{PUBLIC_URL}/webhooks/twilio/sms",
        "calcom": f"{PUBLIC_URL}/webhooks/calcom/acme-wash-co",
        "chatwoot": f"{PUBLIC_URL}/webhooks/chatwoot/acme-wash-co",
    }
    for secret in (tenant.calcom_secret, tenant.sandbox_auth_token, "cw-secret-value"):
        assert secret not in response.text


def test_an_owner_patches_settings_and_the_webhooks_use_them(lily: Lily) -> None:
    headers = owner_headers(lily)
    response = lily.client.patch(
        "/api/v1/tenant",
        json={
            "forward_to": None,
            "quiet_hours": "22:00-07:00",
            "strict_quiet_hours": True,
            "review_delay_hours": 12,
            "calcom_secret": "a-new-calcom-secret",
        },
        headers=headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["forward_to"], body["quiet_hours"]) == (None, "22:00-07:00")
    assert (body["strict_quiet_hours"], body["review_delay_hours"]) == (True, 12)
    assert "a-new-calcom-secret" not in response.text
    assert lily.client.get("/api/v1/tenant", headers=headers).json() == body
    with lily.container.uow().across_tenants() as uow:
        stored = uow.tenants.get(lily.tenant.id)
        assert stored is not None and stored.calcom_secret == "a-new-calcom-secret"


def test_invalid_settings_are_422_naming_the_field_and_change_nothing(lily: Lily) -> None:
    headers = owner_headers(lily)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"quiet_hours": "late"}, "quiet_hours"),
        ({"forward_to": lily.tenant.phone}, "forward_to"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"review_delay_hours": "soon"}, "review_delay_hours"),
        ({"review_delay_hours": -1}, "review_delay_hours"),
        ({"missed_call_template": "Hi {name}"}, "missed_call_template"),
        ({"name": None}, "name"),
        ({"twilio_account_sid": "AC123"}, "twilio_auth_token"),
        ({"slug": "taken-over"}, "slug"),
        ({"name": "New name", "zip": "00000"}, "zip"),
    ]
    for body, field in cases:
        response = lily.client.patch("/api/v1/tenant", json=body, headers=headers)
        assert error_of(response) == (422, "invalid", field), body
    with lily.container.uow().across_tenants() as uow:
        stored = uow.tenants.get(lily.tenant.id)
        assert stored is not None and stored.name == "Acme Wash Co"


def test_an_operator_reads_the_settings_but_may_not_patch_them(lily: Lily) -> None:
    with as_operator(lily):
        assert lily.client.get("/api/v1/tenant").status_code == 200
        refused = lily.client.patch("/api/v1/tenant", json={"name": "Taken over"})
    assert error_of(refused) == (403, "forbidden", None)
    with lily.container.uow().across_tenants() as uow:
        stored = uow.tenants.get(lily.tenant.id)
        assert stored is not None and stored.name == "Acme Wash Co"


def test_each_token_sees_its_own_tenant(lily: Lily) -> None:
    rival = other_tenant(lily)
    headers = owner_headers(lily, rival)
    assert lily.client.get("/api/v1/tenant", headers=headers).json()["id"] == rival.id
    lily.client.patch("/api/v1/tenant", json={"name": "Rival Renamed"}, headers=headers)
    mine = lily.client.get("/api/v1/tenant", headers=owner_headers(lily)).json()
    assert mine["name"] == "Acme Wash Co"


def test_the_price_book_and_settings_need_a_token(lily: Lily) -> None:
    for method, path in (
        ("GET", "/api/v1/pricebook"),
        ("PUT", "/api/v1/pricebook"),
        ("GET", "/api/v1/pricebook/versions"),
        ("GET", "/api/v1/tenant"),
        ("PATCH", "/api/v1/tenant"),
    ):
        response = lily.client.request(method, path, json={})
        assert error_of(response) == (401, "unauthorized", None)

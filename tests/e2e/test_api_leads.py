"""The dashboard API's leads and conversations (DESIGN §4.2), over HTTP on both backends:
what a missed call and a customer's texts look like through it, the owner's manual reply
reaching the customer's phone, pausing automations, photos behind short-lived links,
pagination while leads keep arriving, and tenant isolation on every route with an id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import CALLER, JITTER_MAX, Lily, after
from tests.e2e.test_photo_storage import add_mms
from tests.e2e.test_quote_flow import JPEG, new_sid, text

OTHER_CALLER = "+15125550177"


def bearer(lily: Lily, slug: str | None = None) -> dict[str, str]:
    _, token = lily.container.create_api_key()(slug or lily.tenant.slug)
    return {"Authorization": f"Bearer {token}"}


class Api:
    """The dashboard API as one tenant's owner calls it."""

    def __init__(self, lily: Lily, slug: str | None = None) -> None:
        self.client, self.headers = lily.client, bearer(lily, slug)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(f"/api/v1{path}", params=params, headers=self.headers)

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.client.patch(f"/api/v1{path}", json=body, headers=self.headers)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.client.post(f"/api/v1{path}", json=body, headers=self.headers)

    def leads(self, **params: Any) -> list[dict[str, Any]]:
        response = self.get("/leads", **params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def messages(self, lead_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/leads/{lead_id}/messages")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture
def api(lily: Lily) -> Api:
    return Api(lily)


def missed_call(lily: Lily, caller: str = CALLER) -> str:
    assert lily.missed_call(new_sid("CA"), caller=caller).status_code == 200
    return lily.lead(caller).id


def stamp(lily: Lily, seconds: float = 0) -> str:
    return (lily.clock.now() + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def test_a_missed_call_and_its_text_back_are_in_the_dashboard(lily: Lily, api: Api) -> None:
    lead_id = missed_call(lily)
    called = stamp(lily)

    assert api.leads() == [
        {
            "id": lead_id,
            "name": None,
            "phone": CALLER,
            "email": None,
            "zip": None,
            "status": "contacted",
            "opted_out": False,
            "created_at": called,
            "last_activity_at": called,
            "unread": True,  # a missed call is the customer reaching out
        }
    ]
    [queued] = api.messages(lead_id)
    assert (queued["direction"], queued["kind"], queued["status"]) == (
        "outbound",
        "missed_call",
        "queued",
    )

    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX))
    [sent] = api.messages(lead_id)
    assert sent == {
        **queued,
        "status": "sent",
        "sent_at": stamp(lily),
    }
    assert sent["channel"] == "sms" and sent["media"] == [] and sent["error_code"] is None
    assert [m.body for m in lily.texts_to(CALLER)] == [sent["body"]]


def test_the_customers_reply_is_unread_until_the_conversation_is_read(lily: Lily, api: Api) -> None:
    lead_id = missed_call(lily)
    lily.clock.current = after(lily.clock.now(), 60)
    text(lily, "it's the driveway")
    [lead] = api.leads()
    assert lead["unread"] is True and lead["last_activity_at"] == stamp(lily)
    detail = api.get(f"/leads/{lead_id}").json()
    assert detail["last_inbound_at"] == stamp(lily) and detail["last_read_at"] is None

    response = api.post(f"/leads/{lead_id}/read")
    assert response.status_code == 204 and response.content == b""
    assert api.leads()[0]["unread"] is False
    assert api.get(f"/leads/{lead_id}").json()["unread"] is False

    lily.clock.current = after(lily.clock.now(), 60)
    text(lily, "and the patio")
    assert api.leads()[0]["unread"] is True
    bodies = [m["body"] for m in api.messages(lead_id)]
    assert bodies[1:] == ["it's the driveway", "and the patio"]  # oldest first


def test_a_manual_reply_reaches_the_customer_at_once_even_at_night(lily: Lily, api: Api) -> None:
    lead_id = missed_call(lily)
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX))
    lily.clock.current = lily.clock.now() + timedelta(hours=13)  # 23:00 in Austin

    response = api.post(f"/leads/{lead_id}/messages", {"body": "Can do Tuesday at 9?"})

    assert response.status_code == 201, response.text
    reply = response.json()
    assert (reply["direction"], reply["kind"], reply["status"], reply["body"]) == (
        "outbound",
        "manual",
        "queued",
        "Can do Tuesday at 9?",
    )
    assert reply["created_at"] == stamp(lily) and reply["sent_at"] is None
    lily.run_worker_at(lily.clock.now())
    assert [m.body for m in lily.texts_to(CALLER)][-1] == "Can do Tuesday at 9?"
    last = api.messages(lead_id)[-1]
    assert (last["id"], last["status"]) == (reply["id"], "sent")


def test_paused_automations_hold_lilys_texts_but_not_the_owners(lily: Lily, api: Api) -> None:
    lead_id = missed_call(lily)
    response = api.patch(f"/leads/{lead_id}", {"automations_paused": True})
    assert response.status_code == 200 and response.json()["automations_paused"] is True
    lily.clock.current = after(lily.clock.now(), 5)
    api.post(f"/leads/{lead_id}/messages", {"body": "Hi, it's Sam from Acme"})

    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX))

    assert [m.body for m in lily.texts_to(CALLER)] == ["Hi, it's Sam from Acme"]
    statuses = [(m["kind"], m["status"]) for m in api.messages(lead_id)]
    assert statuses == [("missed_call", "held"), ("manual", "sent")]


def test_no_manual_reply_to_a_lead_who_opted_out(lily: Lily, api: Api) -> None:
    lead_id = missed_call(lily)
    lily.clock.current = after(lily.clock.now(), 5)
    text(lily, "STOP")
    before = api.messages(lead_id)

    response = api.post(f"/leads/{lead_id}/messages", {"body": "Are you sure?"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert api.messages(lead_id) == before
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX))
    assert lily.texts_to(CALLER) == []
    assert api.leads(opted_out=True)[0]["id"] == lead_id
    assert api.leads(opted_out=False) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 1601}, "body"),
        ({}, "body"),
        ({"body": "hi", "to": "+15125550000"}, "to"),
    ],
)
def test_a_manual_reply_must_be_1_to_1600_characters(
    lily: Lily, api: Api, body: dict[str, Any], field: str
) -> None:
    lead_id = missed_call(lily)
    response = api.post(f"/leads/{lead_id}/messages", body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    assert len(api.messages(lead_id)) == 1


def test_patch_changes_a_lead_and_names_the_field_it_refuses(lily: Lily, api: Api) -> None:
    lead_id = missed_call(lily)
    response = api.patch(
        f"/leads/{lead_id}",
        {"name": "Jane Doe", "email": "Jane@Example.com", "zip": "78701", "status": "quoted"},
    )
    assert response.status_code == 200, response.text
    lead = response.json()
    assert (lead["name"], lead["email"], lead["zip"], lead["status"]) == (
        "Jane Doe",
        "jane@example.com",
        "78701",
        "quoted",
    )
    assert lead["automations_paused"] is False

    for body, field in [
        ({"zip": "99999"}, "zip"),
        ({"email": "jane"}, "email"),
        ({"status": "won"}, "status"),
        ({"status": None}, "status"),
        ({"phone": "+15125550000"}, "phone"),
        ({"name": "x" * 201}, "name"),
    ]:
        refused = api.patch(f"/leads/{lead_id}", body)
        assert refused.status_code == 422, body
        assert refused.json()["error"]["field"] == field, body
    assert api.get(f"/leads/{lead_id}").json() == lead


def test_filters_search_and_bad_input(lily: Lily, api: Api) -> None:
    jane = missed_call(lily)
    api.patch(f"/leads/{jane}", {"name": "Jane Doe", "email": "jane@example.com"})
    lily.clock.current = after(lily.clock.now(), 5)
    bob = missed_call(lily, OTHER_CALLER)
    api.patch(f"/leads/{bob}", {"name": "Bob", "status": "booked"})

    def ids(**params: Any) -> list[str]:
        return [lead["id"] for lead in api.leads(**params)]

    assert ids() == [bob, jane]
    assert ids(status="booked") == [bob]
    assert ids(q="JANE") == [jane]
    assert ids(q="example.com") == [jane]
    assert ids(q="0123") == [jane]  # CALLER is +15125550123
    assert ids(q="512555") == [bob, jane]
    assert ids(q="(512) 555-0177") == [bob]
    assert ids(q="nobody") == []
    for params, field in [
        ({"status": "won"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"q": "x" * 101}, "q"),
    ]:
        response = api.get("/leads", **params)
        assert response.status_code == 422, params
        assert response.json()["error"]["field"] == field
    assert lily.client.get("/api/v1/leads").status_code == 401


def test_pages_walk_every_lead_once_while_new_leads_arrive(lily: Lily, api: Api) -> None:
    for n in range(7):
        lily.clock.current = after(lily.clock.now(), n % 2)  # pairs share an instant
        missed_call(lily, f"+1512555{n:04d}")
    expected = [lead["id"] for lead in api.leads()]
    seen: list[str] = []
    cursor = None
    for n in range(10):
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = api.get("/leads", **params)
        assert response.status_code == 200
        page = response.json()
        seen += [lead["id"] for lead in page["items"]]
        lily.clock.current = after(lily.clock.now(), 1)
        missed_call(lily, f"+1512556{n:04d}")  # a new lead between pages
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert len(api.leads(limit=200)) == 7 + 3


def inbound_media(api: Api, lead_id: str) -> list[dict[str, Any]]:
    return [p for m in api.messages(lead_id) if m["direction"] == "inbound" for p in m["media"]]


def test_a_photo_is_linked_once_it_is_copied(lily: Lily, api: Api) -> None:
    lead_id = missed_call(lily)
    lily.clock.current = after(lily.clock.now(), 5)
    add_mms(lily, [("image/jpeg", JPEG)], "the house")
    [photo] = inbound_media(api, lead_id)
    assert photo == {"url": None, "content_type": "image/jpeg"}  # not copied yet

    lily.run_worker_at(lily.clock.now())  # the COPY_MEDIA task
    [photo] = inbound_media(api, lead_id)
    assert photo["content_type"] == "image/jpeg"
    url = photo["url"]
    assert url.startswith("http://testserver/api/v1/media/")
    response = lily.client.get(url)  # no bearer token: the link is the credential
    assert response.status_code == 200, response.text
    assert (response.content, response.headers["content-type"]) == (JPEG, "image/jpeg")

    assert lily.client.get(url.replace("signature=", "signature=0")).status_code == 403
    lily.clock.current = after(lily.clock.now(), 16 * 60)
    assert lily.client.get(url).status_code == 403  # expired


def test_another_tenants_lead_is_404_everywhere_and_untouched(lily: Lily) -> None:
    rival = lily.onboard("Rival Wash", "+15125550300")
    mine = Api(lily)
    theirs = Api(lily, rival.slug)
    lead_id = missed_call(lily)
    before = (mine.get(f"/leads/{lead_id}").json(), mine.messages(lead_id))

    attempts = [
        theirs.get(f"/leads/{lead_id}"),
        theirs.patch(f"/leads/{lead_id}", {"name": "Stolen", "automations_paused": True}),
        theirs.get(f"/leads/{lead_id}/messages"),
        theirs.post(f"/leads/{lead_id}/messages", {"body": "Hello from a rival"}),
        theirs.post(f"/leads/{lead_id}/read"),
        mine.get("/leads/no-such-lead"),
        mine.get("/leads/no-such-lead/messages"),
    ]

    for response in attempts:
        assert response.status_code == 404, response.request.url
        assert response.json()["error"]["code"] == "not_found"
    assert theirs.leads() == []
    assert (mine.get(f"/leads/{lead_id}").json(), mine.messages(lead_id)) == before
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX))
    assert [m.body for m in lily.texts_to(CALLER)] == [before[1][0]["body"]]


def test_the_openapi_names_every_operation_with_its_models_and_errors(lily: Lily) -> None:
    paths = lily.client.get("/openapi.json").json()["paths"]
    expected = {
        ("/api/v1/leads", "get"): ("listLeads", {"200", "401", "422"}),
        ("/api/v1/leads/{lead_id}", "get"): ("getLead", {"200", "401", "404", "422"}),
        ("/api/v1/leads/{lead_id}", "patch"): (
            "updateLead",
            {"200", "400", "401", "403", "404", "422"},
        ),
        ("/api/v1/leads/{lead_id}/messages", "get"): (
            "listLeadMessages",
            {"200", "401", "404", "422"},
        ),
        ("/api/v1/leads/{lead_id}/messages", "post"): (
            "sendLeadMessage",
            {"201", "400", "401", "403", "404", "409", "422"},
        ),
        ("/api/v1/leads/{lead_id}/read", "post"): (
            "markLeadRead",
            {"204", "401", "403", "404", "422"},
        ),
    }
    for (path, method), (operation_id, statuses) in expected.items():
        operation = paths[path][method]
        assert operation["operationId"] == operation_id
        assert set(operation["responses"]) == statuses
        for status in statuses - {"200", "201", "204"}:
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    listed = paths["/api/v1/leads"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"] == {"$ref": "#/components/schemas/Paged_LeadItem_"}

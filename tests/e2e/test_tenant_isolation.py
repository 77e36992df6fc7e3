"""Tenant isolation and roles on every route of the dashboard API (DESIGN §4.2), generated from
the app's own route table, so that a route added later is checked too, or fails here until
it says how:

- every route with an id in its path, called by tenant B with the id of tenant A's thing,
  answers as for an id that names nothing (404, the same body), and A's data, queue and
  texts stay as they were; A's own call through the same route works (so that the 404 is
  not an accident of the test);
- every route answers 401 without a token, but for those in NO_BEARER;
- an operator gets 403 on exactly the routes in OWNER_ONLY, and only there.

A route with an id and no entry in REACHES, or a new route that breaks the other two rules,
fails the test with its name."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from lily_adapters.photos.local import LocalPhotoStore
from lily_core.domain.ids import new_id
from lily_core.domain.tenant import Tenant
from tests.e2e.conftest import JITTER_MAX, Lily, after
from tests.e2e.dashboard_api import (
    a_booking,
    a_lead,
    a_quote,
    add,
    add_user,
    bearer,
    other_tenant,
    owner_headers,
    user_token,
)
from tests.e2e.test_api_pricebook_tenant import PRICEBOOK
from tests.e2e.test_quote_flow import JPEG, new_sid

API = "/api/v1/"
Route = tuple[str, str]  # (method, path template), as the route table has it

# Routes that take no bearer token, and why; every other route answers 401 without one.
NO_BEARER: dict[Route, str] = {
    ("POST", "/api/v1/auth/token"): "signs in",
    ("POST", "/api/v1/auth/session"): "signs in",
    ("DELETE", "/api/v1/auth/session"): "signs out, which always works",
    ("GET", "/api/v1/media/{key}"): "the signed link is the credential: an <img> sends no token",
    ("POST", "/api/v1/uploads/local/{key}"): "the signed form is the credential",
}

# What an operator may not do (DESIGN §4.2: change the tenant, the price book, API keys or
# billing; the API keys' list is the owner's too), with a body the route would take from an
# owner, so that a refusal cannot hide behind a 422.
OWNER_ONLY: dict[Route, Any] = {
    ("GET", "/api/v1/apikeys"): None,
    ("POST", "/api/v1/apikeys"): {"name": "operator's own"},
    ("DELETE", "/api/v1/apikeys/{key_id}"): None,
    ("PUT", "/api/v1/pricebook"): {"book": PRICEBOOK},
    ("PATCH", "/api/v1/tenant"): {"name": "Taken Over Wash"},
    ("POST", "/api/v1/billing/checkout"): {"plan": "pro"},
    ("POST", "/api/v1/billing/portal"): None,
}
# Changes under these belong to the owner: a write route added there must be in OWNER_ONLY.
OWNER_AREAS = ("/api/v1/tenant", "/api/v1/pricebook", "/api/v1/apikeys", "/api/v1/billing")

_ID = re.compile(r"[0-9a-f]{32}")
_phones = itertools.count(1000)


def api_routes(app: FastAPI) -> list[Route]:
    """Every (method, path) under /api/v1 in the app's route table. FastAPI keeps included
    routers as branches of `app.routes`; `iter_route_contexts` walks them as the OpenAPI
    document does, with each route's full path."""
    return sorted(
        (method, str(context.path_format))
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and str(context.path_format).startswith(API)
        for method in context.methods or ()
    )


def has_path_parameters(route: Route) -> bool:
    return "{" in route[1]


# -- the world: tenant A's things, and tenant B -------------------------------------------


@attrs.define
class World:
    """Tenant A (the harness's) with an owner's key, and tenant B, the rival, with its own."""

    lily: Lily
    rival: Tenant
    headers: dict[str, dict[str, str]]  # tenant id -> an owner's bearer header
    tokens: list[str] = attrs.field(factory=list)  # A's API keys that must keep working

    @property
    def mine(self) -> Tenant:
        return self.lily.tenant

    @property
    def store(self) -> LocalPhotoStore:
        store = self.lily.container.photo_store()
        assert isinstance(store, LocalPhotoStore)
        return store


@pytest.fixture
def world(lily: Lily) -> World:
    rival = other_tenant(lily)
    headers = {t.id: owner_headers(lily, t) for t in (lily.tenant, rival)}
    return World(lily, rival, headers)


# Factories: each makes one thing of tenant A and returns the path parameters naming it.


def a_lead_with_messages(world: World) -> dict[str, str]:
    """A missed call: the lead, and its text-back, sent."""
    lily, phone = world.lily, f"+1512555{next(_phones):04d}"
    assert lily.missed_call(new_sid("CA"), caller=phone).status_code == 200
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX))
    return {"lead_id": lily.lead(phone).id}


def a_sent_quote(world: World) -> dict[str, str]:
    lead = a_lead(world.mine, f"+1512555{next(_phones):04d}")
    quote = a_quote(world.mine, lead)
    add(world.lily, lead, quote)
    return {"quote_id": quote.id}


def a_booked_estimate(world: World) -> dict[str, str]:
    lead = a_lead(world.mine, f"+1512555{next(_phones):04d}")
    booking = a_booking(world.mine, lead, 24)
    add(world.lily, lead, booking)
    return {"booking_id": booking.id}


def an_api_key(world: World) -> dict[str, str]:
    key, token = world.lily.container.create_api_key()(world.mine.slug, "zapier")
    world.tokens.append(token)
    return {"key_id": key.id}


def a_stored_photo(world: World) -> dict[str, str]:
    key = f"tenants/{world.mine.id}/photos/{new_id()}-0.jpg"
    world.store.put(key, JPEG, "image/jpeg")
    return {"key": key}


# Credentials: what a caller of `tenant` sends to the route for the thing at `path`.

Credentials = Callable[[World, Tenant, dict[str, str]], dict[str, Any]]


def owners_token(world: World, tenant: Tenant, path: dict[str, str]) -> dict[str, Any]:
    return {"headers": world.headers[tenant.id]}


def _own_key(world: World, tenant: Tenant, path: dict[str, str]) -> str:
    """The key itself for its tenant; for another, the same key in its own space: a signed
    link or form is all it could get, and only for its own photos."""
    return path["key"].replace(world.mine.id, tenant.id)


def signed_link(world: World, tenant: Tenant, path: dict[str, str]) -> dict[str, Any]:
    url = world.store.url_for(_own_key(world, tenant, path), expires_seconds=900)
    return {"headers": world.headers[tenant.id], "params": dict(parse_qsl(urlsplit(url).query))}


def signed_upload_form(world: World, tenant: Tenant, path: dict[str, str]) -> dict[str, Any]:
    form = world.store.presign_upload(
        _own_key(world, tenant, path),
        content_type="image/jpeg",
        max_bytes=len(JPEG) * 2,
        expires_seconds=900,
    )
    return {
        "headers": world.headers[tenant.id],
        "data": form.fields,
        "files": {"file": ("photo.jpg", JPEG[::-1], "image/jpeg")},
    }


@attrs.frozen
class Reach:
    """How a caller reaches tenant A's thing through one route: the factory that makes the
    thing, the body sent (one that would change it), the caller's credentials, and what a
    caller with no right to the thing gets (as for a thing that does not exist)."""

    make: Callable[[World], dict[str, str]]
    json: Any = None
    credentials: Credentials = owners_token
    refused: int = 404


# Every route with a path parameter. A new one fails test_every_route_with_an_id_has_a_reach
# until it is added here.
REACHES: dict[Route, Reach] = {
    ("GET", "/api/v1/leads/{lead_id}"): Reach(a_lead_with_messages),
    ("PATCH", "/api/v1/leads/{lead_id}"): Reach(
        a_lead_with_messages,
        json={"name": "Stolen", "status": "lost", "automations_paused": True, "zip": "75201"},
    ),
    ("GET", "/api/v1/leads/{lead_id}/messages"): Reach(a_lead_with_messages),
    ("POST", "/api/v1/leads/{lead_id}/messages"): Reach(
        a_lead_with_messages, json={"body": "Hello from a rival"}
    ),
    ("POST", "/api/v1/leads/{lead_id}/read"): Reach(a_lead_with_messages),
    ("GET", "/api/v1/quotes/{quote_id}"): Reach(a_sent_quote),
    ("GET", "/api/v1/bookings/{booking_id}"): Reach(a_booked_estimate),
    ("DELETE", "/api/v1/apikeys/{key_id}"): Reach(an_api_key),
    # The signature is the credential: a link or form for another key is refused (403)
    # before anything is looked up, whether that key names a photo or not.
    ("GET", "/api/v1/media/{key}"): Reach(a_stored_photo, credentials=signed_link, refused=403),
    ("POST", "/api/v1/uploads/local/{key}"): Reach(
        a_stored_photo, credentials=signed_upload_form, refused=403
    ),
}


def call(world: World, route: Route, path: dict[str, str], extra: dict[str, Any]) -> httpx.Response:
    method, template = route
    url = template.format(**path)
    response: httpx.Response = world.lily.client.request(method, url, **extra)
    return response


def missing(world: World, path: dict[str, str]) -> dict[str, str]:
    """The same path parameters naming nothing: every id in them but A's own replaced."""
    keep = world.mine.id

    def fresh(match: re.Match[str]) -> str:
        return match.group() if match.group() == keep else new_id()

    return {name: _ID.sub(fresh, value) for name, value in path.items()}


def without_ids(response: httpx.Response) -> Any:
    """The body, with the ids in it blanked (a message may name the id asked for)."""
    return re.sub(_ID, "<id>", response.text)


def answer(response: httpx.Response) -> tuple[int, str | None]:
    """(status, error code) of a response; the code is None if the body is no error."""
    try:
        return response.status_code, response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return response.status_code, None


def state_of_a(world: World) -> dict[str, Any]:
    """All of tenant A that the API shows its owner, its stored photos, the queue and the
    texts that went out."""
    lily, headers = world.lily, world.headers[world.mine.id]

    def get(path: str, **params: Any) -> Any:
        response = lily.client.get(f"/api/v1{path}", params=params, headers=headers)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    leads = get("/leads", limit=200)["items"]
    root = world.store.root / "tenants" / world.mine.id
    return {
        "leads": leads,
        "details": [get(f"/leads/{lead['id']}") for lead in leads],
        "messages": [get(f"/leads/{lead['id']}/messages", limit=200) for lead in leads],
        "quotes": get("/quotes", limit=200),
        "bookings": get("/bookings", limit=200),
        "api_keys": get("/apikeys"),
        "tenant": get("/tenant"),
        "photos": {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()},
        "queue": lily.queue_stats(),
        "texts": len(lily.twilio.messages),
    }


# -- the tests ----------------------------------------------------------------------------


def test_every_route_with_an_id_has_a_reach(lily: Lily) -> None:
    app: Any = lily.client.app
    routes = api_routes(app)
    without = [f"{m} {p}" for m, p in routes if has_path_parameters((m, p))]
    unknown = sorted(set(without) - {f"{m} {p}" for m, p in REACHES})
    assert not unknown, f"add to REACHES how tenant B would reach tenant A's thing: {unknown}"
    gone = sorted(f"{m} {p}" for m, p in REACHES if (m, p) not in routes)
    assert not gone, f"REACHES names routes the app no longer has: {gone}"


def test_another_tenants_ids_are_not_found_and_change_nothing(world: World) -> None:
    app: Any = world.lily.client.app
    failures: list[str] = []
    for route in filter(has_path_parameters, api_routes(app)):
        reach = REACHES[route]
        world.tokens.clear()  # A's own call below may have revoked the previous route's
        path = reach.make(world)
        before = state_of_a(world)
        extra = {"json": reach.json} if reach.json is not None else {}

        taken = call(world, route, path, extra | reach.credentials(world, world.rival, path))
        gone = missing(world, path)
        absent = call(world, route, gone, extra | reach.credentials(world, world.rival, gone))

        name = f"{route[0]} {route[1]}"
        if (taken.status_code, without_ids(taken)) != (reach.refused, without_ids(absent)):
            failures.append(
                f"{name}: tenant B got {taken.status_code} {taken.text} for A's thing, "
                f"{absent.status_code} {absent.text} for a missing one"
            )
        if state_of_a(world) != before:
            failures.append(f"{name}: tenant B's call changed tenant A's data or queue")
        for token in world.tokens:
            if world.lily.client.get("/api/v1/me", headers=bearer(token)).status_code != 200:
                failures.append(f"{name}: tenant B's call broke tenant A's API key")
        own = call(world, route, path, extra | reach.credentials(world, world.mine, path))
        if not 200 <= own.status_code < 300:
            failures.append(f"{name}: tenant A itself got {own.status_code} {own.text}")
    assert not failures, "\n".join(failures)


def test_every_route_but_the_sign_in_and_signed_links_needs_a_token(lily: Lily) -> None:
    app: Any = lily.client.app
    failures = []
    for method, template in api_routes(app):
        url = re.sub(r"\{\w+\}", new_id(), template)
        response = lily.client.request(method, url, json={})
        needs_token = (method, template) not in NO_BEARER
        if needs_token and answer(response) != (401, "unauthorized"):
            failures.append(f"{method} {template}: {response.status_code} {response.text}")
        if not needs_token and response.status_code == 401:
            failures.append(f"{method} {template} is in NO_BEARER but answers 401 without one")
    assert not failures, "\n".join(failures)
    assert set(NO_BEARER) <= set(api_routes(app)), "NO_BEARER names routes the app lacks"


def test_an_operator_may_not_change_the_tenant_price_book_or_api_keys(world: World) -> None:
    lily = world.lily
    app: Any = lily.client.app
    routes = api_routes(app)
    writes = {(m, p) for m, p in routes if m != "GET" and p.startswith(OWNER_AREAS)}
    assert writes <= set(OWNER_ONLY), (
        f"owner's changes not in OWNER_ONLY: {writes - set(OWNER_ONLY)}"
    )
    add_user(lily, "operator@acme.test", role="operator")
    operator = bearer(user_token(lily, "operator@acme.test"))
    failures = []
    for route in routes:
        if route in NO_BEARER:
            continue
        reach = REACHES.get(route)
        path = reach.make(world) if reach else {}
        body = OWNER_ONLY.get(route, reach.json if reach else None)
        before = state_of_a(world)
        response = call(world, route, path, {"headers": operator, "json": body})
        name = f"{route[0]} {route[1]}"
        if route in OWNER_ONLY:
            if answer(response) != (403, "forbidden"):
                failures.append(f"{name}: an operator got {response.status_code}, not 403")
            if state_of_a(world) != before:
                failures.append(f"{name}: an operator's refused call changed something")
        elif response.status_code == 403:
            failures.append(f"{name}: an operator got 403 but the route is not in OWNER_ONLY")
    assert not failures, "\n".join(failures)
    assert set(OWNER_ONLY) <= set(routes), "OWNER_ONLY names routes the app lacks"

"""The dashboard API's bearer authentication, over HTTP on both backends."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import sqlalchemy as sa
from starlette.testclient import TestClient

from lily_adapters.auth import JwtTokenSigner
from lily_adapters.sql.uow import set_tenant_scope
from lily_core.ports.auth import TokenClaims
from lily_core.use_cases.access import hash_password
from tests.e2e.conftest import PUBLIC_URL, Lily, running_lily
from tests.e2e.dashboard_api import EMAIL, PASSWORD, add_user, bearer, sign_in, user_token
from tests.standins.twilio import TwilioStandIn

Backend = tuple[str, str | None]


def test_an_api_key_is_the_owner_of_its_tenant(lily: Lily) -> None:
    key, token = lily.container.create_api_key()(lily.tenant.slug, "zapier")

    response = lily.client.get("/api/v1/me", headers=bearer(token))

    assert response.status_code == 200
    assert response.json() == {
        "tenant": {"id": lily.tenant.id, "slug": lily.tenant.slug, "name": lily.tenant.name},
        "user": None,
        "api_key": {"id": key.id, "name": "zapier"},
    }


def test_no_token_a_wrong_one_or_a_revoked_one_is_401(lily: Lily) -> None:
    key, token = lily.container.create_api_key()(lily.tenant.slug)
    with lily.container.uow().across_tenants() as uow:
        stored = uow.api_keys.get_by_hash(key.key_hash)
        assert stored is not None
        stored.revoked_at = lily.clock.now()
        uow.commit()

    for headers in ({}, bearer("lily_not-a-key"), bearer("garbage"), bearer(token)):
        response = lily.client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


# -- user tokens ---------------------------------------------------------------------------


def test_a_user_signs_in_for_a_token_that_stands_for_them(lily: Lily) -> None:
    add_user(lily)

    response = sign_in(lily.client, "  Owner@Acme.TEST")

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 12 * 3600
    me = lily.client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json() == {
        "tenant": {"id": lily.tenant.id, "slug": lily.tenant.slug, "name": lily.tenant.name},
        "user": {"email": EMAIL, "role": "owner"},
        "api_key": None,
    }


def test_a_wrong_password_and_an_unknown_email_are_the_same_401(lily: Lily) -> None:
    add_user(lily)

    wrong_password = sign_in(lily.client, password="not the password")
    unknown_email = sign_in(lily.client, email="nobody@acme.test")

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password.json()["error"]["code"] == "unauthorized"


def test_expired_forged_and_orphaned_tokens_are_401(lily: Lily) -> None:
    user = add_user(lily)
    token = user_token(lily)
    lily.clock.advance(hours=12)

    assert lily.client.get("/api/v1/me", headers=bearer(token)).status_code == 401

    now = lily.clock.now()
    claims = TokenClaims(
        user_id=user.id, tenant_id=lily.tenant.id, issued_at=now, expires_at=now + timedelta(1)
    )
    forged = JwtTokenSigner("another secret").sign(claims)
    unsigned = jwt.encode(
        {"sub": user.id, "tid": lily.tenant.id, "iat": 1, "exp": 2**40}, None, "none"
    )
    fresh = user_token(lily)
    with lily.container.engine().begin() as conn:
        set_tenant_scope(conn, None)  # every tenant's rows
        conn.execute(sa.text("DELETE FROM users"))

    for token in (forged, unsigned, fresh, "eyJ.garbage.here"):
        response = lily.client.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 401, token
        assert response.json()["error"]["code"] == "unauthorized"


def test_a_scrypt_hash_is_upgraded_to_argon2_on_sign_in(lily: Lily) -> None:
    user = add_user(lily)
    assert user.password_hash.startswith("$argon2id$")
    with lily.container.uow().across_tenants() as uow:
        stored = uow.users.get(lily.tenant.id, user.id)
        assert stored is not None
        stored.password_hash = hash_password(PASSWORD)  # the format Lily stored before
        uow.commit()

    user_token(lily)

    with lily.container.uow().across_tenants() as uow:
        upgraded = uow.users.get(lily.tenant.id, user.id)
    assert upgraded is not None and upgraded.password_hash.startswith("$argon2id$")
    user_token(lily)  # and the new hash works


# -- the sign-in throttle ------------------------------------------------------------------


def other_instance(backend: Backend, twilio: TwilioStandIn, tmp_path: Path) -> Any:
    """A second Lily on the same database (and Redis), as a second API process would be."""
    return running_lily(
        backend, twilio, tmp_path, make=lambda _c, client, clock, _t: (client, clock)
    )


def test_failures_block_an_email_across_api_processes(
    lily: Lily, backend: Backend, twilio: TwilioStandIn, tmp_path: Path
) -> None:
    add_user(lily)
    with other_instance(backend, twilio, tmp_path) as (client, clock):
        for n in range(5):
            response = sign_in(lily.client if n % 2 else client, password=f"guess {n}")
            assert response.status_code == 401

        blocked = sign_in(client)  # the right password, on the other process

        assert blocked.status_code == 429
        assert blocked.json()["error"]["code"] == "rate_limited"
        assert blocked.headers["Retry-After"] == str(15 * 60)
        assert sign_in(lily.client).status_code == 429
        # counted in Redis when there is one, else in the database (the email and the address)
        assert lily.count_rows("signin_failures") == (0 if backend[1] else 2)
        for instance_clock in (lily.clock, clock):
            instance_clock.advance(minutes=15)
        token = sign_in(client).json()["access_token"]
        # one secret key, so a token from one process works on the other
        assert lily.client.get("/api/v1/me", headers=bearer(token)).status_code == 200


def test_failures_from_one_address_block_it_whatever_the_email(lily: Lily) -> None:
    add_user(lily)
    attacker = TestClient(lily.client.app, base_url=PUBLIC_URL, client=("198.51.100.7", 4000))
    for n in range(5):
        assert sign_in(attacker, email=f"user{n}@acme.test").status_code == 401

    assert sign_in(attacker).status_code == 429
    assert sign_in(lily.client).status_code == 200  # the user, from elsewhere


# -- API keys ------------------------------------------------------------------------------


def test_a_nul_in_the_email_is_a_wrong_email_not_a_500(lily: Lily) -> None:
    add_user(lily)

    for route in ("/api/v1/auth/token", "/api/v1/auth/session"):
        response = lily.client.post(route, json={"email": "owner\u0000@acme.test", "password": "x"})
        assert response.status_code == 401, response.text  # PostgreSQL refuses NUL in text


def test_an_api_key_name_with_a_nul_is_stored_without_it(lily: Lily) -> None:
    owner = bearer(lily.container.create_api_key()(lily.tenant.slug, "admin")[1])

    created = lily.client.post("/api/v1/apikeys", json={"name": "zap\u0000ier"}, headers=owner)

    assert created.status_code == 201, created.text  # PostgreSQL refuses NUL: it was a 500
    assert created.json()["name"] == "zapier"


def test_an_owner_makes_lists_and_revokes_api_keys(lily: Lily) -> None:
    add_user(lily)
    owner = bearer(user_token(lily))
    lily.container.create_api_key()(lily.tenant.slug, "older")
    lily.clock.advance(1)

    created = lily.client.post("/api/v1/apikeys", json={"name": "zapier"}, headers=owner)

    assert created.status_code == 201
    key = created.json()
    assert set(key) == {"id", "name", "prefix", "token", "created_at"}
    assert key["name"] == "zapier" and key["token"].startswith(key["prefix"])
    listed = lily.client.get("/api/v1/apikeys", headers=owner).json()
    assert [k["name"] for k in listed["items"]] == ["zapier", "older"]
    assert set(listed["items"][0]) == {"id", "name", "prefix", "created_at"}
    assert listed["next_cursor"] is None
    assert lily.client.get("/api/v1/me", headers=bearer(key["token"])).status_code == 200

    revoked = lily.client.delete(f"/api/v1/apikeys/{key['id']}", headers=owner)

    assert revoked.status_code == 204 and revoked.content == b""
    assert lily.client.get("/api/v1/me", headers=bearer(key["token"])).status_code == 401
    listed = lily.client.get("/api/v1/apikeys", headers=owner).json()
    assert [k["name"] for k in listed["items"]] == ["older"]
    again = lily.client.delete(f"/api/v1/apikeys/{key['id']}", headers=owner)
    assert again.status_code == 404


def test_another_tenants_api_key_is_404(lily: Lily) -> None:
    other = lily.onboard("Other Wash", "+15125550177")
    theirs, token = lily.container.create_api_key()(other.slug)
    _, mine = lily.container.create_api_key()(lily.tenant.slug)

    response = lily.client.delete(f"/api/v1/apikeys/{theirs.id}", headers=bearer(mine))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert lily.client.get("/api/v1/me", headers=bearer(token)).status_code == 200


def test_an_operator_may_not_touch_api_keys(lily: Lily) -> None:
    add_user(lily, "operator@acme.test", role="operator")
    operator = bearer(user_token(lily, "operator@acme.test"))
    key, _ = lily.container.create_api_key()(lily.tenant.slug)

    for response in (
        lily.client.get("/api/v1/apikeys", headers=operator),
        lily.client.post("/api/v1/apikeys", json={"name": "mine"}, headers=operator),
        lily.client.delete(f"/api/v1/apikeys/{key.id}", headers=operator),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    assert lily.client.get("/api/v1/apikeys").status_code == 401


def test_a_bad_api_key_name_is_422_naming_the_field(lily: Lily) -> None:
    _, token = lily.container.create_api_key()(lily.tenant.slug)

    for name in ("", "x" * 201, "   "):
        response = lily.client.post("/api/v1/apikeys", json={"name": name}, headers=bearer(token))
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "name"


def test_the_openapi_names_and_documents_the_access_routes(lily: Lily) -> None:
    paths = lily.client.get("/openapi.json").json()["paths"]
    expected = {
        ("/api/v1/auth/token", "post"): ("createToken", {"200", "401", "422", "429"}),
        ("/api/v1/apikeys", "get"): ("listApiKeys", {"200", "401", "403"}),
        ("/api/v1/apikeys", "post"): ("createApiKey", {"201", "401", "403", "422"}),
        ("/api/v1/apikeys/{key_id}", "delete"): ("revokeApiKey", {"204", "401", "403", "404"}),
    }
    for (path, method), (operation_id, statuses) in expected.items():
        operation = paths[path][method]
        assert operation["operationId"] == operation_id
        assert statuses <= set(operation["responses"]), (path, method)


# -- the web dashboard's cookie session ----------------------------------------------------


def start_session(client: TestClient) -> httpx.Response:
    response: httpx.Response = client.post(
        "/api/v1/auth/session", json={"email": EMAIL, "password": PASSWORD}
    )
    return response


def test_a_session_keeps_the_token_in_an_httponly_cookie_out_of_the_page(lily: Lily) -> None:
    add_user(lily)

    response = start_session(lily.client)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"expires_in", "csrf_token"}  # no token a script could read
    cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    assert "HttpOnly" in cookies["lily_session"]
    assert "HttpOnly" not in cookies["lily_csrf"]
    for cookie in cookies.values():
        assert "SameSite=strict" in cookie and "Path=/" in cookie
    assert lily.client.cookies["lily_csrf"] == body["csrf_token"]
    me = lily.client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["user"] == {"email": EMAIL, "role": "owner"}


def test_a_write_by_cookie_needs_the_csrf_token_and_changes_nothing_without_it(
    lily: Lily,
) -> None:
    add_user(lily)
    csrf = start_session(lily.client).json()["csrf_token"]

    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": csrf[:-1]}):
        refused = lily.client.post("/api/v1/apikeys", json={"name": "x"}, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "csrf_failed"
    assert lily.client.get("/api/v1/apikeys").json() == {"items": [], "next_cursor": None}

    made = lily.client.post("/api/v1/apikeys", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text


def test_bearer_tokens_need_no_csrf_token_and_win_over_the_cookie(lily: Lily) -> None:
    add_user(lily)
    start_session(lily.client)
    _, key = lily.container.create_api_key()(lily.tenant.slug, "script")

    made = lily.client.post("/api/v1/apikeys", json={"name": "y"}, headers=bearer(key))
    assert made.status_code == 201
    # the bearer token decides who calls, not the cookie that rides along
    assert lily.client.get("/api/v1/me", headers=bearer(key)).json()["user"] is None
    assert lily.client.get("/api/v1/me", headers=bearer("garbage")).status_code == 401


def test_signing_out_clears_the_session_and_a_bad_cookie_is_401(lily: Lily) -> None:
    add_user(lily)
    start_session(lily.client)

    out = lily.client.delete("/api/v1/auth/session")

    assert out.status_code == 204
    assert "lily_session" not in lily.client.cookies
    assert "lily_csrf" not in lily.client.cookies
    assert lily.client.get("/api/v1/me").status_code == 401
    lily.client.cookies.set("lily_session", "not-a-token")
    assert lily.client.get("/api/v1/me").status_code == 401


def test_a_wrong_password_sets_no_cookie(lily: Lily) -> None:
    add_user(lily)

    response = lily.client.post("/api/v1/auth/session", json={"email": EMAIL, "password": "wrong"})

    assert response.status_code == 401
    assert "set-cookie" not in response.headers

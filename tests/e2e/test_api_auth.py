"""The dashboard API's bearer authentication, over HTTP on both backends."""

from __future__ import annotations

from tests.e2e.conftest import Lily


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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
    with lily.container.uow() as uow:
        stored = uow.api_keys.get_by_hash(key.key_hash)
        assert stored is not None
        stored.revoked_at = lily.clock.now()
        uow.commit()

    for headers in ({}, bearer("lily_not-a-key"), bearer("garbage"), bearer(token)):
        response = lily.client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"

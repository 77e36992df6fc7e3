"""The dashboard's tenant settings, on the in-memory unit of work: secrets never shown, an
owner changes settings (validated as `lily tenant update` validates them), an operator may not."""

from __future__ import annotations

import pytest

from lily_core.errors import Forbidden, InvalidInput
from lily_core.testing import InMemoryDatabase, InMemoryUnitOfWork
from lily_core.use_cases.tenants import GetTenantSettings, UpdateTenantSettings
from tests.unit.dashboard_world import operator, owner, save, tenant


@pytest.fixture
def db() -> InMemoryDatabase:
    return InMemoryDatabase()


def test_the_settings_show_whether_secrets_are_set_never_the_secrets(db: InMemoryDatabase) -> None:
    acme = tenant(chatwoot_secret=None, twilio_auth_token="tok-secret")
    save(db, acme)
    view = GetTenantSettings(InMemoryUnitOfWork(db))(operator(acme))

    assert (view["calcom_secret_set"], view["chatwoot_secret_set"]) == (True, False)
    assert view["twilio_auth_token_set"] is True
    assert view["quiet_hours"] == "21:00-08:00"
    assert (view["id"], view["slug"], view["phone"]) == (acme.id, acme.slug, acme.phone)
    secrets = {acme.calcom_secret, acme.sandbox_auth_token, "tok-secret"}
    assert not secrets & {str(v) for v in view.values()}
    assert not {"calcom_secret", "chatwoot_secret", "twilio_auth_token"} & set(view)


def test_an_owner_changes_settings_from_json_values(db: InMemoryDatabase) -> None:
    acme = tenant(forward_to="+12145550199", zip="75201")
    save(db, acme)
    uow = InMemoryUnitOfWork(db)
    view = UpdateTenantSettings(uow)(
        owner(acme),
        {
            "forward_to": None,  # null clears
            "strict_quiet_hours": True,
            "review_delay_hours": 48,
            "quiet_hours": "22:00-07:30",
            "calcom_secret": "new-secret",
            "name": "Acme\x00 Wash",
        },
    )
    assert uow.committed
    assert view["forward_to"] is None and view["strict_quiet_hours"] is True
    assert (view["review_delay_hours"], view["quiet_hours"]) == (48, "22:00-07:30")
    assert view["name"] == "Acme Wash"  # a NUL cannot be stored: it is dropped
    with uow.across_tenants():
        stored = uow.tenants.get(acme.id)
        assert stored is not None and stored.calcom_secret == "new-secret"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"review_delay_hours": 10**6}, "review_delay_hours"),
        ({"timezone": None}, "timezone"),
        ({"name": "x" * 201}, "name"),
        ({"booking_url": "ftp://example.com"}, "booking_url"),
        ({"calcom_secret": "s" * 129}, "calcom_secret"),
        ({"twilio_account_sid": "AC1"}, "twilio_auth_token"),
        ({"sandbox_auth_token": "x"}, "sandbox_auth_token"),
    ],
)
def test_invalid_settings_name_the_field_and_change_nothing(
    db: InMemoryDatabase, changes: dict[str, object], field: str
) -> None:
    acme = tenant()
    save(db, acme)
    uow = InMemoryUnitOfWork(db)
    with pytest.raises(InvalidInput) as caught:
        UpdateTenantSettings(uow)(owner(acme), {"review_cooldown_days": 10, **changes})
    assert caught.value.field == field
    assert not uow.committed


def test_an_operator_may_not_change_settings(db: InMemoryDatabase) -> None:
    acme = tenant()
    save(db, acme)
    uow = InMemoryUnitOfWork(db)
    with pytest.raises(Forbidden):
        UpdateTenantSettings(uow)(operator(acme), {"name": "Taken over"})
    assert not uow.committed

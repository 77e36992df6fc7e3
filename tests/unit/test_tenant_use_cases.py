from __future__ import annotations

import pytest

from lily_core.errors import Conflict, InvalidInput, NotFound, PriceBookInvalid
from lily_core.testing import FakeClock, InMemoryDatabase, InMemoryUnitOfWork
from lily_core.use_cases.access import AddUser, CreateApiKey, hash_api_key, verify_password
from lily_core.use_cases.pricebooks import ImportPriceBook, PreviewQuote, SetService
from lily_core.use_cases.tenants import OnboardTenant, UpdateTenant

EXAMPLE = {
    "currency": "USD",
    "minimum_charge": 150,
    "round_to": 5,
    "service_area": {
        "base_zip": "75201",
        "radius_miles": 30,
        "free_miles": 15,
        "travel_fee_per_mile": 2,
    },
    "services": [
        {"key": "house_wash", "name": "House wash", "keywords": ["house"], "low": 250, "high": 450},
    ],
    "default_services": ["house_wash"],
}


@pytest.fixture
def db() -> InMemoryDatabase:
    return InMemoryDatabase()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def onboard(db: InMemoryDatabase, clock: FakeClock, **kwargs: str):
    args = {"name": "Acme Wash Co", "phone": "+12145550100"} | kwargs
    return OnboardTenant(InMemoryUnitOfWork(db), clock)(**args)


def test_onboarding_derives_slug_timezone_and_secret(db, clock) -> None:
    uow = InMemoryUnitOfWork(db)
    tenant = OnboardTenant(uow, clock)(name="Acme Wash Co", phone="(214) 555-0100")
    assert uow.committed
    assert (tenant.slug, tenant.phone, tenant.timezone) == (
        "acme-wash-co",
        "+12145550100",
        "America/Chicago",
    )
    assert len(tenant.calcom_secret) >= 32
    with uow.across_tenants():
        assert uow.tenants.get_by_phone("+12145550100").id == tenant.id


def test_onboarding_takes_the_zip_timezone_over_the_phone(db, clock) -> None:
    tenant = onboard(db, clock, zip_code="85001")  # Phoenix: no DST
    assert tenant.timezone == "America/Phoenix"


def test_onboarding_refuses_duplicates_and_bad_input(db, clock) -> None:
    onboard(db, clock)
    with pytest.raises(Conflict, match="slug"):
        onboard(db, clock, phone="+12145550101")
    with pytest.raises(Conflict, match="number"):
        onboard(db, clock, name="Other", phone="+12145550100")
    for field, kwargs in [
        ("phone", {"phone": "555"}),
        ("forward_to", {"forward_to": "nope"}),
        ("timezone", {"timezone": "Europe/Atlantis"}),
        ("zip", {"zip_code": "00000"}),
        ("booking_url", {"booking_url": "cal.com/acme"}),
        ("slug", {"slug": "Not A Slug"}),
    ]:
        with pytest.raises(InvalidInput) as err:
            onboard(db, clock, **({"name": "Fresh Co", "phone": "+12145550177"} | kwargs))
        assert err.value.field == field
    with InMemoryUnitOfWork(db).across_tenants() as uow:
        assert [t.slug for t in uow.tenants.list()] == ["acme-wash-co"]


def test_update_validates_all_before_writing_anything(db, clock) -> None:
    onboard(db, clock)
    update = UpdateTenant(InMemoryUnitOfWork(db))
    with pytest.raises(InvalidInput) as err:
        update("acme-wash-co", {"review_url": "https://g.page/acme", "quiet_hours": "late"})
    assert err.value.field == "quiet_hours"
    with pytest.raises(InvalidInput):
        update("acme-wash-co", {"twilio_account_sid": "AC123"})  # without its token
    with pytest.raises(InvalidInput):
        update("acme-wash-co", {"colour": "blue"})
    with pytest.raises(NotFound):
        update("nobody", {"zip": "75201"})
    tenant = update(
        "acme-wash-co",
        {
            "quiet_hours": "22:00-07:00",
            "forward_to": "2145550199",
            "review_delay_hours": "48",
            "strict_quiet_hours": "yes",
        },
    )
    assert str(tenant.quiet_hours) == "22:00-07:00"
    assert (tenant.forward_to, tenant.review_delay_hours, tenant.strict_quiet_hours) == (
        "+12145550199",
        48,
        True,
    )
    cleared = update("acme-wash-co", {"forward_to": ""})
    assert cleared.forward_to is None


def test_calls_cannot_forward_to_the_business_number(db, clock) -> None:
    with pytest.raises(InvalidInput, match="must differ") as err:
        onboard(db, clock, forward_to="214-555-0100")  # the same number, written otherwise
    assert err.value.field == "forward_to"
    onboard(db, clock)
    with pytest.raises(InvalidInput, match="must differ") as err:
        UpdateTenant(InMemoryUnitOfWork(db))(
            "acme-wash-co", {"forward_to": "+12145550100", "review_url": "https://g.page/a"}
        )
    assert err.value.field == "forward_to"
    with InMemoryUnitOfWork(db).across_tenants() as uow:
        tenant = uow.tenants.get_by_slug("acme-wash-co")
        assert (tenant.forward_to, tenant.review_url) == (None, None)  # nothing written


def test_business_numbers_must_be_north_american(db, clock) -> None:
    for field, kwargs in [
        ("phone", {"phone": "+442071838750"}),
        ("forward_to", {"forward_to": "+442071838751"}),
    ]:
        with pytest.raises(InvalidInput, match=r"US or Canadian \(\+1\)") as err:
            onboard(db, clock, **kwargs)
        assert err.value.field == field
    canadian = onboard(db, clock, name="Maple Wash", phone="+14165550123")
    assert canadian.phone == "+14165550123"
    with pytest.raises(InvalidInput) as err:
        UpdateTenant(InMemoryUnitOfWork(db))("maple-wash", {"forward_to": "+442071838751"})
    assert err.value.field == "forward_to"


def test_the_missed_call_template_may_only_use_business(db, clock) -> None:
    onboard(db, clock)
    update = UpdateTenant(InMemoryUnitOfWork(db))
    for template in ("Hi {nope}", "Hi {business", "Hi {{business}}"):
        with pytest.raises(InvalidInput) as err:
            update("acme-wash-co", {"missed_call_template": template})
        assert err.value.field == "missed_call_template"
    tenant = update("acme-wash-co", {"missed_call_template": "Hi from {business}!"})
    assert tenant.render_missed_call_text() == "Hi from Acme Wash Co!"


def test_preview_refuses_a_zip_that_is_not_a_us_zip(db, clock) -> None:
    onboard(db, clock)
    ImportPriceBook(InMemoryUnitOfWork(db), clock)("acme-wash-co", EXAMPLE)
    preview = PreviewQuote(InMemoryUnitOfWork(db))
    for raw in ("SW1A1AA", "7520", "00000", ""):
        with pytest.raises(InvalidInput) as err:
            preview("acme-wash-co", raw)
        assert err.value.field == "zip"
    far, _ = preview("acme-wash-co", " 10001 ")  # a real ZIP, far away: an answer, not an error
    assert far.in_service_area is False


def test_pricebook_versions_and_preview(db, clock) -> None:
    onboard(db, clock)
    first = ImportPriceBook(InMemoryUnitOfWork(db), clock)("acme-wash-co", EXAMPLE)
    same = ImportPriceBook(InMemoryUnitOfWork(db), clock)("acme-wash-co", EXAMPLE)
    assert (first.version, same.version) == (1, 1)
    second = SetService(InMemoryUnitOfWork(db), clock)(
        "acme-wash-co", "driveway", low=100, high=225, keywords=["driveway"]
    )
    assert second.version == 2
    result, version = PreviewQuote(InMemoryUnitOfWork(db))("acme-wash-co", "75201", "driveway")
    assert version == 2
    assert (result.low_cents, result.high_cents) == (15000, 22500)  # raised to the minimum
    with pytest.raises(PriceBookInvalid) as err:
        SetService(InMemoryUnitOfWork(db), clock)("acme-wash-co", "roof", low=900, high=400)
    assert err.value.field == "services[2].low"
    with InMemoryUnitOfWork(db).across_tenants() as uow:
        tenant = uow.tenants.get_by_slug("acme-wash-co")
        assert uow.pricebooks.list_versions(tenant.id) == [1, 2]


def test_set_service_needs_a_zip_or_a_pricebook(db, clock) -> None:
    onboard(db, clock)
    with pytest.raises(InvalidInput) as err:
        SetService(InMemoryUnitOfWork(db), clock)("acme-wash-co", "roof", low=1, high=2)
    assert err.value.field == "zip"
    onboard(db, clock, name="Zip Co", phone="+12145550111", zip_code="75201")
    version = SetService(InMemoryUnitOfWork(db), clock)("zip-co", "roof", low=400, high=900)
    assert version.pricebook.service_area.base_zip == "75201"


def test_preview_without_pricebook_is_not_found(db, clock) -> None:
    onboard(db, clock)
    with pytest.raises(NotFound, match="price book"):
        PreviewQuote(InMemoryUnitOfWork(db))("acme-wash-co", "75201")


def test_users_and_api_keys(db, clock) -> None:
    onboard(db, clock)
    user = AddUser(InMemoryUnitOfWork(db), clock)(
        "acme-wash-co", "Owner@Acme.Test", "long enough pw"
    )
    assert user.email == "owner@acme.test"
    assert verify_password("long enough pw", user.password_hash)
    assert not verify_password("wrong password", user.password_hash)
    with pytest.raises(Conflict):
        AddUser(InMemoryUnitOfWork(db), clock)("acme-wash-co", "owner@acme.test", "long enough pw")
    with pytest.raises(InvalidInput):
        AddUser(InMemoryUnitOfWork(db), clock)("acme-wash-co", "x@y.z", "short")
    key, token = CreateApiKey(InMemoryUnitOfWork(db), clock)("acme-wash-co")
    with InMemoryUnitOfWork(db).across_tenants() as uow:
        found = uow.api_keys.get_by_hash(hash_api_key(token))
    assert found is not None and found.id == key.id
    assert token not in repr(key)


def test_help_and_the_opt_out_line_are_configurable_within_ctias_rules(db, clock) -> None:
    onboard(db, clock)
    update = UpdateTenant(InMemoryUnitOfWork(db), clock)
    for field, bad in (
        ("help_contact", "not a contact"),
        ("help_contact", "help@nowhere"),
        ("help_message", "x" * 161),
        ("help_message", "Hi {business}"),
        ("opt_out_notice", "maybe"),
    ):
        with pytest.raises(InvalidInput) as err:
            update("acme-wash-co", {field: bad})
        assert err.value.field == field
    tenant = update("acme-wash-co", {"help_contact": "(214) 555-0199", "help_message": "Open 8-5."})
    assert (tenant.help_contact, tenant.opt_out_notice_changed_at) == ("+12145550199", None)
    assert update("acme-wash-co", {"help_contact": "Help@Acme.example"}).help_contact == (
        "Help@Acme.example"
    )
    clock.advance(60)
    tenant = update("acme-wash-co", {"opt_out_notice": "false"})
    assert not tenant.opt_out_notice
    assert tenant.opt_out_notice_changed_at == clock.now()  # the choice, on record
    assert update("acme-wash-co", {"help_contact": None}).help_contact is None

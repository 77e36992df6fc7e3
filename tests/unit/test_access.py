"""Sign-in, user tokens and API keys: the use cases on the core's fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lily_core.domain.principal import Principal, Role
from lily_core.domain.records import User
from lily_core.errors import Forbidden, InvalidInput, NotFound, RateLimited, Unauthenticated
from lily_core.testing import (
    FakeClock,
    FakePasswordHasher,
    FakeTokenSigner,
    InMemoryDatabase,
    InMemorySignInThrottle,
    InMemoryUnitOfWork,
)
from lily_core.use_cases.access import (
    AddUser,
    AuthenticateApiKey,
    CreateApiKey,
    ListApiKeys,
    RevokeApiKey,
    ScryptPasswordHasher,
    hash_password,
)
from lily_core.use_cases.sign_in import (
    WRONG_CREDENTIALS,
    AuthenticateUserToken,
    SignIn,
    throttle_key,
)
from lily_core.use_cases.tenants import OnboardTenant

PASSWORD = "correct horse battery"
EMAIL = "owner@acme.test"


class World:
    """A tenant with an owner, and the sign-in use cases wired on fakes."""

    def __init__(self) -> None:
        self.db = InMemoryDatabase()
        self.clock = FakeClock()
        self.hasher = FakePasswordHasher()
        self.signer = FakeTokenSigner()
        self.throttle = InMemorySignInThrottle(self.clock)
        self.tenant = OnboardTenant(self.uow(), self.clock)(
            name="Acme Wash Co", phone="+12145550100"
        )
        self.owner = AddUser(self.uow(), self.clock, self.hasher)(self.tenant.slug, EMAIL, PASSWORD)

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)

    def sign_in(self, email: str = EMAIL, password: str = PASSWORD, client: str = "192.0.2.1"):
        use_case = SignIn(
            self.uow(), self.clock, self.hasher, self.signer, self.throttle, timedelta(hours=1)
        )
        return use_case(email, password, client)

    def authenticate(self, token: str) -> Principal:
        return AuthenticateUserToken(self.uow(), self.clock, self.signer)(token)

    def user(self, email: str = EMAIL) -> User:
        with self.uow().across_tenants() as uow:
            user = uow.users.get_by_email(email)
        assert user is not None
        return user


@pytest.fixture
def world() -> World:
    return World()


def test_add_user_stores_only_the_hashers_hash(world: World) -> None:
    assert world.owner.password_hash == "fake$" + PASSWORD
    with pytest.raises(InvalidInput) as raised:
        AddUser(world.uow(), world.clock, world.hasher)(world.tenant.slug, "x@y.z", "short")
    assert raised.value.field == "password"


def test_sign_in_issues_a_token_for_the_user_and_its_tenant(world: World) -> None:
    issued = world.sign_in(email="  Owner@ACME.test ")

    assert issued.expires_in == 3600
    claims = world.signer.issued[issued.access_token]
    assert (claims.user_id, claims.tenant_id) == (world.owner.id, world.tenant.id)
    assert claims.expires_at == world.clock.now() + timedelta(hours=1)
    principal = world.authenticate(issued.access_token)
    assert principal.tenant.id == world.tenant.id
    assert principal.user is not None and principal.user.id == world.owner.id
    assert principal.role is Role.OWNER


def test_unknown_email_and_wrong_password_are_the_same_error_after_the_same_work(
    world: World,
) -> None:
    with pytest.raises(Unauthenticated) as wrong_password:
        world.sign_in(password="not the password")
    with pytest.raises(Unauthenticated) as unknown_email:
        world.sign_in(email="nobody@acme.test")

    assert str(wrong_password.value) == str(unknown_email.value) == WRONG_CREDENTIALS
    assert world.hasher.checks == 2  # the unknown email was checked against a dummy hash


def test_an_outdated_hash_is_replaced_on_a_successful_sign_in(world: World) -> None:
    with world.uow().across_tenants() as uow:
        user = uow.users.get(world.tenant.id, world.owner.id)
        assert user is not None
        user.password_hash = "old$" + PASSWORD
        uow.users.add(user)
        uow.commit()

    world.sign_in()

    assert world.user().password_hash == "fake$" + PASSWORD


def test_a_wrong_password_does_not_rehash(world: World) -> None:
    with world.uow().across_tenants() as uow:
        user = uow.users.get(world.tenant.id, world.owner.id)
        assert user is not None
        user.password_hash = "old$" + PASSWORD
        uow.users.add(user)
        uow.commit()

    with pytest.raises(Unauthenticated):
        world.sign_in(password="guess")

    assert world.user().password_hash == "old$" + PASSWORD


def test_five_failures_block_the_email_before_the_password_is_checked(world: World) -> None:
    for n in range(5):
        with pytest.raises(Unauthenticated):
            world.sign_in(password=f"guess {n}", client=f"198.51.100.{n}")
    checks = world.hasher.checks

    with pytest.raises(RateLimited) as raised:  # even the right password, from elsewhere
        world.sign_in(client="203.0.113.9")

    assert raised.value.retry_after == 15 * 60
    assert world.hasher.checks == checks  # refused without looking at the password
    world.clock.advance(minutes=15)
    assert world.sign_in().access_token


def test_five_failures_from_one_address_block_it_for_every_email(world: World) -> None:
    for n in range(5):
        with pytest.raises(Unauthenticated):
            world.sign_in(email=f"user{n}@acme.test", client="198.51.100.7")

    with pytest.raises(RateLimited):
        world.sign_in(client="198.51.100.7")
    assert world.sign_in(client="198.51.100.8").access_token


def test_a_success_forgets_the_emails_failures(world: World) -> None:
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            world.sign_in(password="guess")
    world.sign_in()
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            world.sign_in(password="guess", client="192.0.2.2")

    assert world.throttle.blocked_for(throttle_key("email", EMAIL)) == 0


def test_expired_forged_and_orphaned_tokens_are_refused(world: World) -> None:
    token = world.sign_in().access_token
    world.clock.advance(minutes=59)
    assert world.authenticate(token).user is not None

    world.clock.advance(minutes=1)
    with pytest.raises(Unauthenticated):
        world.authenticate(token)
    with pytest.raises(Unauthenticated):
        world.authenticate("forged")

    fresh = world.sign_in().access_token
    world.db.tables["users"].clear()  # the user is gone
    with pytest.raises(Unauthenticated):
        world.authenticate(fresh)


def test_the_token_carries_the_users_current_role(world: World) -> None:
    token = world.sign_in().access_token
    with world.uow().across_tenants() as uow:
        user = uow.users.get(world.tenant.id, world.owner.id)
        assert user is not None
        user.role = "operator"
        uow.users.add(user)
        uow.commit()

    principal = world.authenticate(token)

    assert principal.role is Role.OPERATOR
    with pytest.raises(Forbidden):
        principal.require_owner()


def test_api_keys_listed_newest_first_and_revoked_ones_gone(world: World) -> None:
    create = CreateApiKey(world.uow(), world.clock)
    first, _ = create(world.tenant.slug, "zapier")
    world.clock.advance(1)
    second, token = create(world.tenant.slug, "make")
    owner = AuthenticateApiKey(world.uow())(token)

    assert [k.id for k in ListApiKeys(world.uow())(owner)] == [second.id, first.id]

    RevokeApiKey(world.uow(), world.clock)(first.id, tenant_id=world.tenant.id)

    assert [k.id for k in ListApiKeys(world.uow())(owner)] == [second.id]
    with pytest.raises(NotFound):  # already revoked
        RevokeApiKey(world.uow(), world.clock)(first.id)


def test_api_keys_of_another_tenant_are_not_found(world: World) -> None:
    other = OnboardTenant(world.uow(), world.clock)(name="Other Co", phone="+12145550177")
    key, _ = CreateApiKey(world.uow(), world.clock)(other.slug)

    with pytest.raises(NotFound):
        RevokeApiKey(world.uow(), world.clock)(key.id, tenant_id=world.tenant.id)
    RevokeApiKey(world.uow(), world.clock)(key.id)  # the operator's CLI names no tenant


def test_operators_may_not_list_api_keys(world: World) -> None:
    operator = Principal(tenant=world.tenant, role=Role.OPERATOR)

    with pytest.raises(Forbidden):
        ListApiKeys(world.uow())(operator)


def test_api_key_names_are_bounded(world: World) -> None:
    for name in ("", "   ", "x" * 201):
        with pytest.raises(InvalidInput) as raised:
            CreateApiKey(world.uow(), world.clock)(world.tenant.slug, name)
        assert raised.value.field == "name"


def test_api_key_names_are_made_storable(world: World) -> None:
    key, _ = CreateApiKey(world.uow(), world.clock)(world.tenant.slug, " zap\x00ier\ud800 ")

    assert key.name == "zapier\ufffd"  # PostgreSQL refuses NUL in text: a 500 before


def test_the_scrypt_hasher_reads_its_hashes_and_nothing_else() -> None:
    hasher = ScryptPasswordHasher()
    stored = hash_password(PASSWORD)

    assert hasher.verify(PASSWORD, stored).valid
    assert not hasher.verify("wrong", stored).valid
    assert not hasher.verify(PASSWORD, None).valid
    assert not hasher.verify(PASSWORD, "scrypt$zz$00").valid
    assert not hasher.verify(PASSWORD, "$argon2id$whatever").valid

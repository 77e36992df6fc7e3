"""The dashboard's price book, on the in-memory unit of work: an owner replaces it (as a new
version, validated as the CLI's import), an operator may not."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from lily_core.domain.pricebook import PriceBook
from lily_core.domain.quoting import QuotingService
from lily_core.errors import Forbidden, NotFound, PriceBookInvalid
from lily_core.testing import FakeClock, InMemoryDatabase, InMemoryUnitOfWork
from lily_core.use_cases.pricebooks import (
    GetPriceBook,
    ListPriceBookVersions,
    ReplacePriceBook,
    preview_as_dict,
)
from tests.unit.dashboard_world import operator, owner, save, tenant
from tests.unit.test_tenant_use_cases import EXAMPLE


@pytest.fixture
def db() -> InMemoryDatabase:
    return InMemoryDatabase()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_no_price_book_yet_is_not_found(db: InMemoryDatabase) -> None:
    acme = tenant()
    save(db, acme)
    with pytest.raises(NotFound):
        GetPriceBook(InMemoryUnitOfWork(db))(owner(acme))
    assert ListPriceBookVersions(InMemoryUnitOfWork(db))(owner(acme)) == []


def test_an_owner_replaces_the_price_book_as_a_new_version(
    db: InMemoryDatabase, clock: FakeClock
) -> None:
    acme, other = tenant(), tenant()
    save(db, acme, other)
    uow = InMemoryUnitOfWork(db)
    first = ReplacePriceBook(uow, clock)(owner(acme), EXAMPLE)
    assert uow.committed
    clock.advance(minutes=5)
    changed = copy.deepcopy(EXAMPLE) | {"minimum_charge": 200}
    second = ReplacePriceBook(InMemoryUnitOfWork(db), clock)(owner(acme), changed)
    again = ReplacePriceBook(InMemoryUnitOfWork(db), clock)(owner(acme), changed)

    assert (first.version, second.version, again.version) == (1, 2, 2)
    current = GetPriceBook(InMemoryUnitOfWork(db))(operator(acme))
    assert current.version == 2 and current.document["minimum_charge"] == 200
    assert ListPriceBookVersions(InMemoryUnitOfWork(db))(operator(acme)) == [
        (2, first.created_at + timedelta(minutes=5)),
        (1, first.created_at),
    ]
    with pytest.raises(NotFound):  # the other tenant's is its own
        GetPriceBook(InMemoryUnitOfWork(db))(owner(other))


def test_an_operator_may_not_replace_the_price_book(db: InMemoryDatabase, clock: FakeClock) -> None:
    acme = tenant()
    save(db, acme)
    uow = InMemoryUnitOfWork(db)
    with pytest.raises(Forbidden):
        ReplacePriceBook(uow, clock)(operator(acme), EXAMPLE)
    assert not uow.committed


def test_an_invalid_price_book_names_the_field_and_changes_nothing(
    db: InMemoryDatabase, clock: FakeClock
) -> None:
    acme = tenant()
    save(db, acme)
    ReplacePriceBook(InMemoryUnitOfWork(db), clock)(owner(acme), EXAMPLE)
    broken = copy.deepcopy(EXAMPLE)
    broken["services"][0]["low"] = 900  # above high
    with pytest.raises(PriceBookInvalid) as caught:
        ReplacePriceBook(InMemoryUnitOfWork(db), clock)(owner(acme), broken)
    assert caught.value.field == "services[0].low"
    assert ListPriceBookVersions(InMemoryUnitOfWork(db))(owner(acme))[0][0] == 1


def test_a_preview_as_data_is_what_the_cli_prints() -> None:
    result = QuotingService().quote(PriceBook.from_document(EXAMPLE), "75201", "house")
    data = preview_as_dict(result, 3)
    assert list(data) == [
        "zip",
        "in_service_area",
        "low_cents",
        "high_cents",
        "currency",
        "range",
        "services",
        "distance_miles",
        "lines",
        "explanation",
        "reason",
        "pricebook_version",
    ]
    assert (data["low_cents"], data["high_cents"], data["pricebook_version"]) == (25000, 45000, 3)

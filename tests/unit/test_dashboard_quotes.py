"""The dashboard's quotes, on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lily_core.domain.pagination import Cursor
from lily_core.errors import NotFound
from lily_core.testing import InMemoryDatabase, InMemoryUnitOfWork
from lily_core.use_cases.dashboard_quotes import GetQuote, ListQuotes
from tests.unit.dashboard_world import T0, lead, operator, owner, quote, save, tenant


@pytest.fixture
def db() -> InMemoryDatabase:
    return InMemoryDatabase()


def test_quotes_are_listed_newest_first_and_by_lead(db: InMemoryDatabase) -> None:
    acme, other = tenant(), tenant()
    jane, john, stranger = lead(acme), lead(acme), lead(other)
    older = quote(acme, jane, T0)
    newer = quote(acme, john, T0 + timedelta(hours=1))
    save(db, acme, other, jane, john, stranger, older, newer, quote(other, stranger))
    list_quotes = ListQuotes(InMemoryUnitOfWork(db))

    assert [q.id for q in list_quotes(owner(acme)).items] == [newer.id, older.id]
    assert [q.id for q in list_quotes(operator(acme), lead_id=jane.id).items] == [older.id]
    assert list_quotes(owner(acme), lead_id=stranger.id).items == []
    assert list_quotes(owner(acme), lead_id="not an id\x00").items == []


def test_quotes_page_with_a_cursor(db: InMemoryDatabase) -> None:
    acme = tenant()
    jane = lead(acme)
    quotes = [quote(acme, jane, T0 + timedelta(minutes=i)) for i in range(5)]
    save(db, acme, jane, *quotes)
    list_quotes = ListQuotes(InMemoryUnitOfWork(db))

    first = list_quotes(owner(acme), limit=3)
    assert first.next_cursor is not None
    rest = list_quotes(owner(acme), limit=3, after=Cursor.decode(first.next_cursor))
    assert [q.id for q in first.items + rest.items] == [q.id for q in reversed(quotes)]
    assert rest.next_cursor is None


def test_a_quote_of_another_tenant_is_not_found(db: InMemoryDatabase) -> None:
    acme, other = tenant(), tenant()
    jane = lead(acme)
    mine = quote(acme, jane)
    save(db, acme, other, jane, mine)
    get_quote = GetQuote(InMemoryUnitOfWork(db))

    assert get_quote(owner(acme), mine.id).id == mine.id
    for principal, quote_id in ((owner(other), mine.id), (owner(acme), "x" * 32)):
        with pytest.raises(NotFound):
            get_quote(principal, quote_id)

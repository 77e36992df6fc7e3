"""The search by phone digits as keys (issue 14): a number is indexed under its starts of
START_MIN to START_KEY_MAX digits and its end of END_MIN, so storage can keep the keys as
blind indexes. Every number a search matches has one of the search's keys; when the keys
are exact, every number with one of them matches, and otherwise the rule decides."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lily_core.domain.lead_search import (
    END_MIN,
    START_KEY_MAX,
    START_MIN,
    LeadSearch,
    phone_index_keys,
)

nanp = st.from_regex(r"\+1[2-9]\d\d[2-9]\d{6}", fullmatch=True)
other = st.from_regex(r"\+(44|33|49)\d{8,10}", fullmatch=True)


def by_reading(digits: str, phone: str) -> bool:
    """The rule read off the number itself: how it starts (with or without the country
    code 1) or ends, with enough digits."""
    number = phone.removeprefix("+")
    starts = any(number.startswith(d) and len(d) >= START_MIN for d in (digits, f"1{digits}"))
    return starts or (number.endswith(digits) and len(digits) >= END_MIN)


@given(st.one_of(nanp, other), st.data())
def test_the_keys_find_every_match_and_only_matches_when_exact(
    phone: str, data: st.DataObject
) -> None:
    number = phone.removeprefix("+")
    start = data.draw(st.integers(0, len(number)))
    end = data.draw(st.integers(start, len(number)))
    fragment = data.draw(
        st.one_of(st.just(number[start:end]), st.from_regex(r"\d{1,12}", fullmatch=True))
    )
    search = LeadSearch.parse(fragment)
    if search is None or search.digits is None:
        return
    matches = search.matches(None, None, phone)
    assert matches == by_reading(search.digits, phone)
    keyed = not search.phone_keys.isdisjoint(phone_index_keys(phone))
    assert keyed or not matches  # the keys narrow the search, never lose a match
    if search.keys_are_exact:
        assert keyed == matches


def test_the_keys_of_a_number() -> None:
    keys = phone_index_keys("+12145550123")
    assert keys == {"^121", "^1214", "^12145", "^121455", "^1214555", "$0123"}
    assert START_KEY_MAX == 7  # country code, area code, exchange


def test_a_search_asks_for_the_keys_of_its_digits() -> None:
    def keys(q: str) -> frozenset[str]:
        search = LeadSearch.parse(q)
        assert search is not None
        return search.phone_keys

    assert keys("(214) 555") == {"^214555", "^1214555", "$4555"}
    assert keys("214 555 0123") == {"^2145550", "^1214555", "$0123"}  # cut: narrowed
    assert keys("214") == {"^214", "^1214"}
    assert keys("12") == {"^112"}
    assert keys("jane") == frozenset()

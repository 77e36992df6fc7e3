"""The search by phone digits as keys (issue 14): a number is indexed under each start of
START_MIN digits or more and each end of END_MIN or more, so storage can keep the keys as
blind indexes; matching by keys is the same as reading the number's start and end."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lily_core.domain.lead_search import END_MIN, START_MIN, LeadSearch, phone_index_keys

nanp = st.from_regex(r"\+1[2-9]\d\d[2-9]\d{6}", fullmatch=True)
other = st.from_regex(r"\+(44|33|49)\d{8,10}", fullmatch=True)


def by_reading(digits: str, phone: str) -> bool:
    """The rule read off the number itself: how it starts (with or without the country
    code 1) or ends, with enough digits."""
    number = phone.removeprefix("+")
    starts = any(number.startswith(d) and len(d) >= START_MIN for d in (digits, f"1{digits}"))
    return starts or (number.endswith(digits) and len(digits) >= END_MIN)


@given(st.one_of(nanp, other), st.data())
def test_keys_match_exactly_the_numbers_the_rule_reads(phone: str, data: st.DataObject) -> None:
    number = phone.removeprefix("+")
    start = data.draw(st.integers(0, len(number)))
    end = data.draw(st.integers(start, len(number)))
    fragment = data.draw(
        st.one_of(st.just(number[start:end]), st.from_regex(r"\d{1,12}", fullmatch=True))
    )
    search = LeadSearch.parse(fragment)
    if search is None or search.digits is None:
        return
    assert search.matches(None, None, phone) == by_reading(search.digits, phone)


def test_the_keys_of_a_number() -> None:
    keys = phone_index_keys("+12145550123")
    assert {"^121", "^1214", "^12145550123", "$0123", "$5550123", "$12145550123"} <= keys
    assert "^12" not in keys and "$123" not in keys  # too few digits to say anything
    assert len(keys) == 9 + 8  # starts of 3..11 digits, ends of 4..11


def test_a_search_asks_for_the_keys_of_its_digits() -> None:
    def keys(q: str) -> frozenset[str]:
        search = LeadSearch.parse(q)
        assert search is not None
        return search.phone_keys

    assert keys("(214) 555") == {"^214555", "^1214555", "$214555"}
    assert keys("214") == {"^214", "^1214"}
    assert keys("12") == {"^112"}
    assert keys("jane") == frozenset()

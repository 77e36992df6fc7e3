"""lily_core.domain.sanitize: what every webhook parser does with provider input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lily_core.domain.sanitize import MAX_JSON_DEPTH, clean_text, load_json, require_id
from lily_core.errors import InvalidInput

# Any string Python can hold, lone surrogates and NULs included.
any_text = st.text(st.characters(codec=None, exclude_categories=()))


@given(any_text)
def test_clean_text_can_always_be_stored(value: str) -> None:
    cleaned = clean_text(value)

    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # raises on a lone surrogate


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Pat Customer", "Pat Customer"),
        ("Pat\x00 Customer", "Pat Customer"),
        ("x\ud800y\udfff", "x\ufffdy\ufffd"),
        ("😀 é\n\t", "😀 é\n\t"),  # a whole emoji, accents and whitespace are kept
    ],
)
def test_clean_text_drops_nuls_and_replaces_lone_surrogates(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


def test_clean_text_clips_to_a_limit() -> None:
    assert clean_text("ab\x00cdef", 3) == "abc"


def test_require_id_refuses_what_is_empty_or_longer_than_its_column() -> None:
    assert require_id("SM" + "a" * 62, field="MessageSid", limit=64) == "SM" + "a" * 62
    for value in ("", "SM" + "a" * 63):
        with pytest.raises(InvalidInput) as raised:
            require_id(value, field="MessageSid", limit=64)
        assert raised.value.field == "MessageSid"


def test_load_json_cleans_every_string_keys_included() -> None:
    body = json.dumps({"a\x00": ["\ud800", {"b": "c\x00d"}], "n": 1, "z": None}).encode()

    assert load_json(body) == {"a": ["\ufffd", {"b": "cd"}], "n": 1, "z": None}


def test_load_json_keeps_surrogate_pairs_whole() -> None:
    assert load_json(b'"\\ud83d\\ude00"') == "😀"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 1000 + b"]" * 1000,  # json.loads itself gives up (RecursionError)
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
        b'{"a": ' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1),
        b"9" * 5000,  # more digits than int() reads
        b'{"id": -' + b"9" * 4400 + b"}",
        b"\xff\xfe",
        b"not json",
        b"",
    ],
)
def test_load_json_refuses_what_no_parser_should_walk(body: bytes) -> None:
    with pytest.raises(InvalidInput) as raised:
        load_json(body)
    assert raised.value.field == "body"


def test_load_json_reads_a_document_as_deep_as_allowed() -> None:
    depth = MAX_JSON_DEPTH
    assert load_json(b"[" * depth + b"]" * depth) is not None

"""Logs (DESIGN §6): phone numbers masked in every record, exceptions as plain tracebacks
without local variables, in both the JSON and the pretty format."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loguru import logger

from lily_adapters.logs import configure_logging, mask_phone_numbers, mask_record
from lily_adapters.twilio.sms import SandboxSmsSender
from lily_core.domain.tenant import Tenant

MASKED = "+1214***0123"


@pytest.mark.parametrize(
    "written",
    [
        "+12145550123",
        "%2B12145550123",
        "(214) 555-0123",
        "(214)555-0123",
        "214-555-0123",
        "214.555.0123",
        "+1 214 555 0123",
        "2145550123",
        "12145550123",
        "1-214-555-0123",
        "+1 (214) 555-0123",
        "+1 214-555-0123",
    ],
)
def test_us_numbers_are_masked_however_written(written: str) -> None:
    assert mask_phone_numbers(f"call {written}, please") == f"call {MASKED}, please"
    assert mask_phone_numbers(written) == MASKED


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+442079460958", "+4420***0958"), ("+3312345678", "+331***5678"), ("+12345678", "+1***5678")],
)
def test_international_numbers_keep_four_digits_at_most_and_hide_three_at_least(
    number: str, masked: str
) -> None:
    assert mask_phone_numbers(number) == masked


@pytest.mark.parametrize(
    "text",
    [
        "SM" + "2145550123" * 3 + "ab",  # a Twilio SID that happens to hold digits
        "lead 2145550123abcdef0123456789abcdef",  # hex id
        "123e4567-e89b-12d3-a456-426614174000",
        "2026-06-01T15:00:00.123456+00:00",
        "2026-06-01T15:00:00-05:00",
        "1735689600",  # Unix seconds
        "1735689600123",  # Unix milliseconds
        "took 2145.5 ms",
        "2145550123.5",
        "0.2145550123",
        "order-2145550123",
        "214 555 0123",  # spaces alone: too often a list of numbers
        "250200 1000",
        "+1214",  # too short
        "+1234567890123456",  # 16 digits: not E.164
        MASKED,
    ],
)
def test_what_is_not_a_phone_number_is_left_alone(text: str) -> None:
    assert mask_phone_numbers(text) == text


e164 = st.builds(
    lambda first, rest: f"+{first}{rest}",
    st.sampled_from("123456789"),
    st.text("0123456789", min_size=7, max_size=14),
)


def _masked(number: str) -> str:
    digits = number[1:]
    head = max(1, min(4, len(digits) - 7))
    return f"+{digits[:head]}***{digits[-4:]}"


@given(
    number=e164,
    before=st.text(),
    after=st.text().filter(lambda s: not s[:1].isascii() or not s[:1].isdigit()),
)
def test_every_e164_number_in_any_text_is_masked(number: str, before: str, after: str) -> None:
    masked = mask_phone_numbers(before + number + after)
    assert number not in masked
    assert _masked(number) in masked


@given(st.text())
def test_masking_twice_is_masking_once(text: str) -> None:
    once = mask_phone_numbers(text)
    assert mask_phone_numbers(once) == once


twilio_sids = st.builds(
    lambda prefix, hexa: prefix + hexa,
    st.sampled_from(["SM", "MM", "CA", "AC", "ME", "PN", "SB"]),
    st.text("0123456789abcdef", min_size=32, max_size=32),
)
not_phone_numbers = st.one_of(
    twilio_sids,
    st.uuids().map(lambda u: u.hex),
    st.uuids().map(str),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.integers(0, 1_999_999_999).map(str),  # Unix seconds until 2033
    st.floats(0, 1e6, allow_nan=False).map(lambda ms: f"{ms:.1f} ms"),
)


@given(st.lists(not_phone_numbers, max_size=5))
def test_ids_sids_timestamps_and_durations_are_left_alone(values: list[str]) -> None:
    text = " ".join(values)
    assert mask_phone_numbers(text) == text


# -- the patcher ----------------------------------------------------------------------


def capture() -> tuple[list[Any], int]:
    records: list[Any] = []
    sink = logger.add(lambda message: records.append(message.record), level="DEBUG")
    return records, sink


def fail(to: str) -> None:
    secret_body = "my address is 12 Elm St"  # a local variable: must never be logged
    raise ValueError(f"cannot text {to}: {len(secret_body)}")


def test_the_patcher_masks_message_extra_and_exception() -> None:
    records, sink = capture()
    try:
        try:
            fail("+12145550123")
        except ValueError:
            logger.patch(mask_record).bind(
                to="214-555-0123", nested={"numbers": ["+12145550123", 42, None]}
            ).exception("texting {} failed", "+12145550123")
    finally:
        logger.remove(sink)

    [record] = records
    assert record["message"] == f"texting {MASKED} failed"
    assert record["extra"]["to"] == MASKED
    assert record["extra"]["nested"] == {"numbers": [MASKED, 42, None]}
    assert record["exception"] is None  # nothing left for a sink to format unmasked
    error = record["extra"]["exception"]
    assert error["type"] == "ValueError"
    assert error["message"] == f"cannot text {MASKED}: 23"
    assert "in fail" in error["traceback"] and error["traceback"].startswith("Traceback")
    assert "12 Elm St" not in error["traceback"] and "555" not in error["traceback"]


def test_the_patcher_does_not_change_the_callers_objects() -> None:
    payload = {"to": "+12145550123"}
    records, sink = capture()
    try:
        logger.patch(mask_record).bind(payload=payload).info("x")
    finally:
        logger.remove(sink)
    assert payload == {"to": "+12145550123"}
    assert records[0]["extra"]["payload"] == {"to": MASKED}


# -- configure_logging ----------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    logger.remove()
    logger.configure(patcher=lambda record: None)
    logger.add(sys.stderr)
    root.handlers[:] = handlers
    root.setLevel(level)


def log_a_failure() -> None:
    try:
        fail("+12145550123")
    except ValueError:
        logger.bind(lead="2145550123").exception("sending failed")


def test_json_logs_carry_the_traceback_as_a_field(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "INFO")
    log_a_failure()

    [line] = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["message"] == "sending failed"
    assert entry["lead"] == MASKED
    assert entry["exception"]["type"] == "ValueError"
    assert entry["exception"]["message"] == f"cannot text {MASKED}: 23"
    assert 'in fail\n    raise ValueError(f"cannot text' in entry["exception"]["traceback"]
    assert "12 Elm St" not in line and "2145550123" not in line


def test_pretty_logs_show_no_local_variables(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("pretty", "INFO")
    log_a_failure()

    err = capsys.readouterr().err
    assert "sending failed {'lead': '+1214***0123'}" in err
    assert "Traceback (most recent call last)" in err
    assert f"ValueError: cannot text {MASKED}: 23" in err
    assert "12 Elm St" not in err and "2145550123" not in err


def test_standard_library_logging_is_masked_too(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "INFO")
    logging.getLogger("uvicorn.error").warning("client %s hung up", "+12145550123")

    entry = json.loads(capsys.readouterr().err)
    assert entry["message"] == f"client {MASKED} hung up"


def test_the_sandbox_sender_logs_a_masked_number_and_no_body(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "INFO")
    tenant = Tenant(
        id=uuid.uuid4().hex,
        slug="acme",
        name="Acme",
        phone="+15125550100",
        created_at=datetime.now(UTC),
    )
    body = "your quote is $270-$590"
    SandboxSmsSender().send(tenant, to="+12145550123", body=body)

    err = capsys.readouterr().err
    assert MASKED in err and f"{len(body)} chars" in err
    assert "2145550123" not in err and "$270" not in err

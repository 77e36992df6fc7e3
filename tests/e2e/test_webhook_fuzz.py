"""A mutation fuzzer for the provider webhooks: correctly signed Twilio, Cal.com and Chatwoot
requests whose fields hold hostile values (JSON nested 1,000 deep, integers of thousands of
digits, dates at the edge of Python's range, lone surrogates, NUL bytes, over-long strings,
wrong types, missing fields) must never get a 5xx, on both backends.

Each case starts from a real payload shape (the signed samples in tests/fixtures and the
shapes the e2e tests post), changes one to three of its fields, signs the result with the
tenant's secret and posts it to the running app. One app runs per backend per test; the
examples are derandomized so that CI runs the same cases every time. Each test prints how
many cases it ran and the statuses it got (`pytest -s` shows them)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import BUSINESS_PHONE, CALLER, running_lily
from tests.e2e.signed_webhooks import ACCOUNT_ID, INBOX_ID, WebhookLily
from tests.fixtures import webhook_samples
from tests.standins.twilio import TwilioStandIn

# Cases per webhook per backend: the six runs take well under a minute in all.
CASES = 300
FUZZ = settings(
    max_examples=CASES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_serial = count(1)  # fresh ids: each case is a new event, not a redelivery


@pytest.fixture
def lily(
    backend: tuple[str, str | None], twilio: TwilioStandIn, tmp_path: Path
) -> Iterator[WebhookLily]:
    with running_lily(backend, twilio, tmp_path, make=WebhookLily) as lily:
        yield lily


class Tally:
    """The statuses one fuzz test got; printed at the end for the report."""

    def __init__(self, webhook: str, request: pytest.FixtureRequest) -> None:
        self.name = f"{webhook} on {request.node.callspec.params['backend']}"
        self.statuses: Counter[int] = Counter()
        self.routes: Counter[str] = Counter()

    def check(self, response: httpx.Response, sent: object) -> None:
        self.statuses[response.status_code] += 1
        self.routes[response.request.url.path] += 1
        assert response.status_code < 500, f"{response.status_code} for {sent!r}"
        if response.status_code >= 400:
            assert set(response.json()["error"]) == {"code", "message"}

    def report(self) -> None:
        cases = sum(self.statuses.values())
        fives = sum(n for status, n in self.statuses.items() if status >= 500)
        statuses = dict(sorted(self.statuses.items()))
        print(f"\nfuzz {self.name}: {cases} cases, {fives} x 5xx, statuses {statuses}")
        print(f"    cases by route: {dict(self.routes)}")


# -- hostile values, by class ----------------------------------------------------------------

EDGE_DATES = [
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "1969-12-31T23:59:59Z",
    "2200-12-31T00:00:00Z",
    "2026-02-30T10:00:00Z",
    "2026-12-01T16:00:00",
]
# NULs and lone surrogates, alone or inside otherwise ordinary values
BROKEN_TEXT = ["\x00", "Pat\x00Customer", "STOP\x00", "+15125550123\x00", "\ud800", "x\udfffy",
               "\ud83d", "\x00\ud800"]  # fmt: skip
ODD_TEXT = ["", " ", "é" * 300, "\U0001f600" * 70, "\u202e\ufeff", "9" * 5000, "-1", "İ" * 254]
LONG_TEXT = ["x" * n for n in (33, 65, 129, 201, 255, 501, 5000, 60_000)]
hostile_text = st.one_of(
    st.sampled_from(BROKEN_TEXT),
    st.sampled_from(ODD_TEXT + EDGE_DATES),
    st.sampled_from(LONG_TEXT),
    st.lists(
        st.one_of(st.sampled_from(["\x00", "\ud800", "\udfff", "\n"]), st.characters()),
        max_size=12,
    ).map("".join),
)

# Raw JSON text, spliced in where no Python value could be dumped: too deep for json.dumps,
# too many digits for int().
DEEP = ["[" * 1000 + "]" * 1000, '{"a":' * 1000 + "1" + "}" * 1000, "[" * 40 + "]" * 40]
NUMBERS = ["9" * 5000, "-" + "9" * 4400, str(2**31), str(2**63), "-1", "0", "1e999", "NaN",
           "-Infinity", "1.5"]  # fmt: skip
WRONG_TYPES = ["null", "true", "[]", "{}", '[1, "a", null]', '{"value": "\\u0000"}']
json_fragment = st.one_of(
    st.sampled_from(DEEP),
    st.sampled_from(NUMBERS),
    st.sampled_from(WRONG_TYPES),
    st.sampled_from(EDGE_DATES).map(json.dumps),
    hostile_text.map(json.dumps),
)


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into `document` (objects and arrays), outermost first."""
    found: list[tuple[Any, ...]] = []
    items = (
        document.items()
        if isinstance(document, dict)
        else enumerate(document)
        if isinstance(document, list)
        else ()
    )
    for key, value in items:
        found.append((*prefix, key))
        found.extend(paths(value, (*prefix, key)))
    return found


@st.composite
def mutated_json(
    draw: st.DrawFn,
    bases: list[dict[str, Any]],
    serial: tuple[str, ...],
    read: list[tuple[Any, ...]],
) -> bytes:
    """One of `bases` with a fresh serial at the `serial` path (so cases are new events,
    not redeliveries) and one to three fields replaced by hostile JSON or removed: half
    the time one of the paths the parser `read`s, else any path in the document."""
    document = copy.deepcopy(draw(st.sampled_from(bases)))
    _set(document, serial, f"fuzz{next(_serial)}" if serial[-1] == "uid" else next(_serial))
    splices: dict[str, str] = {}
    for _ in range(draw(st.integers(1, 3))):
        anywhere = paths(document) or read  # everything may have been removed already
        path = draw(st.one_of(st.sampled_from(read), st.sampled_from(anywhere)))
        if draw(st.integers(0, 4)) == 0:
            _remove(document, path)
            continue
        marker = f"\x01hostile{len(splices)}\x01"
        splices[json.dumps(marker)] = draw(json_fragment)
        _set(document, path, marker)
    text = json.dumps(document)
    for marker, fragment in splices.items():
        text = text.replace(marker, fragment)
    return text.encode()


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        if not isinstance(document, dict | list):
            return None
        try:
            document = document[key]
        except (KeyError, IndexError):
            return None
    return document if isinstance(document, dict | list) else None


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    parent = _parent(document, path)
    if isinstance(parent, dict) or (isinstance(parent, list) and path[-1] < len(parent)):
        parent[path[-1]] = value


def _remove(document: Any, path: tuple[Any, ...]) -> None:
    parent = _parent(document, path)
    if isinstance(parent, dict):
        parent.pop(path[-1], None)
    elif isinstance(parent, list) and path[-1] < len(parent):
        del parent[path[-1]]


# -- Cal.com --------------------------------------------------------------------------------


def calcom_bases() -> list[dict[str, Any]]:
    samples = webhook_samples()["calcom"]
    shapes = [json.loads(sample["raw_body"]) for sample in samples.values()]
    attendee = {"name": "Pat Customer", "email": "pat@example.com", "phoneNumber": CALLER}
    payload = {
        "uid": "bk_http_1",
        "title": "House wash estimate",
        "startTime": "2026-06-03T15:00:00Z",
        "endTime": "2026-06-03T16:00:00Z",
        "location": "123 Main St, Austin TX",
        "attendees": [attendee],
        "metadata": {"lead_id": "0" * 32},
    }
    return [*shapes, {"triggerEvent": "BOOKING_CREATED", "payload": payload}]


CALCOM_PAYLOAD_KEYS = ["uid", "rescheduleUid", "startTime", "endTime", "title", "location",
                       "metadata", "attendees", "responses", "organizer"]  # fmt: skip
CALCOM_READS = [
    ("triggerEvent",),
    ("payload",),
    *[("payload", key) for key in CALCOM_PAYLOAD_KEYS],
    *[("payload", "attendees", 0, key) for key in ("name", "email", "phoneNumber")],
    ("payload", "metadata", "lead_id"),
    ("payload", "responses", "location", "value"),
]


def test_signed_calcom_webhooks_never_get_a_5xx(
    lily: WebhookLily, request: pytest.FixtureRequest
) -> None:
    tally = Tally("calcom", request)

    @FUZZ
    @given(mutated_json(calcom_bases(), ("payload", "uid"), CALCOM_READS))
    def post(body: bytes) -> None:
        tally.check(lily.post_calcom(body), body[:300])

    post()
    tally.report()


# -- Chatwoot -------------------------------------------------------------------------------


def chatwoot_bases() -> list[dict[str, Any]]:
    sample = json.loads(webhook_samples()["chatwoot"]["message_created"]["raw_body"])
    contact = {"id": 501, "name": "Pat Customer", "email": "pat@example.com",
               "phone_number": CALLER, "type": "contact"}  # fmt: skip
    shape = {
        "event": "message_created",
        "id": 1,
        "content": "2 story house, zip 78701",
        "message_type": "incoming",
        "private": False,
        "sender": contact,
        "inbox": {"id": INBOX_ID, "name": "Website"},
        "account": {"id": ACCOUNT_ID, "name": "Acme Wash Co"},
        "conversation": {"id": 78, "inbox_id": INBOX_ID, "meta": {"sender": contact}},
        "attachments": [{"file_type": "image", "data_url": "https://chat.example.com/a.jpg"}],
    }
    return [sample, shape]


CHATWOOT_KEYS = ["event", "id", "content", "message_type", "private", "sender", "inbox",
                 "conversation", "attachments"]  # fmt: skip
CHATWOOT_READS = [
    *[(key,) for key in CHATWOOT_KEYS],
    *[(key, "id") for key in ("account", "inbox", "conversation")],
    ("conversation", "inbox_id"),
    *[("sender", key) for key in ("name", "email", "phone_number")],
    *[("attachments", 0, key) for key in ("data_url", "file_type")],
]


def test_signed_chatwoot_webhooks_never_get_a_5xx(
    lily: WebhookLily, request: pytest.FixtureRequest
) -> None:
    tally = Tally("chatwoot", request)

    @FUZZ
    @given(mutated_json(chatwoot_bases(), ("id",), CHATWOOT_READS))
    def post(body: bytes) -> None:
        tally.check(lily.post_chatwoot(body), body[:300])

    post()
    tally.report()


# -- Twilio ---------------------------------------------------------------------------------


def twilio_bases() -> list[tuple[str, dict[str, str]]]:
    """(path, form) of the samples, addressed to the harness's tenant from its caller."""
    samples = webhook_samples()["twilio"]
    route = {"voice_incoming": "voice", "voice_dial_action": "voice",
             "sms_incoming_mms": "sms", "sms_incoming_stop": "sms"}  # fmt: skip
    bases = [
        (
            f"/webhooks/twilio/{path}",
            {**samples[name]["form"], "From": CALLER, "To": BUSINESS_PHONE},
        )
        for name, path in route.items()
    ]
    status = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003",
              "From": BUSINESS_PHONE, "To": CALLER}  # fmt: skip
    return [*bases, ("/webhooks/twilio/sms/status", status)]


# Fields the routes read, present in some shapes and not others.
TWILIO_FIELDS = ["NumMedia", "MediaUrl0", "MediaContentType0", "MediaUrl9", "OptOutType",
                 "ErrorCode", "DialCallStatus", "SmsSid", "SmsStatus"]  # fmt: skip


@st.composite
def mutated_form(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """(path, fields) of one of the shapes with fresh SIDs and one to three fields given
    hostile values or removed."""
    path, form = draw(st.sampled_from(twilio_bases()))
    form = dict(form)
    for key in ("CallSid", "MessageSid"):
        if key in form:
            form[key] = f"{key[:2].upper()}{next(_serial):032x}"
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(form) + TWILIO_FIELDS))
        if draw(st.integers(0, 4)) == 0:
            form.pop(key, None)
        else:
            form[key] = draw(hostile_text)
    return path, list(form.items())


def test_signed_twilio_webhooks_never_get_a_5xx(
    lily: WebhookLily, request: pytest.FixtureRequest
) -> None:
    tally = Tally("twilio", request)

    @FUZZ
    @given(mutated_form())
    def post(case: tuple[str, list[tuple[str, str]]]) -> None:
        path, fields = case
        tally.check(lily.post_twilio(path, fields), repr(case)[:300])

    post()
    tally.report()

"""The owner-alert rules of lily_core.domain.owner_alerts (issue 18), over generated event
streams and times, with Lily's answers to the leads (texts to them going out) among them: a
simulated worker runs `take` whenever `due_at` says a text may go, as SendOwnerAlerts does,
and the texts it would send are checked against the rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from lily_core.domain.owner_alerts import (
    ANSWER_GRACE,
    BATCH_WINDOW,
    HOUR,
    AlertKind,
    AlertPolicy,
    LeadView,
    OwnerAlert,
    compose,
    due_at,
    national,
    rate_free_at,
    take,
)
from lily_core.domain.tenant import QuietHours

ZONE = "America/Chicago"
T0 = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # the spring-forward night falls in the streams


@attrs.frozen
class Event:
    lead_id: str
    occurred_at: datetime
    n: int


@attrs.frozen
class Text:
    at: datetime
    events: tuple[Event, ...]


@attrs.frozen
class Answer:
    """Lily's text to a lead went out at `occurred_at`."""

    lead_id: str
    occurred_at: datetime
    n: int = -1


def answered(pending: list[Event], answers: list[Answer]) -> dict[str, datetime]:
    """What SendOwnerAlerts finds: each pending lead's first answer since its first event."""
    found: dict[str, datetime] = {}
    for lead in {e.lead_id for e in pending}:
        first = min(e.occurred_at for e in pending if e.lead_id == lead)
        times = [a.occurred_at for a in answers if a.lead_id == lead and a.occurred_at >= first]
        if times:
            found[lead] = min(times)
    return found


def simulate(
    events: list[Event], policy: AlertPolicy, answers: list[Answer] | None = None
) -> list[Text]:
    """Feed `events` and `answers` in time order; send a text whenever one is due, before
    what happens at that same instant arrives (the worker runs on the dot, the event a
    moment later)."""
    pending: list[Event] = []
    known: list[Answer] = []
    texts: list[Text] = []
    queue: list[Event | Answer] = sorted(
        [*events, *(answers or [])], key=lambda e: (e.occurred_at, e.n)
    )
    while queue or pending:
        said = answered(pending, known)
        due = due_at(pending, [t.at for t in texts], policy, said)
        if queue and (due is None or queue[0].occurred_at <= due):
            arrived = queue.pop(0)
            if isinstance(arrived, Answer):
                known.append(arrived)
            else:
                pending.append(arrived)
            continue
        assert due is not None
        batch = take(pending, [t.at for t in texts], due, policy, said)
        assert batch, "due_at promised a text that take did not give"
        texts.append(Text(due, tuple(batch)))
        pending = [e for e in pending if e not in batch]
    return texts


quiet_hours = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 23), st.integers(0, 23))
    .filter(lambda se: se[0] != se[1])
    .map(lambda se: QuietHours(time(se[0]), time(se[1]))),
)
policies = st.builds(
    AlertPolicy, st.just(ZONE), quiet_hours, st.integers(1, 6), st.just(BATCH_WINDOW)
)


@st.composite
def streams(draw: st.DrawFn) -> list[Event]:
    """Bursts and lulls: seconds apart, minutes apart, hours apart, over a few leads."""
    gaps = st.one_of(st.integers(0, 70), st.integers(60, 900), st.integers(3600, 30000))
    at = T0 + timedelta(seconds=draw(st.integers(0, 86400)))
    events = []
    for n in range(draw(st.integers(1, 25))):
        at += timedelta(seconds=draw(gaps))
        events.append(Event(draw(st.sampled_from("abcd")), at, n))
    return events


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[Event], list[Answer]]:
    """A stream, and Lily's answers: to some events a text to that lead, 0-90 s later (the
    text-back's jitter, a quote), and a few answers out of the blue."""
    events = draw(streams())
    answers = [
        Answer(e.lead_id, e.occurred_at + timedelta(seconds=draw(st.integers(0, 90))))
        for e in events
        if draw(st.booleans())
    ]
    for _ in range(draw(st.integers(0, 3))):
        lead = draw(st.sampled_from("abcd"))
        answers.append(Answer(lead, T0 + timedelta(seconds=draw(st.integers(0, 200000)))))
    return events, answers


def closes_at(lead: str, first: datetime, answers: list[Answer]) -> datetime:
    """The rule, stated once more: a window after the batch's first event, or a grace after
    Lily's first answer since then, whichever comes first."""
    times = [a.occurred_at for a in answers if a.lead_id == lead and a.occurred_at >= first]
    close = first + BATCH_WINDOW
    return min(close, min(times) + ANSWER_GRACE) if times else close


@settings(max_examples=300, deadline=None)
@given(conversations(), policies)
def test_every_event_goes_in_exactly_one_text_once_its_batch_closed(
    talk: tuple[list[Event], list[Answer]], policy: AlertPolicy
) -> None:
    events, answers = talk
    texts = simulate(events, policy, answers)
    carried = [e for t in texts for e in t.events]
    assert sorted(carried, key=lambda e: e.n) == sorted(events, key=lambda e: e.n)
    for text in texts:
        assert all(e.occurred_at <= text.at for e in text.events)
        for lead in {e.lead_id for e in text.events}:
            first = min(e.occurred_at for e in text.events if e.lead_id == lead)
            assert closes_at(lead, first, answers) <= text.at  # never before it closed


@settings(max_examples=300, deadline=None)
@given(conversations(), policies)
def test_no_text_inside_the_owners_quiet_hours(
    talk: tuple[list[Event], list[Answer]], policy: AlertPolicy
) -> None:
    for text in simulate(talk[0], policy, talk[1]):
        local = text.at.astimezone(ZoneInfo(ZONE)).time().replace(tzinfo=None)
        assert policy.quiet is None or not policy.quiet.contains(local)


@settings(max_examples=300, deadline=None)
@given(conversations(), policies)
def test_never_more_than_the_limit_in_any_hour(
    talk: tuple[list[Event], list[Answer]], policy: AlertPolicy
) -> None:
    times = [t.at for t in simulate(talk[0], policy, talk[1])]
    for at in times:
        assert sum(1 for s in times if at - HOUR < s <= at) <= policy.per_hour


@settings(max_examples=300, deadline=None)
@given(conversations(), policies)
def test_a_leads_events_until_its_text_goes_share_that_text(
    talk: tuple[list[Event], list[Answer]], policy: AlertPolicy
) -> None:
    events, answers = talk
    texts = simulate(events, policy, answers)
    home = {e.n: i for i, t in enumerate(texts) for e in t.events}
    for i, text in enumerate(texts):
        for lead in {e.lead_id for e in text.events}:
            first = min(e.occurred_at for e in text.events if e.lead_id == lead)
            burst = [e for e in events if e.lead_id == lead and first <= e.occurred_at < text.at]
            assert all(home[e.n] == i for e in burst)


@settings(max_examples=300, deadline=None)
@given(streams())
def test_with_no_answer_a_leads_events_within_a_minute_of_its_first_share_a_text(
    events: list[Event],
) -> None:
    texts = simulate(events, AlertPolicy(ZONE, None, 1000))
    home = {e.n: i for i, t in enumerate(texts) for e in t.events}
    for i, text in enumerate(texts):
        for lead in {e.lead_id for e in text.events}:
            first = min(e.occurred_at for e in text.events if e.lead_id == lead)
            close = [e for e in events if e.lead_id == lead and first <= e.occurred_at]
            close = [e for e in close if e.occurred_at < first + BATCH_WINDOW]
            assert all(home[e.n] == i for e in close)


@settings(max_examples=300, deadline=None)
@given(conversations())
def test_with_no_quiet_and_no_limit_a_text_goes_when_the_first_batch_closes(
    talk: tuple[list[Event], list[Answer]],
) -> None:
    events, answers = talk
    for text in simulate(events, AlertPolicy(ZONE, None, 1000), answers):
        closes = [
            closes_at(lead, min(e.occurred_at for e in text.events if e.lead_id == lead), answers)
            for lead in {e.lead_id for e in text.events}
        ]
        assert text.at == min(closes)  # in particular a grace after the text-back, at most


@settings(max_examples=200, deadline=None)
@given(streams())
def test_with_no_quiet_and_no_limit_each_burst_goes_a_minute_after_it_began(
    events: list[Event],
) -> None:
    policy = AlertPolicy(ZONE, None, 1000)
    for text in simulate(events, policy):
        firsts = {
            lead: min(e.occurred_at for e in text.events if e.lead_id == lead)
            for lead in {e.lead_id for e in text.events}
        }
        assert text.at == min(firsts.values()) + BATCH_WINDOW


def test_the_alert_goes_a_few_seconds_after_the_text_back() -> None:
    call, text_back = T0, T0 + timedelta(seconds=25)  # the text-back's jitter: 10-45 s
    photos = text_back + timedelta(seconds=3)  # right behind it: merged
    events = [Event("a", call, 0), Event("a", photos, 1)]
    [text] = simulate(events, AlertPolicy(ZONE, None, 10), [Answer("a", text_back)])
    assert text.at == text_back + ANSWER_GRACE and len(text.events) == 2

    later = text_back + timedelta(seconds=20)  # after the alert went: the next one
    events = [Event("a", call, 0), Event("a", later, 1)]
    texts = simulate(events, AlertPolicy(ZONE, None, 10), [Answer("a", text_back)])
    assert [(t.at, len(t.events)) for t in texts] == [
        (text_back + ANSWER_GRACE, 1),
        (later + BATCH_WINDOW, 1),
    ]


def test_an_answer_before_the_batch_began_does_not_close_it() -> None:
    events = [Event("a", T0, 0)]
    [text] = simulate(events, AlertPolicy(ZONE, None, 10), [Answer("a", T0 - HOUR)])
    assert text.at == T0 + BATCH_WINDOW


def test_three_events_for_one_lead_in_a_minute_are_one_text() -> None:
    events = [Event("a", T0 + timedelta(seconds=s), n) for n, s in enumerate((0, 20, 45))]
    [text] = simulate(events, AlertPolicy(ZONE, None, 10))
    assert text.at == T0 + BATCH_WINDOW and len(text.events) == 3


def test_an_event_in_quiet_hours_waits_for_their_end() -> None:
    night = datetime(2026, 6, 2, 4, 0, tzinfo=UTC)  # 23:00 in Chicago (CDT)
    policy = AlertPolicy(ZONE, QuietHours(time(22), time(7)), 10)
    [text] = simulate([Event("a", night, 0), Event("b", night + HOUR, 1)], policy)
    assert text.at == datetime(2026, 6, 2, 12, 0, tzinfo=UTC)  # 07:00 CDT, both leads


def test_the_hourly_limit_folds_the_rest_into_the_next_text() -> None:
    events = [Event(lead, T0 + timedelta(minutes=2 * n), n) for n, lead in enumerate("abcd")]
    texts = simulate(events, AlertPolicy(ZONE, None, 2))
    assert [len(t.events) for t in texts] == [1, 1, 2]
    assert texts[2].at == texts[0].at + HOUR


def test_rate_free_at_counts_the_hour_before() -> None:
    sent = [T0, T0 + timedelta(minutes=10)]
    assert rate_free_at(sent, 3, T0 + timedelta(minutes=20)) == T0 + timedelta(minutes=20)
    assert rate_free_at(sent, 2, T0 + timedelta(minutes=20)) == T0 + HOUR


def test_national_formats_us_numbers_for_the_owner() -> None:
    assert national("+12145550123") == "(214) 555-0123"
    assert national("+442079460958").startswith("+44 ")
    assert national(None) == "a customer"


def test_compose_one_lead_and_a_summary() -> None:
    def alert(lead: str, kind: AlertKind, detail: str, minute: int) -> OwnerAlert:
        at = T0 + timedelta(minutes=minute)
        return OwnerAlert(tenant_id="t", lead_id=lead, kind=kind, detail=detail, occurred_at=at)

    leads = {
        "a": LeadView(None, "+12145550123", "https://x/inbox/?lead=a"),
        "b": LeadView("Pat", "+12145550124", "https://x/inbox/?lead=b"),
    }
    one = compose(
        "Acme",
        [alert("a", AlertKind.QUOTE_SENT, "$270–$590", 1), alert("a", AlertKind.NEW_LEAD, "", 0)],
        leads,
        "https://x/inbox/",
        morning=False,
    )
    assert one == (
        "Lily (Acme): Missed call from (214) 555-0123 — Lily texted them back; "
        "they sent photos + ZIP; Lily quoted $270–$590. https://x/inbox/?lead=a "
        "Reply R + your text to answer them."
    )
    summary = compose(
        "Acme",
        [alert("a", AlertKind.NEW_LEAD, "", 0), alert("b", AlertKind.OPT_OUT, "", 5)],
        leads,
        "https://x/inbox/",
        morning=True,
    )
    assert summary.splitlines() == [
        "Good morning! While your alerts were quiet: (Acme, 2 leads)",
        "- Missed call from (214) 555-0123 — Lily texted them back. https://x/inbox/?lead=a",
        "- Pat (214) 555-0124 opted out of texts (replied STOP). https://x/inbox/?lead=b",
    ]

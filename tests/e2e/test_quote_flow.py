"""DESIGN §2.2 end to end: a lead texts photos and a ZIP (in any order, in one or several
messages) and gets exactly one reply with the range DESIGN §5 gives for the tenant's price
book (examples/pricebook.yaml) and a booking link prefilled with the lead.

Every expected range is worked out by hand in a comment from the price book:
house_wash $250–$450 (the default service), driveway $100–$225, two_story ×1.25, base ZIP
75201 (Dallas), free 15 mi then $2/mi up to 30 mi, minimum $150, rounded to $5 (halves up)."""

from __future__ import annotations

import re
from itertools import count
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from dependency_injector import providers

from lily_core.domain.leads import LeadStatus, MessageKind, MessageStatus
from lily_core.domain.pricebook import PriceBookVersion
from lily_core.domain.records import Quote
from lily_core.ports.queue import QueueStats
from tests.e2e.conftest import CALLER, JITTER_MAX, JITTER_MIN, START, Lily, after

PRICEBOOK = Path(__file__).resolve().parents[2] / "examples" / "pricebook.yaml"
BOOKING_URL = "https://cal.com/acme-wash/estimate"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF a photo of the siding"
RANGE = re.compile(r"\$[\d,]+–\$[\d,]+")
EMPTY = QueueStats(scheduled=0, due=0, in_flight=0, dead=0)
_sids = count(1)


# -- helpers (also used by test_photo_storage and test_chatwoot_flow) ---------------------


def import_pricebook(lily: Lily, **area_changes: object) -> PriceBookVersion:
    """Give the harness's tenant the example price book (service_area keys overridden)."""
    document = yaml.safe_load(PRICEBOOK.read_text())
    document["service_area"].update(area_changes)
    version: PriceBookVersion = lily.container.import_pricebook()(lily.tenant.slug, document)
    return version


def new_sid(prefix: str = "SM") -> str:
    return f"{prefix}{next(_sids):032x}"


def text(lily: Lily, body: str, *, caller: str = CALLER) -> None:
    """An inbound SMS, signed as Twilio signs it; the webhook answers 200 at once."""
    response = lily.sms(new_sid("SM"), body, caller=caller)
    assert response.status_code == 200, response.text


def mms(
    lily: Lily,
    body: str = "",
    *,
    photos: int = 1,
    content_type: str = "image/jpeg",
    data: bytes = JPEG,
    caller: str = CALLER,
) -> str:
    """An inbound MMS whose `photos` media are served (behind basic auth) by the Twilio
    stand-in; returns its MessageSid."""
    sid = new_sid("MM")
    extra = {"NumMedia": str(photos)}
    for index in range(photos):
        extra[f"MediaUrl{index}"] = lily.twilio.add_media(content_type, data)
        extra[f"MediaContentType{index}"] = content_type
    response = lily.sms(sid, body, caller=caller, extra=extra)
    assert response.status_code == 200, response.text
    return sid


def settle(lily: Lily) -> None:
    """Run the worker once everything queued so far is due (past the largest jitter)."""
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX + 1))


def quotes(lily: Lily) -> list[Quote]:
    with lily.container.uow().across_tenants() as uow:
        return sorted(uow.quotes.list(lily.tenant.id).items, key=lambda q: q.created_at)


def booking_params(body: str) -> tuple[str, dict[str, list[str]]]:
    """The booking link in an SMS: (URL without its query, its query parameters)."""
    [link] = re.findall(r"https?://\S+", body)
    parts = urlsplit(link)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query)


def lines_of(quote: Quote) -> list[tuple[str, str, int, int]]:
    return [(ln["kind"], ln["key"], ln["low_cents"], ln["high_cents"]) for ln in quote.lines]


@pytest.fixture
def shop(lily: Lily) -> Lily:
    """The harness's tenant with the example price book and a Cal.com booking page."""
    import_pricebook(lily)
    lily.tenant = lily.update_tenant(booking_url=BOOKING_URL)
    return lily


def assert_one_quote_sms(lily: Lily, expected_range: str) -> str:
    """Exactly one SMS to the lead carries a price, it is the expected range, and it is
    the stored QUOTE message; returns its body."""
    priced = [str(m.body) for m in lily.texts_to(CALLER) if RANGE.search(m.body or "")]
    assert len(priced) == 1, priced
    [body] = priced
    assert RANGE.findall(body) == [expected_range]
    [stored] = [m for m in lily.outbound() if m.kind == MessageKind.QUOTE]
    assert stored.body == body and stored.status == MessageStatus.SENT
    return body


def assert_booking_link(lily: Lily, body: str, *, name: str | None = None) -> None:
    lead = lily.lead()
    base, params = booking_params(body)
    assert base == BOOKING_URL
    expected = {"attendeePhoneNumber": [CALLER], "metadata[lead_id]": [lead.id]}
    if name is not None:
        expected["name"] = [name]
    assert params == expected


# -- the orders a lead sends things in ----------------------------------------------------


def test_photos_then_zip_in_two_messages(shop: Lily) -> None:
    mms(shop, "Here's the house", photos=2)
    settle(shop)
    [prompt] = shop.texts_to(CALLER)
    assert "ZIP" in (prompt.body or "") and not RANGE.search(prompt.body or "")

    text(shop, "It's in 75002")
    quoted_at = shop.clock.now()
    shop.run_worker_at(after(quoted_at, JITTER_MIN - 0.5))
    assert len(shop.texts_to(CALLER)) == 1  # the quote waits out the jitter
    shop.run_worker_at(after(quoted_at, JITTER_MAX + 0.5))

    # 75002 (Allen) is 22.9 mi from 75201: 7.9 mi beyond the free 15 × $2 = +$15.75.
    # House wash (the default service): $250 + $15.75 = $265.75 → $265;
    # $450 + $15.75 = $465.75 → $465 (nearest $5).
    body = assert_one_quote_sms(shop, "$265–$465")
    assert_booking_link(shop, body)
    assert "House wash" in body
    [quote] = quotes(shop)
    assert (quote.zip, quote.in_service_area, quote.low_cents, quote.high_cents) == (
        "75002", True, 26500, 46500,
    )  # fmt: skip
    assert lines_of(quote) == [
        ("service", "house_wash", 25000, 45000),
        ("travel", "travel", 1575, 1575),
        ("rounding", "round_to", -75, -75),
    ]
    assert quote.pricebook_version == 1 and quote.lead_id == shop.lead().id
    assert [m.kind for m in shop.outbound()] == [MessageKind.PROMPT, MessageKind.QUOTE]
    assert shop.lead().status == LeadStatus.QUOTED and shop.lead().zip == "75002"
    assert shop.queue_stats() == EMPTY


def test_zip_then_photos(shop: Lily) -> None:
    text(shop, "Hi, how much for a wash? zip is 75201")
    settle(shop)
    [prompt] = shop.texts_to(CALLER)
    assert "photo" in (prompt.body or "").lower() and not RANGE.search(prompt.body or "")

    mms(shop, photos=3)
    settle(shop)

    # 75201 is the base ZIP: no travel. House wash (default) $250–$450, already on $5.
    body = assert_one_quote_sms(shop, "$250–$450")
    assert_booking_link(shop, body)
    [quote] = quotes(shop)
    assert lines_of(quote) == [("service", "house_wash", 25000, 45000)]
    assert [m.kind for m in shop.outbound()] == [MessageKind.PROMPT, MessageKind.QUOTE]


def test_photos_and_zip_in_one_mms_after_a_missed_call(shop: Lily) -> None:
    assert shop.missed_call("CA" + "5" * 32).status_code == 200
    settle(shop)
    [text_back] = shop.texts_to(CALLER)

    mms(shop, "2 story house in 75201", photos=2)
    settle(shop)

    # Two story ×1.25: $250 → $312.50 → $315 and $450 → $562.50 → $565 (halves go up).
    body = assert_one_quote_sms(shop, "$315–$565")
    assert_booking_link(shop, body)
    assert [m.body for m in shop.texts_to(CALLER)] == [text_back.body, body]  # no prompt
    [quote] = quotes(shop)
    assert lines_of(quote) == [
        ("service", "house_wash", 25000, 45000),
        ("modifier", "two_story", 6250, 11250),
        ("rounding", "round_to", 250, 250),
    ]


def test_messages_sent_before_the_worker_runs_still_get_one_answer(shop: Lily) -> None:
    mms(shop, "the driveway")
    shop.clock.advance(3)
    text(shop, "sorry, forgot: 75201")
    settle(shop)

    # Driveway $100–$225; $100 is raised to the $150 minimum: $150–$225.
    assert_one_quote_sms(shop, "$150–$225")
    # The ZIP prompt queued with the photos was still waiting out its jitter when the ZIP
    # came in: it is withdrawn, and the lead gets the quote alone.
    assert [(m.kind, m.status) for m in shop.outbound()] == [
        (MessageKind.PROMPT, MessageStatus.SUPPRESSED),
        (MessageKind.QUOTE, MessageStatus.SENT),
    ]


def test_a_lead_the_business_knows_by_name_gets_it_in_the_booking_link(shop: Lily) -> None:
    mms(shop, "house")
    lead = shop.lead()
    with shop.container.uow().across_tenants() as uow:
        stored = uow.leads.get(shop.tenant.id, lead.id)
        assert stored is not None
        stored.name = "Pat Doe"
        uow.commit()
    text(shop, "75201")
    settle(shop)
    body = assert_one_quote_sms(shop, "$250–$450")
    assert_booking_link(shop, body, name="Pat Doe")


def test_a_booking_url_with_its_own_query_keeps_it(lily: Lily) -> None:
    import_pricebook(lily)
    lily.tenant = lily.update_tenant(booking_url=BOOKING_URL + "?layout=month_view")
    mms(lily, "house 75201")
    settle(lily)
    [sms] = lily.texts_to(CALLER)
    base, params = booking_params(sms.body or "")
    assert base == BOOKING_URL
    assert params == {
        "layout": ["month_view"],
        "attendeePhoneNumber": [CALLER],
        "metadata[lead_id]": [lily.lead().id],
    }


# -- what is missing, and where a price is never given ------------------------------------


def test_zip_without_photos_asks_for_photos_once_and_gives_no_price(shop: Lily) -> None:
    text(shop, "75201")
    settle(shop)
    text(shop, "Hello? house wash please")
    text(shop, "75201 again")
    settle(shop)

    [prompt] = shop.texts_to(CALLER)  # one prompt, not one per message
    assert "photo" in (prompt.body or "").lower()
    assert not any(RANGE.search(m.body or "") for m in shop.twilio.messages)
    assert quotes(shop) == []
    assert [m.kind for m in shop.outbound()] == [MessageKind.PROMPT]
    assert shop.lead().status != LeadStatus.QUOTED


def test_photos_without_zip_ask_for_the_zip_once(shop: Lily) -> None:
    mms(shop, "house")
    settle(shop)
    mms(shop, "another angle", photos=2)
    settle(shop)
    [prompt] = shop.texts_to(CALLER)
    assert "ZIP" in (prompt.body or "")
    assert quotes(shop) == []


@pytest.mark.parametrize(
    ("zip_code", "area"),
    [
        ("75009", {}),  # Celina: 36.0 mi from 75201, beyond the 30 mi radius
        ("75204", {"excluded_zips": ["75204"]}),  # 1.5 mi away but never served
    ],
    ids=["out-of-area", "excluded"],
)
def test_a_zip_outside_the_service_area_is_declined_without_a_price(
    lily: Lily, zip_code: str, area: dict[str, object]
) -> None:
    import_pricebook(lily, **area)
    lily.tenant = lily.update_tenant(booking_url=BOOKING_URL)
    mms(lily, f"house, {zip_code}")
    settle(lily)

    [decline] = lily.texts_to(CALLER)
    body = decline.body or ""
    assert zip_code in body and "outside the area" in body
    assert "$" not in body and "cal.com" not in body
    [quote] = quotes(lily)
    assert (quote.zip, quote.in_service_area, quote.low_cents, quote.high_cents) == (
        zip_code, False, 0, 0,
    )  # fmt: skip
    assert quote.lines == [] and quote.explanation.startswith("Out of the service area")
    assert [m.kind for m in lily.outbound()] == [MessageKind.DECLINE]
    assert lily.lead().status != LeadStatus.QUOTED


def test_more_photos_after_a_quote_do_not_quote_again(shop: Lily) -> None:
    mms(shop, "house 75201")
    settle(shop)
    assert_one_quote_sms(shop, "$250–$450")

    mms(shop, "a few more", photos=2)
    settle(shop)
    text(shop, "and the zip again is 75201")
    settle(shop)

    assert len(shop.texts_to(CALLER)) == 1
    assert len(quotes(shop)) == 1
    assert shop.queue_stats() == EMPTY


def test_a_new_zip_after_a_quote_quotes_the_new_place(shop: Lily) -> None:
    mms(shop, "house 75201")
    settle(shop)
    text(shop, "oops, it's actually 75002")
    settle(shop)
    # As in the two-message test: 75002 adds $15.75 of travel: $265–$465.
    first, second = (m.body or "" for m in shop.texts_to(CALLER))
    assert RANGE.findall(first) == ["$250–$450"] and RANGE.findall(second) == ["$265–$465"]
    assert [q.zip for q in quotes(shop)] == ["75201", "75002"]


# -- what the text says: services, modifiers, the minimum ---------------------------------


@pytest.mark.parametrize(
    ("messages", "expected", "services", "modifiers"),
    [
        # House $250–$450 + driveway $100–$225 = $350–$675.
        (["Driveway and the house please", "75201"], "$350–$675", ["house_wash", "driveway"], []),
        # (250 + 100) × 1.25 = $437.50 → $440; (450 + 225) × 1.25 = $843.75 → $845.
        # The modifier and the services come from different messages.
        (
            ["Two story", "house and driveway 75201"],
            "$440–$845",
            ["house_wash", "driveway"],
            ["two_story"],
        ),
        # Home $250–$450 (a keyword of house_wash) + patio (driveway) $100–$225 = $350–$675,
        # × 1.25 = $437.50–$843.75, + $15.75 travel to 75002 = $453.25–$859.50 → $455–$860.
        (
            ["2-story home and patio in 75002"],
            "$455–$860",
            ["house_wash", "driveway"],
            ["two_story"],
        ),
        # Whole words only: "driveways" and "housed" name nothing, so the default house wash.
        (["my driveways are housed in 75201"], "$250–$450", ["house_wash"], []),
    ],
    ids=["two-services", "modifier-across-messages", "all-steps", "whole-words"],
)
def test_service_words_and_modifiers_in_the_text_price_the_job(
    shop: Lily, messages: list[str], expected: str, services: list[str], modifiers: list[str]
) -> None:
    first, *rest = messages
    mms(shop, first)
    for body in rest:
        shop.clock.advance(2)
        text(shop, body)
    settle(shop)

    assert_one_quote_sms(shop, expected)
    [quote] = quotes(shop)
    kinds = lines_of(quote)
    assert sorted(key for kind, key, *_ in kinds if kind == "service") == sorted(services)
    assert [key for kind, key, *_ in kinds if kind == "modifier"] == modifiers


def test_the_minimum_charge_raises_a_small_job(shop: Lily) -> None:
    mms(shop, "Just the sidewalk, 75201")
    settle(shop)
    # Sidewalk is a driveway keyword: $100–$225; the low bound is raised to the $150
    # minimum, the high one is above it: $150–$225.
    body = assert_one_quote_sms(shop, "$150–$225")
    assert "Driveway / concrete" in body
    [quote] = quotes(shop)
    assert lines_of(quote) == [
        ("service", "driveway", 10000, 22500),
        ("minimum", "minimum_charge", 5000, 0),
    ]


def test_a_quote_records_the_price_book_version_it_used(shop: Lily) -> None:
    document = yaml.safe_load(PRICEBOOK.read_text())
    document["services"][0]["low"], document["services"][0]["high"] = 300, 500
    version = shop.container.import_pricebook()(shop.tenant.slug, document)
    assert version.version == 2
    mms(shop, "house 75201")
    settle(shop)
    # Version 2's house wash: $300–$500.
    assert_one_quote_sms(shop, "$300–$500")
    [quote] = quotes(shop)
    assert quote.pricebook_version == 2


def test_no_reply_goes_out_inside_the_webhook(shop: Lily) -> None:
    mms(shop, "house 75201")
    assert shop.twilio.messages == []
    [queued] = shop.outbound()
    assert (queued.kind, queued.status) == (MessageKind.QUOTE, MessageStatus.QUEUED)
    assert shop.clock.now() == START


def test_a_redelivery_recovers_a_message_whose_first_advance_failed(shop: Lily) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away mid-request")

    sid = new_sid("MM")
    photo = shop.twilio.add_media("image/jpeg", JPEG)
    extra = {"NumMedia": "1", "MediaUrl0": photo, "MediaContentType0": "image/jpeg"}
    shop.container.advance_conversation.override(providers.Object(broken))
    first = shop.sms(sid, "house, 75201", extra=extra)
    assert first.status_code == 500  # the inbound message is stored; the quote is not made
    shop.container.advance_conversation.reset_override()

    again = shop.sms(sid, "house, 75201", extra=extra)  # Twilio retries the webhook
    assert again.status_code == 200
    settle(shop)
    assert_one_quote_sms(shop, "$250–$450")
    shop.sms(sid, "house, 75201", extra=extra)  # and another redelivery changes nothing
    settle(shop)
    assert_one_quote_sms(shop, "$250–$450")

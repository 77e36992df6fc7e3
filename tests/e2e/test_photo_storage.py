"""DESIGN §2.2.5 end to end: the worker copies a lead's MMS photos from Twilio (basic auth,
then a redirect to the CDN) into the photo store under a tenant-scoped key, and records the
key on the message's media. What is not a photo, or is too big, is recorded as rejected and
never stored, and its task is not retried. On the local store (the embedded default) and on
S3 (moto's server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from dependency_injector import providers

from lily_adapters.photos.local import LocalPhotoStore
from lily_adapters.photos.s3 import S3PhotoStore
from lily_core.domain.leads import Message
from lily_core.domain.photos import MAX_PHOTO_BYTES
from lily_core.errors import NotFound
from lily_core.ports.queue import QueueStats
from tests.e2e.conftest import BUSINESS_PHONE, CALLER, Lily
from tests.e2e.test_quote_flow import JPEG, mms, new_sid, settle
from tests.standins.s3 import FAKE_AWS_ENV, moto_server

PNG = b"\x89PNG\r\n\x1a\n a photo of the driveway"
EMPTY = QueueStats(scheduled=0, due=0, in_flight=0, dead=0)


def copy_now(lily: Lily) -> None:
    """Run what is due now: the COPY_MEDIA task (replies wait out their jitter)."""
    lily.run_worker_at(lily.clock.now())


def inbound(lily: Lily, sid: str) -> Message:
    [message] = [m for m in lily.messages() if m.provider_sid == sid]
    return message


def media_gets(lily: Lily) -> list[str]:
    """Paths of the media downloads Twilio's API saw (not the CDN hops)."""
    return [r.path for r in lily.twilio.requests if r.method == "GET" and "/Media/" in r.path]


def add_mms(
    lily: Lily,
    media: list[tuple[str, bytes]],
    body: str = "",
    *,
    to: str = BUSINESS_PHONE,
    served_as: str | None = None,
) -> str:
    """An MMS with media of the given (content type, data); returns its MessageSid. The
    CDN serves them with their own type, or `served_as` when the two disagree."""
    sid = new_sid("MM")
    extra = {"NumMedia": str(len(media))}
    for index, (ctype, data) in enumerate(media):
        extra[f"MediaUrl{index}"] = lily.twilio.add_media(served_as or ctype, data)
        extra[f"MediaContentType{index}"] = ctype
    assert lily.sms(sid, body, to=to, extra=extra).status_code == 200
    return sid


def assert_rejected_once(lily: Lily, sid: str, error_part: str) -> dict[str, Any]:
    """The photo's error is recorded, nothing is stored, and no task is left to retry."""
    [entry] = inbound(lily, sid).media
    assert "stored_key" not in entry and error_part in entry["error"]
    settle(lily)  # a retry, if one had been scheduled, would be due by now
    assert len(media_gets(lily)) == 1
    assert lily.queue_stats() == EMPTY
    return entry


# -- the local store (the embedded default) -----------------------------------------------


def test_mms_photos_are_copied_into_the_local_store(lily: Lily, tmp_path: Path) -> None:
    sid = add_mms(lily, [("image/jpeg", JPEG), ("image/png", PNG)], "the house")
    message = inbound(lily, sid)
    assert [e.get("stored_key") for e in message.media] == [None, None]  # not in the webhook

    copy_now(lily)

    store = lily.container.photo_store()
    assert isinstance(store, LocalPhotoStore)
    assert store.root == (tmp_path / "data" / "photos").resolve()
    prefix = f"tenants/{lily.tenant.id}/photos/{message.id}"
    entries = inbound(lily, sid).media
    assert [e["stored_key"] for e in entries] == [f"{prefix}-0.jpg", f"{prefix}-1.png"]
    assert [e["content_type"] for e in entries] == ["image/jpeg", "image/png"]
    assert store.get(f"{prefix}-0.jpg") == JPEG and store.get(f"{prefix}-1.png") == PNG
    assert store.content_type(f"{prefix}-1.png") == "image/png"
    assert (store.root / f"{prefix}-0.jpg").read_bytes() == JPEG
    # Each media URL was fetched once, with the account's credentials; the CDN without.
    auth = {r.path: r.authorization for r in lily.twilio.requests if r.method == "GET"}
    assert len(media_gets(lily)) == 2
    assert all(str(auth[p]).startswith("Basic ") for p in media_gets(lily))
    assert all(v is None for p, v in auth.items() if p.startswith("/cdn/"))


def test_each_tenant_has_its_own_keys(lily: Lily) -> None:
    other = lily.onboard("Other Wash", "+15125550177")
    mine = add_mms(lily, [("image/jpeg", JPEG)])
    theirs = add_mms(lily, [("image/jpeg", PNG)], to=other.phone)  # the same lead number
    copy_now(lily)

    [key] = [e["stored_key"] for e in inbound(lily, mine).media]
    assert key.startswith(f"tenants/{lily.tenant.id}/photos/")
    with lily.container.uow().across_tenants() as uow:
        lead = uow.leads.get_by_phone(other.id, CALLER)
        assert lead is not None
        found = uow.messages.list_for_lead(other.id, lead.id).items
    [their_message] = [m for m in found if m.provider_sid == theirs]
    [their_key] = [e["stored_key"] for e in their_message.media]
    assert their_key.startswith(f"tenants/{other.id}/photos/")
    store = lily.container.photo_store()
    assert (store.get(key), store.get(their_key)) == (JPEG, PNG)


def test_media_declared_as_not_an_image_is_not_a_photo(lily: Lily) -> None:
    sid = add_mms(lily, [("text/vcard", b"BEGIN:VCARD\nEND:VCARD\n")], "75201")
    copy_now(lily)
    assert media_gets(lily) == []  # never fetched
    [entry] = inbound(lily, sid).media
    assert entry["content_type"] == "text/vcard" and "stored_key" not in entry
    settle(lily)
    # A contact card is not a photo of the job: the lead is asked for photos.
    [prompt] = lily.texts_to(CALLER)
    assert "photo" in (prompt.body or "").lower()


def test_media_that_turns_out_not_to_be_an_image_is_rejected(lily: Lily) -> None:
    # Twilio's webhook said image/jpeg, but what the CDN serves is HTML.
    sid = add_mms(lily, [("image/jpeg", b"<html>an error page</html>")], served_as="text/html")
    copy_now(lily)
    assert_rejected_once(lily, sid, "text/html")
    assert not any(p.is_file() for p in (lily.container.settings().data_dir / "photos").rglob("*"))


@pytest.mark.parametrize("declare_length", [True, False], ids=["declared", "streamed"])
def test_too_big_media_is_rejected(lily: Lily, declare_length: bool) -> None:
    url = lily.twilio.add_media(
        "image/jpeg", b"\xff" * (MAX_PHOTO_BYTES + 1), declare_length=declare_length
    )
    sid = new_sid("MM")
    extra = {"NumMedia": "1", "MediaUrl0": url, "MediaContentType0": "image/jpeg"}
    assert lily.sms(sid, "", extra=extra).status_code == 200
    copy_now(lily)
    assert_rejected_once(lily, sid, "larger than")


def test_missing_media_is_rejected_and_a_transient_failure_retried(lily: Lily) -> None:
    gone = new_sid("MM")
    # A media URL of the account that Twilio no longer has (deleted): 404.
    url = lily.twilio.add_media("image/jpeg", JPEG).rsplit("/", 1)[0] + "/ME" + "0" * 32
    extra = {"NumMedia": "1", "MediaUrl0": url, "MediaContentType0": "image/jpeg"}
    assert lily.sms(gone, "", extra=extra).status_code == 200
    copy_now(lily)
    assert_rejected_once(lily, gone, "404")

    sid = mms(lily, data=PNG, content_type="image/png")
    # more 503s than the fetch tries in one run (the provider policy): the task is retried
    for _ in range(lily.container.provider_policy().attempts):
        lily.twilio.fail_next(503, 20503, "Service unavailable")
    copy_now(lily)
    assert "stored_key" not in inbound(lily, sid).media[0]
    assert lily.queue_stats().scheduled >= 1 and lily.queue_stats().dead == 0
    settle(lily)  # the retry's backoff (10-15 s) is well inside this
    [entry] = inbound(lily, sid).media
    assert lily.container.photo_store().get(entry["stored_key"]) == PNG
    assert lily.queue_stats() == EMPTY


# -- S3 (moto's server) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS_ENV.items():
            patch.setenv(name, value)
        with moto_server() as url:
            yield url


@pytest.fixture
def s3_store(lily: Lily, s3_url: str, monkeypatch: pytest.MonkeyPatch) -> S3PhotoStore:
    """An S3PhotoStore on a fresh bucket, in place of the container's local store."""
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    bucket = f"lily-photos-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_url).create_bucket(Bucket=bucket)
    store = S3PhotoStore(bucket, s3_url)
    lily.container.photo_store.override(providers.Object(store))
    return store


def test_mms_photos_are_copied_into_s3(lily: Lily, s3_store: S3PhotoStore, s3_url: str) -> None:
    sid = add_mms(lily, [("image/jpeg", JPEG), ("image/png", PNG)], "house 75201")
    copy_now(lily)

    message = inbound(lily, sid)
    prefix = f"tenants/{lily.tenant.id}/photos/{message.id}"
    assert [e["stored_key"] for e in message.media] == [f"{prefix}-0.jpg", f"{prefix}-1.png"]
    client = boto3.client("s3", endpoint_url=s3_url)
    listed = client.list_objects_v2(Bucket=s3_store.bucket)
    assert sorted(o["Key"] for o in listed["Contents"]) == [f"{prefix}-0.jpg", f"{prefix}-1.png"]
    obj = client.get_object(Bucket=s3_store.bucket, Key=f"{prefix}-1.png")
    assert obj["Body"].read() == PNG and obj["ContentType"] == "image/png"
    assert s3_store.get(f"{prefix}-0.jpg") == JPEG
    # Nothing went to the local directory.
    with pytest.raises(NotFound):
        LocalPhotoStore(
            lily.container.settings().data_dir / "photos", "k", "http://testserver"
        ).get(f"{prefix}-0.jpg")


def test_rejected_media_never_reaches_s3(lily: Lily, s3_store: S3PhotoStore, s3_url: str) -> None:
    url = lily.twilio.add_media("image/jpeg", b"\xff" * (MAX_PHOTO_BYTES + 1))
    sid = new_sid("MM")
    extra = {"NumMedia": "1", "MediaUrl0": url, "MediaContentType0": "image/jpeg"}
    assert lily.sms(sid, "", extra=extra).status_code == 200
    copy_now(lily)
    assert_rejected_once(lily, sid, "larger than")
    listed = boto3.client("s3", endpoint_url=s3_url).list_objects_v2(Bucket=s3_store.bucket)
    assert listed.get("KeyCount", 0) == 0

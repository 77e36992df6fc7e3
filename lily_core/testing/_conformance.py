"""Static proof that every double satisfies its port: mypy (strict on lily_core, in CI)
fails here the day a fake drifts from the Protocol it stands in for."""

from __future__ import annotations

from lily_core.ports import (
    Calendar,
    ChatwootClient,
    Clock,
    JitterQueue,
    MediaFetcher,
    PhotoStore,
    SmsSender,
    UnitOfWork,
)
from lily_core.testing.fakes import (
    FakeCalendar,
    FakeChatwootClient,
    FakeClock,
    FakeMediaFetcher,
    FakeSmsSender,
    InMemoryPhotoStore,
)
from lily_core.testing.queue import InMemoryJitterQueue
from lily_core.testing.uow import InMemoryUnitOfWork


def _unit_of_work(fake: InMemoryUnitOfWork) -> UnitOfWork:
    return fake


def _queue(fake: InMemoryJitterQueue) -> JitterQueue:
    return fake


def _sms(fake: FakeSmsSender) -> SmsSender:
    return fake


def _calendar(fake: FakeCalendar) -> Calendar:
    return fake


def _photos(fake: InMemoryPhotoStore) -> PhotoStore:
    return fake


def _media(fake: FakeMediaFetcher) -> MediaFetcher:
    return fake


def _chatwoot(fake: FakeChatwootClient) -> ChatwootClient:
    return fake


def _clock(fake: FakeClock) -> Clock:
    return fake

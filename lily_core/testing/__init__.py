"""In-memory doubles of every port, shipped with the core (as httpx ships MockTransport),
for unit tests here and in any code built on Lily."""

from lily_core.testing.auth import FakePasswordHasher, FakeTokenSigner, InMemorySignInThrottle
from lily_core.testing.fakes import (
    FakeCalendar,
    FakeChatwootClient,
    FakeClock,
    FakeMediaFetcher,
    FakePaymentGateway,
    FakeSmsSender,
    InMemoryPhotoStore,
    SentMessage,
)
from lily_core.testing.queue import InMemoryJitterQueue
from lily_core.testing.uow import InMemoryDatabase, InMemoryUnitOfWork

__all__ = [
    "FakeCalendar",
    "FakeChatwootClient",
    "FakeClock",
    "FakeMediaFetcher",
    "FakePasswordHasher",
    "FakePaymentGateway",
    "FakeSmsSender",
    "FakeTokenSigner",
    "InMemoryDatabase",
    "InMemoryJitterQueue",
    "InMemoryPhotoStore",
    "InMemorySignInThrottle",
    "InMemoryUnitOfWork",
    "SentMessage",
]

"""The ports: what Lily's use cases need from the outside, as typing.Protocol classes."""

from lily_core.ports.clock import Clock
from lily_core.ports.providers import (
    Calendar,
    CalendarEvent,
    ChatwootClient,
    FetchedMedia,
    MediaFetcher,
    PaymentGateway,
    PhotoStore,
    PresignedUpload,
    SentSms,
    SmsSender,
)
from lily_core.ports.queue import JitterQueue, QueueStats, Task, TaskType
from lily_core.ports.repositories import UnitOfWork

__all__ = [
    "Calendar",
    "CalendarEvent",
    "ChatwootClient",
    "Clock",
    "FetchedMedia",
    "JitterQueue",
    "MediaFetcher",
    "PaymentGateway",
    "PhotoStore",
    "PresignedUpload",
    "QueueStats",
    "SentSms",
    "SmsSender",
    "Task",
    "TaskType",
    "UnitOfWork",
]

"""Copying a lead's photos from the provider (Twilio MMS, Chatwoot attachments) into the
photo store, as a worker task (DESIGN §2.2.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from lily_core.domain.conversation import is_photo
from lily_core.domain.leads import Message
from lily_core.domain.photos import MAX_PHOTO_BYTES, check_photo, photo_key
from lily_core.errors import InvalidInput, PermanentDeliveryError, TransientDeliveryError
from lily_core.ports.clock import Clock
from lily_core.ports.providers import MediaFetcher, PhotoStore
from lily_core.ports.queue import JitterQueue, Task, TaskType
from lily_core.ports.repositories import UnitOfWork

__all__ = ["CopyMedia", "CopyMediaResult", "enqueue_copy_media", "needs_copy"]


def needs_copy(message: Message) -> bool:
    """Whether the message has a photo not yet stored (nor given up on)."""
    return any(_pending(entry) for entry in message.media)


def _pending(entry: dict[str, Any]) -> bool:
    return is_photo(entry) and not entry.get("stored_key") and not entry.get("error")


def enqueue_copy_media(
    queue: JitterQueue, message: Message, now: datetime, *, request_id: str | None = None
) -> str | None:
    """Enqueue the COPY_MEDIA task of a committed inbound message that has photos to copy;
    at most one live task per message (dedupe key)."""
    if not needs_copy(message):
        return None
    return queue.enqueue(
        TaskType.COPY_MEDIA,
        tenant_id=message.tenant_id,
        payload={"message_id": message.id},
        run_at=now,
        dedupe_key=f"copy-media:{message.id}",
        request_id=request_id,
    )


@attrs.frozen
class CopyMediaResult:
    stored: int  # photos put in the store by this run
    rejected: int  # photos given up on (not found, too big, not an image): `error` recorded


class CopyMedia:
    """The COPY_MEDIA handler (payload `{"message_id"}`): fetch each photo of an inbound
    message, check it (check_photo), put it in the store under its tenant-scoped
    `photo_key`, and record `stored_key` (and the real content type) on the media entry.

    Idempotent: entries already stored, or already given up on (`error`), are skipped, and a
    re-run writes the same keys. A permanent failure of one photo records its `error` and
    goes on; a transient one is raised after the others are recorded, so the retry only
    fetches what is left. No transaction is held open while fetching."""

    def __init__(
        self,
        uow: UnitOfWork,
        fetcher: MediaFetcher,
        store: PhotoStore,
        clock: Clock,
        max_bytes: int = MAX_PHOTO_BYTES,
    ) -> None:
        self.uow, self.fetcher, self.store, self.clock = uow, fetcher, store, clock
        self.max_bytes = max_bytes

    def __call__(self, task: Task) -> CopyMediaResult:
        message_id = str(task.payload.get("message_id", ""))
        if not task.tenant_id or not message_id:
            raise PermanentDeliveryError("task has no tenant_id or message_id")
        with self.uow.for_tenant(task.tenant_id):
            tenant = self.uow.tenants.get(task.tenant_id)
            message = self.uow.messages.get(task.tenant_id, message_id)
            if tenant is None or message is None:
                raise PermanentDeliveryError(f"message {message_id} not found for this tenant")
            media = [dict(entry) for entry in message.media]

        done: dict[int, dict[str, Any]] = {}
        transient: TransientDeliveryError | None = None
        for index, entry in enumerate(media):
            if not _pending(entry):
                continue
            try:
                fetched = self.fetcher.fetch(tenant, str(entry["url"]), max_bytes=self.max_bytes)
                ctype = check_photo(
                    fetched.content_type, len(fetched.data), max_bytes=self.max_bytes
                )
                key = photo_key(tenant.id, message_id, index, ctype)
                self.store.put(key, fetched.data, ctype)
                done[index] = {**entry, "content_type": ctype, "stored_key": key}
            except TransientDeliveryError as exc:
                transient = transient or exc
            except (PermanentDeliveryError, InvalidInput) as exc:
                done[index] = {**entry, "error": str(exc)}

        if done:
            self._record(task.tenant_id, message_id, done)
        if transient is not None:
            raise transient
        stored = sum(1 for entry in done.values() if "stored_key" in entry)
        return CopyMediaResult(stored=stored, rejected=len(done) - stored)

    def _record(self, tenant_id: str, message_id: str, done: dict[int, dict[str, Any]]) -> None:
        with self.uow.for_tenant(tenant_id):
            message = self.uow.messages.get(tenant_id, message_id)
            if message is None:
                return
            media = [dict(entry) for entry in message.media]
            for index, entry in done.items():
                if index < len(media) and media[index].get("url") == entry["url"]:
                    media[index] = entry
            # A new list, not an in-place edit: a JSON column only notices reassignment.
            message.media = media
            message.updated_at = self.clock.now()
            self.uow.commit()

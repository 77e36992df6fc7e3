"""Tenants by business number and by slug, cached for the webhooks (issue 17).

Every webhook starts by finding its tenant: the tenant's secret checks the signature. From
the database that is a pool checkout, a transaction and a SELECT per request, for a row that
changes a few times a year. TenantCache keeps each answer (a tenant, or that there is none)
for LILY_TENANT_CACHE_SECONDS, at most MAX_ENTRIES of them, and forgets them all whenever a
tenant changes:

- in this process: TenantChanges watches the session factory, and a commit that wrote any
  tenant empties the caches that subscribed;
- in the others (`lily serve --workers N`, the CLI, the worker): with Redis, that commit also
  publishes on CHANNEL, and each process that caches listens on it (a daemon thread). The
  listener empties its caches again whenever it (re)subscribes, for what it may have missed
  meanwhile. Without Redis, another process's change is seen within the TTL.

cachetools' TTLCache does the expiry and the bound; a lock makes it safe across threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

import cachetools
import redis
import sqlalchemy as sa
from loguru import logger
from sqlalchemy import orm

from lily_core.domain.tenant import Tenant
from lily_core.ports.repositories import UnitOfWork

CHANNEL = "lily:tenants:changed"
MAX_ENTRIES = 10_000  # a flood of webhooks to made-up numbers caches at most this many misses
_REDIS_TIMEOUT_S = 2.0
_RETRY_S = (1.0, 30.0)  # the listener's back-off while Redis is away


class TenantChanges:
    """Says when a tenant was committed: to this process's subscribers at once and, with
    Redis, to every process's (a listener thread, started by the first subscriber). The
    publish is synchronous in the committing thread, bounded by a 2 s timeout."""

    def __init__(self, redis_url: str | None = None) -> None:
        self._subscribers: list[Callable[[], None]] = []
        self._redis = (
            redis.Redis.from_url(
                redis_url, socket_timeout=_REDIS_TIMEOUT_S, socket_connect_timeout=_REDIS_TIMEOUT_S
            )
            if redis_url
            else None
        )
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None

    def watch(self, factory: orm.sessionmaker[orm.Session]) -> None:
        """Hear of every commit of `factory`'s sessions that wrote a tenant."""
        sa.event.listen(factory, "after_flush", _note_tenant_writes)
        sa.event.listen(factory, "after_commit", self._after_commit)
        sa.event.listen(factory, "after_rollback", _forget_tenant_writes)

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._subscribers.append(callback)
        if self._redis is not None and self._listener is None:
            self._listener = threading.Thread(
                target=self._listen, name="lily-tenant-changes", daemon=True
            )
            self._listener.start()

    def changed(self) -> None:
        """A tenant changed: tell this process's subscribers, then the other processes."""
        self._tell_subscribers()
        if self._redis is not None:
            try:
                self._redis.publish(CHANNEL, "1")
            except redis.RedisError as exc:
                logger.bind(error=type(exc).__name__).warning(
                    "tenant cache: could not tell the other processes (they catch up within"
                    " LILY_TENANT_CACHE_SECONDS)"
                )

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(_REDIS_TIMEOUT_S + 1)
        if self._redis is not None:
            self._redis.close()

    def _after_commit(self, session: orm.Session) -> None:
        if session.info.pop(_WROTE_TENANTS, False):
            self.changed()

    def _tell_subscribers(self) -> None:
        for callback in self._subscribers:
            callback()

    def _listen(self) -> None:
        assert self._redis is not None
        delay = _RETRY_S[0]
        while not self._stop.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=False)
            try:
                pubsub.subscribe(CHANNEL)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:  # a change, or (re)subscribed: may have missed one
                        self._tell_subscribers()
                        delay = _RETRY_S[0]
            except redis.RedisError as exc:
                logger.bind(error=type(exc).__name__, retry_in=delay).warning(
                    "tenant cache: lost Redis, caching for LILY_TENANT_CACHE_SECONDS alone"
                )
                self._stop.wait(delay)
                delay = min(delay * 2, _RETRY_S[1])
            finally:
                with suppress(redis.RedisError):
                    pubsub.close()


_WROTE_TENANTS = "lily_wrote_tenants"


def _note_tenant_writes(session: orm.Session, _flush_context: Any) -> None:
    # after_flush still sees what the flush wrote in new/dirty/deleted
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(entity, Tenant) for entity in touched):
        session.info[_WROTE_TENANTS] = True


def _forget_tenant_writes(session: orm.Session) -> None:
    session.info.pop(_WROTE_TENANTS, None)


class TenantCache:
    """Tenants by business number and by slug, each answer kept `ttl` seconds (0: not
    cached). The tenants handed out are shared: read them, don't change them."""

    def __init__(self, uow: Callable[[], UnitOfWork], changes: TenantChanges, ttl: float) -> None:
        self._uow = uow
        self._ttl = ttl
        self._lock = threading.Lock()
        self._generation = 0  # a load that a change overtook is not kept
        self._entries: cachetools.TTLCache[tuple[str, str], Tenant | None] = cachetools.TTLCache(
            MAX_ENTRIES, ttl or 1
        )
        changes.subscribe(self.clear)

    def peek(
        self, *, phone: str | None = None, slug: str | None = None
    ) -> tuple[bool, Tenant | None]:
        """(True, the answer) if it is cached, else (False, None): no database, so callers
        on an event loop can ask before they hand `get` to a thread."""
        with self._lock:
            key = _key(phone, slug)
            return (True, self._entries[key]) if key in self._entries else (False, None)

    def get(self, *, phone: str | None = None, slug: str | None = None) -> Tenant | None:
        """The tenant with this business number (or slug), from the cache or the database."""
        key = _key(phone, slug)
        with self._lock:
            if key in self._entries:
                return self._entries[key]
            generation = self._generation
        uow = self._uow()
        with uow:
            if phone is not None:
                tenant = uow.tenants.get_by_phone(phone)
            else:
                tenant = uow.tenants.get_by_slug(key[1])
        if self._ttl:
            with self._lock:
                if generation == self._generation:
                    self._entries[key] = tenant
        return tenant

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1


def _key(phone: str | None, slug: str | None) -> tuple[str, str]:
    if phone is not None:
        return ("phone", phone)
    if slug is None:
        raise ValueError("a phone or a slug is needed")
    return ("slug", slug)


def tenant_changes(redis_url: str | None) -> Iterator[TenantChanges]:
    """The container's resource: closed (its listener stopped) at shutdown."""
    changes = TenantChanges(redis_url)
    yield changes
    changes.close()

"""Imperative mapping of the core's attrs entities onto the tables (the domain knows
nothing of storage).

Loading: SQLAlchemy builds loaded objects without calling `__init__`, so attrs defaults and
factories are not run on load -- they need not be, as every attribute is a column and comes
back from the row. Constructing an entity in code still runs attrs' `__init__` (with its
defaults), instrumented by SQLAlchemy.

JSON fields (Message.media, Quote.lines, PriceBookVersion.document): SQLAlchemy does not see
in-place changes to a JSON value, and MutableList/MutableDict would only see top-level ones
(`media.append`, not `media[0]["stored_key"] = ...`). So neither replacing nor mutating is
required of callers: each loaded or flushed object keeps a deep snapshot of its JSON values,
and `flag_json_changes` (run before every flush and by SqlUnitOfWork.commit) compares and
marks the changed ones dirty. Any change, at any depth, is saved -- as with the fake.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from lily_adapters.sql import tables as t
from lily_adapters.sql.encrypted import email_bidx, phone_bidx, phone_search_keys
from lily_core.domain.consent import ConsentRecord
from lily_core.domain.leads import Call, Conversation, Lead, Message
from lily_core.domain.owner_alerts import OwnerAlert, OwnerAlertText
from lily_core.domain.pricebook import PriceBookVersion
from lily_core.domain.records import ApiKey, Booking, ProcessedWebhook, Quote, Subscription, User
from lily_core.domain.tenant import Tenant

mapper_registry = orm.registry(metadata=t.metadata)

_MAPPINGS: tuple[tuple[type, sa.Table], ...] = (
    (Tenant, t.tenants),
    (User, t.users),
    (ApiKey, t.api_keys),
    (Lead, t.leads),
    (Conversation, t.conversations),
    (Message, t.messages),
    (Call, t.calls),
    (Quote, t.quotes),
    (Booking, t.bookings),
    (Subscription, t.subscriptions),
    (PriceBookVersion, t.pricebooks),
    (ProcessedWebhook, t.webhooks),
    (ConsentRecord, t.consent_ledger),
    (OwnerAlert, t.owner_alerts),
    (OwnerAlertText, t.owner_alert_texts),
)

# columns the domain does not know of, mapped under private names
_PRIVATE: dict[type, dict[str, Any]] = {
    Lead: {"_phone_bidx": t.leads.c.phone_bidx, "_email_bidx": t.leads.c.email_bidx},
    ConsentRecord: {"_phone_bidx": t.consent_ledger.c.phone_bidx},
}

# class -> its JSON attributes, watched for in-place changes
JSON_FIELDS: dict[type, tuple[str, ...]] = {
    Message: ("media",),
    Quote: ("lines",),
    PriceBookVersion: ("document",),
    Tenant: ("notify_to", "alert_stops"),
}
_SNAPSHOT = "lily_json_snapshot"
_lock = threading.Lock()
_started = False


def start_mappers() -> None:
    """Map every entity class onto its table. Idempotent and thread-safe; call it from the
    composition root (SqlUnitOfWork calls it too)."""
    global _started
    with _lock:
        if _started:
            return
        for cls, table in _MAPPINGS:
            mapper: orm.Mapper[Any] = mapper_registry.map_imperatively(
                cls, table, properties=_PRIVATE.get(cls)
            )
            if cls in JSON_FIELDS:
                sa.event.listen(mapper, "load", _on_load)
                sa.event.listen(mapper, "refresh", _on_refresh)
            if cls is Lead:
                sa.event.listen(mapper, "before_insert", _index_lead)
                sa.event.listen(mapper, "before_update", _index_lead)
                sa.event.listen(mapper, "after_insert", _add_phone_keys)
                sa.event.listen(mapper, "after_update", _replace_phone_keys)
            if cls is ConsentRecord:
                sa.event.listen(mapper, "before_insert", _index_consent)
                sa.event.listen(mapper, "before_update", _index_consent)
        _started = True


# Blind indexes (lily_adapters.sql.encrypted): storage for lookups of encrypted values, so
# the adapter keeps them, not the domain. Setting one to the value it has changes nothing.


def _index_lead(mapper: Any, connection: Any, target: Any) -> None:
    target._phone_bidx = phone_bidx(target.tenant_id, target.phone)
    target._email_bidx = email_bidx(target.tenant_id, target.email)


def _index_consent(mapper: Any, connection: Any, target: Any) -> None:
    target._phone_bidx = phone_bidx(target.tenant_id, target.phone)


def _add_phone_keys(mapper: Any, connection: sa.Connection, target: Any) -> None:
    """A new lead's rows of lead_phone_keys (the dashboard's search by digits): one
    statement, its keys one parameter (a JSON array the database unpacks), so its text is
    the same for every lead and compiled once -- neither a VALUES list of the rows (compiled
    again for every lead) nor an executemany (a parameter set, on PostgreSQL a message, a
    row)."""
    keys = phone_search_keys(target.tenant_id, target.phone)
    if keys:
        values = {"tenant_id": target.tenant_id, "lead_id": target.id, "keys": keys}
        connection.execute(_KEYS_FROM_JSON[connection.dialect.name], values)


def _keys_from_json(unpack: str) -> sa.Insert:
    keys = getattr(sa.func, unpack)(sa.bindparam("keys", type_=sa.JSON)).table_valued("value")
    ids = (sa.bindparam(name, type_=sa.String) for name in ("tenant_id", "lead_id"))
    rows = sa.select(*ids, keys.c.value)
    return sa.insert(t.lead_phone_keys).from_select(["tenant_id", "lead_id", "key"], rows)


# the set-returning function that reads a JSON array of strings, by dialect
_KEYS_FROM_JSON = {
    "sqlite": _keys_from_json("json_each"),
    "postgresql": _keys_from_json("json_array_elements_text"),
}


def _replace_phone_keys(mapper: Any, connection: sa.Connection, target: Any) -> None:
    """Rewritten only when the lead's number changed (most updates leave it alone)."""
    if not sa.inspect(target).attrs.phone.history.has_changes():
        return
    keys = t.lead_phone_keys
    connection.execute(sa.delete(keys).where(keys.c.lead_id == target.id))
    _add_phone_keys(mapper, connection, target)


def _on_load(target: Any, context: Any) -> None:
    _snapshot(target)


def _on_refresh(target: Any, context: Any, attrs: Any) -> None:
    _snapshot(target)


def _snapshot(obj: Any) -> None:
    state = sa.inspect(obj)
    state.info[_SNAPSHOT] = {
        name: copy.deepcopy(state.dict[name])
        for name in JSON_FIELDS[type(obj)]
        if name in state.dict
    }


def flag_json_changes(session: orm.Session) -> None:
    """Mark dirty every JSON attribute changed in place since it was loaded or last flushed,
    and snapshot the current values (which the coming flush writes)."""
    for obj in [*session.identity_map.values(), *session.new]:
        fields = JSON_FIELDS.get(type(obj))
        if not fields:
            continue
        state = sa.inspect(obj)
        before = state.info.get(_SNAPSHOT)
        if before is not None and state.persistent:
            for name in fields:
                if name in state.dict and name in before and state.dict[name] != before[name]:
                    orm.attributes.flag_modified(obj, name)
        _snapshot(obj)


def _before_flush(session: orm.Session, flush_context: Any, instances: Any) -> None:
    flag_json_changes(session)


def watch_json_changes(session: orm.Session) -> None:
    """Install the before-flush hook of `flag_json_changes` on one session."""
    sa.event.listen(session, "before_flush", _before_flush)

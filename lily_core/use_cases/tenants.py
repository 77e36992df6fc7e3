"""Onboarding a tenant and changing its settings: by slug for the CLI, for the caller's
tenant for the dashboard API (which shows whether a secret is set, never the secret)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time
from typing import Any

import phonenumbers
from phonenumbers import timezone as phone_timezones

from lily_core.domain.geo import lookup_zip, require_timezone, require_zip
from lily_core.domain.owner_alerts import ALERT_SWITCHES
from lily_core.domain.phone import normalize_business_phone, normalize_phone
from lily_core.domain.principal import Principal
from lily_core.domain.sanitize import clean_text
from lily_core.domain.tenant import (
    QuietHours,
    Tenant,
    check_missed_call_template,
    new_secret,
    require_slug,
    slugify,
)
from lily_core.errors import Conflict, InvalidInput, NotFound
from lily_core.ports.clock import Clock
from lily_core.ports.repositories import UnitOfWork

FALLBACK_TIMEZONE = "America/New_York"
MAX_NOTIFY_NUMBERS = 5


def find_tenant(uow: UnitOfWork, slug: str) -> Tenant:
    """The tenant with this slug, with `uow` scoped to it for the rest of the block;
    NotFound otherwise. Call inside `with uow:`."""
    tenant = uow.tenants.get_by_slug(slug)
    if tenant is None:
        raise NotFound(f"no tenant with slug {slug!r}")
    uow.for_tenant(tenant.id)
    return tenant


def guess_timezone(phone: str, zip_code: str | None) -> str:
    """The ZIP's timezone, else the phone number's if it has only one, else Eastern."""
    info = lookup_zip(zip_code) if zip_code else None
    if info and info.timezone:
        return info.timezone
    zones = phone_timezones.time_zones_for_number(phonenumbers.parse(phone))
    return zones[0] if len(zones) == 1 and zones[0].startswith("America/") else FALLBACK_TIMEZONE


class OnboardTenant:
    """Create a tenant from its name and business number; the slug comes from the name
    unless given, the Cal.com secret is generated unless given."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(
        self,
        *,
        name: str,
        phone: str,
        forward_to: str | None = None,
        timezone: str | None = None,
        zip_code: str | None = None,
        booking_url: str | None = None,
        slug: str | None = None,
        calcom_secret: str | None = None,
    ) -> Tenant:
        name = name.strip()
        if not name:
            raise InvalidInput("must not be empty", field="name")
        business_phone = normalize_business_phone(phone, field="phone")
        zip_code = require_zip(zip_code) if zip_code else None
        tenant = Tenant(
            name=name,
            slug=require_slug(slug) if slug else slugify(name),
            phone=business_phone,
            forward_to=_forward_to(forward_to, business_phone) if forward_to else None,
            zip=zip_code,
            booking_url=_url(booking_url, "booking_url") if booking_url else None,
            calcom_secret=calcom_secret or new_secret(),
            timezone=require_timezone(timezone)
            if timezone
            else guess_timezone(business_phone, zip_code),
            created_at=self.clock.now(),
        )
        with self.uow:
            if self.uow.tenants.get_by_slug(tenant.slug):
                raise Conflict(f"a tenant with slug {tenant.slug!r} exists; pass another --slug")
            if self.uow.tenants.get_by_phone(tenant.phone):
                raise Conflict(f"{tenant.phone} is already the number of another tenant")
            self.uow.tenants.add(tenant)
            self.uow.commit()
        return tenant


def _forward_to(raw: str, business_phone: str) -> str:
    number = normalize_business_phone(raw, field="forward_to")
    _check_no_call_loop(number, business_phone)
    return number


def _check_no_call_loop(forward_to: str | None, business_phone: str) -> None:
    if forward_to == business_phone:
        raise InvalidInput(
            "must differ from the business number (calls would ring back to Lily)",
            field="forward_to",
        )


def _url(value: str, field: str) -> str:
    value = value.strip()
    if not value.startswith(("https://", "http://")):
        raise InvalidInput(f"{value!r} is not an http(s) URL", field=field)
    return _at_most(500, value, field)


def _at_most(limit: int, value: str, field: str) -> str:
    # the width of the setting's column: longer would fail in the database, not here
    if len(value) > limit:
        raise InvalidInput(f"is longer than {limit} characters", field=field)
    return value


def _optional(convert: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
    """An empty string clears an optional setting."""
    return lambda raw, field: convert(raw, field) if raw.strip() else None


def _int_in(low: int, high: int) -> Callable[[str, str], int]:
    def convert(raw: str, field: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInput(f"{raw!r} is not a whole number", field=field) from None
        if not low <= value <= high:
            raise InvalidInput(f"must be between {low} and {high}", field=field)
        return value

    return convert


def _help_contact(raw: str, field: str) -> str:
    """A phone number (E.164 after normalising) or an email address, for the HELP answer."""
    value = raw.strip()
    if "@" in value:
        local, _, domain = value.partition("@")
        if not local or "." not in domain or any(c.isspace() for c in value):
            raise InvalidInput(f"{value!r} is not an email address", field=field)
        return _at_most(254, value, field)
    return normalize_phone(value, field=field)


def _help_message(raw: str, field: str) -> str:
    text = _at_most(160, _text(raw, field), field)
    if "{" in text or "}" in text:
        raise InvalidInput("takes no placeholders", field=field)
    return text


def _bool(raw: str, field: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise InvalidInput(f"{raw!r} is not true or false", field=field)


def _text(raw: str, field: str) -> str:
    if not raw.strip():
        raise InvalidInput("must not be empty", field=field)
    return raw.strip()


def _text_upto(limit: int) -> Callable[[str, str], str]:
    return lambda raw, field: _at_most(limit, _text(raw, field), field)


def _template(raw: str, field: str) -> str:
    text = _text(raw, field)
    if len(text) > 640:
        raise InvalidInput("is longer than 640 characters (4 SMS segments)", field=field)
    return check_missed_call_template(text, field=field)


def _numbers(raw: str, field: str) -> list[str]:
    """Phone numbers separated by commas or semicolons, each normalised to E.164; at most
    five, no repeats; empty: none."""
    numbers: list[str] = []
    for part in filter(str.strip, raw.replace(";", ",").split(",")):
        number = normalize_phone(part, field=field)
        if number not in numbers:
            numbers.append(number)
    if len(numbers) > MAX_NOTIFY_NUMBERS:
        raise InvalidInput(f"takes at most {MAX_NOTIFY_NUMBERS} numbers", field=field)
    return numbers


def _hhmm(raw: str, field: str) -> time:
    try:
        return time.fromisoformat(raw.strip()).replace(second=0, microsecond=0)
    except ValueError:
        raise InvalidInput(f"{raw!r} is not HH:MM", field=field) from None


def _email(raw: str, field: str) -> str:
    value = raw.strip()
    local, _, domain = value.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in value):
        raise InvalidInput(f"{value!r} is not an email address", field=field)
    return _at_most(254, value, field)


# setting name -> how a raw string becomes its value (raising InvalidInput naming the field)
_SETTINGS: dict[str, Callable[[str, str], Any]] = {
    "name": _text_upto(200),
    "forward_to": _optional(lambda raw, field: normalize_business_phone(raw, field=field)),
    "booking_url": _optional(_url),
    "review_url": _optional(_url),
    "timezone": lambda raw, field: require_timezone(raw.strip(), field=field),
    "zip": _optional(lambda raw, field: require_zip(raw, field=field)),
    "calcom_secret": _text_upto(128),
    "google_calendar_id": _optional(_text_upto(255)),
    "quiet_hours": lambda raw, field: QuietHours.parse(raw, field=field),
    "strict_quiet_hours": _bool,
    "missed_call_template": _template,
    "missed_call_dedupe_minutes": _int_in(0, 7 * 24 * 60),
    "conversational_window_minutes": _int_in(0, 24 * 60),
    "review_delay_hours": _int_in(0, 24 * 60),
    "review_cooldown_days": _int_in(0, 3650),
    "chatwoot_account_id": _optional(_int_in(1, 2**31 - 1)),
    "chatwoot_inbox_id": _optional(_int_in(1, 2**31 - 1)),
    "chatwoot_secret": _optional(_text_upto(128)),
    "twilio_account_sid": _optional(_text_upto(64)),
    "twilio_auth_token": _optional(_text_upto(128)),
    "automations_paused": _bool,
    "help_contact": _optional(_help_contact),
    "help_message": _optional(_help_message),
    "opt_out_notice": _bool,
    # alerts to the owner's phones and the daily digest (issue 18)
    "notify_to": _numbers,
    **dict.fromkeys(ALERT_SWITCHES, _bool),
    "alert_quiet_hours": _optional(lambda raw, field: QuietHours.parse(raw, field=field)),
    "alerts_per_hour": _int_in(1, 60),
    "digest_enabled": _bool,
    "digest_time": _hhmm,
    "digest_email": _optional(_email),
}

UPDATABLE_SETTINGS = frozenset(_SETTINGS)
# Settings that are never shown back, only whether they are set.
SECRET_SETTINGS = ("calcom_secret", "chatwoot_secret", "twilio_auth_token")


def _raw(value: object) -> str:
    """A setting's value as the command line types it: null (from JSON) clears an optional
    setting, booleans read true/false; NULs and lone surrogates are dropped (clean_text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):  # several phone numbers, from JSON
        return ",".join(clean_text(str(v)) for v in value)
    return clean_text(str(value))


def _validated(changes: Mapping[str, object]) -> dict[str, Any]:
    unknown = sorted(set(changes) - UPDATABLE_SETTINGS)
    if unknown:
        raise InvalidInput("is not a tenant setting", field=unknown[0])
    values = {name: _SETTINGS[name](_raw(raw), name) for name, raw in changes.items()}
    if ("twilio_account_sid" in values) != ("twilio_auth_token" in values):
        raise InvalidInput(
            "set the Twilio account SID and auth token together", field="twilio_auth_token"
        )
    return values


def _apply(tenant: Tenant, values: Mapping[str, Any], clock: Clock | None) -> None:
    if "forward_to" in values:
        _check_no_call_loop(values["forward_to"], tenant.phone)
    notice = values.get("opt_out_notice", tenant.opt_out_notice)
    if notice != tenant.opt_out_notice and clock is not None:
        tenant.opt_out_notice_changed_at = clock.now()  # the choice, on record
    for name, value in values.items():
        setattr(tenant, name, value)


class UpdateTenant:
    """Change some of a tenant's settings, given as raw strings (as typed on the command
    line) or JSON values (null clears an optional setting); every value is validated before
    anything is written."""

    def __init__(self, uow: UnitOfWork, clock: Clock | None = None) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, slug: str, changes: Mapping[str, object]) -> Tenant:
        values = _validated(changes)
        with self.uow:
            tenant = find_tenant(self.uow, slug)
            _apply(tenant, values, self.clock)
            self.uow.commit()
        return tenant


def tenant_settings(tenant: Tenant) -> dict[str, Any]:
    """The tenant as the dashboard shows it: id, slug, business number and every setting
    UpdateTenant takes, except that each secret is replaced by whether it is set
    (`calcom_secret_set`...)."""
    view: dict[str, Any] = {"id": tenant.id, "slug": tenant.slug, "phone": tenant.phone}
    view.update((name, getattr(tenant, name)) for name in _SETTINGS if name not in SECRET_SETTINGS)
    view["quiet_hours"] = str(tenant.quiet_hours)
    view["opt_out_notice_changed_at"] = tenant.opt_out_notice_changed_at
    quiet = tenant.alert_quiet_hours
    view["alert_quiet_hours"] = str(quiet) if quiet else None
    view["digest_time"] = f"{tenant.digest_time:%H:%M}"
    view["alert_recipients"] = tenant.alert_recipients()
    view["alert_stops"] = dict(tenant.alert_stops)
    view.update((f"{name}_set", bool(getattr(tenant, name))) for name in SECRET_SETTINGS)
    return view


def _own_tenant(uow: UnitOfWork, principal: Principal) -> Tenant:
    tenant = uow.tenants.get(principal.tenant.id)
    if tenant is None:  # deleted since the caller authenticated
        raise NotFound("no such tenant")
    return tenant


def alerts_sent_this_month(uow: UnitOfWork, tenant_id: str, now: datetime) -> int:
    """The alert SMS sent to the owner's numbers this calendar month (UTC, the allowance's
    period): counted apart, never against the plan's customer allowance."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return sum(text.sent for text in uow.owner_alerts.texts_since(tenant_id, start))


def _counted(uow: UnitOfWork, tenant: Tenant, clock: Clock | None) -> dict[str, Any]:
    view = tenant_settings(tenant)
    view["alerts_sent_this_month"] = (
        alerts_sent_this_month(uow, tenant.id, clock.now()) if clock else 0
    )
    return view


class GetTenantSettings:
    """The caller's tenant's settings (`tenant_settings`, with the alerts sent this month),
    read afresh."""

    def __init__(self, uow: UnitOfWork, clock: Clock | None = None) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, principal: Principal) -> dict[str, Any]:
        with self.uow.for_tenant(principal.tenant.id):
            return _counted(self.uow, _own_tenant(self.uow, principal), self.clock)


class UpdateTenantSettings:
    """UpdateTenant for the caller's tenant; owners only (Forbidden otherwise). Answers the
    settings as GetTenantSettings does."""

    def __init__(self, uow: UnitOfWork, clock: Clock | None = None) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, principal: Principal, changes: Mapping[str, object]) -> dict[str, Any]:
        principal.require_owner()
        values = _validated(changes)
        with self.uow.for_tenant(principal.tenant.id):
            tenant = _own_tenant(self.uow, principal)
            _apply(tenant, values, self.clock)
            self.uow.commit()
            return _counted(self.uow, tenant, self.clock)

"""Where a lead is, for the law that governs texting them (issue 16): offline, from the lead's
ZIP (zipcodes), else the phone number's area code (phonenumbers' geocoder and timezone data),
else the tenant's own location."""

from __future__ import annotations

import re
from functools import lru_cache

import attrs
import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as phone_timezone

from lily_core.domain.geo import lookup_zip
from lily_core.domain.leads import Lead
from lily_core.domain.tenant import Tenant

# phonenumbers' English geocoder names a US area code by its state ("Texas", "Washington
# State") or by a city and the state's postal code ("New York, NY").
_STATE_NAMES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Washington D.C.": "DC",
    "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL",
    "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA",
    "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
    "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
    "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
    "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington State": "WA", "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI",
    "Wyoming": "WY", "Puerto Rico": "PR",
}  # fmt: skip
_CITY_STATE = re.compile(r",\s*([A-Z]{2})$")


@attrs.frozen
class RecipientLocation:
    """A recipient's US state (None if unknown: only the federal floor applies), the IANA
    timezone their local time is read in, and what it was taken from."""

    state: str | None
    timezone: str
    source: str  # "zip", "area_code" or "tenant"


@lru_cache(maxsize=4096)
def area_code_location(phone: str) -> tuple[str | None, str | None]:
    """(state, timezone) of a NANP number's area code, offline; None for what is unknown
    (the timezone only when the area code has exactly one)."""
    try:
        number = phonenumbers.parse(phone, "US")
    except phonenumbers.NumberParseException:
        return None, None
    if number.country_code != 1 or not phonenumbers.is_valid_number(number):
        return None, None
    name = geocoder.description_for_number(number, "en")
    state = _STATE_NAMES.get(name)
    if state is None and (match := _CITY_STATE.search(name)):
        state = match.group(1)
    zones = [z for z in phone_timezone.time_zones_for_number(number) if not z.startswith("Etc/")]
    return state, zones[0] if len(zones) == 1 else None


def tenant_state(tenant: Tenant) -> str | None:
    """The tenant's own state: from its ZIP, else its business number's area code."""
    info = lookup_zip(tenant.zip) if tenant.zip else None
    if info is not None:
        return info.state
    return area_code_location(tenant.phone)[0] if tenant.phone else None


def locate_recipient(lead: Lead, tenant: Tenant) -> RecipientLocation:
    """The lead's state and timezone: its ZIP, else its phone's area code, else the tenant's
    (state from the tenant's ZIP, timezone the tenant's)."""
    info = lookup_zip(lead.zip) if lead.zip else None
    if info is not None:
        return RecipientLocation(info.state, info.timezone or tenant.timezone, "zip")
    if lead.phone:
        state, zone = area_code_location(lead.phone)
        if state is not None:
            return RecipientLocation(state, zone or tenant.timezone, "area_code")
    return RecipientLocation(tenant_state(tenant), tenant.timezone, "tenant")

"""The OpenAPI document tells the truth: schemathesis generates requests for every operation
in /openapi.json (valid and invalid bodies, parameters and headers) and checks that the app
answers only with documented status codes and content types, with bodies of the documented
shape, and never with a 5xx. Unsigned webhooks mostly meet a 403 or a 404: what is checked
is that those are documented and that nothing odd gets further than it should.

Twice: without credentials on the embedded default (SQLite), where the dashboard API's
operations that want a bearer token only answer 401, so they get a few cases each; and with
a real API key of a tenant that has data (a lead with messages, a quote, a booking, a price
book) on PostgreSQL and Redis, where those operations get to their use cases. The whole file
takes about a minute on two cores."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from lily_adapters.container import build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_http.api.auth import SESSION_COOKIE
from lily_http.app import create_app
from tests.e2e.conftest import CALLER, JITTER_MAX, Lily, after
from tests.e2e.dashboard_api import EMAIL, PASSWORD, a_booking, a_lead, a_quote, add, add_user
from tests.e2e.test_quote_flow import import_pricebook, new_sid, text

SLUG, PHONE = "acme", "+15125550100"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    """The embedded default (SQLite, SQL queue, local photo store) behind the real app, with
    a tenant that half the webhook cases name (so that they get past the tenant lookup)."""
    url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(url)
    container = build_container(
        Settings(database_url=url, data_dir=tmp_path / "data", _env_file=None)
    )
    tenant = container.onboard_tenant()(name="Acme", phone=PHONE, slug=SLUG)
    container.update_tenant()(tenant.slug, {"chatwoot_secret": "chatwoot-secret"})
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(container))
    container.shutdown_resources()


# Examples per operation and generation mode, without credentials: the operations that want
# a bearer token answer 401 whatever they get, and get their real run in the test with one.
EXAMPLES, BEARER_EXAMPLES = 25, 3


def wants_bearer(operation: schemathesis.APIOperation) -> bool:
    security = operation.definition.raw.get("security", [])
    return any("HTTPBearer" in requirement for requirement in security)


@pytest.mark.parametrize("mode", list(GenerationMode), ids=str)
def test_every_operation_answers_as_documented(
    api_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    # schemathesis's own pytest plugin (schema.parametrize) does not run under pytest 9:
    # each operation's strategy is driven here instead.
    for result in api_schema.get_all_operations():
        operation = result.ok()
        inputs = list(operation.iter_parameters()) or operation.get_request_payload_content_types()
        if mode is GenerationMode.NEGATIVE and not inputs:
            continue  # nothing to get wrong
        examples = BEARER_EXAMPLES if wants_bearer(operation) else EXAMPLES
        statuses = exercise(operation, mode, examples=examples)
        print(
            f"{mode} {operation.label}: {statuses.total()} cases, {dict(sorted(statuses.items()))}"
        )
        assert statuses.total() > 0


def exercise(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    *,
    examples: int = EXAMPLES,
    known: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Counter[int]:
    """Run the checks on `examples` cases of `operation`, half of those with path
    parameters naming `known` things (the tenant's slug by default), with `headers` added to
    each request; the statuses the app answered."""
    cases = operation.as_strategy(generation_mode=mode)
    known = {"tenant_slug": SLUG} if known is None else known
    names = {p.name for p in operation.iter_parameters() if p.location == "path"}
    if names and names <= known.keys():
        named = {name: known[name] for name in names}
        cases = st.one_of(cases, operation.as_strategy(generation_mode=mode, path_parameters=named))
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def call(case: schemathesis.Case) -> None:
        if isinstance(case.body, dict) and statuses.total() % 2:
            # every other Twilio form names the tenant's number, to get past the lookup
            case.body.update({"To": PHONE, "From": PHONE})
        response = case.call_and_validate(checks=CHECKS, headers=headers)
        statuses[response.status_code] += 1

    call()
    return statuses


# -- with an API key -----------------------------------------------------------------------

# Examples per operation and generation mode with an API key: about 20 s in all.
KEYED_EXAMPLES = 10


@pytest.fixture
def busy_tenant(lily: Lily) -> tuple[Lily, dict[str, str]]:
    """The harness's tenant with a price book, a lead who called and wrote back, a quote
    and a booking; and the ids the path parameters may name (a spare API key's for
    revokeApiKey: the key schemathesis calls with is never revoked under it)."""
    import_pricebook(lily)
    assert lily.missed_call(new_sid("CA")).status_code == 200
    lily.clock.current = after(lily.clock.now(), 60)
    text(lily, "2 story house in 75201, the driveway too")
    lily.run_worker_at(after(lily.clock.now(), JITTER_MAX))
    lead = lily.lead(CALLER)
    other = a_lead(lily.tenant, "+15125550177")
    quote, booking = a_quote(lily.tenant, lead), a_booking(lily.tenant, other, 24)
    add(lily, other, quote, booking)
    spare, _ = lily.container.create_api_key()(lily.tenant.slug, "spare")
    return lily, {
        "lead_id": lead.id,
        "quote_id": quote.id,
        "booking_id": booking.id,
        "key_id": spare.id,
    }


@pytest.mark.parametrize("backend", ["postgres_redis"], indirect=True)
@pytest.mark.parametrize("mode", list(GenerationMode), ids=str)
def test_every_operation_answers_as_documented_with_an_api_key(
    busy_tenant: tuple[Lily, dict[str, str]], mode: GenerationMode
) -> None:
    lily, known = busy_tenant
    _, token = lily.container.create_api_key()(lily.tenant.slug, "schemathesis")
    schema = schemathesis.openapi.from_asgi("/openapi.json", lily.client.app)
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not wants_bearer(operation):
            continue  # no token to give: the test without credentials runs them
        inputs = list(operation.iter_parameters()) or operation.get_request_payload_content_types()
        if mode is GenerationMode.NEGATIVE and not inputs:
            continue  # nothing to get wrong
        statuses = exercise(
            operation,
            mode,
            examples=KEYED_EXAMPLES,
            known=known,
            headers={"Authorization": f"Bearer {token}"},
        )
        print(
            f"{mode} {operation.label}: {statuses.total()} cases, {dict(sorted(statuses.items()))}"
        )
        assert statuses.total() > 0
        assert statuses[401] == 0, f"{operation.label}: the API key was refused"
        cases += statuses.total()
    print(f"{mode}: {cases} cases with an API key")


@pytest.mark.parametrize("backend", ["postgres_redis"], indirect=True)
def test_a_cookie_signed_write_without_its_csrf_token_answers_a_documented_403(
    busy_tenant: tuple[Lily, dict[str, str]],
) -> None:
    """The web dashboard's session cookie: a write that comes with it but without the
    X-CSRF-Token header (another site's form, say) is 403 on every write operation, and the
    document says so."""
    lily, known = busy_tenant
    add_user(lily)
    session = lily.client.post("/api/v1/auth/session", json={"email": EMAIL, "password": PASSWORD})
    assert session.status_code == 200, session.text
    cookie = f"{SESSION_COOKIE}={session.cookies[SESSION_COOKIE]}"
    lily.client.cookies.clear()
    schema = schemathesis.openapi.from_asgi("/openapi.json", lily.client.app)
    for result in schema.get_all_operations():
        operation = result.ok()
        if not wants_bearer(operation) or operation.method.upper() == "GET":
            continue
        statuses = exercise(
            operation, GenerationMode.POSITIVE, examples=2, known=known, headers={"Cookie": cookie}
        )
        print(f"cookie {operation.label}: {dict(sorted(statuses.items()))}")
        assert statuses[403] > 0, operation.label  # (a case may carry a cookie of its own)

"""`lily doctor`'s checks: what a deployment needs, each answered with what to do about it.

Each check returns Findings (status, what, detail); none raises. The database and queue
checks are the readiness probe's (lily_adapters.readiness), so `lily doctor` and /readyz
agree; the others make one cheap call each (Twilio: the account resource, an authenticated
GET; S3: a small object written and deleted) or only read local files."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import httpx

from lily_adapters.container import STARTUP_CHECK_SECONDS, Container
from lily_adapters.settings import Settings
from lily_core.domain.tenant import Tenant

OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"
TIMEOUT_SECONDS = 10.0


@attrs.frozen
class Finding:
    status: str  # ok, warn, FAIL, skip
    check: str
    detail: str


Check = Callable[[Container], Iterator[Finding]]


def run_checks(container: Container) -> Iterator[Finding]:
    for check in CHECKS:
        try:
            yield from check(container)
        except Exception as exc:  # a check that broke says so and the others still run
            yield Finding(FAIL, check.__name__.removeprefix("check_"), _describe(exc))


def check_database(container: Container) -> Iterator[Finding]:
    results = container.readiness().check(STARTUP_CHECK_SECONDS, log=False)
    db, queue = results["database"], results["queue"]
    settings = container.settings()
    if db.ok:
        yield Finding(OK, "database", "reachable, schema up to date")
    elif db.status == "not migrated":
        yield Finding(FAIL, "database", "reachable but not migrated: run `lily db upgrade`")
    else:
        yield Finding(
            FAIL, "database", f"unreachable ({db.detail}): check LILY_DATABASE_URL and the server"
        )
    where = "Redis (LILY_REDIS_URL)" if settings.redis_url else "the SQL queue in the database"
    if queue.ok:
        yield Finding(OK, "queue", f"{where} answers")
    elif not settings.redis_url and db.status == "not migrated":
        yield Finding(FAIL, "queue", f"{where}: its table comes with `lily db upgrade`")
    else:
        yield Finding(FAIL, "queue", f"{where}: {queue.status} ({queue.detail})")


def check_public_url(container: Container) -> Iterator[Finding]:
    url = container.settings().public_url
    host = httpx.URL(url).host
    if host in ("127.0.0.1", "localhost", "0.0.0.0", "::1") or host.endswith(".local"):
        yield Finding(
            WARN,
            "public url",
            f"LILY_PUBLIC_URL is {url}: Twilio and Cal.com cannot reach it; set it to the "
            "https address Lily is served at",
        )
    elif not url.startswith("https://"):
        yield Finding(WARN, "public url", f"{url} is not https: providers should post over TLS")
    else:
        yield Finding(OK, "public url", url)


def check_twilio(container: Container) -> Iterator[Finding]:
    settings = container.settings()
    if not settings.twilio_enabled:
        yield Finding(
            WARN,
            "twilio",
            "sandbox mode (texts stored, never sent): set LILY_TWILIO_ACCOUNT_SID and "
            "LILY_TWILIO_AUTH_TOKEN to send",
        )
    else:
        token = settings.platform_twilio_token or ""
        yield _twilio_account(settings, "twilio", settings.twilio_account_sid or "", token)
    for tenant in _tenants(container):
        if tenant.has_own_twilio:
            yield _twilio_account(
                settings,
                f"twilio {tenant.slug}",
                tenant.twilio_account_sid or "",
                tenant.twilio_auth_token or "",
            )


def _twilio_account(settings: Settings, name: str, sid: str, token: str) -> Finding:
    """GET the account resource: cheap, authenticated, changes nothing."""
    url = f"{settings.twilio_api_url.rstrip('/')}/2010-04-01/Accounts/{sid}.json"
    try:
        response = httpx.get(url, auth=(sid, token), timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return Finding(FAIL, name, f"cannot reach {settings.twilio_api_url} ({_describe(exc)})")
    if response.status_code in (401, 403):
        return Finding(FAIL, name, f"Twilio refused account {sid} and its auth token: fix them")
    if not response.is_success:
        return Finding(FAIL, name, f"Twilio answered {response.status_code} for account {sid}")
    status = str(response.json().get("status", "?"))
    if status != "active":
        return Finding(WARN, name, f"account {sid} is {status}: activate it in Twilio's console")
    return Finding(OK, name, f"account {sid} active, credentials valid")


def check_webhooks(container: Container) -> Iterator[Finding]:
    """For each tenant, the URLs to paste into Twilio (the business number's voice and
    messaging webhooks) and Cal.com, and what is missing for them to be accepted."""
    base = container.settings().public_url
    tenants = _tenants(container)
    if not tenants:
        yield Finding(WARN, "tenants", "none yet: `lily tenant create --name ... --phone ...`")
    for tenant in tenants:
        yield Finding(
            OK,
            f"webhooks {tenant.slug}",
            f"Twilio number {tenant.phone}: voice 'A call comes in' POST "
            f"{base}/webhooks/twilio/voice, messaging POST {base}/webhooks/twilio/sms "
            f"(status callbacks are set per text)",
        )
        if tenant.calcom_secret:
            yield Finding(
                OK,
                f"cal.com {tenant.slug}",
                f"webhook {base}/webhooks/calcom/{tenant.slug} for BOOKING_CREATED, "
                f"BOOKING_RESCHEDULED, BOOKING_CANCELLED with the secret `lily tenant show "
                f"{tenant.slug}` prints",
            )
        else:
            yield Finding(
                FAIL,
                f"cal.com {tenant.slug}",
                f"no Cal.com secret: `lily tenant update {tenant.slug} --calcom-secret ...`",
            )
        if not tenant.booking_url:
            yield Finding(
                WARN,
                f"booking {tenant.slug}",
                f"no booking link in quotes: `lily tenant update {tenant.slug} --booking-url`",
            )


def check_google(container: Container) -> Iterator[Finding]:
    path = container.settings().google_service_account_file
    if path is None:
        yield Finding(SKIP, "google calendar", "LILY_GOOGLE_SERVICE_ACCOUNT_FILE unset: sync off")
        return
    try:
        key = json.loads(Path(path).read_text())
    except OSError as exc:
        yield Finding(FAIL, "google calendar", f"cannot read {path}: {exc.strerror or exc}")
        return
    except ValueError:
        yield Finding(FAIL, "google calendar", f"{path} is not JSON: download the key again")
        return
    missing = [f for f in ("client_email", "private_key", "token_uri") if not key.get(f)]
    if key.get("type") != "service_account" or missing:
        yield Finding(
            FAIL,
            "google calendar",
            f"{path} is not a service-account key (missing {', '.join(missing) or 'type'})",
        )
        return
    yield Finding(
        OK,
        "google calendar",
        f"key for {key['client_email']}: share each tenant's calendar with that address",
    )


def check_s3(container: Container) -> Iterator[Finding]:
    settings = container.settings()
    if not settings.s3_bucket:
        yield Finding(SKIP, "photos", f"LILY_S3_BUCKET unset: photos under {settings.data_dir}")
        return
    import boto3  # only when a bucket is configured

    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
    key = f"lily-doctor/{uuid.uuid4().hex}"
    try:
        client.put_object(Bucket=settings.s3_bucket, Key=key, Body=b"lily doctor")
        client.delete_object(Bucket=settings.s3_bucket, Key=key)
    except Exception as exc:
        yield Finding(
            FAIL,
            "photos",
            f"cannot write to s3://{settings.s3_bucket} ({_describe(exc)}): check the bucket, "
            "LILY_S3_ENDPOINT_URL and the AWS credentials",
        )
        return
    yield Finding(OK, "photos", f"s3://{settings.s3_bucket} writable")


def check_encryption_keys(container: Container) -> Iterator[Finding]:
    """PostgreSQL needs both keys from the environment (serve and worker refuse to start
    without them); the embedded default generates its own into LILY_DATA_DIR."""
    settings = container.settings()
    if missing := settings.missing_keys():
        yield Finding(FAIL, "encryption keys", missing)
    elif settings.encryption_keys is not None and settings.blind_index_key is not None:
        yield Finding(OK, "encryption keys", "LILY_ENCRYPTION_KEYS and LILY_BLIND_INDEX_KEY set")
    else:
        yield Finding(
            WARN,
            "encryption keys",
            f"generated into {settings.data_dir}: back them up apart from the database, and"
            " set LILY_ENCRYPTION_KEYS and LILY_BLIND_INDEX_KEY (`lily keys new`) when"
            " several machines serve Lily",
        )


def _tenants(container: Container) -> list[Tenant]:
    try:
        with container.uow().across_tenants() as uow:
            return list(uow.tenants.list())
    except Exception:
        return []  # the database check says why


def _describe(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


CHECKS: tuple[Check, ...] = (
    check_database,
    check_public_url,
    check_twilio,
    check_webhooks,
    check_google,
    check_s3,
    check_encryption_keys,
)

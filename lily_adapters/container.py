"""The composition root: the one place that reads settings and builds adapters.

Nothing here runs at import time; entry points call `build_container()` and ask it for
what they need. Optional integrations without settings are disabled with one log line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta

import sqlalchemy as sa
from dependency_injector import containers, providers
from loguru import logger
from sqlalchemy.orm import Session, sessionmaker

from lily_adapters.auth import (
    Argon2PasswordHasher,
    FallbackSignInThrottle,
    JwtTokenSigner,
    RedisSignInThrottle,
    SqlSignInThrottle,
)
from lily_adapters.chatwoot import HttpChatwootClient
from lily_adapters.clock import SystemClock
from lily_adapters.crypto import FieldCrypto
from lily_adapters.google_calendar import GoogleCalendar
from lily_adapters.photos import LocalPhotoStore, S3PhotoStore
from lily_adapters.provider_policy import ProviderPolicy
from lily_adapters.queue.redis import RedisJitterQueue
from lily_adapters.queue.spill import SpillingJitterQueue
from lily_adapters.queue.sql import SqlJitterQueue
from lily_adapters.readiness import NotReady, ReadinessProbe, database_check, queue_check
from lily_adapters.settings import Settings
from lily_adapters.smtp import SmtpEmailSender
from lily_adapters.sql import migrate
from lily_adapters.sql.encrypted import field_crypto_for, install_field_crypto
from lily_adapters.sql.stats import SqlStatsRepository
from lily_adapters.sql.uow import SqlUnitOfWork, bypasses_row_security, create_engine_for
from lily_adapters.stripe import StripePaymentGateway
from lily_adapters.tenant_cache import TenantCache, TenantChanges, tenant_changes
from lily_adapters.twilio.media import TwilioMediaFetcher
from lily_adapters.twilio.sms import SandboxSmsSender, TwilioSmsSender
from lily_core.domain.billing import BillingPolicy, Plan
from lily_core.domain.compliance import Jitter
from lily_core.ports.auth import SignInThrottle
from lily_core.ports.clock import Clock
from lily_core.ports.email import EmailSender
from lily_core.ports.providers import (
    Calendar,
    ChatwootClient,
    PaymentGateway,
    PhotoStore,
    SmsSender,
)
from lily_core.ports.queue import JitterQueue
from lily_core.use_cases.access import (
    AddUser,
    AuthenticateApiKey,
    CreateApiKey,
    ListApiKeys,
    RevokeApiKey,
)
from lily_core.use_cases.billing import GetBilling, OpenPortal, StartCheckout
from lily_core.use_cases.billing_events import HandleBillingEvent, SyncSubscription
from lily_core.use_cases.billing_gate import BillingGate
from lily_core.use_cases.bookings import HandleBookingWebhook
from lily_core.use_cases.calendar_sync import SyncCalendar
from lily_core.use_cases.chatwoot_inbound import HandleChatwootMessage
from lily_core.use_cases.consent_export import ExportConsentLedger
from lily_core.use_cases.conversation import AdvanceConversation
from lily_core.use_cases.copy_media import CopyMedia
from lily_core.use_cases.dashboard_bookings import GetBooking, ListBookings
from lily_core.use_cases.dashboard_leads import GetLead, ListLeads, MarkLeadRead, UpdateLead
from lily_core.use_cases.dashboard_messages import (
    ListLeadMessages,
    SendManualReply,
    ShowLeadThread,
)
from lily_core.use_cases.dashboard_quotes import GetQuote, ListQuotes
from lily_core.use_cases.delivery_status import RecordDeliveryStatus
from lily_core.use_cases.digest import SendDailyDigests
from lily_core.use_cases.inbound import HandleInboundSms
from lily_core.use_cases.missed_call import HandleVoiceCall
from lily_core.use_cases.outbox import ReconcileOutbox
from lily_core.use_cases.owner_alerts import ReconcileOwnerAlerts, SendOwnerAlerts
from lily_core.use_cases.pricebooks import (
    GetPriceBook,
    ImportPriceBook,
    ListPriceBookVersions,
    PreviewQuote,
    ReplacePriceBook,
    SetService,
)
from lily_core.use_cases.release_held import ReleaseHeldMessages
from lily_core.use_cases.send_message import SendMessage
from lily_core.use_cases.sign_in import AuthenticateUserToken, SignIn
from lily_core.use_cases.stats import GetStats
from lily_core.use_cases.tenants import (
    GetTenantSettings,
    OnboardTenant,
    UpdateTenant,
    UpdateTenantSettings,
)
from lily_core.use_cases.uploads import CreateUpload


def _engine(settings: Settings, field_crypto: FieldCrypto) -> Iterator[sa.Engine]:
    # Encrypted columns read the process's keys (lily_adapters.sql.encrypted): installed
    # before anything can read or write a row.
    install_field_crypto(field_crypto)
    engine = create_engine_for(settings.database_url, pool_size=settings.database_pool_size)
    yield engine
    engine.dispose()


def _session_factory(engine: sa.Engine, changes: TenantChanges) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    changes.watch(factory)
    return factory


def _queue(settings: Settings, engine: sa.Engine, clock: Clock) -> Iterator[JitterQueue]:
    """Redis when LILY_REDIS_URL is set, else the SQL queue in Lily's own database. Redis
    spills into the SQL queue what it cannot take while it is down (SpillingJitterQueue)."""
    sql = SqlJitterQueue(engine, clock=clock)
    if settings.redis_url:
        redis_queue = RedisJitterQueue.from_url(settings.redis_url, clock=clock)
        yield SpillingJitterQueue(redis_queue, spill=sql)
        redis_queue.close()
    else:
        yield sql


def _provider_policy(settings: Settings) -> ProviderPolicy:
    """The provider policy (issue 13), one per process for every provider's adapter: a
    breaker per provider and credential, bounded retries, each sending number's rate."""
    return ProviderPolicy(
        redis_url=settings.redis_url, sends_per_second=settings.sms_rate_per_number
    )


def _sms_sender(settings: Settings, policy: ProviderPolicy) -> SmsSender:
    if settings.twilio_enabled:
        return TwilioSmsSender(
            settings.twilio_account_sid,
            settings.platform_twilio_token,
            settings.twilio_api_url,
            policy=policy,
        )
    return SandboxSmsSender()


def _local_signing_key(settings: Settings) -> str:
    """LILY_SECRET_KEY, else a random key kept in LILY_DATA_DIR/secret_key (made once)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = settings.data_dir / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(os.urandom(32).hex())
    return path.read_text().strip()


def _signin_throttle(
    settings: Settings, engine: sa.Engine, clock: Clock
) -> Iterator[SignInThrottle]:
    """Redis when LILY_REDIS_URL is set (the database while Redis is down), else the
    database."""
    sql = SqlSignInThrottle(engine, clock)
    if settings.redis_url:
        redis_throttle = RedisSignInThrottle.from_url(settings.redis_url, clock)
        yield FallbackSignInThrottle(redis_throttle, fallback=sql)
        redis_throttle.close()
    else:
        yield sql


def _photo_store(settings: Settings, clock: Clock) -> PhotoStore:
    if settings.s3_bucket:
        return S3PhotoStore(settings.s3_bucket, settings.s3_endpoint_url)
    return LocalPhotoStore(
        settings.data_dir / "photos",
        _local_signing_key(settings),
        settings.public_url,
        clock=clock,
    )


def _chatwoot_client(settings: Settings, policy: ProviderPolicy) -> Iterator[ChatwootClient | None]:
    if not (settings.chatwoot_url and settings.chatwoot_api_token):
        yield None
        return
    client = HttpChatwootClient(
        settings.chatwoot_url, settings.chatwoot_api_token.get_secret_value(), policy=policy
    )
    yield client
    client.close()


def _media_fetcher(settings: Settings, policy: ProviderPolicy) -> Iterator[TwilioMediaFetcher]:
    fetcher = TwilioMediaFetcher(
        settings.twilio_account_sid,
        settings.platform_twilio_token,
        api_url=settings.twilio_api_url,
        policy=policy,
    )
    yield fetcher
    fetcher.close()


def _calendar(settings: Settings, policy: ProviderPolicy) -> Iterator[Calendar | None]:
    """Google Calendar when LILY_GOOGLE_SERVICE_ACCOUNT_FILE is set, else None (sync off)."""
    if settings.google_service_account_file is None:
        yield None
        return
    calendar = GoogleCalendar(
        str(settings.google_service_account_file),
        settings.google_calendar_api_url,
        policy=policy,
    )
    yield calendar
    calendar.close()


def _billing_policy(settings: Settings) -> BillingPolicy | None:
    """The billing rules, or None when billing is off (no LILY_STRIPE_SECRET_KEY)."""
    if not settings.billing_enabled:
        return None
    return BillingPolicy(
        trial=timedelta(days=settings.trial_days),
        grace=timedelta(days=settings.billing_grace_days),
        starter_sms=settings.plan_starter_sms,
        pro_sms=settings.plan_pro_sms,
    )


def _stripe_prices(settings: Settings) -> dict[str, Plan]:
    """Stripe price id -> plan, to read the plan off a subscription."""
    prices = {Plan.STARTER: settings.stripe_price_starter, Plan.PRO: settings.stripe_price_pro}
    return {price: plan for plan, price in prices.items() if price}


def _payment_gateway(settings: Settings, policy: ProviderPolicy) -> Iterator[PaymentGateway | None]:
    if settings.stripe_secret_key is None:
        yield None
        return
    gateway = StripePaymentGateway(
        settings.stripe_secret_key.get_secret_value(),
        api_url=settings.stripe_api_url,
        prices={Plan.STARTER: settings.stripe_price_starter, Plan.PRO: settings.stripe_price_pro},
        policy=policy,
    )
    yield gateway
    gateway.close()


def _schema_at_head(engine: sa.Engine) -> None:
    """Readiness: the schema is the one this Lily needs (else "not migrated")."""
    if not migrate.is_at_head(engine):
        raise NotReady("not migrated", "the schema is behind: run `lily db upgrade`")


# At start-up, long enough for the drivers' own timeouts (connect: 2-3 s) to say what is wrong.
STARTUP_CHECK_SECONDS = 5.0
# A readiness answer must beat Kubernetes' default 1 s probe timeout, so the orchestrator
# hears "not ready" from Lily rather than its own timeout; a healthy check takes milliseconds.
READINESS_TIMEOUT_SECONDS = 0.8


def _email_sender(settings: Settings) -> EmailSender | None:
    """SMTP when LILY_SMTP_URL is set; else the digest goes by SMS only."""
    if settings.smtp_url is None:
        return None
    return SmtpEmailSender(settings.smtp_url.get_secret_value())


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    # infrastructure
    clock = providers.Singleton(SystemClock)
    # LILY_ENCRYPTION_KEYS and LILY_BLIND_INDEX_KEY, else generated into LILY_DATA_DIR (`lily
    # serve` and `lily worker` refuse that on PostgreSQL: Settings.missing_keys)
    field_crypto = providers.Singleton(field_crypto_for, settings)
    engine = providers.Resource(_engine, settings, field_crypto)
    # says when a tenant is committed (to every process, with Redis): the tenant cache
    tenant_changes = providers.Resource(tenant_changes, settings.provided.redis_url)
    session_factory = providers.Singleton(_session_factory, engine, tenant_changes)
    uow = providers.Factory(SqlUnitOfWork, session_factory=session_factory)
    queue = providers.Resource(_queue, settings, engine, clock)
    tenant_cache = providers.Singleton(
        TenantCache, uow.provider, tenant_changes, settings.provided.tenant_cache_seconds
    )
    jitter = providers.Singleton(
        Jitter, settings.provided.jitter_min_seconds, settings.provided.jitter_max_seconds
    )
    schema_check: providers.Object[Callable[[sa.Engine], None] | None] = providers.Object(
        _schema_at_head
    )
    readiness = providers.Singleton(
        ReadinessProbe,
        checks=providers.Dict(
            database=providers.Callable(database_check, engine, schema_check),
            queue=providers.Callable(queue_check, queue),
        ),
        timeout=READINESS_TIMEOUT_SECONDS,
    )

    # providers' adapters
    provider_policy = providers.Singleton(_provider_policy, settings)
    sms_sender = providers.Singleton(_sms_sender, settings, provider_policy)
    media_fetcher = providers.Resource(_media_fetcher, settings, provider_policy)
    photo_store = providers.Singleton(_photo_store, settings, clock)
    chatwoot_client = providers.Resource(_chatwoot_client, settings, provider_policy)
    calendar = providers.Resource(_calendar, settings, provider_policy)
    status_callback_url = providers.Callable(
        lambda s: f"{s.public_url}/webhooks/twilio/sms/status", settings
    )
    payment_gateway = providers.Resource(_payment_gateway, settings, provider_policy)
    billing_policy = providers.Singleton(_billing_policy, settings)
    stripe_prices = providers.Singleton(_stripe_prices, settings)

    # sign-in: password hashes, user tokens, the failed sign-in throttle
    password_hasher = providers.Singleton(Argon2PasswordHasher)
    token_signer = providers.Singleton(
        JwtTokenSigner, providers.Callable(_local_signing_key, settings)
    )
    signin_throttle = providers.Resource(_signin_throttle, settings, engine, clock)

    # use cases: operators
    onboard_tenant = providers.Factory(OnboardTenant, uow=uow, clock=clock)
    update_tenant = providers.Factory(UpdateTenant, uow=uow, clock=clock)
    import_pricebook = providers.Factory(ImportPriceBook, uow=uow, clock=clock)
    set_service = providers.Factory(SetService, uow=uow, clock=clock)
    preview_quote = providers.Factory(PreviewQuote, uow=uow)
    add_user = providers.Factory(AddUser, uow=uow, clock=clock, hasher=password_hasher)
    create_api_key = providers.Factory(CreateApiKey, uow=uow, clock=clock)

    # use cases: the dashboard API
    authenticate_api_key = providers.Factory(AuthenticateApiKey, uow=uow)
    list_leads = providers.Factory(ListLeads, uow)
    get_lead = providers.Factory(GetLead, uow)
    update_lead = providers.Factory(UpdateLead, uow)
    mark_lead_read = providers.Factory(MarkLeadRead, uow, clock)
    list_lead_messages = providers.Factory(ListLeadMessages, uow, photo_store)
    send_manual_reply = providers.Factory(SendManualReply, uow, queue, clock)
    show_lead_thread = providers.Factory(ShowLeadThread, uow, photo_store)
    sign_in = providers.Factory(
        SignIn,
        uow,
        clock,
        password_hasher,
        token_signer,
        signin_throttle,
        lifetime=providers.Callable(lambda s: timedelta(minutes=s.user_token_minutes), settings),
    )
    authenticate_user_token = providers.Factory(AuthenticateUserToken, uow, clock, token_signer)
    list_api_keys = providers.Factory(ListApiKeys, uow=uow)
    revoke_api_key = providers.Factory(RevokeApiKey, uow=uow, clock=clock)

    # use cases: the dashboard API -- quotes, bookings, price book, tenant, uploads, stats
    list_quotes = providers.Factory(ListQuotes, uow)
    get_quote = providers.Factory(GetQuote, uow)
    list_bookings = providers.Factory(ListBookings, uow)
    get_booking = providers.Factory(GetBooking, uow)
    get_pricebook = providers.Factory(GetPriceBook, uow)
    replace_pricebook = providers.Factory(ReplacePriceBook, uow, clock)
    list_pricebook_versions = providers.Factory(ListPriceBookVersions, uow)
    get_tenant_settings = providers.Factory(GetTenantSettings, uow, clock)
    update_tenant_settings = providers.Factory(UpdateTenantSettings, uow, clock)
    create_upload = providers.Factory(CreateUpload, uow, photo_store, clock)
    stats_repository = providers.Singleton(SqlStatsRepository, engine)
    get_stats = providers.Factory(GetStats, stats_repository, clock)

    # use cases: alerts to the owner's phones (issue 18), links into the web dashboard
    send_owner_alerts = providers.Factory(
        SendOwnerAlerts,
        uow,
        queue,
        clock,
        sms_sender,
        providers.Callable(lambda s: s.public_url, settings),
        billing=providers.Factory(BillingGate, billing_policy),
    )
    reconcile_owner_alerts = providers.Factory(ReconcileOwnerAlerts, uow, queue, clock)
    email_sender = providers.Singleton(_email_sender, settings)
    send_daily_digests = providers.Factory(
        SendDailyDigests,
        uow,
        get_stats,
        clock,
        sms_sender,
        providers.Callable(lambda s: s.public_url, settings),
        email_sender,
        billing=providers.Factory(BillingGate, billing_policy),
    )

    # use cases: billing (DESIGN §2.4)
    release_held = providers.Factory(ReleaseHeldMessages, uow, queue, clock, billing_policy)
    billing_dashboard_url = providers.Callable(lambda s: f"{s.public_url}/billing/", settings)
    get_billing = providers.Factory(GetBilling, uow, clock, billing_policy)
    start_checkout = providers.Factory(
        StartCheckout, uow, clock, payment_gateway, billing_dashboard_url
    )
    open_portal = providers.Factory(OpenPortal, uow, clock, payment_gateway, billing_dashboard_url)
    handle_billing_event = providers.Factory(
        HandleBillingEvent, uow, clock, payment_gateway, release=release_held
    )
    sync_subscription = providers.Factory(
        SyncSubscription, uow, clock, payment_gateway, release=release_held
    )
    export_consent_ledger = providers.Factory(ExportConsentLedger, uow)

    # use cases: webhooks
    handle_voice_call = providers.Factory(HandleVoiceCall, uow, queue, clock, jitter)
    handle_inbound_sms = providers.Factory(HandleInboundSms, uow, queue, clock)
    record_delivery_status = providers.Factory(RecordDeliveryStatus, uow, clock)
    advance_conversation = providers.Factory(AdvanceConversation, uow, queue, clock, jitter)
    handle_chatwoot_message = providers.Factory(HandleChatwootMessage, uow, queue, clock)
    handle_booking_webhook = providers.Factory(HandleBookingWebhook, uow, queue, clock)

    # use cases: worker tasks
    send_message = providers.Factory(
        SendMessage,
        uow,
        queue,
        clock,
        sms_sender,
        status_callback_url=status_callback_url,
        jitter=jitter,
        max_attempts=settings.provided.task_max_attempts,
        chatwoot=chatwoot_client,
        billing=providers.Factory(BillingGate, billing_policy),
    )
    copy_media = providers.Factory(CopyMedia, uow, media_fetcher, photo_store, clock)
    sync_calendar = providers.Factory(
        SyncCalendar, uow, calendar, clock, settings.provided.public_url
    )
    reconcile_outbox = providers.Factory(
        ReconcileOutbox,
        uow,
        queue,
        clock,
        grace=timedelta(minutes=2),
        calendar_sync=providers.Callable(
            lambda s: s.google_service_account_file is not None, settings
        ),
    )


def build_container(settings: Settings | None = None) -> Container:
    """A container for these settings (read from the environment if not given)."""
    container = Container(settings=settings or Settings())
    return container


def log_disabled_integrations(settings: Settings) -> None:
    """One line per optional integration that is off for want of settings."""
    if not settings.twilio_enabled:
        logger.info(
            "twilio: no LILY_TWILIO_ACCOUNT_SID/AUTH_TOKEN, sandbox mode: SMS are stored, not sent"
        )
    if settings.stripe_secret_key is None:
        logger.info("stripe: no LILY_STRIPE_SECRET_KEY, billing disabled")
    else:
        if settings.stripe_webhook_secret is None:
            logger.warning("stripe: no LILY_STRIPE_WEBHOOK_SECRET, Stripe's webhooks are refused")
        if not (settings.stripe_price_starter and settings.stripe_price_pro):
            logger.warning("stripe: a plan has no LILY_STRIPE_PRICE_*: it cannot be bought")
    if settings.google_service_account_file is None:
        logger.info("google calendar: no LILY_GOOGLE_SERVICE_ACCOUNT_FILE, calendar sync disabled")
    if settings.s3_bucket is None:
        logger.info(f"photos: no LILY_S3_BUCKET, storing photos under {settings.data_dir}")
    if not (settings.chatwoot_url and settings.chatwoot_api_token):
        logger.info("chatwoot: no LILY_CHATWOOT_URL/API_TOKEN, Chatwoot replies disabled")


def report_dependencies(container: Container) -> None:
    """At start-up, one line for each of the database and the queue: reachable, or what is
    wrong. The caller starts either way, so that /healthz and /readyz can tell the
    orchestrator (and the worker backs off until the queue answers)."""
    settings = container.settings()
    where = {
        "database": _redacted(settings.database_url),
        "queue": _redacted(settings.redis_url) if settings.redis_url else "the database",
    }
    for name, result in container.readiness().check(STARTUP_CHECK_SECONDS, log=False).items():
        if result.ok:
            logger.info("{}: reachable at {}", name, where[name])
            if name == "database" and bypasses_row_security(container.engine()):
                logger.warning(
                    "database: connected as a superuser or BYPASSRLS role, which row-level "
                    "security does not hold back; run Lily as an ordinary role (README)"
                )
        else:
            logger.bind(check=name, status=result.status).warning(
                "{}: {} at {} ({}); starting anyway, /readyz answers 503 meanwhile",
                name,
                result.status,
                where[name],
                result.detail,
            )


def _redacted(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "an unparsable URL"

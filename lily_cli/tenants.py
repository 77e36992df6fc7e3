from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from lily_cli.billing import billing_dict, billing_lines
from lily_cli.common import JsonFlag, SlugArgument, container, new_app, print_json

if TYPE_CHECKING:
    from lily_core.domain.tenant import Tenant
    from lily_core.use_cases.billing import BillingView

tenant_app = new_app("Create, list, show and change tenants (businesses).")


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    """A tenant's settings for display; the Twilio auth token is masked."""
    # here, not at the top: it loads the core's ports, which `lily --help` does not need
    from lily_core.domain.owner_alerts import ALERT_SWITCHES

    return {
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "phone": tenant.phone,
        "forward_to": tenant.forward_to,
        "timezone": tenant.timezone,
        "zip": tenant.zip,
        "booking_url": tenant.booking_url,
        "review_url": tenant.review_url,
        "quiet_hours": str(tenant.quiet_hours),
        "strict_quiet_hours": tenant.strict_quiet_hours,
        "missed_call_template": tenant.missed_call_template,
        "missed_call_dedupe_minutes": tenant.missed_call_dedupe_minutes,
        "conversational_window_minutes": tenant.conversational_window_minutes,
        "review_delay_hours": tenant.review_delay_hours,
        "review_cooldown_days": tenant.review_cooldown_days,
        "calcom_secret": tenant.calcom_secret,
        "sandbox_auth_token": tenant.sandbox_auth_token,
        "google_calendar_id": tenant.google_calendar_id,
        "twilio_account_sid": tenant.twilio_account_sid,
        "twilio_auth_token": "********" if tenant.twilio_auth_token else None,
        "chatwoot_account_id": tenant.chatwoot_account_id,
        "chatwoot_inbox_id": tenant.chatwoot_inbox_id,
        "chatwoot_secret": tenant.chatwoot_secret,
        "automations_paused": tenant.automations_paused,
        "help_contact": tenant.help_contact,
        "help_message": tenant.help_message,
        "opt_out_notice": tenant.opt_out_notice,
        "opt_out_notice_changed_at": (
            tenant.opt_out_notice_changed_at.isoformat()
            if tenant.opt_out_notice_changed_at
            else None
        ),
        "notify_to": ",".join(tenant.notify_to) or None,
        **{switch: getattr(tenant, switch) for switch in ALERT_SWITCHES},
        "alert_quiet_hours": str(tenant.alert_quiet_hours) if tenant.alert_quiet_hours else None,
        "alerts_per_hour": tenant.alerts_per_hour,
        "alert_recipients": ",".join(tenant.alert_recipients()) or None,
        "alert_stops": dict(tenant.alert_stops) or None,
        "digest_enabled": tenant.digest_enabled,
        "digest_time": f"{tenant.digest_time:%H:%M}",
        "digest_email": tenant.digest_email,
        "created_at": tenant.created_at.isoformat(),
    }


def _print_tenant(
    tenant: Tenant,
    as_json: bool,
    billing: BillingView | None = None,
    alerts_sent: int | None = None,
) -> None:
    view = tenant_view(tenant)
    if alerts_sent is not None:  # counted apart from the plan's allowance
        view["alerts_sent_this_month"] = alerts_sent
    if billing is not None:
        view.update({"billing": billing_dict(billing)} if as_json else billing_lines(billing))
    if as_json:
        print_json(view)
        return
    width = max(map(len, view))
    for key, value in view.items():
        typer.echo(f"{key:<{width}}  {'' if value is None else value}")


@tenant_app.command("create")
def create(
    name: Annotated[
        str, typer.Option(metavar="NAME", help="Business name; the slug is derived from it.")
    ],
    phone: Annotated[
        str, typer.Option(metavar="E164", help="Business number (+1, E.164) that customers call.")
    ],
    forward_to: Annotated[
        str | None, typer.Option(metavar="E164", help="Number calls ring first.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(metavar="TZ", help="IANA timezone (default: from ZIP/phone).")
    ] = None,
    zip_code: Annotated[
        str | None, typer.Option("--zip", metavar="ZIP", help="Base ZIP code.")
    ] = None,
    booking_url: Annotated[
        str | None, typer.Option(metavar="URL", help="Cal.com booking page URL.")
    ] = None,
    slug: Annotated[
        str | None, typer.Option(metavar="SLUG", help="Slug (default: derived from the name).")
    ] = None,
    calcom_secret: Annotated[
        str | None,
        typer.Option(metavar="SECRET", help="Cal.com webhook secret (default: generated)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Onboard a business."""
    tenant = container().onboard_tenant()(
        name=name,
        phone=phone,
        forward_to=forward_to,
        timezone=timezone,
        zip_code=zip_code,
        booking_url=booking_url,
        slug=slug,
        calcom_secret=calcom_secret,
    )
    _print_tenant(tenant, as_json)


@tenant_app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List tenants."""
    uow = container().uow()
    with uow:
        tenants = uow.tenants.list()
    if as_json:
        print_json(
            [{"id": t.id, "slug": t.slug, "name": t.name, "phone": t.phone} for t in tenants]
        )
        return
    for t in tenants:
        typer.echo(f"{t.slug:<30} {t.phone:<16} {t.name}")


@tenant_app.command("show")
def show(slug: SlugArgument, as_json: JsonFlag = False) -> None:
    """Show a tenant's settings, including its Cal.com secret and sandbox Twilio token, and
    its billing: plan, status, this month's usage and any hold."""
    from lily_core.use_cases.billing import billing_view
    from lily_core.use_cases.tenants import alerts_sent_this_month, find_tenant

    lily = container()
    uow = lily.uow()
    with uow:
        tenant = find_tenant(uow, slug)
        now = lily.clock().now()
        billing = billing_view(uow, tenant, now, lily.billing_policy())
        alerts_sent = alerts_sent_this_month(uow, tenant.id, now)
    _print_tenant(tenant, as_json, billing, alerts_sent)


@tenant_app.command("update")
def update(
    slug: SlugArgument,
    name: Annotated[str | None, typer.Option(metavar="NAME", help="Business name.")] = None,
    forward_to: Annotated[
        str | None, typer.Option(metavar="E164", help="Number calls ring first; '' clears it.")
    ] = None,
    booking_url: Annotated[
        str | None, typer.Option(metavar="URL", help="Cal.com booking page URL.")
    ] = None,
    review_url: Annotated[
        str | None, typer.Option(metavar="URL", help="Where review requests point.")
    ] = None,
    timezone: Annotated[str | None, typer.Option(metavar="TZ", help="IANA timezone.")] = None,
    zip_code: Annotated[
        str | None, typer.Option("--zip", metavar="ZIP", help="Base ZIP code.")
    ] = None,
    calcom_secret: Annotated[
        str | None, typer.Option(metavar="SECRET", help="Cal.com webhook secret.")
    ] = None,
    google_calendar_id: Annotated[
        str | None, typer.Option(metavar="ID", help="Google Calendar to book into.")
    ] = None,
    quiet_hours: Annotated[
        str | None, typer.Option(metavar="HH:MM-HH:MM", help="Local time without business texts.")
    ] = None,
    strict_quiet_hours: Annotated[
        bool | None, typer.Option("--strict-quiet-hours/--no-strict-quiet-hours")
    ] = None,
    missed_call_template: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="The missed-call text; {business} is filled in."),
    ] = None,
    missed_call_dedupe_minutes: Annotated[int | None, typer.Option(metavar="MINUTES")] = None,
    conversational_window_minutes: Annotated[int | None, typer.Option(metavar="MINUTES")] = None,
    review_delay_hours: Annotated[int | None, typer.Option(metavar="HOURS")] = None,
    review_cooldown_days: Annotated[int | None, typer.Option(metavar="DAYS")] = None,
    chatwoot_account_id: Annotated[
        str | None, typer.Option(metavar="ID", help="Chatwoot account id.")
    ] = None,
    chatwoot_inbox_id: Annotated[
        str | None, typer.Option(metavar="ID", help="Chatwoot inbox id.")
    ] = None,
    chatwoot_secret: Annotated[
        str | None, typer.Option(metavar="SECRET", help="Chatwoot webhook secret.")
    ] = None,
    twilio_account_sid: Annotated[
        str | None, typer.Option(metavar="SID", help="The tenant's own Twilio subaccount.")
    ] = None,
    twilio_auth_token: Annotated[
        str | None, typer.Option(metavar="TOKEN", help="That subaccount's auth token.")
    ] = None,
    paused: Annotated[
        bool | None, typer.Option("--pause/--resume", help="Hold automated messages.")
    ] = None,
    help_contact: Annotated[
        str | None,
        typer.Option(metavar="E164|EMAIL", help="HELP's contact; '' means the business number."),
    ] = None,
    help_message: Annotated[
        str | None, typer.Option(metavar="TEXT", help="A sentence of your own in HELP.")
    ] = None,
    opt_out_notice: Annotated[
        bool | None,
        typer.Option(
            "--opt-out-notice/--no-opt-out-notice",
            help="Whether the first text-back says 'Reply STOP to opt out.'",
        ),
    ] = None,
    notify_to: Annotated[
        str | None,
        typer.Option(metavar="E164,...", help="Owner's alert numbers; '' means forward-to."),
    ] = None,
    alert_new_lead: Annotated[
        bool | None, typer.Option("--alert-new-lead/--no-alert-new-lead", help="Missed calls.")
    ] = None,
    alert_quote: Annotated[
        bool | None, typer.Option("--alert-quote/--no-alert-quote", help="Quotes sent.")
    ] = None,
    alert_booking: Annotated[
        bool | None,
        typer.Option("--alert-booking/--no-alert-booking", help="Bookings made, moved, cancelled."),
    ] = None,
    alert_needs_reply: Annotated[
        bool | None,
        typer.Option("--alert-needs-reply/--no-alert-needs-reply", help="Replies Lily can't take."),
    ] = None,
    alert_opt_out: Annotated[
        bool | None, typer.Option("--alert-opt-out/--no-alert-opt-out", help="Customers' STOPs.")
    ] = None,
    alert_quiet_hours: Annotated[
        str | None,
        typer.Option(metavar="HH:MM-HH:MM", help="The owner's quiet hours for alerts; '' none."),
    ] = None,
    alerts_per_hour: Annotated[
        int | None, typer.Option(metavar="N", help="At most N alert texts an hour (1-60).")
    ] = None,
    digest: Annotated[
        bool | None, typer.Option("--digest/--no-digest", help="The daily digest to the owner.")
    ] = None,
    digest_time: Annotated[
        str | None, typer.Option(metavar="HH:MM", help="When the daily digest goes (local).")
    ] = None,
    digest_email: Annotated[
        str | None, typer.Option(metavar="EMAIL", help="Also email the digest here; '' clears.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a tenant's settings; every value is checked before anything is written."""
    given = {
        "name": name,
        "forward_to": forward_to,
        "booking_url": booking_url,
        "review_url": review_url,
        "timezone": timezone,
        "zip": zip_code,
        "calcom_secret": calcom_secret,
        "google_calendar_id": google_calendar_id,
        "quiet_hours": quiet_hours,
        "strict_quiet_hours": strict_quiet_hours,
        "missed_call_template": missed_call_template,
        "missed_call_dedupe_minutes": missed_call_dedupe_minutes,
        "conversational_window_minutes": conversational_window_minutes,
        "review_delay_hours": review_delay_hours,
        "review_cooldown_days": review_cooldown_days,
        "chatwoot_account_id": chatwoot_account_id,
        "chatwoot_inbox_id": chatwoot_inbox_id,
        "chatwoot_secret": chatwoot_secret,
        "twilio_account_sid": twilio_account_sid,
        "twilio_auth_token": twilio_auth_token,
        "automations_paused": paused,
        "help_contact": help_contact,
        "help_message": help_message,
        "opt_out_notice": opt_out_notice,
        "notify_to": notify_to,
        "alert_new_lead": alert_new_lead,
        "alert_quote": alert_quote,
        "alert_booking": alert_booking,
        "alert_needs_reply": alert_needs_reply,
        "alert_opt_out": alert_opt_out,
        "alert_quiet_hours": alert_quiet_hours,
        "alerts_per_hour": alerts_per_hour,
        "digest_enabled": digest,
        "digest_time": digest_time,
        "digest_email": digest_email,
    }
    changes = {key: str(value) for key, value in given.items() if value is not None}
    if not changes:
        raise typer.BadParameter("nothing to change: pass at least one option")
    tenant = container().update_tenant()(slug, changes)
    _print_tenant(tenant, as_json)

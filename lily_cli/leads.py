"""`lily leads list|show`: a tenant's leads, and one lead's whole conversation."""

from __future__ import annotations

import textwrap
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lily_cli.common import JsonFlag, SlugArgument, container, new_app, print_json
from lily_core.domain.pagination import PAGE_MAX

if TYPE_CHECKING:
    from lily_core.domain.leads import Lead
    from lily_core.use_cases.dashboard_messages import MessageView

leads_app = new_app("A tenant's leads and their conversations.")


def _time(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def lead_view(lead: Lead) -> dict[str, Any]:
    from lily_core.use_cases.dashboard_leads import is_unread

    return {
        "id": lead.id,
        "name": lead.name,
        "phone": lead.phone,
        "email": lead.email,
        "zip": lead.zip,
        "status": str(lead.status),
        "opted_out": lead.opted_out,
        "automations_paused": lead.automations_paused,
        "created_at": _time(lead.created_at),
        "last_activity_at": _time(lead.last_activity_at),
        "unread": is_unread(lead),
    }


def message_view(view: MessageView) -> dict[str, Any]:
    m = view.message
    return {
        "id": m.id,
        "direction": str(m.direction),
        "channel": str(view.channel),
        "kind": str(m.kind),
        "status": str(m.status),
        "body": m.body,
        "media": [{"url": link.url, "content_type": link.content_type} for link in view.media],
        "error_code": m.error_code,
        "error_message": m.error_message,
        "created_at": _time(m.created_at),
        "sent_at": _time(m.sent_at),
    }


@leads_app.command("list")
def list_(
    slug: SlugArgument,
    status: Annotated[
        str | None,
        typer.Option(metavar="STATUS", help="new, contacted, quoted, booked or lost."),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT", help="Part of a name or email; or a phone number's start or end."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option(metavar="N", min=1, max=PAGE_MAX, help="At most this many.")
    ] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List a tenant's leads, newest activity first."""
    from lily_core.use_cases.dashboard_leads import is_unread
    from lily_core.use_cases.tenants import find_tenant

    built = container()
    with built.uow() as uow:
        tenant = find_tenant(uow, slug)
    page = built.list_leads()(tenant.id, status=status, search=search, limit=limit)
    if as_json:
        print_json([lead_view(lead) for lead in page.items])
        return
    for lead in page.items:
        active = lead.last_activity_at or lead.created_at
        flags = ("*" if is_unread(lead) else " ") + ("x" if lead.opted_out else " ")
        typer.echo(
            f"{lead.id}  {flags}  {lead.status:<9}  {active:%Y-%m-%d %H:%M}  "
            f"{lead.phone or '-':<12}  {lead.name or ''}"
        )
    if not page.items:
        typer.echo("no leads", err=True)
    elif page.next_cursor:
        typer.echo(f"(the first {limit}; --limit shows more)", err=True)


@leads_app.command("show")
def show(
    lead_id: Annotated[str, typer.Argument(metavar="ID", help="The lead's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Show a lead and its whole conversation: every message, in and out, with its kind,
    status and time (sandbox, held and suppressed texts included)."""
    thread = container().show_lead_thread()(lead_id)
    if as_json:
        print_json(
            {
                **lead_view(thread.lead),
                "tenant": thread.tenant_slug,
                "messages": [message_view(v) for v in thread.messages],
            }
        )
        return
    lead = thread.lead
    typer.echo(f"{lead.name or lead.phone or lead.email or lead.id}  ({thread.tenant_slug})")
    for key, value in lead_view(lead).items():
        typer.echo(f"  {key:<18} {'' if value is None else value}")
    typer.echo("")
    for view in thread.messages:
        m = view.message
        arrow = "<-" if m.direction == "inbound" else "->"
        why = " ".join(filter(None, (m.error_code, m.error_message)))
        status = f"{m.status} ({why})" if why else str(m.status)
        typer.echo(f"{m.created_at:%Y-%m-%d %H:%M:%S}  {arrow} {m.kind:<14} {status}")
        media = f"\n[{len(m.media)} media]" if m.media else ""
        typer.echo(textwrap.indent(f"{m.body}{media}", "    ", lambda line: True))
    if not thread.messages:
        typer.echo("no messages")

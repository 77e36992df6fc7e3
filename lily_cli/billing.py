"""`lily billing sync SLUG`, and the billing lines of `lily tenant show` (DESIGN §2.4)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from lily_cli.common import JsonFlag, SlugArgument, container, new_app, print_json

if TYPE_CHECKING:
    from lily_core.use_cases.billing import BillingView

billing_app = new_app("Billing through Stripe.")


def _time(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def billing_dict(view: BillingView) -> dict[str, Any]:
    """A tenant's billing as `tenant show --json` prints it (the shape of GET
    /api/v1/billing)."""
    state = view.state
    return {
        "enabled": view.enabled,
        "plan": str(state.plan) if state and state.plan else None,
        "status": state.status if state else "disabled",
        "trial_ends_at": _time(state.trial_ends_at) if state else None,
        "current_period_end": _time(state.current_period_end) if state else None,
        "sms_used": view.usage.automated,
        "sms_limit": state.sms_limit if state else None,
        "manual_sms": view.usage.manual,
        "alert_sms": view.alert_sms,
        "held_reason": view.held_reason.value if view.held_reason else None,
    }


def billing_lines(view: BillingView) -> dict[str, Any]:
    """A tenant's billing as `tenant show` prints it, one line each."""
    billing = billing_dict(view)
    if not view.enabled:
        return {
            "billing": "off (no LILY_STRIPE_SECRET_KEY): no trial, no limit",
            "sms_used": f"{billing['sms_used']} this month, {billing['manual_sms']} manual",
        }
    held = view.held_reason
    return {
        "plan": billing["plan"] or "(trial)",
        "billing_status": billing["status"],
        "trial_ends_at": billing["trial_ends_at"],
        "current_period_end": billing["current_period_end"],
        "sms_used": f"{billing['sms_used']}/{billing['sms_limit']} this month, "
        f"{billing['manual_sms']} manual",
        "held_reason": f"{held.value} ({held.explanation})" if held else "none: texts go out",
    }


@billing_app.command("sync")
def sync(slug: SlugArgument, as_json: JsonFlag = False) -> None:
    """Read the tenant's subscription from Stripe and take it as its state now (repairs a
    missed webhook); what billing held and may now go is released."""
    stripe = container().sync_subscription()(slug)
    found = {
        "subscription": stripe.id,
        "customer": stripe.customer_id,
        "status": stripe.status,
        "plan": str(stripe.plan) if stripe.plan else None,
        "current_period_end": _time(stripe.current_period_end),
    }
    if as_json:
        print_json(found)
        return
    plan = found["plan"] or "an unknown price"
    ends = found["current_period_end"] or "-"
    typer.echo(f"{slug}: {stripe.status} on {plan} (period ends {ends}), from {stripe.id}")

"""`lily tenant show` (plan, status, usage, hold) and `lily billing sync SLUG` (re-reads the
subscription from Stripe: repairs a missed webhook), as an operator runs them: real
processes on a SQLite database, Stripe played by the stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lily_adapters.container import build_container
from lily_adapters.settings import Settings
from lily_core.domain.billing import Plan
from lily_core.domain.principal import Principal, Role
from tests.e2e.cli_process import Lily, fails_cleanly, lily_runner
from tests.standins.stripe import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET, StripeStandIn

STRIPE_ENV = {
    "LILY_STRIPE_SECRET_KEY": DEFAULT_API_KEY,
    "LILY_STRIPE_WEBHOOK_SECRET": DEFAULT_WEBHOOK_SECRET,
    "LILY_STRIPE_PRICE_STARTER": "price_starter",
    "LILY_STRIPE_PRICE_PRO": "price_pro",
}


@pytest.fixture
def stripe() -> Iterator[StripeStandIn]:
    with StripeStandIn() as standin:
        yield standin


@pytest.fixture
def lily(tmp_path: Path, stripe: StripeStandIn) -> Lily:
    return lily_runner(tmp_path, LILY_STRIPE_API_URL=stripe.url, **STRIPE_ENV)


def show(lily: Lily) -> dict[str, str]:
    lines = lily("tenant", "show", "acme-wash").stdout.splitlines()
    return {
        line.split()[0]: line.split(maxsplit=1)[1] if " " in line.strip() else "" for line in lines
    }


def test_tenant_show_and_billing_sync_repair_a_missed_webhook(
    lily: Lily, stripe: StripeStandIn, tmp_path: Path
) -> None:
    lily("tenant", "create", "--name", "Acme Wash", "--phone", "+12145550100")
    shown = show(lily)
    assert (shown["plan"], shown["billing_status"]) == ("(trial)", "trialing")
    assert shown["sms_used"] == "0/500 this month, 0 manual"
    assert shown["held_reason"] == "none: texts go out"
    assert fails_cleanly(lily("billing", "sync", "acme-wash", ok=False), "no Stripe customer")

    # the owner checks out on Stripe; the webhook never arrives
    container = build_container(
        Settings(
            _env_file=None,
            database_url=f"sqlite:///{tmp_path / 'lily.db'}",
            data_dir=tmp_path / "data",
            stripe_api_url=stripe.url,
            **{k.removeprefix("LILY_").lower(): v for k, v in STRIPE_ENV.items()},
        )
    )
    tenant = container.update_tenant()("acme-wash", {})
    container.start_checkout()(Principal(tenant, Role.OWNER), Plan.PRO)
    container.shutdown_resources()
    [session_id] = stripe.sessions
    subscription = stripe.complete_checkout(session_id)
    assert show(lily)["billing_status"] == "trialing"

    synced = lily("billing", "sync", "acme-wash").stdout
    assert (
        synced.startswith("acme-wash: active on pro (period ends 20")
        and subscription["id"] in synced
    )
    shown = show(lily)
    assert (shown["plan"], shown["billing_status"]) == ("pro", "active")
    assert shown["sms_used"] == "0/5000 this month, 0 manual"

    stripe.update_subscription(subscription["id"], status="canceled")
    assert json.loads(lily("billing", "sync", "acme-wash", "--json").stdout)["status"] == "canceled"
    billing = json.loads(lily("tenant", "show", "acme-wash", "--json").stdout)["billing"]
    assert (billing["status"], billing["held_reason"]) == ("canceled", "subscription_canceled")
    assert "subscription_canceled (held: the subscription is canceled)" in show(lily)["held_reason"]


def test_billing_sync_errors_are_one_line(lily: Lily, tmp_path: Path) -> None:
    assert fails_cleanly(lily("billing", "sync", "nobody", ok=False), "no tenant", code=1)
    off = lily_runner(tmp_path)
    off("tenant", "create", "--name", "Acme Wash", "--phone", "+12145550100")
    assert fails_cleanly(off("billing", "sync", "acme-wash", ok=False), "billing is not set up")
    shown = off("tenant", "show", "acme-wash").stdout
    assert "billing" in shown and "off (no LILY_STRIPE_SECRET_KEY)" in shown

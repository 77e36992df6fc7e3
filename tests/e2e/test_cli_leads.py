"""`lily leads list|show` as an operator runs them: a real process on a SQLite database that
a missed call, a customer's texts and the worker (sandbox mode) have filled in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dependency_injector import providers

from lily_adapters.container import Container, build_container
from lily_adapters.settings import Settings
from lily_core.testing import FakeClock
from lily_core.use_cases.inbound import InboundSms
from lily_core.use_cases.missed_call import VoiceEvent
from lily_worker.wiring import build_worker
from tests.e2e.cli_process import Lily, fails_cleanly, lily_runner

CALLER = "+12145550123"
NOW = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 10:00 in Dallas


@pytest.fixture
def lily(tmp_path: Path) -> Lily:
    return lily_runner(tmp_path)


@pytest.fixture
def filled(lily: Lily, tmp_path: Path) -> Iterator[str]:
    """Acme's lead from a missed call (the text-back sent in sandbox mode), who then
    texted, was answered by hand, and opted out before that went; and a second lead.
    Yields Acme's slug."""
    lily("tenant", "create", "--name", "Acme Wash Co", "--phone", "+12145550100")
    container = _container(tmp_path)
    clock = FakeClock(NOW)
    container.clock.override(providers.Object(clock))
    tenant = container.update_tenant()("acme-wash-co", {})
    container.handle_voice_call()(tenant, VoiceEvent("CA1", CALLER, "in-progress", "no-answer"))
    clock.advance(60)
    build_worker(container).run_burst()
    clock.advance(60)
    sms = InboundSms("SM1", CALLER, "It's the driveway\nthanks")
    lead_id = container.handle_inbound_sms()(tenant, sms).lead_id
    assert lead_id is not None
    container.send_manual_reply()(tenant.id, lead_id, "We can come Tuesday")
    clock.advance(60)
    container.handle_inbound_sms()(tenant, InboundSms("SM2", CALLER, "STOP"))
    clock.advance(60)
    container.handle_voice_call()(
        tenant, VoiceEvent("CA2", "+12145550999", "in-progress", "no-answer")
    )
    yield "acme-wash-co"
    container.shutdown_resources()


def _container(tmp_path: Path) -> Container:
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp_path / 'lily.db'}",
        data_dir=tmp_path / "data",
        jitter_min_seconds=10,
        jitter_max_seconds=45,
    )
    return build_container(settings)


def test_leads_list_newest_activity_first_with_filters(lily: Lily, filled: str) -> None:
    leads = json.loads(lily("leads", "list", filled, "--json").stdout)
    assert [lead["phone"] for lead in leads] == ["+12145550999", CALLER]
    first = leads[1]
    assert (first["status"], first["opted_out"], first["unread"]) == ("contacted", True, True)
    assert first["last_activity_at"] == (NOW + timedelta(minutes=3)).isoformat()

    searched = json.loads(lily("leads", "list", filled, "--search", "0123", "--json").stdout)
    assert [lead["phone"] for lead in searched] == [CALLER]
    booked = lily("leads", "list", filled, "--status", "booked").stdout
    assert booked == ""

    table = lily("leads", "list", filled).stdout.splitlines()
    assert len(table) == 2 and CALLER in table[1] and "contacted" in table[1]


def leads_of(tmp_path: Path, slug: str) -> list[str]:
    container = _container(tmp_path)
    with container.uow().across_tenants() as uow:
        tenant = uow.tenants.get_by_slug(slug)
        assert tenant is not None
        ids = [lead.id for lead in uow.leads.list_by_activity(tenant.id).items]
    container.shutdown_resources()
    return ids


def test_leads_show_prints_every_message_with_its_status(
    lily: Lily, filled: str, tmp_path: Path
) -> None:
    lead_id = leads_of(tmp_path, filled)[1]

    shown = json.loads(lily("leads", "show", lead_id, "--json").stdout)
    assert shown["tenant"] == filled and shown["phone"] == CALLER
    assert [(m["direction"], m["kind"], m["status"]) for m in shown["messages"]] == [
        ("outbound", "missed_call", "sandbox"),
        ("inbound", "inbound", "received"),
        ("outbound", "manual", "suppressed"),
        ("inbound", "inbound", "received"),
    ]

    text = lily("leads", "show", lead_id).stdout
    assert "-> missed_call    sandbox" in text
    assert "<- inbound        received" in text
    assert "    It's the driveway\n    thanks" in text
    assert "suppressed (lead opted out)" in text


def test_leads_errors_are_one_line(lily: Lily, filled: str) -> None:
    fails_cleanly(lily("leads", "show", "nope", ok=False), "no lead nope")
    fails_cleanly(lily("leads", "list", "nobody", ok=False), "nobody")
    fails_cleanly(lily("leads", "list", filled, "--status", "won", ok=False), "status")

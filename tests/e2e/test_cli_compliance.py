"""`lily compliance export SLUG [--since DATE] [--format csv|json]` (issue 16): the opt-out
ledger as an operator exports it, a real process on a SQLite database; STOPs arrive through
the inbound-SMS use case of the same database."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from lily_adapters.container import build_container
from lily_adapters.settings import Settings
from lily_core.use_cases.inbound import InboundSms
from tests.e2e.cli_process import Lily, fails_cleanly, lily_runner

CUSTOMER = "+12145550123"


def _texts(tmp_path: Path, *messages: tuple[str, str]) -> None:
    container = build_container(
        Settings(
            _env_file=None,
            database_url=f"sqlite:///{tmp_path / 'lily.db'}",
            data_dir=tmp_path / "data",
            redis_url=None,
        )
    )
    try:
        with container.uow() as uow:
            tenant = uow.tenants.get_by_slug("acme-wash")
        assert tenant is not None
        for sid, body in messages:
            container.handle_inbound_sms()(tenant, InboundSms(sid, CUSTOMER, body))
    finally:
        container.shutdown_resources()


def test_the_export_lists_every_stop_with_its_message_sid(tmp_path: Path) -> None:
    lily: Lily = lily_runner(tmp_path)
    lily("tenant", "create", "--name", "Acme Wash", "--phone", "+12145550100")
    _texts(
        tmp_path, ("SM" + "1" * 32, "STOP"), ("SM" + "2" * 32, "Start"), ("SM" + "3" * 32, "quit")
    )

    rows = list(csv.DictReader(io.StringIO(lily("compliance", "export", "acme-wash").stdout)))

    assert [(r["action"], r["evidence"], r["message_sid"]) for r in rows] == [
        ("opt_out", "keyword:STOP", "SM" + "1" * 32),
        ("opt_in", "keyword:Start", "SM" + "2" * 32),
        ("opt_out", "keyword:quit", "SM" + "3" * 32),
    ]
    assert {(r["phone"], r["channel"]) for r in rows} == {(CUSTOMER, "sms")}
    assert all(r["created_at"] for r in rows)

    as_json = json.loads(lily("compliance", "export", "acme-wash", "--format", "json").stdout)
    assert [r["message_sid"] for r in as_json] == [r["message_sid"] for r in rows]
    later = lily("compliance", "export", "acme-wash", "--since", "2999-01-01", "--format", "json")
    assert json.loads(later.stdout) == []


def test_bad_input_fails_cleanly(tmp_path: Path) -> None:
    lily: Lily = lily_runner(tmp_path)
    lily("tenant", "create", "--name", "Acme Wash", "--phone", "+12145550100")
    fails_cleanly(lily("compliance", "export", "nobody", ok=False), "nobody")
    fails_cleanly(
        lily("compliance", "export", "acme-wash", "--since", "yesterday", ok=False), "yesterday"
    )


def test_tenant_update_sets_helps_contact_and_the_opt_out_line(tmp_path: Path) -> None:
    lily: Lily = lily_runner(tmp_path)
    lily("tenant", "create", "--name", "Acme Wash", "--phone", "+12145550100")

    done = lily(
        "tenant", "update", "acme-wash", "--help-contact", "help@acme.example",
        "--help-message", "Open 8-5.", "--no-opt-out-notice", "--json",
    )  # fmt: skip

    shown = json.loads(done.stdout)
    assert (shown["help_contact"], shown["help_message"]) == ("help@acme.example", "Open 8-5.")
    assert shown["opt_out_notice"] is False and shown["opt_out_notice_changed_at"]
    cleared = json.loads(
        lily("tenant", "update", "acme-wash", "--help-contact", "", "--json").stdout
    )
    assert cleared["help_contact"] is None
    fails_cleanly(
        lily("tenant", "update", "acme-wash", "--help-contact", "nobody", ok=False),
        "--help-contact",
    )

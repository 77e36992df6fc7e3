"""Key rotation (issue 14): a new key in front of the ring, then `reencrypt` while webhooks
keep arriving -- nothing lost, and every row readable under the new key alone. The same for
the blind-index key: `reindex` while webhooks arrive, every lead found by its number and by
partial digits throughout, and under the new key alone after."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from lily_adapters.crypto import (
    BlindIndexer,
    FieldCipher,
    FieldCrypto,
    KeyRing,
    parse_blind_keys,
    rotated_blind_keys,
)
from lily_adapters.sql import rekey
from lily_adapters.sql.encrypted import install_field_crypto
from lily_core.domain.lead_search import LeadSearch
from lily_core.domain.leads import MessageKind
from tests.e2e.conftest import Lily
from tests.e2e.test_quote_flow import settle, text

CALLERS = [f"+1512555{n:04d}" for n in range(1000, 1012)]


def _calls(lily: Lily, callers: list[str], tag: str) -> None:
    for n, caller in enumerate(callers):
        response = lily.missed_call(f"CA{tag}{n:031d}", caller=caller)
        assert response.status_code == 200, response.text
        text(lily, f"hi, this is {caller} about my driveway", caller=caller)


def test_reencrypt_while_webhooks_arrive_loses_nothing(lily: Lily) -> None:
    engine: sa.Engine = lily.container.engine()
    before: FieldCrypto = lily.container.field_crypto()
    _calls(lily, CALLERS[:6], "a")
    settle(lily)

    # what a restart with the rotated ring does: the new key encrypts, the old decrypts
    ring = before.cipher.ring.rotated()
    rotated = FieldCrypto(FieldCipher(ring), before.indexer)
    install_field_crypto(rotated)
    assert rekey.stale_values(engine, rotated) > 0

    done: list[rekey.Rekeyed] = []
    worker = threading.Thread(
        target=lambda: done.append(rekey.reencrypt(engine, rotated, batch=2)), daemon=True
    )
    worker.start()
    _calls(lily, CALLERS[6:], "b")  # webhooks while it runs
    for caller in CALLERS[:6]:
        text(lily, "still there?", caller=caller)  # rows it may be re-encrypting
    settle(lily)
    worker.join(timeout=120)
    assert not worker.is_alive() and done and done[0].values > 0

    assert rekey.reencrypt(engine, rotated).values == 0  # run again: nothing left to do
    assert rekey.stale_values(engine, rotated) == 0

    # the new key alone reads everything, and nothing is missing
    newest = KeyRing((ring.keys[0],))
    install_field_crypto(FieldCrypto(FieldCipher(newest), before.indexer))
    with lily.container.uow().across_tenants() as uow:
        tenant = uow.tenants.get(lily.tenant.id)
        assert tenant is not None and tenant.sandbox_auth_token
        for caller in CALLERS:
            lead = uow.leads.get_by_phone(lily.tenant.id, caller)
            assert lead is not None and lead.phone == caller, caller
            messages = uow.messages.list_for_lead(lily.tenant.id, lead.id, limit=50).items
            kinds = [m.kind for m in messages]
            assert MessageKind.MISSED_CALL in kinds, (caller, kinds)
            inbound = [m.body for m in messages if m.kind == MessageKind.INBOUND]
            assert f"hi, this is {caller} about my driveway" in inbound
            if caller in CALLERS[:6]:
                assert "still there?" in inbound
    assert len(lily.leads()) == len(CALLERS)


def _found(lily: Lily, callers: list[str]) -> None:
    """Each caller's one lead, by its number and by its number's start and end digits; and
    the first caller's STOP in the consent ledger, by the number."""
    tenant_id = lily.tenant.id
    with lily.container.uow().across_tenants() as uow:
        for caller in callers:
            lead = uow.leads.get_by_phone(tenant_id, caller)
            assert lead is not None and lead.phone == caller, caller
            for digits in (caller[-4:], caller[-7:], caller[2:8], caller):
                page = uow.leads.list_by_activity(tenant_id, search=LeadSearch.parse(digits))
                ids = [found.id for found in page.items]
                assert lead.id in ids and len(ids) == len(set(ids)), (caller, digits)
                if digits != caller[2:8]:  # the end is this caller's alone; the start is not
                    assert ids == [lead.id], (caller, digits)
        stopped = uow.consent.latest_for_phone(tenant_id, CALLERS[0])
    assert stopped is not None and stopped.phone == CALLERS[0]


def test_reindex_while_webhooks_arrive_finds_every_lead(lily: Lily) -> None:
    engine: sa.Engine = lily.container.engine()
    before: FieldCrypto = lily.container.field_crypto()
    _calls(lily, CALLERS[:6], "a")
    text(lily, "STOP", caller=CALLERS[0])  # a consent record, found by its number's index
    settle(lily)

    # a restart with the rotated blind-index ring: the new key indexes, lookups try both
    blind = rotated_blind_keys(before.indexer.keys)
    rotated = FieldCrypto(before.cipher, BlindIndexer(blind))
    install_field_crypto(rotated)
    _found(lily, CALLERS[:6])  # nothing recomputed yet: found under the old key

    done: list[rekey.Reindexed] = []
    worker = threading.Thread(
        target=lambda: done.append(rekey.reindex(engine, rotated, batch=2)), daemon=True
    )
    worker.start()
    for n, caller in enumerate(CALLERS[6:]):  # webhooks while it runs, and lookups
        _calls(lily, [caller], f"b{n}")
        text(lily, "still there?", caller=CALLERS[1 + n % 5])  # a lead it may be reindexing
        _found(lily, [CALLERS[n % 6], caller])
    settle(lily)
    worker.join(timeout=120)
    assert not worker.is_alive() and done and done[0].changed > 0

    assert rekey.reindex(engine, rotated).changed == 0  # run again: nothing left to do

    # the new key alone finds everything, and no caller got a second lead meanwhile
    install_field_crypto(FieldCrypto(before.cipher, BlindIndexer(blind[:1])))
    _found(lily, CALLERS)
    assert len(lily.leads()) == len(CALLERS)
    with lily.container.uow().across_tenants() as uow:
        lead = uow.leads.get_by_phone(lily.tenant.id, CALLERS[3])
        assert lead is not None
        inbound = [
            m.body
            for m in uow.messages.list_for_lead(lily.tenant.id, lead.id, limit=50).items
            if m.kind == MessageKind.INBOUND
        ]
    assert "still there?" in inbound


LILY = [sys.executable, "-c", "from lily_cli.main import main; main()"]


def test_lily_keys_rotate_then_reencrypt(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "LILY_DATABASE_URL": f"sqlite:///{tmp_path / 'lily.db'}",
        "LILY_DATA_DIR": str(tmp_path / "data"),
    }

    def lily(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*LILY, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
        )

    made = lily("tenant", "create", "--name", "Acme Wash", "--phone", "+15125550100")
    assert made.returncode == 0, made.stderr
    assert lily("keys", "rotate").returncode == 0
    done = lily("keys", "reencrypt")
    assert done.returncode == 0, done.stderr
    # the tenant's Cal.com secret and sandbox token
    assert done.stdout.strip() == "2 values re-encrypted under key k2 (1 rows read)"
    again = lily("keys", "reencrypt")
    assert again.stdout.strip() == "0 values re-encrypted under key k2 (1 rows read)"
    shown = lily("tenant", "show", "acme-wash")
    assert shown.returncode == 0 and "sandbox" in shown.stdout.lower(), shown.stderr


def test_lily_keys_rotate_index_then_reindex(tmp_path: Path) -> None:
    from lily_adapters.container import build_container
    from lily_adapters.settings import Settings
    from lily_core.domain.leads import Lead

    database_url = f"sqlite:///{tmp_path / 'lily.db'}"
    env = {
        "PATH": "/usr/bin:/bin",
        "LILY_DATABASE_URL": database_url,
        "LILY_DATA_DIR": str(tmp_path / "data"),
    }

    def lily(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*LILY, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
        )

    made = lily("tenant", "create", "--name", "Acme Wash", "--phone", "+15125550100")
    assert made.returncode == 0, made.stderr  # the database made and migrated
    settings = Settings(_env_file=None, database_url=database_url, data_dir=tmp_path / "data")
    container = build_container(settings)  # the same generated keys as the commands'
    with container.uow().across_tenants() as uow:
        [tenant] = uow.tenants.list()
        now = datetime.now(UTC)
        uow.leads.add(Lead(tenant_id=tenant.id, phone="+12145550123", created_at=now))
        uow.commit()
    container.shutdown_resources()

    assert lily("keys", "rotate-index").returncode == 0
    assert [
        kid for kid, _ in parse_blind_keys((tmp_path / "data" / "blind_index_key").read_text())
    ] == ["b2", "b1"]
    found = lily("leads", "list", "acme-wash", "--search", "0123")
    assert found.returncode == 0 and "+12145550123" in found.stdout, found.stderr
    done = lily("keys", "reindex")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 rows reindexed under blind-index key b2 (1 rows read)"
    assert "drop b1 from the blind-index key ring" in done.stderr
    again = lily("keys", "reindex")
    assert again.stdout.strip() == "0 rows reindexed under blind-index key b2 (1 rows read)"
    found = lily("leads", "list", "acme-wash", "--search", "214 555")
    assert found.returncode == 0 and "+12145550123" in found.stdout, found.stderr

"""Key rotation (issue 14): a new key in front of the ring, then `reencrypt` while webhooks
keep arriving -- nothing lost, and every row readable under the new key alone."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import sqlalchemy as sa

from lily_adapters.crypto import FieldCipher, FieldCrypto, KeyRing
from lily_adapters.sql import rekey
from lily_adapters.sql.encrypted import install_field_crypto
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

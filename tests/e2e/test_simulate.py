"""`lily simulate call|sms` against a real uvicorn server (in a thread) on the embedded
database, with the worker run afterwards and Twilio played by the stand-in: what the CLI
posts must pass Lily's signature check and drive the real flow."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from lily_adapters.container import Container, build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_cli import common
from lily_cli.main import app
from lily_core.domain.leads import Direction, Message
from lily_core.domain.tenant import Tenant
from lily_http.app import create_app
from lily_worker.wiring import build_worker
from tests.standins.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioStandIn

CALLER = "+15125550123"
BUSINESS = "+15125550100"


class Server:
    def __init__(self, container: Container, url: str, tenant: Tenant) -> None:
        self.container, self.url, self.tenant = container, url, tenant

    def run_worker(self) -> None:
        build_worker(self.container).run_burst()

    def messages(self, phone: str = CALLER) -> list[Message]:
        with self.container.uow().across_tenants() as uow:
            lead = uow.leads.get_by_phone(self.tenant.id, phone)
            assert lead is not None
            return list(uow.messages.list_for_lead(self.tenant.id, lead.id, limit=100).items)

    def lead_opted_out(self, phone: str = CALLER) -> bool:
        with self.container.uow().across_tenants() as uow:
            lead = uow.leads.get_by_phone(self.tenant.id, phone)
        assert lead is not None
        return lead.opted_out


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """The server's socket, bound first so its port is known before the settings are."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def env(
    tmp_path: Path,
    twilio: TwilioStandIn,
    listening: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """The LILY_* settings the server and the CLI share (the CLI reads its environment)."""
    port = listening.getsockname()[1]
    values = {
        "LILY_DATABASE_URL": f"sqlite:///{tmp_path / 'lily.db'}",
        "LILY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LILY_TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
        "LILY_TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
        "LILY_TWILIO_API_URL": twilio.url,
        "LILY_JITTER_MIN_SECONDS": "0",
        "LILY_JITTER_MAX_SECONDS": "0",
        "LILY_DATA_DIR": str(tmp_path / "data"),
    }
    for name in [n for n in os.environ if n.startswith("LILY_")]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    common.container.cache_clear()  # the CLI's container is read once per process
    yield values
    common.container.cache_clear()


@pytest.fixture
def server(env: dict[str, str], listening: socket.socket) -> Iterator[Server]:
    settings = Settings(_env_file=None)
    migrate.upgrade(settings.database_url)
    container = build_container(settings)
    tenant = container.onboard_tenant()(
        name="Acme Wash Co", phone=BUSINESS, forward_to="+15125550199", timezone="America/Chicago"
    )
    config = uvicorn.Config(create_app(container), log_config=None, access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:  # a start-up wait, not a timed assertion
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start in 20 s"
        time.sleep(0.02)
    yield Server(container, settings.public_url, tenant)
    uv.should_exit = True
    thread.join(timeout=20)
    container.shutdown_resources()


def lily(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return result.exit_code, f"{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, result.output


def test_simulated_missed_call_gets_the_text_back(server: Server, twilio: TwilioStandIn) -> None:
    code, output = lily("simulate", "call", "--tenant", "acme-wash-co", "--from", CALLER)

    assert code == 0, output
    first, second = output.strip().splitlines()
    assert "forward to +15125550199" in first
    assert "dial no-answer" in second and "text message" in second
    server.run_worker()
    [sms] = twilio.messages
    assert (sms.from_, sms.to) == (BUSINESS, CALLER)
    assert sms.body is not None and "ZIP" in sms.body


def test_simulated_answered_call_sends_nothing(server: Server, twilio: TwilioStandIn) -> None:
    code, output = lily(
        "simulate", "call", "--tenant", "acme-wash-co", "--from", CALLER, "--status", "completed"
    )

    assert code == 0, output
    assert "hangup" in output.strip().splitlines()[-1]
    server.run_worker()
    assert twilio.messages == []


def test_simulated_call_to_a_tenant_without_forwarding_is_missed_at_once(
    server: Server, twilio: TwilioStandIn
) -> None:
    server.container.update_tenant()("acme-wash-co", {"forward_to": ""})

    code, output = lily("simulate", "call", "--tenant", "acme-wash-co", "--from", CALLER)

    assert code == 0, output
    assert len(output.strip().splitlines()) == 1
    server.run_worker()
    assert len(twilio.messages) == 1


def test_simulated_sms_with_photos_is_recorded_with_its_media(server: Server) -> None:
    code, output = lily(
        "simulate", "sms", "--tenant", "acme-wash-co", "--from", CALLER,
        "--text", "driveway, 75201", "--photos", "2",
    )  # fmt: skip

    assert code == 0, output
    assert "Lily answered" in output
    [inbound] = [m for m in server.messages() if m.direction == Direction.INBOUND]
    assert inbound.body == "driveway, 75201"
    assert [item["content_type"] for item in inbound.media] == ["image/jpeg", "image/jpeg"]
    assert all(item["url"].startswith("https://") for item in inbound.media)


def test_simulated_stop_opts_the_sender_out(server: Server) -> None:
    code, output = lily("simulate", "sms", "--tenant", "acme-wash-co", "--from", CALLER,
                        "--text", "STOP")  # fmt: skip

    assert code == 0, output
    assert server.lead_opted_out()


def test_an_unknown_tenant_is_an_error(server: Server) -> None:
    code, output = lily("simulate", "call", "--tenant", "nope", "--from", CALLER)

    assert code != 0
    assert "NotFound" in output and "nope" in output


def test_a_bad_number_is_an_error(server: Server) -> None:
    code, output = lily("simulate", "sms", "--tenant", "acme-wash-co", "--from", "garbage",
                        "--text", "hi")  # fmt: skip

    assert code != 0
    assert "InvalidInput" in output and "from" in output


def test_posting_to_another_url_than_the_servers_public_url_is_refused_clearly(
    server: Server,
) -> None:
    other = server.url.replace("127.0.0.1", "localhost")

    code, output = lily("simulate", "call", "--tenant", "acme-wash-co", "--from", CALLER,
                        "--url", other)  # fmt: skip

    assert code != 0
    assert "403" in output and "LILY_PUBLIC_URL" in output


def test_no_server_is_one_clear_line_and_a_non_zero_exit(env: dict[str, str]) -> None:
    """Through the installed `lily` entry point: its error handling prints the line."""
    migrate.upgrade(env["LILY_DATABASE_URL"])
    container = build_container(Settings(_env_file=None))
    container.onboard_tenant()(name="Acme Wash Co", phone=BUSINESS)
    container.shutdown_resources()
    lily_command = Path(sys.executable).with_name("lily")

    done = subprocess.run(
        [str(lily_command), "simulate", "sms", "--tenant", "acme-wash-co", "--from", CALLER,
         "--text", "hi"],
        capture_output=True, text=True, env=dict(os.environ), timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach Lily at " + env["LILY_PUBLIC_URL"])

"""`lily doctor` as an operator runs it: one line per check, what to do when one fails, exit
1 if any did. Twilio's account GET goes to a local stand-in that checks the credentials."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEYS
from tests.e2e.cli_process import lily_runner
from tests.faults import closed_port

SID, TOKEN = "AC" + "1" * 32, "right-token"


class _Accounts(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        ok = self.path == f"/2010-04-01/Accounts/{SID}.json"
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            body = b'{"code": 20003, "message": "Authenticate"}'
        else:
            self.send_response(200 if ok else 404)
            body = json.dumps({"sid": SID, "status": "active"}).encode()
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def twilio_api() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Accounts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def lines(stdout: str) -> dict[str, tuple[str, str]]:
    found = {}
    for line in stdout.splitlines():
        status, rest = line.split(None, 1)
        check, detail = rest[:20].strip(), rest[20:].strip()
        found[check] = (status, detail)
    return found


def test_a_fresh_database_fails_and_says_to_migrate(tmp_path: Path) -> None:
    done = lily_runner(tmp_path)("doctor", ok=False)
    assert done.returncode == 1
    found = lines(done.stdout)
    assert found["database"] == ("FAIL", "reachable but not migrated: run `lily db upgrade`")
    assert found["twilio"][0] == "warn" and "sandbox mode" in found["twilio"][1]
    assert found["encryption keys"][0] == "warn"  # the embedded default's generated keys
    assert f"generated into {tmp_path / 'data'}" in found["encryption keys"][1]
    assert "Traceback" not in done.stderr


def test_postgresql_without_the_keys_fails_and_says_how_to_make_them(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://lily@127.0.0.1:{closed_port()}/lily"
    done = lily_runner(tmp_path, LILY_DATABASE_URL=url)("doctor", ok=False)
    assert done.returncode == 1
    status, detail = lines(done.stdout)["encryption keys"]
    assert status == "FAIL"
    assert "LILY_ENCRYPTION_KEYS and LILY_BLIND_INDEX_KEY: required" in detail
    assert "lily keys new" in detail


def test_a_configured_deployment_passes_with_each_tenants_webhook_urls(
    tmp_path: Path, twilio_api: str
) -> None:
    key = tmp_path / "google.json"
    key.write_text(
        json.dumps(
            {
                "type": "service_account",
                "client_email": "lily@demo.iam.gserviceaccount.com",
                "private_key": "-----BEGIN PRIVATE KEY-----\n...",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    lily = lily_runner(
        tmp_path,
        LILY_PUBLIC_URL="https://lily.example.com",
        LILY_TWILIO_ACCOUNT_SID=SID,
        LILY_TWILIO_AUTH_TOKEN=TOKEN,
        LILY_TWILIO_API_URL=twilio_api,
        LILY_GOOGLE_SERVICE_ACCOUNT_FILE=str(key),
        LILY_ENCRYPTION_KEYS=TEST_ENCRYPTION_KEYS,
        LILY_BLIND_INDEX_KEY=TEST_BLIND_INDEX_KEY,
    )
    lily("db", "upgrade")
    lily("tenant", "create", "--name", "Acme Wash", "--phone", "+12145550100")
    lily("tenant", "update", "acme-wash", "--booking-url", "https://cal.com/acme")
    done = lily("doctor")
    found = lines(done.stdout)
    assert all(status in ("ok", "skip") for status, _ in found.values()), done.stdout
    assert found["twilio"] == ("ok", f"account {SID} active, credentials valid")
    voice = "https://lily.example.com/webhooks/twilio/voice"
    assert voice in found["webhooks acme-wash"][1]
    assert "https://lily.example.com/webhooks/calcom/acme-wash" in found["cal.com acme-wash"][1]
    assert "lily@demo.iam.gserviceaccount.com" in found["google calendar"][1]


def test_wrong_twilio_credentials_and_an_unreadable_key_fail(
    tmp_path: Path, twilio_api: str
) -> None:
    lily = lily_runner(
        tmp_path,
        LILY_TWILIO_ACCOUNT_SID=SID,
        LILY_TWILIO_AUTH_TOKEN="wrong",
        LILY_TWILIO_API_URL=twilio_api,
        LILY_GOOGLE_SERVICE_ACCOUNT_FILE=str(tmp_path / "missing.json"),
    )
    lily("db", "upgrade")
    done = lily("doctor", ok=False)
    assert done.returncode == 1
    found = lines(done.stdout)
    assert found["twilio"][0] == "FAIL" and "refused" in found["twilio"][1]
    assert found["google calendar"][0] == "FAIL" and "cannot read" in found["google calendar"][1]

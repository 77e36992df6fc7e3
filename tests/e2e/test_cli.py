"""The `lily` command as an operator runs it: a real process on a fresh SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cli_process import Lily, fails_cleanly, lily_runner

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pricebook.yaml"


@pytest.fixture
def lily(tmp_path: Path) -> Lily:
    return lily_runner(tmp_path)


def test_tenant_create_prints_id_and_slug(lily) -> None:
    done = lily("tenant", "create", "--name", "Acme Wash Co", "--phone", "+12145550100", "--json")
    data = json.loads(done.stdout)
    assert data["slug"] == "acme-wash-co"
    assert len(data["id"]) == 32
    assert data["timezone"] == "America/Chicago"  # from the 214 area code
    assert data["calcom_secret"]
    listed = json.loads(lily("tenant", "list", "--json").stdout)
    assert [t["slug"] for t in listed] == ["acme-wash-co"]


def test_bad_input_is_one_line_and_writes_nothing(lily) -> None:
    fails_cleanly(lily("tenant", "create", "--name", "A", "--phone", "123", ok=False), "phone")
    fails_cleanly(
        lily(
            "tenant",
            "create",
            "--name",
            "A",
            "--phone",
            "+12145550100",
            "--timezone",
            "Mars/Olympus",
            ok=False,
        ),
        "timezone",
    )
    fails_cleanly(
        lily(
            "tenant",
            "create",
            "--name",
            "A",
            "--phone",
            "+12145550100",
            "--zip",
            "W1A 1AA",
            ok=False,
        ),
        "zip",
    )
    assert json.loads(lily("tenant", "list", "--json").stdout) == []
    fails_cleanly(lily("tenant", "show", "nobody", ok=False), "nobody")


def test_pricebook_import_and_quote_follow_design(lily, tmp_path: Path) -> None:
    lily("tenant", "create", "--name", "Acme Wash Co", "--phone", "+12145550100")
    assert "version 1" in lily("pricebook", "import", "acme-wash-co", str(EXAMPLE)).stdout
    done = lily(
        "quote", "acme-wash-co", "--zip", "75032", "--text", "2 story house and driveway", "--json"
    )
    quote = json.loads(done.stdout)
    # (250+100)*1.25 = 437.50 .. (450+225)*1.25 = 843.75; + travel (23.86-15) mi * $2 = 17.72
    # -> 455.22 .. 861.47 -> rounded to $5: 455 .. 860
    assert (quote["low_cents"], quote["high_cents"]) == (45500, 86000)
    assert quote["in_service_area"] is True
    assert quote["currency"] == "USD"
    assert quote["pricebook_version"] == 1
    assert [line["kind"] for line in quote["lines"]] == [
        "service",
        "service",
        "modifier",
        "travel",
        "rounding",
    ]
    far = json.loads(lily("quote", "acme-wash-co", "--zip", "77001", "--json").stdout)
    assert far["in_service_area"] is False and far["low_cents"] == 0


def test_pricebook_errors_name_the_field_or_line(lily, tmp_path: Path) -> None:
    lily("tenant", "create", "--name", "Acme Wash Co", "--phone", "+12145550100")
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("low: 250", "low: 950"))
    fails_cleanly(
        lily("pricebook", "import", "acme-wash-co", str(bad), ok=False), "services[0].low"
    )
    bad.write_text("currency: USD\nservices: [\n  - key: x\n")
    fails_cleanly(lily("pricebook", "import", "acme-wash-co", str(bad), ok=False), "line")
    bad.write_text(EXAMPLE.read_text().replace("round_to: 5", "round_to: 5\ncolour: blue"))
    fails_cleanly(lily("pricebook", "import", "acme-wash-co", str(bad), ok=False), "colour")
    fails_cleanly(lily("pricebook", "show", "acme-wash-co", ok=False), "no price book")


def test_set_service_makes_a_new_version_and_export_round_trips(lily, tmp_path: Path) -> None:
    lily("tenant", "create", "--name", "Acme Wash Co", "--phone", "+12145550100", "--zip", "75201")
    lily(
        "pricebook",
        "set-service",
        "acme-wash-co",
        "roof",
        "--low",
        "400",
        "--high",
        "900",
        "--keywords",
        "roof,shingles",
    )
    lily("pricebook", "import", "acme-wash-co", str(EXAMPLE))
    exported = tmp_path / "exported.yaml"
    exported.write_text(lily("pricebook", "export", "acme-wash-co").stdout)
    again = lily("pricebook", "import", "acme-wash-co", str(exported)).stdout
    assert "version 2" in again  # unchanged document: no new version
    shown = json.loads(lily("pricebook", "show", "acme-wash-co", "--json").stdout)
    assert shown["version"] == 2


def test_tenant_update_validates_every_value(lily) -> None:
    lily("tenant", "create", "--name", "Acme Wash Co", "--phone", "+12145550100")
    fails_cleanly(
        lily(
            "tenant",
            "update",
            "acme-wash-co",
            "--quiet-hours",
            "9pm-8am",
            "--review-url",
            "https://g.page/acme",
            ok=False,
        ),
        "--quiet-hours",
    )
    shown = json.loads(lily("tenant", "show", "acme-wash-co", "--json").stdout)
    assert shown["review_url"] is None  # nothing written
    lily(
        "tenant",
        "update",
        "acme-wash-co",
        "--quiet-hours",
        "20:30-07:45",
        "--review-url",
        "https://g.page/acme",
        "--review-delay-hours",
        "48",
    )
    shown = json.loads(lily("tenant", "show", "acme-wash-co", "--json").stdout)
    assert (shown["quiet_hours"], shown["review_delay_hours"]) == ("20:30-07:45", 48)


def test_apikey_and_user(lily) -> None:
    lily("tenant", "create", "--name", "Acme Wash Co", "--phone", "+12145550100")
    token = lily("apikey", "create", "--tenant", "acme-wash-co").stdout.strip()
    assert token.startswith("lily_")
    lily(
        "user",
        "add",
        "--tenant",
        "acme-wash-co",
        "--email",
        "Owner@Acme.test",
        "--password",
        "correct horse battery",
    )
    fails_cleanly(
        lily(
            "user",
            "add",
            "--tenant",
            "acme-wash-co",
            "--email",
            "owner@acme.test",
            "--password",
            "correct horse battery",
            ok=False,
        ),
        "exists",
    )


def test_queue_commands(lily) -> None:
    stats = json.loads(lily("queue", "stats", "--json").stdout)
    assert stats == {"scheduled": 0, "due": 0, "in_flight": 0, "dead": 0, "ambiguous": 0}
    assert "no dead tasks" in lily("queue", "dead").stdout
    assert "requeued 0" in lily("queue", "retry", "--all").stdout
    fails_cleanly(lily("queue", "retry", ok=False), "--all")
    fails_cleanly(lily("queue", "retry", "nope", ok=False), "no dead task nope")
    done = lily("worker", "--burst")
    assert '"message": "worker stopped"' in done.stderr

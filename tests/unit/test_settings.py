"""load_settings(): a wrong setting is named by its environment variable, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lily_adapters.settings import InvalidSettings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    for name in [
        "LILY_LOG_FORMAT",
        "LILY_LOG_LEVEL",
        "LILY_WORKER_CONCURRENCY",
        "LILY_JITTER_MIN_SECONDS",
        "LILY_JITTER_MAX_SECONDS",
        "LILY_DATABASE_URL",
    ]:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LILY_LOG_FORMAT", "xml", "LILY_LOG_FORMAT: must be 'json' or 'pretty'"),
        ("LILY_LOG_LEVEL", "loud", "LILY_LOG_LEVEL: must be 'TRACE', 'DEBUG', 'INFO'"),
        ("LILY_WORKER_CONCURRENCY", "0", "LILY_WORKER_CONCURRENCY: must be greater than or"),
        ("LILY_WORKER_CONCURRENCY", "four", "LILY_WORKER_CONCURRENCY: must be a valid integer"),
        ("LILY_JITTER_MIN_SECONDS", "soon", "LILY_JITTER_MIN_SECONDS: must be a valid number"),
        ("LILY_JITTER_MIN_SECONDS", "60", "LILY_JITTER_MIN_SECONDS is greater than"),
        ("LILY_DATABASE_URL", "lily.db", "LILY_DATABASE_URL: must be a SQLAlchemy URL"),
    ],
)
def test_an_invalid_setting_is_named_by_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSettings) as caught:
        load_settings()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_every_invalid_setting_is_named_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LILY_LOG_FORMAT", "xml")
    monkeypatch.setenv("LILY_WORKER_CONCURRENCY", "0")
    with pytest.raises(InvalidSettings) as caught:
        load_settings()
    assert str(caught.value).count("LILY_") == 2
    assert "\n" not in str(caught.value)


def test_values_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LILY_WORKER_CONCURRENCY", "hunter2")
    with pytest.raises(InvalidSettings) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_valid_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LILY_LOG_LEVEL", "debug")
    monkeypatch.setenv("LILY_LOG_FORMAT", "pretty")
    settings = load_settings()
    assert (settings.log_level, settings.log_format) == ("DEBUG", "pretty")

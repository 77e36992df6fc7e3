""".env.example documents every setting, with its default, and nothing else: it is checked
against the settings class, so a setting added to lily_adapters/settings.py without a line
here (or a default changed on one side only) fails this test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lily_adapters.settings import ENV_PREFIX, Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
LINE = re.compile(r"^#?\s*(LILY_[A-Z0-9_]+)=(.*)$")
UNSET = "(unset)"


def documented() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = LINE.match(line)
        if match:
            name, value = match.groups()
            assert name not in found, f"{name} is documented twice"
            found[name] = value.strip()
    return found


def _shown(default: object) -> str:
    if default is None:
        return UNSET
    if isinstance(default, Path):
        return f"./{default}"
    return str(default)


def test_every_setting_is_documented_and_nothing_else() -> None:
    fields = {f"{ENV_PREFIX}{name}".upper() for name in Settings.model_fields}
    assert set(documented()) == fields


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_the_documented_default_is_the_settings_default(name: str) -> None:
    default = Settings.model_fields[name].default
    assert documented()[f"{ENV_PREFIX}{name}".upper()] == _shown(default)


def test_each_setting_says_what_it_is_for() -> None:
    """A setting's line comes after a comment (its own, or its group's)."""
    lines = ENV_EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        if LINE.match(line):
            above = lines[i - 1]
            assert above.startswith("#") and above.strip() != "#", line


def test_the_example_is_what_lily_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uncommented as it is, the example gives Lily its defaults back (the unset ones left
    out): a copied .env changes nothing until edited."""
    values = {k: v for k, v in documented().items() if v != UNSET}
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    monkeypatch.chdir(tmp_path)
    for name in documented():
        monkeypatch.delenv(name, raising=False)
    assert Settings() == Settings(_env_file=None)

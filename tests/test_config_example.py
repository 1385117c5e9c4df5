"""config.example.toml documents every setting: a new key in DEFAULTS fails here until it is added."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dispatch.platform.config import DEFAULTS, ConfigError, load_settings
from tests.conftest import SIGNING_SECRET

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def _example() -> dict:
    with EXAMPLE.open("rb") as fh:
        return tomllib.load(fh)


def test_every_setting_is_in_the_example_and_nothing_else():
    keys = set(_example())
    missing = sorted(set(DEFAULTS) - keys)
    assert not missing, f"add these settings to config.example.toml, with a comment: {missing}"
    assert sorted(keys - set(DEFAULTS)) == [], "config.example.toml names settings that do not exist"


def test_every_setting_has_a_comment_above_it():
    lines = EXAMPLE.read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        key = line.split("=", 1)[0].strip()
        if key in DEFAULTS and not line.startswith("#"):
            above = lines[i - 1].strip() if i else ""
            # A group of related keys (TWILIO_*) may share the comment above the first of them.
            if not above.startswith("#") and above.split("=", 1)[0].strip() not in DEFAULTS:
                undocumented.append(key)
    assert undocumented == []


def _same_kind(value, default) -> bool:
    # A whole number where a float is expected loads and works the same.
    if isinstance(default, float) and type(value) is int:
        return True
    return type(value) is type(default)


def test_example_values_have_the_defaults_types():
    example = _example()
    wrong = {
        key: (type(example[key]).__name__, type(default).__name__)
        for key, default in DEFAULTS.items()
        if key in example and not _same_kind(example[key], default)
    }
    assert wrong == {}


def test_the_example_loads_as_a_config_file(monkeypatch: pytest.MonkeyPatch):
    for key in DEFAULTS:
        monkeypatch.delenv(f"DISPATCH_{key}", raising=False)
    monkeypatch.setenv("DISPATCH_CONFIG", str(EXAMPLE))
    # The signing secret is no value to copy: scripts/run generates one (or the environment gives it).
    with pytest.raises(ConfigError, match="SIMULATOR_SIGNING_SECRET"):
        load_settings()
    monkeypatch.setenv("DISPATCH_SIMULATOR_SIGNING_SECRET", SIGNING_SECRET)
    settings = load_settings()
    assert settings == {**DEFAULTS, **_example(), "SIMULATOR_SIGNING_SECRET": SIGNING_SECRET}
    # Copying the example as it is gives a working first-try installation: the defaults.
    assert settings["DATABASE_URL"] == DEFAULTS["DATABASE_URL"]
    assert settings["TELEPHONY_BACKEND"] == "simulator"

"""Every setting a user can change is documented where they look: README and .env.example."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbot.config import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("document", ["README.md", ".env.example"])
def test_every_setting_is_documented(document: str) -> None:
    text = (ROOT / document).read_text()
    missing = [f"CALLBOT_{name.upper()}" for name in Settings.model_fields
               if f"CALLBOT_{name.upper()}" not in text]
    assert not missing, f"{document} does not document {missing}"


def test_env_example_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Uncommenting every line of .env.example gives exactly the defaults, not an error."""
    defaults = Settings(_env_file=None)
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("# CALLBOT_"):
            name, _, value = line[2:].partition("=")
            if value:
                monkeypatch.setenv(name, value)
    assert Settings(_env_file=None) == defaults
    assert defaults.end_of_turn_silence_ms <= 500

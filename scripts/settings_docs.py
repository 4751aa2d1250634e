"""Regenerate the settings table in README.md and the whole .env.example from callbot.config.

Run after adding or changing a setting: .venv/bin/python scripts/settings_docs.py
"""

from __future__ import annotations

import re
from pathlib import Path

from callbot.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def _default(value: object) -> str:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def main() -> None:
    rows = ["| Variable | Default | What it does |", "|---|---|---|"]
    env = ["# callbot settings: copy to .env and uncomment what you change. Every variable is optional;",
           "# the values shown are the defaults.", ""]
    for name, field in Settings.model_fields.items():
        var, default = f"CALLBOT_{name.upper()}", _default(field.default)
        rows.append(f"| `{var}` | {f'`{default}`' if default else '(empty)'} | {field.description} |")
        env += [f"# {field.description}", f"# {var}={default}", ""]
    (ROOT / ".env.example").write_text("\n".join(env))
    readme = (ROOT / "README.md").read_text()
    table = "<!-- settings:start -->\n" + "\n".join(rows) + "\n<!-- settings:end -->"
    readme = re.sub(r"<!-- settings:start -->.*<!-- settings:end -->", lambda _: table, readme, flags=re.S)
    (ROOT / "README.md").write_text(readme)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# One command: set everything up (with the test tools) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"

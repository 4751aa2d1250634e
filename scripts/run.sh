#!/usr/bin/env bash
# One command: set everything up, start callbot on the embedded offline stack, place one
# simulated call against it so you see it work, then keep answering until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ -z "${CALLBOT_TWILIO_AUTH_TOKEN:-}" ] && ! grep -qs '^CALLBOT_TWILIO_AUTH_TOKEN=.' .env; then
  # No Twilio account yet: nothing can sign requests, so accept unsigned ones, on loopback only.
  export CALLBOT_TWILIO_VALIDATE_SIGNATURE=false CALLBOT_HOST=127.0.0.1
  echo "==> no CALLBOT_TWILIO_AUTH_TOKEN: signature checks off, listening on 127.0.0.1 only"
fi
port=${CALLBOT_PORT:-8000}
.venv/bin/callbot serve --port "$port" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT INT TERM

echo "==> starting (loading speech models)…"
for _ in $(seq 1 180); do
  curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { echo "server failed to start" >&2; exit 1; }
  sleep 1
done

echo "==> a simulated call (a prospect books a meeting; about a minute and a half):"
.venv/bin/callbot call --url "ws://127.0.0.1:$port/twilio/media-stream" --script callbot/business/demo/call.yaml
echo "==> what it left: http://127.0.0.1:$port/api/leads and http://127.0.0.1:$port/api/appointments?phone=%2B15550100001"

echo "==> callbot answers on http://127.0.0.1:$port (webhook POST /twilio/voice). Ctrl-C stops it."
wait $server

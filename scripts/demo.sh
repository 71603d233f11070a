#!/usr/bin/env bash
# `make demo`: a generated county market — a week of hops ending today and this morning's
# rapid tests — checked, then served on 127.0.0.1:8000, or on `make demo PORT=… HOST=…`
# (TRACELIB_DEMO_PORT, TRACELIB_DEMO_HOST) (Ctrl-C stops it).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tracelib="$here/.venv/bin/tracelib"
demo="$here/demo"
host=${TRACELIB_DEMO_HOST:-127.0.0.1}
port=${TRACELIB_DEMO_PORT:-8000}
rm -rf "$demo" && mkdir -p "$demo"
export TRACELIB_DB="$demo/tracelib.db" TRACELIB_KEYSTORE="$demo/keys"
"$tracelib" demo generate --events "${TRACELIB_DEMO_EVENTS:-20000}" --base-url "http://$host:$port"
echo
"$tracelib" verify
"$tracelib" checkpoint
echo
exec "$tracelib" serve --host "$host" --port "$port" --workers 2

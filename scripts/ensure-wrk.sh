#!/usr/bin/env bash
# Make sure `wrk` (the HTTP benchmarking tool, Debian package wrk) is installed: the
# service benchmark (bench/service.py) drives gunicorn with it on loopback.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then exit 0; fi
echo "wrk is not installed: installing Debian's wrk" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v wrk >/dev/null

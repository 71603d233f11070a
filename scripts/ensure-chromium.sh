#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium and a CJK font are installed, for the browser
# test of the stall page (tests/service/test_browser.py). Idempotent and quiet: installs
# only what is missing, prints nothing when everything is already there.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg-query -W -f='${Status}' fonts-wqy-zenhei 2>/dev/null | grep -q "install ok installed" \
  || missing+=(fonts-wqy-zenhei)
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
echo "installing Debian's ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v chromium >/dev/null 2>&1

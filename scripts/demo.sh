#!/usr/bin/env bash
# The demo: a small sample ledger — a farm's origin certificate, a cold-chain hop,
# a market stall and a sale — built from scratch, checkpointed and verified.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tracelib="$here/.venv/bin/tracelib"
demo="$here/demo"
rm -rf "$demo" && mkdir -p "$demo"
export TRACELIB_DB="$demo/tracelib.db" TRACELIB_KEYSTORE="$demo/keys"
"$tracelib" init --operator yunyang-amr --name 云阳县市场监督管理局
"$tracelib" keys new farm-hs01 --role farm --name 云阳县红狮镇蔬菜专业合作社
"$tracelib" keys new carrier-cq01 --role carrier --name 重庆渝冷冷链物流有限公司
"$tracelib" keys new market-yy01 --role market --name 云阳县城南农贸市场
"$tracelib" keys new stall-a01 --role stall --name 张记蔬菜
"$tracelib" append "$here/tracelib/samples/market-day.jsonl"
echo
echo "== latest checkpoint (C2SP signed note)"
"$tracelib" checkpoint
echo "== verify"
"$tracelib" verify
echo "== inclusion proof of the sale (seq 11)"
"$tracelib" prove 11
echo
echo "The ledger is at $demo/tracelib.db; try: TRACELIB_DB=$demo/tracelib.db TRACELIB_KEYSTORE=$demo/keys .venv/bin/tracelib show sale-a01-0001"

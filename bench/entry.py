"""Goods entering from outside the ledger: the append rate of ``entry`` events with three
vouchers beside that of plain ``receive`` events, measured in the same run (SQLite).

The network: a farm, a wholesale market and a stall (a market's stall), registered in a
fresh ledger. Set-up (untimed): ``round(20,000 × N / 1,000,000)`` lots (``--events N``;
at least 500) made at the farm by ``origin`` and shipped to the stall, one ``ship`` each.
Then, timed, batch for batch alternately on the same ledger (so load on the machine and
the ledger's growth hit both alike): the stall's ``receive`` of each shipment, and as many
``entry`` events at the stall — meat from a supplier outside the ledger with three vouchers
(动物检疫合格证明 and 肉品品质检验合格证, which meat needs, and a 购货凭证 whose scan is cited
by its SHA-256). Every event is signed before the clock starts.

Figure: ``entry.sqlite.append.entry``, target ≥ 0.7 × ``entry.sqlite.append.receive``
(docs/contract.md "entry"; issue 17's "Must show").
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from . import workload
from ._core import Context, Row, benchmark, figure, info
from .baselines import _db_files, _unlink_db

CHINA = timezone(timedelta(hours=8))
LOTS_FULL = 20_000
ENTRY_FACTOR = 0.7
BATCH = 500  # events per append: a stall's morning, not a bulk import
START = datetime(2026, 11, 1, 5, 0, tzinfo=CHINA)
PARTIES = (("farm-e1", "云阳县红狮镇生猪养殖场", "farm", "farm-e1", "farm", None),
           ("market-e1", "云阳县城南农贸市场", "market", "market-e1", "market", None),
           ("stall-e1", "张记鲜肉", "stall", "stall-e1", "stall", "market-e1"))


def _moment(i: int) -> str:
    return (START + timedelta(seconds=i)).isoformat()


def _vouchers(i: int) -> list[dict[str, Any]]:
    scan = hashlib.sha256(f"purchase voucher {i}".encode()).hexdigest()
    return [{"type": "动物检疫合格证明", "no": f"50{i:010d}", "issuer": "云阳县动物卫生监督所",
             "issued_at": "2026-11-01"},
            {"type": "肉品品质检验合格证", "no": f"RJ-5002-{i:07d}", "issuer": "云阳县生猪定点屠宰场"},
            {"type": "购货凭证", "no": f"FP-{i:08d}", "file": f"sha256:{scan}"}]


def _setup(n: int) -> Iterator[list[dict[str, Any]]]:
    """The origins and the shipments the receives close, in batches (unsigned)."""
    batch: list[dict[str, Any]] = []
    for i in range(n):
        lot = f"LOT-E-{i:07d}"
        batch.append({"id": f"og-{i:07d}", "kind": "origin", "time": _moment(i),
                      "actor": "farm-e1", "location": "farm-e1",
                      "outputs": [{"lot": lot, "qty": "120", "unit": "kg"}],
                      "data": {"certificate": {
                          "no": f"HG{i:012d}", "product": "生猪", "producer": PARTIES[0][1],
                          "origin_place": "重庆市云阳县红狮镇", "issued_at": _moment(i),
                          "commitments": ["不使用禁用农药兽药、停用兽药和非法添加物"],
                          "basis": "self_test"}}})
        batch.append({"id": f"ship-{i:07d}", "kind": "ship", "time": _moment(n + i),
                      "actor": "farm-e1", "location": "farm-e1",
                      "inputs": [{"lot": lot, "qty": "120", "unit": "kg"}],
                      "data": {"to": "stall-e1"}})
        if len(batch) >= 2 * BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _receive(i: int, n: int) -> dict[str, Any]:
    return {"id": f"recv-{i:07d}", "kind": "receive", "time": _moment(2 * n + i),
            "actor": "stall-e1", "location": "stall-e1",
            "inputs": [{"lot": f"LOT-E-{i:07d}", "qty": "120", "unit": "kg"}],
            "data": {"from": "farm-e1", "ship_event": f"ship-{i:07d}"}}


def _entry(i: int, n: int) -> dict[str, Any]:
    return {"id": f"entry-{i:07d}", "kind": "entry", "time": _moment(2 * n + i),
            "actor": "stall-e1", "location": "stall-e1",
            "outputs": [{"lot": f"ENT-E-{i:07d}", "qty": "30", "unit": "kg"}],
            "data": {"supplier": {"name": "重庆某某食品有限公司", "licence": "JY15001234567890"},
                     "product": "鲜猪肉", "category": "meat", "storage": "chilled",
                     "vouchers": _vouchers(i)}}


@benchmark("entry.sqlite", description="entry events with three vouchers vs plain receives, "
           "append rate in the same run (SQLite)",
           provides=("entry.sqlite.append.receive", "entry.sqlite.append.entry"))
def entry_sqlite(ctx: Context) -> list[Row]:
    from tracelib.events import sign_event
    from tracelib.ledger import Ledger

    opts = ctx.options
    n = max(500, round(LOTS_FULL * opts.events / 1_000_000))
    db = opts.work / f"entry-n{opts.events}-s{opts.seed}.db"
    opts.work.mkdir(parents=True, exist_ok=True)
    _unlink_db(db)
    op_key = workload.operator_key(opts.seed)
    keys = {p[0]: workload._party_key(opts.seed, p[0]) for p in PARTIES}
    now = workload.BENCH_NOW
    ledger = Ledger.create(f"sqlite:///{db}", operator_key=op_key, operator="operator", now=now)
    try:
        locations = []
        for party, name, _, loc, loc_type, parent in PARTIES:
            place: dict[str, Any] = {"id": loc, "name": name, "type": loc_type, "holder": party}
            if parent:
                place["parent"] = parent
            locations.append(place)
        ledger.append([sign_event({
            "id": "register-entry-bench", "kind": "register", "time": _moment(0),
            "actor": "operator", "location": "operator.office",
            "data": {"parties": [{"id": p, "name": nm, "role": r} for p, nm, r, *_ in PARTIES],
                     "locations": locations,
                     "keys": [{"party": p, "key_id": k.key_id, "public_key": k.public.base64(),
                               "valid_from": "2026-01-01T00:00:00+08:00"}
                              for p, k in keys.items()]}}, op_key)], now=now)
        with ctx.step("entry: set-up (origins and shipments)", total=n) as advance:
            for batch in _setup(n):
                ledger.append([sign_event(doc, keys[doc["actor"]]) for doc in batch], now=now)
                advance(len(batch) // 2)
        receives = [sign_event(_receive(i, n), keys["stall-e1"]) for i in range(n)]
        entries = [sign_event(_entry(i, n), keys["stall-e1"]) for i in range(n)]
        spent = {"receive": 0.0, "entry": 0.0}
        for start in range(0, n, BATCH):
            for kind, events in (("receive", receives), ("entry", entries)):
                chunk = events[start:start + BATCH]
                began = time.perf_counter()
                ledger.append(chunk, now=now)
                spent[kind] += time.perf_counter() - began
        size = ledger.size
    finally:
        ledger.close()
        if not opts.keep_db:
            for path in _db_files(db):
                path.unlink(missing_ok=True)
    plain = info("entry.sqlite.append.receive", n / spent["receive"], "events/s",
                 notes=f"{n:,} receives of shipments to a stall, batches of {BATCH}, "
                       f"alternating with the entries; ledger of {size:,} records at the end")
    rate = figure("entry.sqlite.append.entry", n / spent["entry"], "events/s", op=">=",
                  baseline=plain, factor=ENTRY_FACTOR,
                  notes=f"{n:,} meat entries at the stall, three vouchers each (one citing a "
                        f"scan), batches of {BATCH}, alternating with the receives")
    return [plain, rate]

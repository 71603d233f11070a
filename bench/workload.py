"""The benchmark workload: a county-sized network and its signed ``origin`` events.

Everything is a pure function of ``(seed, index)``: the parties, their Ed25519
keys (derived from the seed, never random), and each event. Signing a million
events runs on every core through a process pool; the signed JSON Lines file is
cached in the work folder keyed by N and seed, so reruns skip it.

Only ``origin`` events for now (each commissions a new lot, so later
mass-balance rules for other kinds cannot invalidate the workload). Each one
carries a complete 食用农产品承诺达标合格证 (docs/contract.md: ``certificate: {no,
product, producer, origin_place, issued_at, commitments, basis}`` plus the
producer's contact): about 600-660 bytes of canonical event (what is signed,
hashed and stored), about 750 on the wire with its ``sig``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tracelib.events import sign_event
from tracelib.keys import SigningKey

__all__ = ["BENCH_NOW", "CHUNK", "WORKLOAD_VERSION", "Network", "build_network",
           "ensure_signed_events", "iter_event_batches", "iter_event_lines", "operator_key"]

# Bump when the generator changes, so cached event files are not reused.
WORKLOAD_VERSION = 1
# Events generated and signed per pool task; the unit of determinism (each chunk
# has its own RNG), independent of the number of worker processes.
CHUNK = 5_000
# The ledger's clock during the benchmark (recorded_at of every record).
BENCH_NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
_CST = timezone(timedelta(hours=8))
_EVENTS_FROM = datetime(2026, 9, 1, 5, 0, tzinfo=_CST)
_EVENTS_SPAN_S = 80 * 86_400  # the events' own times span 80 days
_KEYS_VALID_FROM = "2026-01-01T00:00:00+08:00"

# -- vocabulary: places and products of a Chongqing / Zhejiang style county ----
_COUNTIES = (("500235", "重庆市云阳县"), ("500236", "重庆市奉节县"), ("500233", "重庆市忠县"),
             ("330784", "浙江省永康市"), ("330723", "浙江省武义县"), ("330782", "浙江省义乌市"))
_TOWNS = ("红狮镇", "双江街道", "南溪镇", "龙角镇", "人和街道", "江口镇", "高阳镇", "盘龙街道",
          "平安镇", "桑坪镇", "凤鸣镇", "故陵镇", "新津乡", "清水土家族乡", "栖霞镇", "黄石镇")
_VILLAGES = ("龙洞村", "长坪村", "团结村", "桂花村", "石门村", "柏杨村", "新华村", "水口村",
             "青山村", "杨柳村", "大田村", "向阳村", "梨园村", "金竹村", "双河村", "白果村")
_FARM_KINDS = ("蔬菜专业合作社", "家庭农场", "果蔬种植专业合作社", "生猪养殖场",
               "家禽养殖专业合作社", "茶叶专业合作社", "柑橘专业合作社", "水产养殖场")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡"
# (code, product, unit, typical quantity range)
_PRODUCTS = (
    ("JD", "豇豆", "kg", 50, 800), ("QC", "芹菜", "kg", 50, 600), ("JC", "韭菜", "kg", 30, 400),
    ("BC", "小白菜", "kg", 50, 900), ("XHS", "番茄", "kg", 80, 1200), ("LJ", "辣椒", "kg", 40, 700),
    ("QZ", "茄子", "kg", 60, 900), ("HG", "黄瓜", "kg", 60, 1000), ("TD", "土豆", "kg", 200, 3000),
    ("LB", "萝卜", "kg", 100, 2000), ("JG", "脐橙", "kg", 300, 5000),
    ("GJ", "柑橘", "kg", 300, 5000),
    ("SZ", "生猪", "头", 5, 120), ("JD2", "鸡蛋", "箱", 10, 300), ("TJ", "土鸡", "只", 20, 400),
    ("CY", "草鱼", "kg", 100, 1500), ("CH", "茶叶", "kg", 5, 80), ("XG", "香菇", "kg", 20, 300),
)
_MARKET_NAMES = ("城南农贸市场", "城北农贸市场", "滨江农贸市场", "新城农贸市场", "老街农贸市场",
                 "人民路农贸市场", "西门农贸市场", "东风农贸市场", "江北农贸市场", "双江农贸市场")
_STALL_GOODS = ("蔬菜", "水果", "猪肉", "禽蛋", "水产", "豆制品", "干货", "粮油")
_CARRIER_NAMES = ("冷链物流有限公司", "农产品配送中心", "运输有限公司", "供应链管理有限公司")
# 承诺达标合格证 commitments (the three boxes on the national template) and bases.
_COMMITMENTS = ("不使用禁用农药兽药、停用兽药和非法添加物", "常规农药兽药残留不超标",
                "对承诺的真实性负责")
_BASES = ("self_test", "commissioned_test", "internal_control")

# Network shape: ~2,000 parties, each with one key.
N_FARMS = 1_400
N_CARRIERS = 60
N_WHOLESALERS = 20
N_MARKETS = 20
N_STALLS = 500


def _party_key(seed: int, party: str) -> SigningKey:
    """A party's key, derived from the seed (a benchmark fixture, never a real secret)."""
    return SigningKey.from_bytes(hashlib.sha256(f"tracelib-bench/{seed}/{party}".encode()).digest())


def operator_key(seed: int) -> SigningKey:
    return _party_key(seed, "operator")


@dataclass(frozen=True)
class Farm:
    id: str
    name: str
    location: str
    county_code: str
    place: str
    contact: str
    products: tuple[int, ...]  # indexes into _PRODUCTS


@dataclass
class Network:
    """The registered parties of the benchmark county and the operator's register events."""

    seed: int
    farms: list[Farm]
    register_docs: list[dict[str, Any]]  # unsigned register events, in order
    party_count: int

    def signed_register_events(self) -> list[dict[str, Any]]:
        key = operator_key(self.seed)
        return [sign_event(doc, key) for doc in self.register_docs]


def build_network(seed: int) -> Network:
    """The ~2,000 parties (farms, carriers, wholesalers, markets, stalls), deterministic by seed."""
    rng = random.Random(f"network:{seed}")
    parties: list[dict[str, Any]] = []
    locations: list[dict[str, Any]] = []
    keys: list[dict[str, Any]] = []
    farms: list[Farm] = []

    def add(party: str, name: str, role: str, loc: dict[str, Any]) -> None:
        key = _party_key(seed, party)
        parties.append({"id": party, "name": name, "role": role})
        locations.append(loc)
        keys.append({"party": party, "key_id": key.key_id, "public_key": key.public.base64(),
                     "valid_from": _KEYS_VALID_FROM})

    def licence(prefix: str, code: str, n: int) -> str:
        return f"{prefix}{code}{n:08d}"

    markets: list[str] = []
    for m in range(N_MARKETS):
        code, county = _COUNTIES[m % len(_COUNTIES)]
        town = _TOWNS[rng.randrange(len(_TOWNS))]
        pid = f"market-{m:03d}"
        name = f"{county[3:]}{_MARKET_NAMES[m % len(_MARKET_NAMES)]}"
        markets.append(pid)
        add(pid, name, "market", {"id": pid, "name": name, "type": "market", "holder": pid,
                                  "address": f"{county}{town}", "licences": {
                                      "business": licence("91", code, 10_000 + m)}})
    for s in range(N_STALLS):
        market = markets[s % N_MARKETS]
        pid = f"stall-{s:04d}"
        holder = _SURNAMES[rng.randrange(len(_SURNAMES))]
        goods = _STALL_GOODS[rng.randrange(len(_STALL_GOODS))]
        name = f"{holder}记{goods}"
        add(pid, name, "stall", {"id": pid, "name": name, "type": "stall", "parent": market,
                                 "holder": pid, "number": f"{chr(65 + s % 6)}{s // 6 % 90 + 1:02d}",
                                 "licences": {"business": licence("92", "500235", 20_000 + s),
                                              "food": licence("JY1", "500235", 30_000 + s)}})
    for c in range(N_CARRIERS):
        code, county = _COUNTIES[c % len(_COUNTIES)]
        pid = f"carrier-{c:03d}"
        name = f"{county[3:-1]}{_TOWNS[c % len(_TOWNS)][:2]}{_CARRIER_NAMES[c % 4]}"
        add(pid, name, "carrier", {"id": pid, "name": name, "type": "coldstore", "holder": pid,
                                   "address": county})
    for w in range(N_WHOLESALERS):
        code, county = _COUNTIES[w % len(_COUNTIES)]
        pid = f"wholesaler-{w:03d}"
        name = f"{county[3:-1]}农产品批发市场{w + 1}号经营户"
        add(pid, name, "wholesaler", {"id": pid, "name": name, "type": "wholesale_market",
                                      "holder": pid, "address": county})
    for f in range(N_FARMS):
        code, county = _COUNTIES[rng.randrange(len(_COUNTIES))]
        town = _TOWNS[rng.randrange(len(_TOWNS))]
        village = _VILLAGES[rng.randrange(len(_VILLAGES))]
        kind = _FARM_KINDS[rng.randrange(len(_FARM_KINDS))]
        owner = _SURNAMES[rng.randrange(len(_SURNAMES))]
        name = (f"{county[3:]}{town}{village}{kind}" if "合作社" in kind
                else f"{county[3:]}{town}{owner}氏{kind}")
        pid = f"farm-{f:04d}"
        place = f"{county}{town}{village}"
        products = tuple(sorted(rng.sample(range(len(_PRODUCTS)), 3)))
        contact = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
        farm = Farm(pid, name, f"{pid}.base", code, place, contact, products)
        farms.append(farm)
        add(pid, name, "farm", {"id": farm.location, "name": f"{name}生产基地", "type": "farm",
                                "holder": pid, "address": place})

    # Register in events of at most 250 parties (markets come first: stalls name them as parent).
    docs: list[dict[str, Any]] = []
    step = 250
    for n, start in enumerate(range(0, len(parties), step)):
        docs.append({
            "id": f"bench-register-{seed}-{n:03d}", "kind": "register",
            "time": "2026-08-31T09:00:00+08:00", "actor": "operator",
            "location": "operator.office",
            "data": {"parties": parties[start:start + step],
                     "locations": locations[start:start + step],
                     "keys": keys[start:start + step]},
        })
    return Network(seed, farms, docs, len(parties))


def origin_event(seed: int, index: int, total: int, farms: list[Farm],
                 rng: random.Random) -> dict[str, Any]:
    """The unsigned ``origin`` event number ``index`` (of ``total``)."""
    farm = farms[rng.randrange(len(farms))]
    code, product, unit, low, high = _PRODUCTS[farm.products[rng.randrange(3)]]
    qty = rng.randrange(low * 10, high * 10 + 1)
    qty_text = f"{qty // 10}.{qty % 10}" if qty % 10 else str(qty // 10)
    # Event times advance with the index (with jitter), within an 80-day season.
    base = _EVENTS_SPAN_S * index // max(total, 1)
    moment = _EVENTS_FROM + timedelta(seconds=base + rng.randrange(600))
    when = moment.isoformat()
    day = moment.strftime("%Y%m%d")
    lot = f"LOT-{code}-{farm.id[5:]}-{day}-{index:07d}"
    commitments = list(_COMMITMENTS) if rng.random() < 0.9 else list(_COMMITMENTS[:2])
    return {
        "id": f"og-{seed}-{index:07d}", "kind": "origin", "time": when,
        "actor": farm.id, "location": farm.location,
        "outputs": [{"lot": lot, "qty": qty_text, "unit": unit}],
        "data": {"certificate": {
            "no": f"HGZ{farm.county_code}{day}{index:07d}",
            "product": product, "producer": farm.name, "contact": farm.contact,
            "origin_place": farm.place, "issued_at": when,
            "commitments": commitments, "basis": _BASES[rng.randrange(len(_BASES))],
        }},
    }


# -- signing (pool workers import this module by name: spawn-safe) -------------
_WORKER: dict[str, Any] = {}


def _init_signer(seed: int) -> None:
    _WORKER.clear()
    _WORKER["seed"] = seed
    _WORKER["farms"] = build_network(seed).farms
    _WORKER["keys"] = {}


def _sign_chunk(task: tuple[int, int, int]) -> bytes:
    """Signed JSON Lines for events [start, end) of ``total``; deterministic per chunk."""
    start, end, total = task
    seed: int = _WORKER["seed"]
    farms: list[Farm] = _WORKER["farms"]
    keys: dict[str, SigningKey] = _WORKER["keys"]
    rng = random.Random(f"events:{seed}:{start}")
    out: list[bytes] = []
    for index in range(start, end):
        doc = origin_event(seed, index, total, farms, rng)
        key = keys.get(doc["actor"])
        if key is None:
            key = keys[doc["actor"]] = _party_key(seed, doc["actor"])
        signed = sign_event(doc, key)
        out.append(json.dumps(signed, ensure_ascii=False, sort_keys=True,
                              separators=(",", ":")).encode("utf-8"))
    return b"\n".join(out) + b"\n"


def events_path(workdir: Path, n: int, seed: int) -> Path:
    return workdir / f"events-v{WORKLOAD_VERSION}-n{n}-s{seed}.jsonl"


def ensure_signed_events(workdir: Path, n: int, seed: int, *, workers: int,
                         progress: Callable[[int], None] | None = None) -> tuple[Path, bool]:
    """The path of the signed JSONL of ``n`` origin events, and whether it was cached."""
    path = events_path(workdir, n, seed)
    if path.exists():
        return path, True
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tasks = [(s, min(s + CHUNK, n), n) for s in range(0, n, CHUNK)]
    try:
        with open(tmp, "wb") as out:
            if workers <= 1 or len(tasks) == 1:
                _init_signer(seed)
                for task in tasks:
                    out.write(_sign_chunk(task))
                    if progress is not None:
                        progress(task[1] - task[0])
            else:
                ctx = multiprocessing.get_context("spawn")
                with ctx.Pool(workers, initializer=_init_signer, initargs=(seed,)) as pool:
                    for task, blob in zip(tasks, pool.imap(_sign_chunk, tasks), strict=True):
                        out.write(blob)
                        if progress is not None:
                            progress(task[1] - task[0])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path, False


def iter_event_lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for line in f:
            yield line.rstrip(b"\n")


def iter_event_batches(path: Path, size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in iter_event_lines(path):
        batch.append(line)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

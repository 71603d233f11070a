"""The demo county market: a generated week of hops, the city's year of official sampling
(a plan, lab results of every sampling type, inspections, canteens and a school: see
:mod:`tracelib_demo.city`) and today's rapid tests, in a ledger with every party's key in a
keystore — what `make demo` serves."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from tracelib.events import sign_event
from tracelib.keys import Keystore
from tracelib.ledger import Ledger
from tracelib.store.supply import SupplySql
from tracelib.timeutil import utcnow

from .city import CityYear, generate_city
from .generator import NetworkSpec, generate

__all__ = ["DemoMarket", "build_demo_market"]

CHINA = timezone(timedelta(hours=8))
MEATS = ("猪肉", "鲜猪肉", "冻猪肉", "牛肉", "羊肉", "鸡肉")


@dataclass(frozen=True)
class DemoMarket:
    size: int
    markets: tuple[str, ...]
    stalls: tuple[str, ...]
    held_stall: str | None
    example_stall: str
    #: an origin lot with stock still on hand downstream: a drill or recall on it has places
    #: to visit (docs/contract.md "Recall")
    drill_lot: str
    #: the stalls the drill lot reached over the week
    drill_stalls: int
    gtin_lot: str | None
    tests: dict[str, int]
    #: the year of the city's official sampling (None: too early in the year for one)
    kpi_year: int | None = None
    #: what ``tracelib report kpi --year kpi_year`` must show, counted from the generator
    kpi: dict[str, str | None] | None = None
    #: a lot received at the school's canteen (a drill on it names the school)
    school_lot: str | None = None
    #: the stalls still holding stock of the drill lot (or of lots made from it)
    drill_stalls_with_stock: int = 0


def build_demo_market(db: str, keystore: str | Path, *, events: int = 20_000, seed: int = 7,
                      today: date | None = None, now: datetime | None = None,
                      progress: Callable[[int], None] | None = None) -> DemoMarket:
    """Generate a week ending today, append it and the city's year of official sampling to
    today (from February on: a year needs days to sample), add today's rapid tests, sign a
    checkpoint.

    The week runs to this evening and the tests to this morning, later than the clock when
    the demo is built early in the day; an event may not be later than the time it is
    recorded (docs/contract.md "Event"), so the week is recorded as of its end: midnight
    after ``today`` (China time), or ``now`` when that is later."""
    clock = now or utcnow()
    today = today or clock.astimezone(CHINA).date()
    spec = NetworkSpec(seed=seed, events=events, days=7, start=today - timedelta(days=6))
    net = generate(spec)
    city = None
    if today >= date(today.year, 2, 1):
        city = generate_city(net, CityYear(year=today.year, end=today, population=60_000,
                                           samples=300, rapid_tests=120, inspections=30))
        for party, key in city.keys.items():
            net.keys.setdefault(party, key)
    recorded = max(clock, net.end if city is None else city.end)
    store = Keystore(keystore)
    for party, key in net.keys.items():
        store.save(party, key)
    ledger = Ledger.create(db, operator_key=net.operator_key, operator=spec.operator,
                           operator_name="云阳县市场监督管理局", now=clock)
    try:
        ledger.append(net.events(), now=recorded, progress=progress, pause_gc=True)
        if city is not None:
            ledger.append(city.events(), now=recorded, pause_gc=True)
        rng = random.Random(f"{seed}:tests")  # noqa: S311 - demo data, deterministic by seed
        counts, recorded = _rapid_tests(ledger, net.keys, today, rng, recorded)
        figures = None
        if city is not None:  # this morning's rapid tests are the year's too
            for outcome, n in counts.items():
                city.truth.rapid[outcome] = city.truth.rapid.get(outcome, 0) + n
            figures = city.truth.figures()
        ledger.sign_checkpoint(net.operator_key, now=recorded, memory=ledger.signer_memory(store))
        stalls = tuple(sorted(net.truth.stalls()))
        markets = tuple(sorted({loc.parent for s in stalls
                                if (loc := ledger.location(s)) and loc.parent}))
        best, reach, stocked = _drill_lot(net)
        held = _held_stall(ledger, stalls)
        example = held or stalls[0]
        return DemoMarket(ledger.size, markets, stalls, held, example, best, reach,
                          _gtin_lot(ledger), counts, None if city is None else today.year,
                          figures, None if city is None else city.truth.school_lot or None,
                          stocked)
    finally:
        ledger.close()


def _rapid_tests(ledger: Ledger, keys: dict[str, Any], today: date,
                 rng: random.Random, recorded: datetime) -> tuple[dict[str, int], datetime]:
    """This morning's tests: one sample per stall with stock, mostly negative; about one in
    twenty-five suspect and one in forty positive (which holds the lot). Recorded as of
    ``recorded``, or of the last test's time when that is later; returns the counts and the
    time of recording."""
    counts = {"negative": 0, "suspect": 0, "positive": 0}
    events = []
    with ledger.store.reader() as conn:
        stalls = sorted({row.location for row in SupplySql.stock_at_type(conn, "stall")})
        for n, stall in enumerate(stalls):
            stock = [r for r in SupplySql.stock_at(conn, stall) if r.hold_seq is None]
            if not stock:
                continue
            row = rng.choice(stock)
            lot = SupplySql.lots(conn, [row.lot])[row.lot]
            place = ledger.store.location(conn, stall)
            market = ledger.store.location(conn, place.parent) if place and place.parent else None
            actor = market.holder if market and market.holder else (place.holder if place else None)
            if actor is None or actor not in keys:
                continue
            product = lot.product or "蔬菜"
            moment = datetime.combine(today, time(6, 30), CHINA) + timedelta(minutes=n)
            roll = rng.random()
            outcome = "positive" if roll < 0.025 else "suspect" if roll < 0.065 else "negative"
            data: dict[str, Any] = {"sample": f"{product}-{n + 1:03d}", "lot": row.lot,
                                    "commodity": product, "tester": "快检室 王芳",
                                    "reviewer": "快检室 李强", "test_no": f"KJ{today:%Y%m%d}{n:04d}",
                                    "instrument": {"model": "RP-410", "serial": "YY-0107"}}
            if product in MEATS:
                data.update(item="克伦特罗", method="colloidal-gold",
                            result="positive" if outcome == "positive" else "negative")
                outcome = data["result"]
            else:
                delta_at = {"negative": rng.choice(("0.742", "0.756", "0.731", "0.768")),
                            "suspect": "0.452", "positive": "0.318"}[outcome]
                data.update(item="有机磷和氨基甲酸酯类农药", method="GB/T 5009.199-2003",
                            readings={"delta_a0": "0.800", "delta_at": delta_at})
            counts[outcome] += 1
            events.append(sign_event({"id": data["test_no"], "kind": "rapid_test",
                                      "time": moment.isoformat(), "actor": actor,
                                      "location": stall, "data": data}, keys[actor]))
    recorded = max([recorded, *(datetime.fromisoformat(e["time"]) for e in events)])
    ledger.append(events, now=recorded)
    return counts, recorded


def _drill_lot(net: Any) -> tuple[str, int, int]:
    """The origin lot worth a drill: the one with stock still on hand at the most stalls (a
    recall of it has places to visit), then the one that reached the most stalls over the
    week; returns it, the stalls it reached and the stalls still holding some of it. A lot
    sold out everywhere is never chosen while another has stock on hand anywhere."""
    best, key = "", (-1, -1, -1)
    reach = stocked = 0
    for lot in net.truth.lots():
        if net.truth.origins(lot) != {lot}:
            continue
        forward = net.truth.forward(lot)
        anywhere = int(any(on_hand > 0 for _r, _s, on_hand in forward.values()))
        stalls = {loc for loc, _unit in forward if net.truth.location_type(loc) == "stall"}
        with_stock = {loc for (loc, _unit), (_r, _s, on_hand) in forward.items()
                      if on_hand > 0 and net.truth.location_type(loc) == "stall"}
        candidate = (anywhere, len(with_stock), len(stalls))
        if candidate > key:
            best, key = lot, candidate
            reach, stocked = len(stalls), len(with_stock)
    return best, reach, stocked


def _held_stall(ledger: Ledger, stalls: tuple[str, ...]) -> str | None:
    with ledger.store.reader() as conn:
        for stall in stalls:
            if any(r.hold_seq is not None for r in SupplySql.stock_at(conn, stall)):
                return stall
    return None


def _gtin_lot(ledger: Ledger) -> str | None:
    from sqlalchemy import select

    from tracelib.store.schema import lots

    with ledger.store.reader() as conn:
        row = conn.execute(select(lots.c.lot).where(lots.c.gtin.is_not(None)).limit(1)).first()
    return None if row is None else str(row[0])

"""Demonstration-city KPI figures over a generated city-year of rapid tests and official
sampling (SQLite).

The city: a small generated network (:func:`tracelib_demo.generator.generate`, 20
markets, their stalls stocked by a week of trade ending on 31 December), the city's year of
official sampling over it (:mod:`tracelib_demo.city`: a regulator's plan and
``round(20,000 × N / 1,000,000)`` laboratory results of every sampling type across the three
stages, with inspections), then a year of ``rapid_test`` events,
``round(500,000 × N / 1,000,000)`` of them (``--events N``; 500,000 at the default size ≈ 68
a day per market), each signed by the market (its 快检室) on a lot on hand at one of its
stalls:

* ~2 % positive, which hold the lot at the stall in the same transaction (下架) and
  open a follow-up; a negative retest (``retest: true``) 1-3 days later releases it
  and closes the follow-up;
* ~4 % suspect (enzyme inhibition 40-50 %), the rest negative; meat is tested with
  clenbuterol strips (negative / positive), the rest with enzyme inhibition readings.

Figures:

* append rate of the rapid tests (batches of ``--batch``, signed untimed), target
  ≥ 0.9 × the plain append rate measured in the same run: the same number of
  ``origin`` events of the same farms (the generated certificates, new lot codes),
  appended in the same batches to an identical copy of the city ledger, batch for
  batch alternately with the tests (so load on the machine hits both alike);
* ``tracelib.views.kpi.kpi(ledger, population=…, year=…)``, median of 5 runs, beside the
  same GROUP BY in raw ``sqlite3``;
* ``tracelib report kpi --json`` end to end in a subprocess (one run, Python start-up
  and imports included), target ≤ 1 s, beside ``tracelib --version`` (start-up alone); its
  official figures must equal those the generator counted (:meth:`CityTruth.figures`) and
  its rapid tests the number appended.
"""

from __future__ import annotations

import copy
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Any

from . import workload
from ._core import BenchmarkError, Context, Row, benchmark, figure, info, median
from .baselines import _db_files, _unlink_db

REPO = Path(__file__).resolve().parent.parent
CHINA = timezone(timedelta(hours=8))
YEAR = workload.BENCH_NOW.year - 1  # the last whole year before the bench's clock
TESTS_FULL = 500_000
OFFICIAL_FULL = 20_000
OFFICIAL_NAMES = ("sampling_batches_per_1000", "residue_batches_per_1000",
                  "evaluation_pass_rate", "follow_up_rate", "plan_completion")
POPULATION = 1_000_000
MARKETS = 20
POSITIVE, SUSPECT = 0.02, 0.04
APPEND_FACTOR = 0.9
KPI_MS = 1000.0
KPI_RUNS = 5
OPERATOR_NAME = "云阳县市场监督管理局"


def _scale(events: int) -> float:
    return events / 1_000_000


def city_spec(events: int, seed: int) -> Any:
    """The city's market network: 20 markets; 20 stalls each at full size, 5 when small."""
    from tracelib_demo.generator import NetworkSpec

    full = events >= 300_000
    return NetworkSpec(seed=seed, events=15_000 if full else 3_000, farms=40 if full else 12,
                       markets=MARKETS, stalls_per_market=20 if full else 5, days=7,
                       start=date(YEAR - 1, 12, 25))


# -- the events ------------------------------------------------------------------------------
def _rapid_tests(n: int, seed: int, stalls: dict[str, list[str]],
                 free: dict[str, dict[str, str]], market_of: dict[str, str],
                 holder: dict[str, str], counts: dict[str, int]) -> Iterator[dict[str, Any]]:
    """``n`` unsigned rapid tests over the year, in time order.

    ``stalls``: market -> its stalls with unheld stock; ``free``: stall -> {lot: product}
    of unheld lots on hand (kept in step with what the ledger will do: a positive test
    holds the lot, a negative retest releases it)."""
    from tracelib_demo.market import MEATS

    rng = random.Random(f"{seed}:kpi-tests")
    markets = sorted(stalls)
    first = date(YEAR, 1, 1)
    days = (date(YEAR + 1, 1, 1) - first).days
    retests: deque[tuple[int, str, str, str]] = deque()  # (due index, stall, lot, product)
    day_start = 0
    current = -1
    for i in range(n):
        day = i * days // n
        if day != current:
            current, day_start = day, i
        on = first + timedelta(days=day)
        moment = datetime.combine(on, dtime(6, 30), CHINA) + timedelta(seconds=20 * (i - day_start))
        retest = False
        if retests and retests[0][0] <= i:
            _, stall, lot, product = retests.popleft()
            outcome = "negative"
            retest = True
        else:
            market = markets[i % len(markets)]
            choices = stalls[market]
            stall = rng.choice(choices)
            lot = rng.choice(sorted(free[stall]))
            product = free[stall][lot]
            roll = rng.random()
            outcome = ("positive" if roll < POSITIVE else "suspect" if roll < POSITIVE + SUSPECT
                       else "negative")
        test_no = f"KJ{on:%Y%m%d}{i:07d}"
        data: dict[str, Any] = {"sample": f"{product}-{i + 1:07d}", "lot": lot,
                                "commodity": product, "tester": "快检室 王芳",
                                "reviewer": "快检室 李强", "test_no": test_no,
                                "instrument": {"model": "RP-410", "serial": "YY-0107"}}
        if product in MEATS:
            outcome = "positive" if outcome == "positive" else "negative"
            data.update(item="克伦特罗", method="colloidal-gold", result=outcome)
        else:
            delta_at = {"negative": rng.choice(("0.742", "0.756", "0.731", "0.768")),
                        "suspect": "0.452", "positive": "0.318"}[outcome]
            data.update(item="有机磷和氨基甲酸酯类农药", method="GB/T 5009.199-2003",
                        readings={"delta_a0": "0.800", "delta_at": delta_at})
        if retest:
            data["retest"] = True
            free[stall][lot] = product
            if stall not in stalls[market_of[stall]]:
                stalls[market_of[stall]].append(stall)
            counts["retest"] += 1
        elif outcome == "positive":  # held: off the shelf until the retest
            del free[stall][lot]
            if not free[stall]:
                stalls[market_of[stall]].remove(stall)
            retests.append((i + rng.randrange(MARKETS * 35, MARKETS * 35 * 3), stall, lot,
                            product))
        counts[outcome] += 1
        actor = holder[market_of[stall]]
        yield {"id": f"kj-{seed}-{i:07d}", "kind": "rapid_test", "time": moment.isoformat(),
               "actor": actor, "location": stall, "data": data}


def _origins(n: int, seed: int, templates: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``n`` unsigned ``origin`` events: the city's own farm certificates, new lot codes and
    certificate numbers, over the same year."""
    first = date(YEAR, 1, 1)
    days = (date(YEAR + 1, 1, 1) - first).days
    for i in range(n):
        t = templates[i % len(templates)]
        on = first + timedelta(days=i * days // n)
        moment = (datetime.combine(on, dtime(1, 0), CHINA)
                  + timedelta(seconds=(i % 4000) * 5)).isoformat()
        doc = copy.deepcopy(t)
        doc["id"] = f"kpi-og-{seed}-{i:07d}"
        doc["time"] = moment
        out = doc["outputs"][0]
        out["lot"] = f"{out['lot']}-K{i:07d}"
        cert = doc["data"]["certificate"]
        cert["no"] = f"{cert['no']}K{i:07d}"
        cert["issued_at"] = moment
        yield doc


# -- the city ledger ---------------------------------------------------------------------------
def _backup(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite database (the backup API)."""
    _unlink_db(dst)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


def _tracelib() -> list[str]:
    exe = Path(sys.executable).with_name("tracelib")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "tracelib_cli.main"]


@benchmark("kpi.sqlite", description="rapid-test append rate and `tracelib report kpi` over a "
           "generated city-year of rapid tests and official sampling (SQLite)",
           provides=("kpi.sqlite.append.plain", "kpi.sqlite.append.rapid_test",
                     "kpi.sqlite.raw_sql", "kpi.sqlite.kpi", "kpi.sqlite.cli_startup",
                     "kpi.sqlite.report_cli"))
def kpi_sqlite(ctx: Context) -> list[Row]:
    from tracelib.events import sign_event
    from tracelib.ledger import Ledger
    from tracelib.store.supply import SupplySql
    from tracelib.views.kpi import kpi
    from tracelib_demo.city import CityYear, generate_city
    from tracelib_demo.generator import derive_key, generate

    opts = ctx.options
    n = max(1, round(TESTS_FULL * _scale(opts.events)))
    m = max(20, round(OFFICIAL_FULL * _scale(opts.events)))
    spec = city_spec(opts.events, opts.seed)
    now = workload.BENCH_NOW
    base = opts.work / f"kpi-city-n{opts.events}-s{opts.seed}.db"
    db_tests = opts.work / f"kpi-tests-n{opts.events}-s{opts.seed}.db"
    db_plain = opts.work / f"kpi-plain-n{opts.events}-s{opts.seed}.db"
    dbs = (base, db_tests, db_plain)
    for db in dbs:
        _unlink_db(db)
    opts.work.mkdir(parents=True, exist_ok=True)
    try:
        # -- set-up (untimed): the city's week of trade.
        net = generate(spec)
        op_key = derive_key(spec.seed, spec.operator)
        ledger = Ledger.create(f"sqlite:///{base.resolve()}", operator_key=op_key,
                               operator=spec.operator, operator_name=OPERATOR_NAME,
                               origin="bench.tracelib.example/city", now=now)
        templates: list[dict[str, Any]] = []
        seen_farms: set[str] = set()

        def stream() -> Iterator[dict[str, Any]]:
            for doc in net.events():
                if (doc["kind"] == "origin" and doc["actor"].startswith("farm-")
                        and doc["actor"] not in seen_farms):
                    seen_farms.add(doc["actor"])
                    templates.append({k: v for k, v in doc.items() if k != "sig"})
                yield doc

        with ctx.step(f"city: {spec.events:,} events of a week's trade, {MARKETS} markets × "
                      f"{spec.stalls_per_market} stalls", total=spec.events) as advance:
            ledger.append(stream(), now=now, progress=None, pause_gc=True)
            advance(spec.events)
        city = generate_city(net, CityYear(year=YEAR, population=POPULATION, samples=m,
                                           rapid_tests=0, inspections=40,
                                           end=date(YEAR, 12, 31)))
        with ctx.step(f"city: a plan and {m:,} laboratory results of official sampling and "
                      "others over the year", total=m) as advance:
            ledger.append(city.events(), now=now, progress=None, pause_gc=True)
            advance(m)
        truth = city.truth
        official = len(truth.official())
        ledger.sign_checkpoint(op_key, now=now)
        with ledger.store.reader() as conn:
            rows = [r for r in SupplySql.stock_at_type(conn, "stall") if r.hold_seq is None]
            products = SupplySql.lots(conn, sorted({r.lot for r in rows}))
            places = ledger.store.locations(conn, {r.location for r in rows})
            markets = ledger.store.locations(conn, {p.parent for p in places.values()
                                                    if p.parent})
        ledger.close()
        free: dict[str, dict[str, str]] = {}
        for r in rows:
            free.setdefault(r.location, {})[r.lot] = products[r.lot].product or "蔬菜"
        market_of = {s: places[s].parent or "" for s in free}
        holder = {m: loc.holder or m for m, loc in markets.items()}
        stalls: dict[str, list[str]] = {}
        for s in sorted(free):
            stalls.setdefault(market_of[s], []).append(s)
        if len(stalls) < MARKETS:
            raise BenchmarkError(f"only {len(stalls)} of {MARKETS} markets have stalls with "
                                 "stock on hand")
        if not templates:
            raise BenchmarkError("the city's week has no farm origin events")
        _backup(base, db_tests)
        _backup(base, db_plain)
        os.sync()  # write back the copies (and earlier suites' pages) before timing

        # -- append, alternately: a batch of rapid tests, a batch of plain origins.
        counts = {"negative": 0, "suspect": 0, "positive": 0, "retest": 0}
        tests = _rapid_tests(n, opts.seed, stalls, free, market_of, holder, counts)
        origins = _origins(n, opts.seed, templates)
        keys = city.keys
        t_ledger = Ledger.open(f"sqlite:///{db_tests.resolve()}")
        p_ledger = Ledger.open(f"sqlite:///{db_plain.resolve()}")
        timed = {"tests": 0.0, "plain": 0.0}
        rates: dict[str, list[float]] = {"tests": [], "plain": []}
        sign_s = 0.0
        try:
            with ctx.step(f"append {n:,} rapid tests and {n:,} plain origin events in batches "
                          f"of {opts.batch:,}, alternately", total=2 * n) as advance:
                done = 0
                k = 0
                while done < n:
                    size = min(opts.batch, n - done)
                    t0 = time.perf_counter()
                    batches = {
                        "tests": [sign_event(d, keys[d["actor"]]) for d in _take(tests, size)],
                        "plain": [sign_event(d, keys[d["actor"]]) for d in _take(origins, size)],
                    }
                    sign_s += time.perf_counter() - t0
                    order = ("tests", "plain") if k % 2 == 0 else ("plain", "tests")
                    for what in order:
                        target = t_ledger if what == "tests" else p_ledger
                        docs = batches[what]
                        t0 = time.perf_counter()
                        receipts = target.append(docs, now=now, pause_gc=True)
                        spent = time.perf_counter() - t0
                        if len(receipts) != len(docs):
                            raise BenchmarkError(f"append returned {len(receipts)} receipts "
                                                 f"for {len(docs)} {what} events")
                        timed[what] += spent
                        rates[what].append(len(docs) / spent)
                        advance(len(docs))
                    done += size
                    k += 1
            t_ledger.sign_checkpoint(op_key, now=now)

            # -- what the ledger made of the tests (checks the workload, untimed).
            with t_ledger.store.reader() as conn:
                from sqlalchemy import func, select

                from tracelib.store.schema import test_results
                judged = dict(conn.execute(
                    select(test_results.c.result, func.count())
                    .where(test_results.c.kind == "rapid").group_by(test_results.c.result)
                ).all())
                follow = dict(conn.execute(
                    select(test_results.c.follow_up, func.count())
                    .where(test_results.c.kind == "rapid")
                    .group_by(test_results.c.follow_up)).all())
            expected = {k: v for k, v in counts.items() if k != "retest" and v}
            if {k: v for k, v in judged.items() if v} != expected:
                raise BenchmarkError(f"the ledger judged {judged}, the workload meant {expected}")

            # -- kpi() in process, beside the same GROUP BY in raw sqlite3.
            kpi_ms: list[float] = []
            figures = None
            for _ in range(KPI_RUNS):
                t0 = time.perf_counter_ns()
                figures = kpi(t_ledger, population=POPULATION, year=YEAR)
                kpi_ms.append((time.perf_counter_ns() - t0) / 1e6)
            assert figures is not None
            if figures.rapid != n or figures.tests != n + len(truth.samples):
                raise BenchmarkError(f"kpi() counted {figures.rapid:,} rapid tests of "
                                     f"{figures.tests:,}, expected {n:,} of "
                                     f"{n + len(truth.samples):,}")
        finally:
            t_ledger.close()
            p_ledger.close()
        raw_ms = _raw_sql(db_tests)

        # -- the CLI end to end, beside the CLI's start-up alone.
        cli = _tracelib()
        t0 = time.perf_counter()
        startup = subprocess.run([*cli, "--version"], capture_output=True, text=True,
                                 cwd=REPO, timeout=120)
        startup_ms = (time.perf_counter() - t0) * 1000
        if startup.returncode != 0:
            raise BenchmarkError(f"tracelib --version failed: {startup.stderr[-500:]}")
        t0 = time.perf_counter()
        proc = subprocess.run([*cli, "--db", str(db_tests), "report", "kpi", "--population",
                               str(POPULATION), "--year", str(YEAR), "--json"],
                              capture_output=True, text=True, cwd=REPO, timeout=600)
        cli_ms = (time.perf_counter() - t0) * 1000
        if proc.returncode != 0:
            raise BenchmarkError(f"tracelib report kpi failed ({proc.returncode}): "
                                 f"{proc.stderr[-1000:]}")
        doc = json.loads(proc.stdout)
        # Rapid tests counted apart from official sampling; the official figures as the
        # generator counted them.
        if doc["counts"]["rapid"] != n or doc["counts"]["batches"] != official:
            raise BenchmarkError(f"tracelib report kpi counted {doc['counts']['rapid']} rapid "
                                 f"tests and {doc['counts']['batches']} official batches, "
                                 f"expected {n} and {official}")
        got = {f["name"]: f["value"] for f in doc["figures"]}
        want = {k: v for k, v in truth.figures().items() if k in OFFICIAL_NAMES}
        if got != want:
            raise BenchmarkError(f"tracelib report kpi gave {got}, the generator counted {want}")
        size_mb = sum(p.stat().st_size for p in _db_files(db_tests)) / 1e6
    finally:
        if not opts.keep_db:
            for db in dbs:
                _unlink_db(db)

    per_day = n / 365 / MARKETS
    plain_rate, test_rate = n / timed["plain"], n / timed["tests"]
    plain = info("kpi.sqlite.append.plain", plain_rate, "events/s",
                 f"{n:,} plain origin events (the city's farm certificates, new lot codes) in "
                 f"{timed['plain']:.1f} s, batches of {opts.batch:,} alternating with the tests "
                 f"on an identical copy of the city ledger; batch rates "
                 f"{min(rates['plain']):,.0f}-{max(rates['plain']):,.0f}/s")
    raw = info("kpi.sqlite.raw_sql", median(raw_ms), "ms",
               f"the same GROUP BY (day, kind, result, residue, follow_up, sampling, category, "
               f"stage) in raw sqlite3, median "
               f"of {len(raw_ms)}")
    start = info("kpi.sqlite.cli_startup", startup_ms, "ms",
                 "`tracelib --version` end to end (Python start-up and the CLI's imports)")
    outcome = (f"{counts['negative']:,} negative ({counts['retest']:,} of them retests that "
               f"released a held lot), {counts['suspect']:,} suspect, {counts['positive']:,} "
               f"positive; follow-ups {follow}")
    return [
        plain,
        figure("kpi.sqlite.append.rapid_test", test_rate, "events/s", op=">=",
               factor=APPEND_FACTOR, baseline=plain,
               notes=f"{n:,} rapid tests ({per_day:.1f} a day per market over {YEAR}, "
                     f"{MARKETS} markets × {spec.stalls_per_market} stalls) in "
                     f"{timed['tests']:.1f} s, holds and releases in the same transactions; "
                     f"{outcome}; batch rates {min(rates['tests']):,.0f}-"
                     f"{max(rates['tests']):,.0f}/s; signed untimed ({sign_s:.0f} s for both)"),
        raw,
        figure("kpi.sqlite.kpi", median(kpi_ms), "ms", op="<=", target=KPI_MS, baseline=raw,
               notes=f"tracelib.views.kpi.kpi(population={POPULATION:,}, year={YEAR}), median of "
                     f"{KPI_RUNS} (first {kpi_ms[0]:.1f} ms); {n:,} rapid tests and "
                     f"{len(truth.samples):,} lab results ({official:,} official sampling, "
                     f"{len(truth.targets)} plan targets); ledger {size_mb:,.0f} MB"),
        start,
        figure("kpi.sqlite.report_cli", cli_ms, "ms", op="<=", target=KPI_MS, baseline=start,
               notes=f"`tracelib report kpi --population {POPULATION} --year {YEAR} --json` in "
                     f"a subprocess, one run, end to end; official figures equal to the "
                     f"generator's count ({', '.join(f'{k} {v}' for k, v in got.items())})"),
    ]


def _take(it: Iterator[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    out = []
    for doc in it:
        out.append(doc)
        if len(out) == n:
            break
    return out


_RAW = """SELECT day, kind, result, residue, follow_up, sampling, category, stage, count(*)
FROM test_results WHERE day >= ? AND day <= ?
GROUP BY day, kind, result, residue, follow_up, sampling, category, stage"""


def _raw_sql(db: Path) -> list[float]:
    con = sqlite3.connect(db)
    try:
        times = []
        for _ in range(KPI_RUNS):
            t0 = time.perf_counter_ns()
            con.execute(_RAW, (f"{YEAR}-01-01", f"{YEAR}-12-31")).fetchall()
            times.append((time.perf_counter_ns() - t0) / 1e6)
        return times
    finally:
        con.close()

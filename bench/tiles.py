"""Tile log figures (docs/contract.md "Tile log"): hash tiles served by the service under
gunicorn against a plain static file server serving ``tracelib log export`` of the same
ledger, driven by the same client in the same run.

The ledger is this suite's own: ``min(--events, 20,000)`` signed ``origin`` events of the
benchmark workload (:mod:`bench.workload`), checkpointed. Its size barely matters: a hash
tile is one primary-key range read of at most 256 stored hashes (``records.hash`` for level
0, ``nodes`` above), whatever the ledger holds; the figure is about the per-request cost
of the service against a file server.

* the product: ``tracelib serve --workers 2`` (gunicorn, as :mod:`bench.service` starts it,
  the rate limiter on at a rate never reached), ``GET /log/tile/…``;
* the baseline: ``python -m http.server`` (the standard library's threading static
  server, one process) over the folder ``tracelib log export`` wrote — nginx is not on
  the machine. Every path answered by both is first checked byte-identical.

``wrk`` drives each for 8 s (3 s warm-up, untimed) at 32 connections and 2 threads,
cycling over every hash tile path of the tree (a Lua ``request`` function); the two
servers alternate three times (static, service, …) so that other load on the machine hits
both alike, and the best run of each counts. The service's workers keep the tiles they
served (``TILE_CACHE_MB``), as the static server has the files in the page cache.
Target: ``log.tiles`` ≥ 0.5 × ``log.tiles.static`` (``log.tiles.ratio``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from . import workload
from ._core import BenchmarkError, Context, Row, benchmark, figure, info
from .service import (
    CONNECTIONS,
    HOST,
    LIMITER_ON,
    REPO,
    THREADS,
    WORKERS,
    Server,
    _ensure_wrk,
    _free_port,
    _serve,
    _stop,
    _wrk,
    wrk_script,
)

MAX_EVENTS = 20_000
SECONDS = 8.0
WARMUP = 3.0
RATIO = 0.5
ROUNDS = 3
OCTETS = "application/octet-stream"



def _build(ctx: Context, db: Path, n: int) -> int:
    """A checkpointed ledger of the workload's first ``n`` origin events; its size."""
    from tracelib.ledger import Ledger

    seed = ctx.options.seed
    path, _cached = workload.ensure_signed_events(ctx.options.work, n, seed,
                                                  workers=os.cpu_count() or 1)
    op_key = workload.operator_key(seed)
    now = workload.BENCH_NOW
    for leftover in db.parent.glob(f"{db.name}*"):
        leftover.unlink()
    ledger = Ledger.create(f"sqlite:///{db.resolve()}", operator_key=op_key,
                           operator="operator", origin="bench.tracelib.example/tiles", now=now)
    try:
        ledger.append(workload.build_network(seed).signed_register_events(), now=now)
        with ctx.step(f"tiles ledger: {n:,} events", total=n) as advance:
            for batch in workload.iter_event_batches(path, ctx.options.batch):
                ledger.append([json.loads(line) for line in batch], now=now, pause_gc=True)
                advance(len(batch))
        return ledger.sign_checkpoint(op_key, now=now).size
    finally:
        ledger.close()


@contextmanager
def _static(folder: Path, port: int, log: Path) -> Iterator[Server]:
    """``python -m http.server`` over ``folder`` until it answers its checkpoint."""
    out = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", HOST,
                             "--directory", str(folder), str(port)], stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    server = Server("static http.server", proc, port, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise BenchmarkError(f"http.server exited with {proc.returncode}: "
                                     f"{log.read_text(errors='replace')[-1500:]}")
            try:
                with urllib.request.urlopen(server.url("/checkpoint"), timeout=10) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise BenchmarkError("http.server did not answer within 60 s")
            time.sleep(0.2)
        yield server
    finally:
        _stop(proc)
        out.close()


def _get(url: str) -> bytes:
    """The body at ``url``; a refused or reset connection is tried twice more."""
    for attempt in (1, 2, 3):
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                body: bytes = response.read()
            return body
        except (urllib.error.URLError, ConnectionError) as e:
            if isinstance(e, urllib.error.HTTPError) or attempt == 3:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


@benchmark("log.tiles", description="hash tiles under gunicorn (2 workers) against a static "
           "file server serving `tracelib log export`, same wrk client, same run",
           provides=("log.tiles.static", "log.tiles", "log.tiles.ratio"))
def log_tiles(ctx: Context) -> list[Row]:
    from tracelib.tiles import tiles_for_size

    opts = ctx.options
    version = _ensure_wrk(ctx)
    n = min(opts.events, MAX_EVENTS)
    tag = f"tiles-n{n}-s{opts.seed}-p{os.getpid()}"
    db = opts.work / f"{tag}.db"
    folder = opts.work / f"{tag}-export"
    script = opts.work / f"{tag}.lua"
    logs = [opts.work / f"{tag}-static.log", opts.work / f"{tag}-tracelib.log"]
    db.parent.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    tracelib = ([str(bin_dir / "tracelib")] if (bin_dir / "tracelib").exists()
                else [sys.executable, "-m", "tracelib_cli.main"])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    results: dict[str, list[float]] = {"static": [], "service": []}
    notes: dict[str, str] = {}
    succeeded = False
    try:
        size = _build(ctx, db, n)
        exported = subprocess.run([*tracelib, "--db", str(db), "log", "export", str(folder)],
                                  capture_output=True, text=True, env=env, timeout=600)
        if exported.returncode != 0:
            raise BenchmarkError(f"tracelib log export failed: {exported.stderr[-1000:]}")
        tiles = tiles_for_size(size)
        paths = [t.path() for t in tiles]
        script.write_text(wrk_script("bench.tiles", [f"/PREFIX/{p}" for p in paths], 37),
                          encoding="utf-8")
        os.sync()
        static_port, app_port = _free_port(), _free_port()
        app_cmd = [*tracelib, "--db", str(db), "serve", "--host", HOST, "--port",
                   str(app_port), "--workers", str(WORKERS)]
        with ExitStack() as stack:
            static = stack.enter_context(_static(folder, static_port, logs[0]))
            app = stack.enter_context(_serve(
                "tracelib serve", app_cmd, {**env, "TRACELIB_RATE_LIMIT": LIMITER_ON},
                app_port, logs[1], "/log/checkpoint"))
            for path in paths:  # the same bytes, or the comparison means nothing
                if _get(static.url(f"/{path}")) != _get(app.url(f"/log/{path}")):
                    raise BenchmarkError(f"{path}: the static file and the service differ")
            scripts = {"static": opts.work / f"{tag}-static.lua",
                       "service": opts.work / f"{tag}-service.lua"}
            text = script.read_text(encoding="utf-8")
            scripts["static"].write_text(text.replace("/PREFIX", ""), encoding="utf-8")
            scripts["service"].write_text(text.replace("/PREFIX", "/log"), encoding="utf-8")
            servers = {"static": static, "service": app}
            for label, server in servers.items():  # warm-up, untimed
                _wrk(server.url(), scripts[label], OCTETS, WARMUP)
            runs = [label for _ in range(ROUNDS) for label in ("static", "service")]
            with ctx.step(f"wrk: {len(runs)} runs of {SECONDS:g} s over {len(paths)} tile "
                          "paths", total=len(runs)) as advance:
                for label in runs:
                    res = _wrk(servers[label].url(), scripts[label], OCTETS, SECONDS)
                    if res.non_2xx or res.requests == 0:
                        raise BenchmarkError(f"{label}: {res.non_2xx:,} of {res.requests:,} "
                                             "responses were not 2xx")
                    results[label].append(res.rps)
                    notes[label] = (f"p50 {res.p50_ms:.1f} ms, p99 {res.p99_ms:.1f} ms"
                                    + (f"; socket errors {res.socket_errors}"
                                       if res.socket_errors else ""))
                    ctx.log(f"  {label}: {res.rps:,.0f} req/s, p50 {res.p50_ms:.1f} ms, "
                            f"p99 {res.p99_ms:.1f} ms")
                    advance(1)
        succeeded = True
    finally:
        for leftover in [script, *opts.work.glob(f"{tag}-*.lua")]:
            leftover.unlink(missing_ok=True)
        if not opts.keep_db:  # the servers' logs stay when the run failed
            kept = set() if succeeded else set(logs)
            for leftover in [*db.parent.glob(f"{db.name}*"), *opts.work.glob(f"{tag}-*")]:
                if leftover not in kept:
                    if leftover.is_dir():
                        shutil.rmtree(leftover, ignore_errors=True)
                    else:
                        leftover.unlink(missing_ok=True)
    static_rps, service_rps = max(results["static"]), max(results["service"])
    common = (f"{version} -t{THREADS} -c{CONNECTIONS} -d{SECONDS:g}s cycling over the "
              f"{len(paths)} hash tiles of a {size:,}-record ledger (own ledger: "
              f"min(--events, {MAX_EVENTS:,}); a tile is one range read whatever the size); "
              f"best of {ROUNDS} alternating runs")
    base = info("log.tiles.static", static_rps, "req/s",
                f"python -m http.server over `tracelib log export` (same bytes, checked); "
                f"{notes['static']}; runs {', '.join(f'{r:,.0f}' for r in results['static'])}; "
                f"{common}")
    served = figure("log.tiles", service_rps, "req/s", op=">=", factor=RATIO, baseline=base,
                    notes=f"`tracelib serve --workers {WORKERS}` GET /log/tile/…, anonymous; "
                          f"{notes['service']}; runs "
                          f"{', '.join(f'{r:,.0f}' for r in results['service'])}")
    return [base, served,
            figure("log.tiles.ratio", service_rps / static_rps, "×", op=">=", target=RATIO,
                   notes="log.tiles / log.tiles.static, measured in the same run")]

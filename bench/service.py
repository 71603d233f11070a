"""HTTP service figures: the stall page a shopper's scan opens, under gunicorn and ``wrk``.

The ledger is the drill suite's generated market (:func:`bench.drill.drill_ledger`: N
events, 2,000 stalls at the default size), shared through the run's resources or the
work folder. Two servers run side by side on loopback, each gunicorn with 2 workers:

* ``tracelib serve --workers 2`` (the product: ``tracelib_service:create_app()``, access
  log on, scans counted, metrics kept — the defaults — and the rate limiter on at a rate
  never reached, so that it counts every scan);
* the baseline, :mod:`bench._bare_app`: a bare Flask app whose ``/s/<id>`` is one indexed
  SQLite lookup in the same database file, rendered as a small page.

``wrk`` (Debian's; installed by ``scripts/ensure-wrk.sh`` when missing) drives each for
20 s (shorter below 1,000,000 events: 20 s × N / 1,000,000, at least 2 s) at 32
connections and 2 threads, after a 5 s warm-up of each server and form, cycling over 200
stall ids drawn with the seed (a Lua ``request`` function), with ``--latency`` for the p99. The four runs
alternate (baseline HTML, stall HTML, baseline JSON, stall JSON) so that other load on the
machine hits both alike. Targets: stall page throughput ≥ 0.6 × the baseline's, p99 ≤
100 ms, for the HTML page and for its JSON form (``Accept: application/json``); the RSS
of each tracelib worker (``VmRSS`` in ``/proc/<pid>/status`` after the runs) ≤ 150 MB.
A fifth run, for context only, cycles the HTML page over every stall: more ids than a
worker's stall-view cache holds, so it measures scans that build the view afresh.

The stall page is measured as a shopper gets it: anonymous, through the service's scope
check (``tracelib_service.access.enforce``, before every request) and the public view
(``tracelib.views.disclosure``). Before the runs the bench proves the check is in the path:
the same URL with a token that is not one must be refused with 401.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ._core import BenchmarkError, Context, Row, benchmark, figure, info
from .drill import drill_ledger

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only
WORKERS = 2
CONNECTIONS = 32
THREADS = 2
STALL_IDS = 200
FULL_SECONDS = 20.0
THROUGHPUT_FACTOR = 0.6
P99_MS = 100.0
RSS_MB = 150.0
#: The product runs with its rate limiter counting every scan (wrk's loopback client), at a
#: rate it never reaches, so the figures include what the limiter costs.
LIMITER_ON = "1000000/second"
HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
JSON = "application/json"


# -- processes -----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = _ppid(int(entry))
            if ppid is not None:
                parents[int(entry)] = ppid
    found: list[int] = []
    frontier = [root]
    while frontier:
        nxt = [pid for pid, ppid in parents.items() if ppid in frontier]
        found.extend(nxt)
        frontier = nxt
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Server:
    label: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, path: str = "") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def workers(self) -> list[int]:
        """The gunicorn workers: children of the gunicorn master (the process whose
        command line names gunicorn and whose parent's does not)."""
        tree = [self.proc.pid, *_descendants(self.proc.pid)]
        gunicorns = [p for p in tree if "gunicorn" in _cmdline(p)]
        masters = [p for p in gunicorns if _ppid(p) not in gunicorns]
        return sorted(p for p in gunicorns if _ppid(p) in masters)


@contextmanager
def _serve(label: str, command: list[str], env: dict[str, str], port: int, log: Path,
           probe: str) -> Iterator[Server]:
    """Start ``command`` in its own session, wait until ``probe`` answers 200, and stop the
    whole session (SIGTERM, then SIGKILL) afterwards."""
    out = open(log, "wb")
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    server = Server(label, proc, port, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise BenchmarkError(f"{label} exited with {proc.returncode}: "
                                     f"{log.read_text(errors='replace')[-1500:]}")
            try:
                with urllib.request.urlopen(server.url(probe), timeout=30) as r:
                    if r.status == 200 and len(server.workers()) >= WORKERS:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise BenchmarkError(f"{label} did not answer {probe} within 120 s")
            time.sleep(0.3)
        yield server
    finally:
        _stop(proc)
        out.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the session this benchmark started for a server (its process group only)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
    else:  # the leader is gone; its group (gunicorn) may not be
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass


# -- wrk -------------------------------------------------------------------------------------
_LUA = """-- %s: cycle over the paths, each thread from its own offset
local paths = {%s}
local n = #paths
local counter = 0
function setup(thread)
  thread:set("offset", counter * %d)
  counter = counter + 1
end
local i = 0
function request()
  i = i + 1
  return wrk.format(nil, paths[((i + (offset or 0)) %% n) + 1])
end
"""


def wrk_script(who: str, paths: Sequence[str], stride: int) -> str:
    """A wrk script cycling over ``paths``, each thread starting ``stride`` paths after the
    one before it."""
    return _LUA % (who, ", ".join(json.dumps(p) for p in paths), stride)


@dataclass(frozen=True)
class WrkResult:
    rps: float
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str | None
    text: str


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise BenchmarkError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _wrk(url: str, script: Path, accept: str, seconds: float) -> WrkResult:
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s",
           "--latency", "--timeout", "10s", "-s", str(script), "-H", f"Accept: {accept}", url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    text = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise BenchmarkError(f"wrk failed ({proc.returncode}): {text[-1500:]}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    if not (rps and total and p50 and p99):
        raise BenchmarkError(f"cannot read wrk's output: {text[-1500:]}")
    non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: (.*)", text)
    return WrkResult(float(rps.group(1)), int(total.group(1)),
                     _ms(total.group(2) + total.group(3)) / 1000, _ms(p50.group(1)),
                     _ms(p99.group(1)), int(non.group(1)) if non else 0,
                     sock.group(1).strip() if sock else None, text)


def _ensure_wrk(ctx: Context) -> str:
    if not _which("wrk"):
        ctx.log("wrk is missing: running scripts/ensure-wrk.sh")
        proc = subprocess.run(["bash", str(REPO / "scripts" / "ensure-wrk.sh")],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not _which("wrk"):
            raise BenchmarkError(f"could not install wrk: {proc.stderr[-1000:]}")
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    words = (out.stdout + out.stderr).split()
    return " ".join(words[:2]) if words else "wrk"


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


# -- the benchmark -------------------------------------------------------------------------------
def _stall_ids(url: str, seed: int) -> tuple[list[str], list[str]]:
    """~200 stall ids drawn with the seed, and every stall id (shuffled with the seed)."""
    from sqlalchemy import select

    from tracelib.ledger import Ledger
    from tracelib.store.schema import locations

    ledger = Ledger.open(url)
    try:
        with ledger.store.reader() as conn:
            stalls = sorted(str(r[0]) for r in conn.execute(
                select(locations.c.id).where(locations.c.type == "stall")))
    finally:
        ledger.close()
    if not stalls:
        raise BenchmarkError("the ledger has no stalls")
    rng = random.Random(seed)
    return rng.sample(stalls, min(STALL_IDS, len(stalls))), rng.sample(stalls, len(stalls))


def _check(server: Server, stall: str, accept: str) -> int:
    """One request before the load: a 200 of the right type. Returns the body's size."""
    req = urllib.request.Request(server.url(f"/s/{stall}"), headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
        kind = r.headers.get("Content-Type", "")
    want = "application/json" if accept == JSON else "text/html"
    if not kind.startswith(want):
        raise BenchmarkError(f"{server.label} answered {kind!r} to Accept: {accept}")
    if want == "application/json":
        json.loads(body)
    return len(body)


def _check_scoped(server: Server, stall: str) -> None:
    """The served stall page goes through the scope check: a made-up token is refused."""
    req = urllib.request.Request(server.url(f"/s/{stall}"),
                                 headers={"Authorization": "Bearer tlk_bench-not-a-token"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    if status != 401:
        raise BenchmarkError(f"{server.label} answered {status} to a made-up token on the "
                             "stall page: the scope check is not in its path")


@benchmark("service.sqlite", description="stall page under gunicorn (2 workers) and wrk, beside "
           "a bare Flask + SQLite lookup",
           provides=("service.baseline.html", "service.baseline.html.p99",
                     "service.baseline.json", "service.baseline.json.p99",
                     "service.baseline.rss", "service.stall.html",
                     "service.stall.html.p99", "service.stall.html.all_stalls",
                     "service.stall.json", "service.stall.json.p99",
                     "service.stall.rss"))
def service_sqlite(ctx: Context) -> list[Row]:
    opts = ctx.options
    version = _ensure_wrk(ctx)
    built = drill_ledger(ctx)
    ids, every = _stall_ids(built.url, opts.seed)
    # Earlier suites leave gigabytes of dirty pages (ledgers built and deleted); written
    # back while wrk runs they disturbed the timings (in one full run every p99, the bare
    # baseline's included, rose from ~14 ms to 40-380 ms). Write them back first.
    os.sync()
    seconds = FULL_SECONDS * min(1.0, max(0.1, opts.events / 1_000_000))
    # Warm-up, untimed, the same for both servers: long enough for every worker to have
    # answered each of the ids a few times (the product keeps a per-worker view cache, the
    # baseline relies on SQLite's page cache), so the timed runs measure the steady state.
    warmup = max(5.0, seconds / 4)
    # Per run (pid): another run sharing the work folder must not swap them under us.
    tag = f"service-n{opts.events}-s{opts.seed}-p{os.getpid()}"
    script = opts.work / f"{tag}-stalls.lua"
    script.write_text(wrk_script("bench.service", [f"/s/{i}" for i in ids], 101),
                      encoding="utf-8")
    script_all = opts.work / f"{tag}-all-stalls.lua"
    script_all.write_text(wrk_script("bench.service", [f"/s/{i}" for i in every], 101),
                          encoding="utf-8")

    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    bare_port, app_port = _free_port(), _free_port()
    bare_cmd = [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--bind",
                f"{HOST}:{bare_port}", "--access-logfile", "-", "bench._bare_app:app"]
    tracelib = bin_dir / "tracelib"
    app_cmd = ([str(tracelib)] if tracelib.exists()
               else [sys.executable, "-m", "tracelib_cli.main"])
    app_cmd += ["--db", str(built.db), "serve", "--host", HOST, "--port", str(app_port),
                "--workers", str(WORKERS)]
    results: dict[str, WrkResult] = {}
    sizes: dict[str, int] = {}
    logs = [opts.work / f"{tag}-bare.log", opts.work / f"{tag}-tracelib.log"]
    try:
        with ExitStack() as stack:
            bare = stack.enter_context(_serve(
                "bare Flask app", bare_cmd, {**env, "BENCH_BARE_DB": str(built.db)}, bare_port,
                logs[0], f"/s/{ids[0]}"))
            app = stack.enter_context(_serve(
                "tracelib serve", app_cmd, {**env, "TRACELIB_RATE_LIMIT": LIMITER_ON},
                app_port, logs[1], f"/s/{ids[0]}"))
            _check_scoped(app, ids[0])
            for server in (bare, app):
                for accept in (HTML, JSON):
                    sizes[f"{server.label}|{accept}"] = _check(server, ids[0], accept)
                    _wrk(server.url(), script, accept, warmup)  # warm-up, untimed
            runs = [("baseline.html", bare, HTML, script), ("stall.html", app, HTML, script),
                    ("baseline.json", bare, JSON, script), ("stall.json", app, JSON, script),
                    ("stall.html.all_stalls", app, HTML, script_all)]
            with ctx.step(f"wrk: {len(runs)} runs of {seconds:g} s, {CONNECTIONS} connections, "
                          f"{THREADS} threads, {len(ids)} stall ids", total=len(runs)) as advance:
                for name, server, accept, lua in runs:
                    res = _wrk(server.url(), lua, accept, seconds)
                    results[name] = res
                    ctx.log(f"  {name}: {res.rps:,.0f} req/s, p50 {res.p50_ms:.1f} ms, "
                            f"p99 {res.p99_ms:.1f} ms, non-2xx {res.non_2xx}")
                    advance(1)
            rss = {pid: (_status_kb(pid, "VmRSS"), _status_kb(pid, "VmHWM"))
                   for pid in app.workers()}
            bare_rss = {pid: _status_kb(pid, "VmRSS") for pid in bare.workers()}
    finally:
        script.unlink(missing_ok=True)
        script_all.unlink(missing_ok=True)
    for name, res in results.items():
        if res.non_2xx > 0.01 * max(1, res.requests):
            raise BenchmarkError(f"{name}: {res.non_2xx:,} of {res.requests:,} responses were "
                                 f"not 2xx/3xx; see {logs[0]} and {logs[1]}")
    if len(rss) < WORKERS or any(v[0] is None for v in rss.values()):
        raise BenchmarkError(f"found {len(rss)} tracelib workers with RSS {rss}")
    if not opts.keep_db:  # the access logs of a run that went well
        for log in logs:
            log.unlink(missing_ok=True)
    worker_mb = {pid: (kb[0] * 1024 / 1e6, (kb[1] or 0) * 1024 / 1e6)
                 for pid, kb in rss.items() if kb[0] is not None}
    bare_mb = [kb * 1024 / 1e6 for kb in bare_rss.values() if kb is not None]

    def note(res: WrkResult) -> str:
        return (f"{res.requests:,} requests in {res.seconds:.1f} s, p50 {res.p50_ms:.1f} ms, "
                f"p99 {res.p99_ms:.1f} ms; non-2xx {res.non_2xx}"
                + (f"; socket errors {res.socket_errors}" if res.socket_errors else ""))

    common = (f"{version}, -t{THREADS} -c{CONNECTIONS} -d{seconds:g}s --latency, "
              f"{len(ids)} stall ids cycled by a Lua request(); gunicorn {WORKERS} workers "
              f"each; {built.size:,}-record ledger")
    b_html, b_json = results["baseline.html"], results["baseline.json"]
    s_html, s_json = results["stall.html"], results["stall.json"]
    s_all = results["stall.html.all_stalls"]
    base_html = info("service.baseline.html", b_html.rps, "req/s",
                     f"bench._bare_app: one indexed SQLite lookup, {sizes['bare Flask app|' + HTML]} "
                     f"B page; {note(b_html)}; {common}")
    base_json = info("service.baseline.json", b_json.rps, "req/s",
                     f"the same lookup as {sizes['bare Flask app|' + JSON]} B of JSON; "
                     f"{note(b_json)}")
    base_p99 = info("service.baseline.html.p99", b_html.p99_ms, "ms", "baseline p99 (HTML)")
    base_json_p99 = info("service.baseline.json.p99", b_json.p99_ms, "ms", "baseline p99 (JSON)")
    worst = max(worker_mb.values(), key=lambda v: v[0])
    base_rss = info("service.baseline.rss", max(bare_mb) if bare_mb else None, "MB",
                    "VmRSS of the larger bare Flask worker after the runs")
    return [
        base_html, base_p99, base_json, base_json_p99, base_rss,
        figure("service.stall.html", s_html.rps, "req/s", op=">=", factor=THROUGHPUT_FACTOR,
               baseline=base_html,
               notes=f"`tracelib serve` GET /s/<stall> (Accept: text/html), anonymous, "
                     f"through the scope check (a made-up token answered 401), "
                     f"{sizes['tracelib serve|' + HTML]:,} B page; {note(s_html)}"),
        figure("service.stall.html.p99", s_html.p99_ms, "ms", op="<=", target=P99_MS,
               baseline=base_p99),
        figure("service.stall.json", s_json.rps, "req/s", op=">=", factor=THROUGHPUT_FACTOR,
               baseline=base_json,
               notes=f"the same URL with Accept: application/json, "
                     f"{sizes['tracelib serve|' + JSON]:,} B; {note(s_json)}"),
        figure("service.stall.json.p99", s_json.p99_ms, "ms", op="<=", target=P99_MS,
               baseline=base_json_p99),
        figure("service.stall.html.all_stalls", s_all.rps, "req/s", baseline=base_html,
               notes=f"for context, no target: the HTML page cycling over all {len(every):,} "
                     f"stalls instead of {len(ids)}, more than a worker's stall-view cache "
                     f"holds, so most scans build the view (stall_view) afresh; "
                     f"{note(s_all)}"),
        figure("service.stall.rss", worst[0], "MB", op="<=", target=RSS_MB,
               baseline=base_rss,
               notes="VmRSS of each tracelib gunicorn worker after the runs: "
                     + ", ".join(f"{rss_:.0f} MB (peak {hwm:.0f})"
                                 for rss_, hwm in worker_mb.values())
                     + "; bare Flask workers: " + ", ".join(f"{m:.0f} MB" for m in bare_mb)),
    ]

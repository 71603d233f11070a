"""``python -m bench``: run the benchmarks, write results JSON, print one table."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from . import load_suites
from ._core import BENCHMARKS, Context, Options, Row, make_progress, select

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PG = Options.postgres


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--events", type=int, default=Options.events, metavar="N",
                    help="events in the ledger (default %(default)s)")
    ap.add_argument("--seed", type=int, default=Options.seed,
                    help="workload seed (default %(default)s)")
    ap.add_argument("--only", metavar="NAME[,NAME]",
                    help="run only these benchmarks (names or dotted prefixes, e.g. "
                         "ledger.sqlite or baseline); baselines they need still run")
    pg = ap.add_mutually_exclusive_group()
    pg.add_argument("--postgres", metavar="URL", default=DEFAULT_PG,
                    help="PostgreSQL server (a fresh schema is created and dropped); "
                         "default %(default)s")
    pg.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL benchmarks")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results.json",
                    help="results JSON (default bench/results.json)")
    ap.add_argument("--work", type=Path, default=REPO / "bench" / "work",
                    help="work folder for databases and the signed-event cache "
                         "(default bench/work)")
    ap.add_argument("--min-seconds", type=float, default=Options.min_seconds,
                    help="duration of each raw Ed25519 baseline (default %(default)s)")
    ap.add_argument("--samples", type=int, default=Options.samples,
                    help="proofs timed per proof figure (default %(default)s)")
    ap.add_argument("--batch", type=int, default=Options.batch,
                    help="events per Ledger.append call (default %(default)s)")
    ap.add_argument("--keep-db", action="store_true",
                    help="keep the benchmark databases (SQLite file, PostgreSQL schema)")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args(argv)
    if args.events < 1:
        ap.error("--events must be at least 1")
    return args


def machine_facts() -> dict[str, Any]:
    from tracelib._cores import cpu_count

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    model = None
    mem_kb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(), "cpu_usable": cpu_count(), "cpu_model": model,
        "memory_mb": mem_kb * 1024 / 1e6 if mem_kb else None,
        "platform": platform.platform(), "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "sqlite_version": sqlite3.sqlite_version,
        # The raw-verify baseline is OpenSSL's Ed25519 (through cryptography); its speed
        # differs between OpenSSL releases more than the rest of the append path does.
        "openssl_version": _openssl_version(),
        "packages": {d: version(d) for d in ("cryptography", "SQLAlchemy", "pymerkle",
                                             "psycopg", "rich", "marshmallow")},
        "loadavg_start": list(os.getloadavg()),
        "git": _git(),
    }


def _openssl_version() -> str | None:
    try:
        from cryptography.hazmat.backends.openssl import backend
    except ImportError:  # pragma: no cover - cryptography is a dependency
        return None
    return str(backend.openssl_version_text())


def code_fingerprint() -> str:
    """SHA-256 over tracelib's sources: a run whose code changed midway is flagged.

    A long run imports some modules lazily (and its subprocesses import afresh), so
    edits to the working tree during the run would mix versions in one result."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "tracelib").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".csv", ".mako", ".json"):
            digest.update(str(path.relative_to(REPO)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _git() -> dict[str, Any] | None:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True,
                               text=True, check=True).stdout
        return {"commit": head, "dirty": bool(dirty.strip())}
    except (OSError, subprocess.CalledProcessError):
        return None


# -- table --------------------------------------------------------------------------
def _fmt(value: Any, unit: str | None) -> str:
    if value is None:
        return "—"
    if not isinstance(value, (int, float)):
        return str(value)
    if unit and unit.endswith("/s"):
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.3f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def render(rows: list[Row], console: Console) -> None:
    table = Table(title="tracelib benchmark", show_lines=False, header_style="bold")
    for col, kw in (("figure", {"no_wrap": True}), ("value", {"justify": "right"}),
                    ("unit", {}), ("target", {}), ("baseline", {}),
                    ("ratio", {"justify": "right"}), ("pass/fail", {"justify": "center"})):
        table.add_column(col, **kw)
    bench = None
    for row in rows:
        if bench is not None and row.get("bench") != bench:
            table.add_section()
        bench = row.get("bench")
        target = "—"
        if row.get("target_op"):
            target = f"{row['target_op']} {_fmt(row.get('target'), row['unit'])}"
            if row.get("baseline_name") and row.get("target_text", "").count("×"):
                factor = row["target_text"].split()[1]
                target += f" ({factor}×)"
        baseline = "—"
        if row.get("baseline_name"):
            base_unit = _unit_of(rows, row["baseline_name"])
            baseline = f"{row['baseline_name']} = {_fmt(row.get('baseline'), base_unit)}"
        ratio = f"{row['ratio']:.2f}×" if isinstance(row.get("ratio"), (int, float)) else "—"
        ok = row.get("ok")
        verdict = "" if ok is None else ("[green]pass[/]" if ok else "[bold red]FAIL[/]")
        name = row["name"] if not row.get("error") else f"[red]{row['name']}[/]"
        table.add_row(name, _fmt(row.get("value"), row.get("unit")), row.get("unit") or "",
                      target, baseline, ratio, verdict)
    console.print(table)


def _unit_of(rows: list[Row], name: str) -> str | None:
    return next((r.get("unit") for r in rows if r["name"] == name), None)


# -- main ----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_suites()
    # Wide enough for the table when the output is a file or a pipe (make, CI logs).
    console = Console(log_path=False, width=None if sys.stdout.isatty() else 220)
    if args.list:
        for b in BENCHMARKS.values():
            console.print(f"{b.name:20} {b.description}")
        return 0
    options = Options(events=args.events, seed=args.seed, work=args.work.resolve(),
                      out=args.out, postgres=None if args.no_postgres else args.postgres,
                      min_seconds=args.min_seconds, batch=args.batch, samples=args.samples,
                      keep_db=args.keep_db)
    chosen = select(args.only, postgres=options.postgres is not None)
    options.work.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(UTC)
    wall = time.perf_counter()
    facts = machine_facts()
    facts["tracelib_sources_start"] = code_fingerprint()
    progress = make_progress(console)
    ctx = Context(options=options, console=console, progress=progress)
    console.print(f"[bold]tracelib bench[/]: {options.events:,} events, seed {options.seed}, "
                  f"{facts['cpu_usable']} cores, SQLite {facts['sqlite_version']}, "
                  f"Python {facts['python']}; benchmarks: {', '.join(b.name for b in chosen)}")
    with progress:
        for bench in chosen:
            ctx.run(bench)
    wall_s = time.perf_counter() - wall
    facts["loadavg_end"] = list(os.getloadavg())
    facts["tracelib_sources_end"] = code_fingerprint()
    facts["git_end"] = _git()
    changed = facts["tracelib_sources_start"] != facts["tracelib_sources_end"]
    facts["code_changed_during_run"] = changed
    facts.update(ctx.facts)
    targeted = [r for r in ctx.rows if r.get("ok") is not None]
    missed = [r["name"] for r in targeted if not r["ok"]]
    result = {
        "schema": 1,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(wall_s, 1),
        "options": {"events": options.events, "seed": options.seed,
                    "postgres": options.postgres, "batch": options.batch,
                    "samples": options.samples, "min_seconds": options.min_seconds,
                    "only": args.only},
        "machine": facts,
        "benchmarks": {name: {"seconds": round(t, 2), "error": ctx.errors.get(name),
                              "loadavg_1min_at_end": ctx.loads.get(name)}
                       for name, t in ctx.timings.items()},
        "figures": ctx.rows,
        "summary": {"targets": len(targeted), "met": len(targeted) - len(missed),
                    "missed": missed, "errors": sorted(ctx.errors)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, args.out)
    render(ctx.rows, console)
    if changed:
        console.print("[bold yellow]warning:[/] tracelib's sources changed during the run; "
                      "figures may mix code versions (see machine.git / git_end)")
    console.print(f"{len(targeted) - len(missed)} of {len(targeted)} targets met"
                  + (f"; missed: {', '.join(missed)}" if missed else "")
                  + (f"; [red]errors in {', '.join(sorted(ctx.errors))}[/]" if ctx.errors
                     else "")
                  + f". Wall time {wall_s / 60:.1f} min. Results: {args.out}")
    return 1 if ctx.errors else 0


if __name__ == "__main__":
    sys.exit(main())

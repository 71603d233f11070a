"""The harness: a registry of benchmarks, the run context, and result rows.

A benchmark is a function ``fn(ctx) -> list[Row]`` registered with
:func:`benchmark`. Rows are plain dicts (JSON-ready) built with :func:`figure`:

``{"name", "value", "unit", "target", "target_op", "target_text",
"baseline_name", "baseline", "ratio", "ok", "notes"}``

A figure with a target relative to a baseline (e.g. "≥ 0.75 × Ed25519 verify")
asks the context for that baseline's row with :meth:`Context.figure`; the
benchmark that provides it then runs in the same process and the same run (once),
whatever ``--only`` selected. New suites (trace/drill, KPI report, HTTP service)
are new modules listed in :data:`bench.SUITES`, each registering its functions.
"""

from __future__ import annotations

import math
import os
import statistics
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["BENCHMARKS", "Benchmark", "BenchmarkError", "Context", "Options", "Row", "benchmark",
           "figure", "info", "percentile", "select"]

Row = dict[str, Any]
BenchFn = Callable[["Context"], list[Row]]


class BenchmarkError(Exception):
    """A benchmark could not produce its figures (not a missed target)."""


@dataclass(frozen=True)
class Benchmark:
    name: str
    fn: BenchFn
    description: str
    provides: tuple[str, ...]  # row names this benchmark yields (for Context.figure)
    postgres: bool = False  # needs the PostgreSQL server (skipped by --no-postgres)


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str, *, description: str, provides: Sequence[str] = (),
              postgres: bool = False) -> Callable[[BenchFn], BenchFn]:
    """Register ``fn`` as benchmark ``name`` (run in registration order)."""

    def register(fn: BenchFn) -> BenchFn:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} registered twice")
        BENCHMARKS[name] = Benchmark(name, fn, description, tuple(provides), postgres)
        return fn

    return register


def select(only: str | None, *, postgres: bool) -> list[Benchmark]:
    """Benchmarks named by ``--only`` (exact names or dotted prefixes), in registry order."""
    chosen = list(BENCHMARKS.values())
    if only:
        wanted = [w.strip() for w in only.split(",") if w.strip()]
        unknown = [w for w in wanted
                   if not any(b.name == w or b.name.startswith(w + ".") for b in chosen)]
        if unknown:
            raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; "
                             f"known: {', '.join(BENCHMARKS)}")
        chosen = [b for b in chosen
                  if any(b.name == w or b.name.startswith(w + ".") for w in wanted)]
    if not postgres:
        chosen = [b for b in chosen if not b.postgres]
    return chosen


# -- rows -----------------------------------------------------------------------
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda v, t: v >= t, "<=": lambda v, t: v <= t}


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def figure(name: str, value: float | None, unit: str, *, target: float | None = None,
           op: str | None = None, baseline: Row | None = None, factor: float | None = None,
           notes: str = "", **extra: Any) -> Row:
    """One result row.

    ``target`` is absolute (same unit as ``value``); or give ``factor`` and a
    ``baseline`` row for a relative target (``factor × baseline``). ``ratio`` is
    ``value / baseline`` whenever a baseline row is given.
    """
    if op is not None and op not in _OPS:
        raise ValueError(f"target_op must be one of {sorted(_OPS)}, got {op!r}")
    raw = baseline.get("value") if baseline else None
    base_value: float | None = float(raw) if raw is not None and _num(raw) else None
    target_text = None
    if factor is not None:
        if baseline is None:
            raise ValueError("a relative target needs a baseline row")
        target = factor * base_value if base_value is not None else None
        target_text = f"{op} {factor:g} × {baseline['name']}"
    elif target is not None:
        target_text = f"{op} {target:g} {unit}"
    has_value = value is not None and _num(value)
    ratio = (value / base_value if value is not None and has_value and base_value
             else None)
    ok = None
    if target is not None or factor is not None:
        ok = bool(value is not None and has_value and target is not None and op is not None
                  and _OPS[op](value, target))
    row: Row = {"name": name, "value": value, "unit": unit, "target": target, "target_op": op,
                "target_text": target_text,
                "baseline_name": baseline["name"] if baseline else None,
                "baseline": base_value, "ratio": ratio, "ok": ok, "notes": notes}
    row.update(extra)
    return row


def info(name: str, value: float | None, unit: str, notes: str = "", **extra: Any) -> Row:
    """A row without target (a baseline or a figure reported for context)."""
    return figure(name, value, unit, notes=notes, **extra)


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


# -- run context ------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    events: int = 1_000_000
    seed: int = 20261122
    work: Path = Path("bench/work")
    out: Path = Path("bench/results.json")
    postgres: str | None = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    min_seconds: float = 2.0  # per raw crypto baseline
    batch: int = 10_000  # events per Ledger.append call
    samples: int = 1_000  # proofs timed per figure
    pymerkle_budget: float = 120.0  # seconds to build a pymerkle tree before stopping
    keep_db: bool = False


@dataclass
class Context:
    """What a benchmark sees: options, console/progress, shared resources, other figures."""

    options: Options
    console: Console
    progress: Progress
    rows: list[Row] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    loads: dict[str, str] = field(default_factory=dict)  # 1-min load average at the end
    facts: dict[str, Any] = field(default_factory=dict)  # extra machine/run facts
    _resources: dict[str, Any] = field(default_factory=dict)
    _running: list[str] = field(default_factory=list)

    # -- running ------------------------------------------------------------
    def run(self, bench: Benchmark) -> None:
        """Run one benchmark (once per run); its rows join :attr:`rows`."""
        if bench.name in self.timings or bench.name in self.errors:
            return
        if bench.name in self._running:
            raise BenchmarkError(f"benchmark {bench.name} depends on itself")
        self._running.append(bench.name)
        self.console.rule(f"[bold]{bench.name}[/] — {bench.description}")
        started = time.perf_counter()
        try:
            rows = bench.fn(self)
        except Exception as e:
            self.errors[bench.name] = f"{type(e).__name__}: {e}"
            self.console.print(f"[red]benchmark {bench.name} failed:[/] {e}")
            self.console.print(traceback.format_exc(), markup=False, highlight=False)
            rows = [figure(f"{bench.name}.error", None, "", notes=self.errors[bench.name],
                           error=True)]
            rows[0]["ok"] = False
        finally:
            self._running.remove(bench.name)
        self.timings[bench.name] = time.perf_counter() - started
        self.loads[bench.name] = _load()
        for row in rows:
            row.setdefault("bench", bench.name)
        self.rows.extend(rows)

    def figure(self, name: str) -> Row:
        """The row ``name`` of this run, running the benchmark that provides it if needed."""
        for row in self.rows:
            if row["name"] == name:
                return row
        provider = next((b for b in BENCHMARKS.values() if name in b.provides), None)
        if provider is None:
            raise BenchmarkError(f"no benchmark provides figure {name!r}")
        self.run(provider)
        for row in self.rows:
            if row["name"] == name:
                return row
        raise BenchmarkError(f"benchmark {provider.name} did not produce figure {name!r}"
                             + (f": {self.errors[provider.name]}"
                                if provider.name in self.errors else ""))

    def resource(self, key: str, factory: Callable[[], Any]) -> Any:
        """A value shared by benchmarks of this run (built once)."""
        if key not in self._resources:
            self._resources[key] = factory()
        return self._resources[key]

    # -- output -------------------------------------------------------------
    def log(self, message: str) -> None:
        self.console.log(message)

    @contextmanager
    def step(self, description: str,
             total: float | None = None) -> Iterator[Callable[[float], None]]:
        """A progress bar for a long step; yields ``advance(n)``. Logs the step's time
        and the load average (other work on the machine skews every figure).

        When the output is not a terminal (a log file, CI), the bar cannot be drawn, so
        progress is logged as lines instead (for steps longer than 10 s): at each 10 %
        of ``total``, at most once a minute otherwise.
        """
        task: TaskID = self.progress.add_task(description, total=total)
        started = last_log = time.perf_counter()
        done = 0.0
        next_mark = (total or 0) / 10
        terminal = self.console.is_terminal

        def advance(n: float = 1) -> None:
            nonlocal done, next_mark, last_log
            self.progress.advance(task, n)
            done += n
            if terminal:
                return
            now = time.perf_counter()
            if now - started < 10:  # short steps get only their closing line
                return
            if (total and done >= next_mark and done < total) or now - last_log > 60:
                while total and next_mark <= done:
                    next_mark += total / 10
                last_log = now
                of = f"/{total:,.0f}" if total else ""
                self.console.log(f"  {description}: {done:,.0f}{of} in {now - started:.0f} s "
                                 f"({done / (now - started):,.0f}/s), load {_load()}")

        try:
            yield advance
        finally:
            self.progress.remove_task(task)
        self.console.log(f"{description}: {time.perf_counter() - started:.1f} s "
                         f"(load {_load()})")


def _load() -> str:
    """The 1-minute load average (a busy machine skews every figure)."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:  # pragma: no cover - platforms without getloadavg
        return "?"


def make_progress(console: Console) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
                    TimeRemainingColumn(), console=console, transient=True)

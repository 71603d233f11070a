"""tracelib's benchmark harness: ``python -m bench`` (``make bench``).

Each suite is a module that registers benchmark functions with
:func:`bench._core.benchmark`; a function takes the run :class:`~bench._core.Context`
and returns result rows (:func:`bench._core.figure`). To add a suite (trace /
drill, KPI report, HTTP service), write ``bench/<suite>.py`` and list it in
:data:`SUITES`. Figures are written to ``bench/results.json`` and printed as one
table; baselines are measured in the same run as the figures they anchor.
"""

from __future__ import annotations

import importlib

from ._core import BENCHMARKS, Benchmark, Context, Options, Row, benchmark, figure, info

__all__ = ["BENCHMARKS", "SUITES", "Benchmark", "Context", "Options", "Row", "benchmark",
           "figure", "info", "load_suites"]

#: Benchmark modules, in run order (baselines first, then the figures they anchor).
SUITES = (
    "bench.baselines",
    "bench.ledger_core",
    "bench.drill",
    "bench.epcis",
    "bench.epcis_capture",
    "bench.epcis_query",
    "bench.kpi",
    "bench.entry",
    "bench.alerts",
    "bench.service",
    "bench.receipts",
    "bench.tiles",
    "bench.bulk",
    "bench.witness",
    "bench.federation",
)


def load_suites() -> None:
    """Import every suite so its benchmarks register."""
    for name in SUITES:
        importlib.import_module(name)

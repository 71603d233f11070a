"""Smoke test of the benchmark harness (``python -m bench``): correctness only.

Runs the harness at 3,000 events on SQLite and checks that ``results.json`` holds
every ledger-core figure with a numeric value, and a measured baseline behind
every ratio. No speed is asserted here: performance is measured by the
benchmark itself, never in tests.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

LEDGER_FIGURES = ("append", "verify.rate", "verify.peak_rss", "verify.rss_main",
                  "verify.rss_workers", "inclusion.median", "inclusion.p99",
                  "consistency.median", "consistency.p99")
TARGETED = {"append": ">=", "verify.rate": ">=", "verify.peak_rss": "<=",
            "inclusion.median": "<=", "consistency.median": "<="}
BASELINES = ("baseline.ed25519.sign", "baseline.ed25519.verify", "baseline.sqlite.insert",
             "baseline.pymerkle.inmemory.append", "baseline.pymerkle.sqlite.inclusion.median",
             "baseline.pymerkle.sqlite.consistency.median", "baseline.process.rss")


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@pytest.mark.slow
def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--events", "3000", "--no-postgres", "--out", str(out),
         "--work", str(tmp_path / "work"), "--min-seconds", "0.3", "--samples", "200",
         "--only", "baseline,ledger"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    figures = {row["name"]: row for row in results["figures"]}

    assert results["summary"]["errors"] == []
    assert results["options"]["events"] == 3000
    machine = results["machine"]
    for fact in ("cpu_count", "python", "sqlite_version"):
        assert machine[fact]
    assert results["started_at"] and results["wall_seconds"] > 0

    for name in BASELINES:
        assert _number(figures[name]["value"]) and figures[name]["value"] > 0, name

    for suffix in LEDGER_FIGURES:
        row = figures[f"ledger.sqlite.{suffix}"]
        assert _number(row["value"]), row
        assert set(row) >= {"name", "value", "unit", "target", "target_op", "baseline_name",
                            "baseline", "ratio", "ok", "notes"}
        if suffix in TARGETED:
            assert row["target_op"] == TARGETED[suffix]
            assert _number(row["target"]) and isinstance(row["ok"], bool), row

    for row in results["figures"]:
        if row["ratio"] is not None:  # every ratio names a baseline measured in this run
            base = figures[row["baseline_name"]]
            assert _number(row["baseline"]) and row["baseline"] == base["value"], row
            assert row["ratio"] == pytest.approx(row["value"] / row["baseline"])

    assert not any(name.startswith("ledger.postgres") for name in figures)
    assert "tracelib benchmark" in proc.stdout  # the table was printed


@pytest.mark.slow
def test_bulk_bench_smoke(tmp_path: Path) -> None:
    """The bulk-import suite runs end to end on SQLite and reports its figures (the
    latencies may be absent at this size: the import can end before a request is sent)."""
    pytest.importorskip("gunicorn")
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--events", "4000", "--no-postgres", "--out", str(out),
         "--work", str(tmp_path / "work"), "--only", "bulk"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    figures = {row["name"]: row for row in results["figures"]}
    assert results["summary"]["errors"] == []
    for name in ("write.p99.idle", "scan.p99.idle", "import.rate"):
        assert _number(figures[f"bulk.sqlite.{name}"]["value"]), name
    for name in ("write.p99", "scan.p99"):
        row = figures[f"bulk.sqlite.{name}"]
        assert row["target_op"] == "<=" and row["target"] == 2.0, row
    assert figures["bulk.sqlite.failed"]["value"] == 0, figures["bulk.sqlite.failed"]
    assert figures["bulk.sqlite.worker_timeouts"]["value"] == 0


def test_epcis_bench_smoke(tmp_path: Path) -> None:
    """The EPCIS export suite runs on a small drill ledger and reports its rate against the
    issue's target and the traced peak of a streamed export."""
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--events", "3000", "--no-postgres", "--out", str(out),
         "--work", str(tmp_path / "work"), "--only", "epcis"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    figures = {row["name"]: row for row in results["figures"]}
    assert results["summary"]["errors"] == []
    rate = figures["epcis.export.rate"]
    assert _number(rate["value"]) and rate["target"] == 20_000 and rate["target_op"] == ">="
    assert figures["epcis.export.memory"]["value"] > 0


def test_witness_bench_smoke(tmp_path: Path) -> None:
    """The witness suite runs `tracelib witness serve` and reports the add-checkpoint round
    trip against the issue's target (correctness only; the figure is the bench's)."""
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--no-postgres", "--out", str(out),
         "--work", str(tmp_path / "work"), "--only", "witness"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    figures = {row["name"]: row for row in results["figures"]}
    assert results["summary"]["errors"] == []
    median_row = figures["witness.add_checkpoint.median"]
    assert _number(median_row["value"]) and median_row["target"] == 20.0
    assert figures["witness.add_checkpoint.p99"]["value"] >= median_row["value"]

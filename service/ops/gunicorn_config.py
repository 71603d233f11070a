"""gunicorn's settings for ``tracelib serve`` (``--config python:tracelib_service.ops.gunicorn_config``):
the hooks that keep prometheus-client's multiprocess metrics right.

``tracelib serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before gunicorn starts, so every worker
writes its counts to files there. At start the folder is emptied (counts of an earlier run
would be added to this one's), and when a worker exits its live gauges are dropped
(``mark_process_dead``); its counters and histograms stay, so totals never go backwards
when gunicorn replaces a worker (prometheus-client's "Multiprocess Mode" documentation).
A folder ``tracelib serve`` made for this run alone (``TRACELIB_OWN_METRICS_DIR``) is
removed when gunicorn exits.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

__all__ = ["child_exit", "on_exit", "on_starting"]


def on_starting(server: Any) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    path = Path(folder)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and os.environ.get("TRACELIB_OWN_METRICS_DIR") == folder:
        shutil.rmtree(folder, ignore_errors=True)

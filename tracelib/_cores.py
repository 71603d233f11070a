"""The number of cores this process may run on (its CPU affinity), for sizing worker pools.

A module of its own so that verification workers, which import it, do not load the
append pipeline's modules (events, marshmallow) with it.
"""

from __future__ import annotations

import os

__all__ = ["cpu_count"]


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)

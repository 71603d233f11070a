"""Ed25519 verification spread over the machine's cores (a process pool).

Signature checks dominate both append and verify (≈ 6,000 verifies/s per core
against ≈ 870,000 SHA-256 chainings/s), so they run in worker processes while
the caller carries on with hashing and SQL.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from .keys import verify_batch

__all__ = ["SignatureJob", "cpu_count", "submit"]

_POOL: ProcessPoolExecutor | None = None
_POOL_PID: int | None = None
# Below this many signatures a batch is verified in the calling process.
INLINE_LIMIT = 256


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def pool() -> ProcessPoolExecutor:
    global _POOL, _POOL_PID
    if _POOL is None or _POOL_PID != os.getpid():
        _POOL = ProcessPoolExecutor(max_workers=cpu_count(),
                                    mp_context=multiprocessing.get_context("spawn"))
        _POOL_PID = os.getpid()
        atexit.register(_POOL.shutdown, wait=False, cancel_futures=True)
    return _POOL


class SignatureJob:
    """Failing indexes of one batch of (public key, message, signature) items."""

    def __init__(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> None:
        self._futures: list[tuple[int, Future[list[int]]]] = []
        self._inline: list[int] | None = None
        if len(items) < INLINE_LIMIT or cpu_count() == 1:
            self._inline = verify_batch(items)
            return
        step = -(-len(items) // cpu_count())
        for start in range(0, len(items), step):
            future = pool().submit(verify_batch, list(items[start:start + step]))
            self._futures.append((start, future))

    def failures(self) -> list[int]:
        if self._inline is not None:
            return self._inline
        bad: list[int] = []
        for start, future in self._futures:
            bad.extend(start + i for i in future.result())
        return sorted(bad)


def submit(items: Sequence[tuple[bytes, bytes, bytes]]) -> SignatureJob:
    return SignatureJob(items)

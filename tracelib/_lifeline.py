"""Worker processes that end when the process that started them dies.

A process pool's workers wait on a queue whose write end they hold themselves (``spawn``
hands each worker both ends), so the death of their parent by SIGKILL never wakes them:
they would live on, holding the parent's stdout open. Each worker therefore calls
:func:`die_with_parent` first. It runs a daemon thread that ends the worker as soon as its
parent is gone (the worker is then re-parented, so ``os.getppid()`` changes), checking every
:data:`CHECK_SECONDS`.

Linux's ``prctl(PR_SET_PDEATHSIG)`` (prctl(2)) would be quicker, but it fires when the
*thread* that created the child ends, not the process: a pool first used by a request
thread of a threaded server would lose its workers when that request ended. The check of
the parent's id is portable and has no such trap.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["CHECK_SECONDS", "die_with_parent"]

CHECK_SECONDS = 0.5  # a worker outlives its parent by at most about this long


def die_with_parent(parent: int) -> None:
    """End this process (exit status 1, no clean-up: its parent is gone and nobody waits
    for its results) once its parent, process id ``parent``, has died."""
    if os.getppid() != parent:  # the parent died before this worker got here
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="tracelib-lifeline",
                     daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(CHECK_SECONDS)
    os._exit(1)

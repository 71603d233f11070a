"""Work the service does after it answers (docs/operations.md "Background work"): asking the
witnesses to cosign a new checkpoint, sending a recall's notices to peer ledgers. Each runs in
a daemon thread, so the request never waits and a peer or witness that is down costs it
nothing; what fails is logged, never raised. The threads are kept per application so tests
and a clean shutdown can wait for them."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask, current_app

__all__ = ["run_later", "wait_for_background"]

_THREADS_KEY = "tracelib_background_threads"


def run_later(name: str, work: Callable[[], None], failed: str) -> None:
    """Run ``work`` in a daemon thread named ``name``; an exception is logged with
    ``failed`` (what did not happen, in words)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    logger = app.logger

    def run() -> None:
        try:
            work()
        except Exception:  # a background thread must not die silently nor raise anywhere
            logger.exception(failed)

    thread = threading.Thread(target=run, name=name, daemon=True)
    threads: list[threading.Thread] = app.extensions.setdefault(_THREADS_KEY, [])
    threads[:] = [t for t in threads if t.is_alive()]
    threads.append(thread)
    thread.start()


def wait_for_background(app: Flask, timeout: float = 10.0) -> None:
    """Wait for the background threads started so far (tests, and a clean shutdown)."""
    for thread in list(app.extensions.get(_THREADS_KEY, [])):
        thread.join(timeout)

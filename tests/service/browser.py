"""What the browser tests share: Debian's Chromium, found or the test skipped (a failure in
CI, where ``scripts/ensure-chromium.sh`` installs it), and an app served on a free port."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from werkzeug.serving import make_server


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI: run scripts/ensure-chromium.sh")
        pytest.skip("chromium is not installed (scripts/ensure-chromium.sh installs it)")
    return found


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app on 127.0.0.1 on a free port, in a thread; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()

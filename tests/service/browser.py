"""What the browser tests share: Debian's Chromium, found or the test skipped (a failure in
CI, where ``scripts/ensure-chromium.sh`` installs it), and an app served on a free port."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
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


#: A cheap phone's screen, in CSS px: what the shopper's pages are drawn for.
PHONE = (360, 740)
ROOT = Path(__file__).resolve().parents[2]


def headless(chromium_path: str, profile: Path, *args: str,
             size: tuple[int, int] = PHONE) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium once (``--dump-dom URL``, ``--screenshot=FILE URL`` …) with a
    fresh profile, in Chinese, at ``size``."""
    command = [chromium_path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={profile}",
               f"--window-size={size[0]},{size[1]}", "--hide-scrollbars", "--lang=zh-CN",
               "--accept-lang=zh-CN,zh", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def screenshot(chromium_path: str, tmp_path: Path, url: str, *, keep_as: Path,
               size: tuple[int, int] = PHONE) -> Path:
    """A screenshot of ``url`` at ``size`` that shows drawn text, not a blank page; copied to
    ``keep_as`` (under the repository) when ``TRACELIB_SAVE_SCREENSHOT=1``
    (``make screenshots``)."""
    shot = tmp_path / keep_as.name
    result = headless(chromium_path, tmp_path / f"profile-{keep_as.stem}",
                      f"--screenshot={shot}", url, size=size)
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == size
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text was drawn, not a blank page
    if os.environ.get("TRACELIB_SAVE_SCREENSHOT") == "1":
        target = ROOT / keep_as
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
    return shot

"""The stall page in a real browser at a cheap phone's width: headless Debian Chromium
(``scripts/ensure-chromium.sh`` installs it) renders it at 360×740 px."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image

from tests.service.browser import chromium as find_chromium
from tests.service.browser import serving
from tests.service.conftest import STALL

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 360, 740





@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app on 127.0.0.1 on a free port, in a thread."""
    with serving(app) as url:
        yield url


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}",
               "--hide-scrollbars", "--lang=zh-CN", "--accept-lang=zh-CN,zh", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_stall_page_renders_at_phone_width(served: str, tmp_path: Path) -> None:
    chromium = find_chromium()
    url = f"{served}/s/{STALL}"
    dom = _run(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<html lang="zh-CN">' in dom.stdout  # a Chinese phone gets the Chinese page
    for text in ("张记蔬菜", "LOT-CP-0001", "阴性 合格", "阳性 不合格", "重庆市云阳县红狮镇",
                 "tel:12315"):
        assert text in dom.stdout, text
    shot = tmp_path / "stall.png"
    result = _run(chromium, tmp_path / "profile-shot", f"--screenshot={shot}", url)
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (WIDTH, HEIGHT)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text was drawn, not a blank page
    if os.environ.get("TRACELIB_SAVE_SCREENSHOT") == "1":
        target = ROOT / "docs" / "img" / "stall-page.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)

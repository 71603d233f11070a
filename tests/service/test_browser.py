"""The stall page in a real browser at a cheap phone's width: headless Debian Chromium
(``scripts/ensure-chromium.sh`` installs it) renders it at 360×740 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.service.browser import chromium as find_chromium
from tests.service.browser import headless, screenshot, serving
from tests.service.conftest import STALL

pytestmark = pytest.mark.slow


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app on 127.0.0.1 on a free port, in a thread."""
    with serving(app) as url:
        yield url


def test_stall_page_renders_at_phone_width(served: str, tmp_path: Path) -> None:
    chromium = find_chromium()
    url = f"{served}/s/{STALL}"
    dom = headless(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<html lang="zh-CN">' in dom.stdout  # a Chinese phone gets the Chinese page
    for text in ("张记蔬菜", "LOT-CP-0001", "阴性 合格", "阳性 不合格", "重庆市云阳县红狮镇",
                 "tel:12315"):
        assert text in dom.stdout, text
    screenshot(chromium, tmp_path, url, keep_as=Path("docs/img/stall-page.png"))

"""The stall page and the market board in a real browser at a cheap phone's size, 360×740:
Playwright drives Debian's headless Chromium (``scripts/ensure-chromium.sh`` installs it; no
browser is ever downloaded). The board's positive with its action, its inspections and its
publication, and the stall's 红黑榜 with its inspections, are visible, and neither page scrolls
sideways.

With ``TRACELIB_SAVE_SCREENSHOT=1`` (``make screenshots``) the screenshots are copied to
``docs/screenshots/phone-*.png`` for a person to review.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.service.browser import chromium as find_chromium
from tests.service.browser import serving
from tests.service.conftest import STALL, Scene
from tracelib.keys import SigningKey

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 360, 740
AMR = "amr-9"


@pytest.fixture
def served(app: Flask, scene: Scene) -> Iterator[str]:
    """The day of the fixture, and a regulator's non-compliant inspection of the stall."""
    key = SigningKey.generate()
    scene.net.keys[AMR] = key
    scene.add("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": AMR, "name": "云阳县市场监督管理局", "role": "regulator"}],
        "keys": [{"party": AMR, "key_id": key.key_id, "public_key": key.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"}]}})
    data: dict[str, Any] = {"items": [{"name": "进货查验记录", "compliant": False}],
                            "result": "non_compliant", "findings": "进货查验记录不全",
                            "rectification_deadline": "2026-11-29",
                            "inspectors": [{"name": "李明", "badge": "5002350012"}]}
    scene.add(AMR, {"id": "insp-1", "kind": "inspection", "time": "2026-11-22T09:40:00+08:00",
                    "location": STALL, "data": data})
    with serving(app) as url:
        yield url


def _shoot(page: Any, folder: Path, name: str) -> None:
    path = folder / f"phone-{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("TRACELIB_SAVE_SCREENSHOT") == "1":
        target = ROOT / "docs" / "screenshots" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _no_sideways_scroll(page: Any) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] == WIDTH, widths


def test_board_and_stall_page_at_phone_size(served: str, tmp_path: Path) -> None:
    chromium = find_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                          locale="zh-CN")
            page = context.new_page()

            page.goto(f"{served}/m/market-1/board")
            expect(page.locator("h1")).to_contain_text("快检公示")
            expect(page.locator(".publication")).to_contain_text("未在开市前公示 14:00")
            expect(page.locator(".publication")).to_be_visible()
            first = page.locator(".result").first  # positives first
            expect(first).to_contain_text("阳性 不合格")
            expect(first.locator(".action")).to_contain_text("处置：下架 07:20")
            expect(first).to_be_visible()
            inspection = page.locator(".inspection")
            expect(inspection).to_contain_text("张记蔬菜")
            expect(inspection).to_contain_text("不符合")
            expect(inspection).to_contain_text("整改期限 2026-11-29")
            assert "李明" not in page.content()
            _no_sideways_scroll(page)
            _shoot(page, tmp_path, "board")
            inspection.scroll_into_view_if_needed()
            expect(inspection).to_be_in_viewport()

            page.goto(f"{served}/s/{STALL}")
            expect(page.locator(".tag.black").first).to_have_text("黑榜")
            expect(page.locator(".inspections")).to_contain_text("近30天监督检查 1")
            expect(page.locator(".inspections")).to_contain_text("不符合未整改 1")
            expect(page.locator(".inspections")).to_be_visible()
            expect(page.locator("dd.inspection")).to_contain_text("不符合")
            _no_sideways_scroll(page)
            _shoot(page, tmp_path, "stall")

            page.goto(f"{served}/m/market-1/board?lang=en")
            expect(page.locator(".result").first.locator(".action")).to_contain_text(
                "Action: Off sale 07:20")
            expect(page.locator(".publication")).to_contain_text(
                "Not published before opening 14:00")
            _no_sideways_scroll(page)
        finally:
            browser.close()

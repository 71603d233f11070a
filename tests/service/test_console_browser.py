"""The regulator's console in a real browser: Playwright drives Debian's headless Chromium
(``scripts/ensure-chromium.sh`` installs it; no browser is ever downloaded) against the app
served on 127.0.0.1, at 1280×800: sign in, find a lot, run a drill and download its report,
start a recall, confirm it, and see the stall page change.

Screenshots are saved in the test's tmp folder; with ``TRACELIB_SAVE_SCREENSHOT=1`` (``make
screenshots``) they are copied to ``docs/screenshots/console-*.png`` for a person to review.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import NOW
from tests.service.browser import chromium as find_chromium
from tests.service.browser import serving
from tests.service.conftest import Scene
from tests.service.console_scene import REGULATOR, app_token, console_app_at
from tracelib.keys import Keystore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1280, 800





@pytest.fixture
def console_app(db_url: str, scene: Scene, keystore: Keystore) -> Iterator[Flask]:
    with console_app_at(db_url, scene, keystore, NOW) as app:
        yield app


@pytest.fixture
def served(console_app: Flask) -> Iterator[str]:
    with serving(console_app) as url:
        yield url


class Shots:
    """Screenshots of the flow, in order, at the viewport's size."""

    def __init__(self, page: object, folder: Path) -> None:
        self.page, self.folder, self.taken = page, folder, []  # type: list[Path]

    def take(self, name: str) -> None:
        path = self.folder / f"console-{name}.png"
        self.page.screenshot(path=str(path))  # type: ignore[attr-defined]
        self.taken.append(path)


def test_console_flow_in_chromium(served: str, console_app: Flask, tmp_path: Path) -> None:
    chromium = find_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    token = app_token(console_app, REGULATOR)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                          locale="zh-CN", accept_downloads=True)
            page = context.new_page()
            shots = Shots(page, tmp_path)
            expect = sync_api.expect

            page.goto(f"{served}/console/drill?lot=LOT-CP-0001")  # no session: to sign-in
            expect(page.locator("input[name=token]")).to_be_visible()
            shots.take("signin")
            page.fill("input[name=token]", token)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_contain_text("追溯演练 · LOT-CP-0001")  # back to it
            cookie = next(c for c in context.cookies() if c["name"] == "tracelib_console")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
            assert token not in cookie["value"]

            # The day's alerts, and one opened: its evidence is the record behind it.
            page.goto(f"{served}/console/")
            held = page.locator("tr.alert.held_stock")
            expect(held).to_contain_text("下架批次仍有库存待处置")
            shots.take("alerts")
            held.locator("a.evidence").first.click()
            expect(page.locator("main")).to_contain_text("rt-pos")

            page.goto(f"{served}/console/find?q=CERT-LOT-CP-0001")
            expect(page.locator("table")).to_contain_text("合格证")
            shots.take("find")
            page.locator("table").get_by_role("link", name="追溯演练").first.click()

            expect(page.locator("table")).to_contain_text("张记蔬菜")
            expect(page.locator("table")).to_contain_text("37.5 kg")
            picture = page.locator(".picture img")
            expect(picture).to_be_visible()
            assert page.evaluate("img => img.naturalWidth", picture.element_handle()) > 100
            shots.take("drill")
            with page.expect_download() as info:
                page.get_by_role("button", name="记录演练并下载报告（zip）").click()
            report = tmp_path / "report.zip"
            info.value.save_as(report)
            names = {Path(n).name for n in zipfile.ZipFile(report).namelist()}
            assert {"summary.json", "ctes.xlsx", "path.png"} <= names

            page.locator("main").get_by_role("link", name="发起召回").click()
            page.fill("input[name=reason]", "抽检不合格: 豇豆 灭蝇胺超标")
            page.get_by_role("button", name="下一步：确认").click()
            expect(page.locator("h2")).to_contain_text("确认召回")
            expect(page.locator("table")).to_contain_text("张记蔬菜")
            shots.take("recall-confirm")
            page.get_by_role("button", name="确认并签名召回").click()
            expect(page.locator("[role=status]")).to_contain_text("召回已签名生效")
            shots.take("recall-done")

            # the stall page a shopper sees
            page.locator("table").get_by_role("link", name="张记蔬菜").click()
            banner = page.locator(".banner")
            expect(banner).to_contain_text("以下商品已下架")
            expect(banner).to_contain_text("LOT-CP-0001：抽检不合格: 豇豆 灭蝇胺超标")
            shots.take("stall-after-recall")

            page.goto(f"{served}/console/kpi?year=2026&population=1000")
            expect(page.locator("table").first).to_contain_text("评价性抽检合格率")
            shots.take("kpi")

            page.goto(f"{served}/console/find?lang=en")
            page.get_by_role("button", name="Sign out").click()
            expect(page.locator("input[name=token]")).to_be_visible()
            page.goto(f"{served}/console/find")
            expect(page.locator("input[name=token]")).to_be_visible()  # signed out for good
        finally:
            browser.close()
    for shot in shots.taken:
        from PIL import Image

        with Image.open(shot) as image:
            assert image.size == (WIDTH, HEIGHT), shot
    if os.environ.get("TRACELIB_SAVE_SCREENSHOT") == "1":
        target = ROOT / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        for shot in shots.taken:
            shutil.copyfile(shot, target / shot.name)

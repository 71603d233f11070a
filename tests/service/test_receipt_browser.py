"""小家大市一码通 in a real browser at a cheap phone's width (issue 20): a stall's scale sells
through the API, the receipt's QR is decoded with zxing-cpp, the receipt page opens in
Debian's headless Chromium (Playwright drives it; ``scripts/ensure-chromium.sh`` installs it)
at 360×740, 付款 leads to the market's cashier (a stub the test serves by intercepting the
cashier's address) with the receipt's amount and order, the provider's signed notification
makes the page say 已付款, and a recall of a lot on the receipt puts the banner on it."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from flask import Flask
from PIL import Image

from tests.conftest import NOW
from tests.service.browser import PHONE, serving
from tests.service.browser import chromium as find_chromium
from tests.service.conftest import STALL, Scene
from tracelib.keys import Keystore, SigningKey
from tracelib.recalls import recall
from tracelib_service.payments import sign_notification
from tracelib_service.tokens import issue_device_token

pytestmark = pytest.mark.slow

SECRET = "s3cret-shared-with-the-provider-0001"
CASHIER = "https://pay.example.cn/cashier"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shop(db_url: str, scene: Scene, keystore: Keystore) -> Iterator[Flask]:
    from tracelib_service import create_app

    scene.net.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "locations": [{"id": "market-1", "name": "云阳县城南农贸市场", "type": "market",
                       "holder": "market-1",
                       "payment_url": CASHIER + "?amount={amount}&order={order}&stall={stall}"}]}})
    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path), "NOW": NOW,
                      "PAYMENT_SECRETS": f"market-1={SECRET}"})
    yield app
    app.extensions["tracelib"].close()


def _notify(app: Flask, receipt: str, amount: str) -> Any:
    sent = NOW.astimezone().isoformat(timespec="seconds")
    body = json.dumps({"notification": "n-browser", "receipt": receipt, "amount": amount,
                       "provider_ref": "agg-000777", "paid_at": sent,
                       "sent_at": sent}).encode()
    return app.test_client().post("/api/v1/payments/notify", data=body, headers={
        "Content-Type": "application/json", "X-Tracelib-Market": "market-1",
        "X-Tracelib-Signature": sign_notification(SECRET.encode(), body)})


def test_weigh_sell_scan_pay_and_see_a_recall_on_the_receipt(
        shop: Flask, scene: Scene, operator_key: SigningKey, tmp_path: Path) -> None:
    chromium = find_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    client = shop.test_client()
    scale = {"Authorization": f"Bearer {issue_device_token(shop, STALL, 'scale-1')}"}
    sold = client.post(f"/api/v1/stalls/{STALL}/sales", headers=scale, json={
        "receipt_no": "A01-0777",
        "items": [{"lot": "LOT-CP-0001", "qty": "0.735", "unit": "kg", "unit_price": "12.80"}]})
    assert sold.status_code == 201, sold.json
    receipt, total = sold.json["receipt"], sold.json["total"]
    # The printed QR: zxing-cpp reads the receipt's address back from the PNG the scale prints.
    png = client.get(f"/r/{receipt}/qr.png")
    (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)).convert("L"))
    assert code.text == sold.json["receipt_url"]
    path = urlsplit(code.text).path  # the configured public URL; the test serves elsewhere
    cashier_calls: list[str] = []

    def cashier(route: Any) -> None:  # the market's aggregated-payment cashier, stubbed
        cashier_calls.append(route.request.url)
        route.fulfill(status=200, content_type="text/html; charset=utf-8",
                      body="<html><body><h1 id='cashier'>收银台</h1></body></html>")

    with serving(shop) as served, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": PHONE[0], "height": PHONE[1]},
                                          locale="zh-CN")
            context.route(CASHIER + "**", cashier)
            page = context.new_page()
            expect = sync_api.expect
            page.goto(served + path)
            expect(page.locator("#receipt-total")).to_contain_text(total)
            expect(page.locator("#pay")).to_contain_text(f"付款 ¥{total}")
            page.screenshot(path=str(tmp_path / "receipt.png"))
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
            page.click("#pay")
            expect(page.locator("#cashier")).to_have_text("收银台")
            (called,) = cashier_calls
            asked = parse_qs(urlsplit(called).query)
            assert asked == {"amount": [total], "order": [receipt], "stall": [STALL]}

            assert _notify(shop, receipt, total).status_code == 201
            page.goto(served + path)
            expect(page.locator("#paid")).to_contain_text("已付款")
            expect(page.locator("#pay")).to_have_count(0)
            expect(page.locator("#receipt-alert")).to_have_count(0)

            recall(scene.ledger, "LOT-CP-0001", key=operator_key, reason="抽检不合格", now=NOW)
            page.goto(served + path)
            expect(page.locator("#receipt-alert")).to_contain_text("召回")
            page.screenshot(path=str(tmp_path / "receipt-recalled.png"), full_page=True)
            if os.environ.get("TRACELIB_SAVE_SCREENSHOT"):  # `make screenshots`: for review
                shutil.copy(tmp_path / "receipt-recalled.png",
                            ROOT / "docs/screenshots/phone-receipt-recalled.png")
        finally:
            browser.close()

"""Sales from a stall's scale, the receipts they print, and payments notified by the
market's provider (docs/contract.md "Receipts", "Payments"): every bad input refused with
nothing stored."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.conftest import NOW
from tests.service.conftest import STALL, Scene
from tracelib_service.payments import parse_secrets, sign_notification
from tracelib_service.qr import RECEIPT_DOTS
from tracelib_service.tokens import issue_device_token, issue_token

SECRET = "s3cret-shared-with-the-provider-0001"
PAY_URL = "https://pay.example.cn/cashier?amount={amount}&order={order}&stall={stall}"


@pytest.fixture
def app(db_url: str, scene: Scene, keystore: Any) -> Any:
    from tracelib_service import create_app

    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path), "NOW": NOW,
                      "PAYMENT_SECRETS": f"market-1={SECRET}"})
    yield app
    app.extensions["tracelib"].close()


@pytest.fixture
def scale(app: Flask) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_device_token(app, STALL, 'scale-1')}"}


def size(scene: Scene) -> int:
    with scene.ledger.store.reader() as conn:
        return int(scene.ledger.store.size(conn))


def sell(client: FlaskClient, headers: dict[str, str], items: list[dict[str, str]],
         number: str | None = "A01-0001", stall: str = STALL) -> Any:
    body: dict[str, Any] = {"items": items}
    if number is not None:
        body["receipt_no"] = number
    return client.post(f"/api/v1/stalls/{stall}/sales", json=body, headers=headers)


CP = {"lot": "LOT-CP-0001", "qty": "0.735", "unit": "kg", "unit_price": "12.80"}


def test_a_scale_sale_answers_its_receipt_once(client: FlaskClient, scale: dict[str, str],
                                               scene: Scene) -> None:
    first = sell(client, scale, [CP])
    assert first.status_code == 201, first.json
    receipt = first.json["receipt"]
    assert re.fullmatch(r"[A-Z2-7]{26}", receipt)
    assert first.json["total"] == "9.41"  # 0.735 × 12.80 = 9.408 → 9.41 (half up to the fen)
    assert first.json["receipt_url"] == f"http://127.0.0.1:8000/r/{receipt}"
    assert first.json["qr_png"].endswith(f"/r/{receipt}/qr.png")
    before = size(scene)
    again = sell(client, scale, [CP])  # the scale retries: the same receipt, nothing new
    assert again.status_code == 200
    assert again.json["receipt"] == receipt and size(scene) == before
    other = sell(client, scale, [CP], number="A01-0002")
    assert other.status_code == 201 and other.json["receipt"] != receipt
    stock = client.get(f"/api/v1/stalls/{STALL}").json
    on_hand = {item["lot"]: item["qty"] for item in stock["on_hand"]}
    assert on_hand["LOT-CP-0001"] == "36.03"  # 40 - 2.5 - 2 × 0.735


def test_the_receipt_page_shows_what_was_bought_where_from_and_the_proof(
        client: FlaskClient, scale: dict[str, str]) -> None:
    receipt = sell(client, scale, [CP]).json["receipt"]
    view = client.get(f"/r/{receipt}", headers={"Accept": "application/json"}).json
    (item,) = view["items"]
    assert (item["product"], item["qty"], item["unit_price"], item["amount"]) == \
        ("豇豆", "0.735", "12.80", "9.41")
    cert = item["origin"]["certificate"]
    assert cert["no"] and "origin_place" in cert
    assert set(cert) <= {"no", "origin_place", "product", "producer", "issued_at", "basis"}
    assert [t["event"] for t in view["tests"]] == ["rt-pos", "rt-neg"]  # that day's, newest first
    assert view["alerts"] == [] and view["payment"] is None and view["pay_url"] is None
    proof = client.get(view["receipt"]["proof"])
    assert proof.status_code == 200
    page = client.get(f"/r/{receipt}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "电子小票" in text and "¥9.41" in text
    assert 'id="receipt-alert"' not in text and 'id="pay"' not in text
    english = client.get(f"/r/{receipt}?lang=en").get_data(as_text=True)
    assert "Receipt" in english and "电子小票" not in english


def test_the_receipt_qr_fits_a_58mm_printer_and_decodes_to_the_page(
        client: FlaskClient, scale: dict[str, str]) -> None:
    answer = sell(client, scale, [CP]).json
    png = client.get(f"/r/{answer['receipt']}/qr.png")
    image = Image.open(io.BytesIO(png.data))
    assert png.mimetype == "image/png" and image.width <= RECEIPT_DOTS
    (code,) = zxingcpp.read_barcodes(image.convert("L"))
    assert code.text == answer["receipt_url"]
    svg = client.get(f"/r/{answer['receipt']}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and 'width="40mm"' in svg.get_data(as_text=True)


def test_unguessable_ids_name_no_receipt(client: FlaskClient) -> None:
    for path in ("/r/sale-1", "/r/AAAAAAAAAAAAAAAAAAAAAAAAAA", "/r/rt-neg/qr.png"):
        assert client.get(path).status_code == 404


def test_a_banner_when_a_lot_bought_is_later_held(client: FlaskClient, scale: dict[str, str],
                                                  scene: Scene) -> None:
    receipt = sell(client, scale, [CP]).json["receipt"]
    scene.net.append_as("market-1", {"kind": "hold", "location": STALL,
                                     "time": "2026-11-22T14:00:00+08:00",
                                     "inputs": [{"lot": "LOT-CP-0001", "qty": "36.765",
                                                 "unit": "kg"}],
                                     "data": {"reason": "实验室复检不合格"}})
    view = client.get(f"/r/{receipt}", headers={"Accept": "application/json"}).json
    assert view["alerts"] == [{"lot": "LOT-CP-0001", "kind": "hold",
                               "reason": "实验室复检不合格", "seq": view["alerts"][0]["seq"]}]
    text = client.get(f"/r/{receipt}").get_data(as_text=True)
    assert 'id="receipt-alert"' in text and "您购买的商品已被召回" in text and "12315" in text


@pytest.mark.parametrize(("case", "status"), [
    ("other stall", 403), ("more than on hand", 422), ("held lot", 422), ("party token", 403),
    ("price on one item only", 400), ("bad price", 400), ("no items", 400), ("unknown lot", 422),
    ("no token", 401), ("a lot on two lines", 422)])
def test_bad_sales_are_refused_and_nothing_is_stored(
        app: Flask, client: FlaskClient, scale: dict[str, str], scene: Scene, case: str,
        status: int) -> None:
    qc = {"lot": "LOT-QC-0002", "qty": "1", "unit": "kg"}
    cp = {k: v for k, v in CP.items() if k != "unit_price"}
    calls = {
        "other stall": lambda: sell(client, scale, [cp], stall="stall-a02"),
        "more than on hand": lambda: sell(client, scale, [cp, {**cp, "qty": "37.5"}]),
        "held lot": lambda: sell(client, scale, [cp, qc]),
        "party token": lambda: sell(client, {"Authorization": "Bearer " + issue_token(
            app, STALL)}, [cp]),
        "price on one item only": lambda: sell(client, scale, [CP, qc]),
        "bad price": lambda: sell(client, scale, [{**CP, "unit_price": "-1"}]),
        "no items": lambda: sell(client, scale, []),
        "unknown lot": lambda: sell(client, scale, [{**cp, "lot": "LOT-NONE"}]),
        "no token": lambda: sell(client, {}, [cp]),
        "a lot on two lines": lambda: sell(client, scale, [cp, cp]),
    }
    before = size(scene)
    answer = calls[case]()
    assert answer.status_code == status, answer.json
    assert answer.json["detail"]
    assert size(scene) == before


def test_a_device_token_records_sales_and_nothing_else(client: FlaskClient,
                                                       scale: dict[str, str]) -> None:
    answer = client.post("/api/v1/events", json={"events": []}, headers=scale)
    assert answer.status_code == 403 and answer.json["code"] == "device_token"


def _link_market(scene: Scene) -> None:
    scene.net.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "locations": [{"id": "market-1", "name": "云阳县城南农贸市场", "type": "market",
                       "holder": "market-1", "payment_url": PAY_URL}]}})


def _notify(client: FlaskClient, note: dict[str, Any], *, secret: str = SECRET,
            market: str = "market-1", sign: bool = True) -> Any:
    body = json.dumps(note).encode()
    headers = {"Content-Type": "application/json", "X-Tracelib-Market": market}
    if sign:
        headers["X-Tracelib-Signature"] = sign_notification(secret.encode(), body)
    return client.post("/api/v1/payments/notify", data=body, headers=headers)


def _note(receipt: str, **changes: str) -> dict[str, Any]:
    sent = NOW.astimezone().isoformat(timespec="seconds")
    return {"notification": "n-1", "receipt": receipt, "amount": "9.41",
            "provider_ref": "agg-000193", "paid_at": sent, "sent_at": sent, **changes}


def test_paying_a_receipt(client: FlaskClient, scale: dict[str, str], scene: Scene) -> None:
    _link_market(scene)
    receipt = sell(client, scale, [CP]).json["receipt"]
    view = client.get(f"/r/{receipt}", headers={"Accept": "application/json"}).json
    assert view["pay_url"] == ("https://pay.example.cn/cashier?amount=9.41&order="
                               f"{receipt}&stall={STALL}")
    page = client.get(f"/r/{receipt}").get_data(as_text=True)
    assert 'id="pay"' in page and "付款 ¥9.41" in page
    stall_page = client.get(f"/s/{STALL}").get_data(as_text=True)
    assert 'id="pay"' in stall_page and "stall=stall-a01" in stall_page
    answer = _notify(client, _note(receipt))
    assert answer.status_code == 201, answer.json
    view = client.get(f"/r/{receipt}", headers={"Accept": "application/json"}).json
    assert view["payment"]["amount"] == "9.41" and view["pay_url"] is None
    page = client.get(f"/r/{receipt}").get_data(as_text=True)
    assert 'id="paid"' in page and "已付款" in page and 'id="pay"' not in page


@pytest.mark.parametrize(("case", "status"), [
    ("forged", 401), ("unsigned", 401), ("other market", 401), ("replayed", 409),
    ("stale", 401), ("wrong amount", 422), ("unknown receipt", 404), ("not json", 400)])
def test_bad_notifications_are_refused_and_nothing_is_stored(
        client: FlaskClient, scale: dict[str, str], scene: Scene, case: str,
        status: int) -> None:
    receipt = sell(client, scale, [CP]).json["receipt"]
    if case == "replayed":
        assert _notify(client, _note(receipt)).status_code == 201
    before = size(scene)
    stale = (NOW - timedelta(minutes=6)).astimezone().isoformat(timespec="seconds")
    calls = {
        "forged": lambda: _notify(client, _note(receipt), secret="another-secret-of-16+"),
        "unsigned": lambda: _notify(client, _note(receipt), sign=False),
        "other market": lambda: _notify(client, _note(receipt), market="market-2"),
        "replayed": lambda: _notify(client, _note(receipt)),
        "stale": lambda: _notify(client, _note(receipt, sent_at=stale)),
        "wrong amount": lambda: _notify(client, _note(receipt, amount="9.40")),
        "unknown receipt": lambda: _notify(client, _note("A" * 26)),
        "not json": lambda: client.post(
            "/api/v1/payments/notify", data=b"amount=9.41",
            headers={"X-Tracelib-Market": "market-1",
                     "X-Tracelib-Signature": sign_notification(SECRET.encode(), b"amount=9.41")}),
    }
    answer = calls[case]()
    assert answer.status_code == status, answer.json
    assert size(scene) == before


def test_payment_secrets_are_checked() -> None:
    assert parse_secrets("# markets\nmarket-1=0123456789abcdef m2=fedcba9876543210") == {
        "market-1": b"0123456789abcdef", "m2": b"fedcba9876543210"}
    with pytest.raises(ValueError, match="at least 16"):
        parse_secrets("market-1=short")


def test_the_cli_issues_a_device_token(app: Flask, client: FlaskClient) -> None:
    from click.testing import CliRunner

    from tracelib_cli.main import cli

    env = {"TRACELIB_DB": app.config["DB"], "TRACELIB_KEYSTORE": app.config["KEYSTORE"]}
    runner = CliRunner()
    r = runner.invoke(cli, ["token", "issue", STALL, "--device", "scale-2"], env=env)
    assert r.exit_code == 0, r.output
    token = r.output.strip()
    answer = sell(client, {"Authorization": f"Bearer {token}"},
                  [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}])
    assert answer.status_code == 201, answer.json
    listed = runner.invoke(cli, ["token", "list"], env=env).output
    assert f"device scale-2 of {STALL}" in listed and token not in listed
    r = runner.invoke(cli, ["token", "issue", "farm-1", "--device", "x"], env=env)
    assert r.exit_code == 1 and "not a registered stall" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1
    r = runner.invoke(cli, ["token", "issue", STALL, "--device", "x", "--scope", "read:own"],
                      env=env)
    assert r.exit_code == 2 and "write only" in r.output, r.output

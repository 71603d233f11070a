"""The ``payment`` kind and a sale's prices (docs/contract.md "Receipts", "Payments"): what
the append rules refuse, and that the ledger still re-derives."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import Network, certificate
from tracelib.errors import TracelibError, ValidationError
from tracelib.money import format_yuan, line_amount, parse_yuan

STALL = "stall-a01"
LOT = "LOT-PAY-01"
LOT2 = "LOT-PAY-02"
RECEIPT = "MZXW6YTBOI7MZXW6YTBOI7MZXW"


@pytest.fixture
def net(network: Network) -> Network:
    q = [{"lot": LOT, "qty": "10", "unit": "kg"}, {"lot": LOT2, "qty": "10", "unit": "kg"}]
    t = "2026-11-22T05:00:00+08:00"
    for i, lot in enumerate((LOT, LOT2)):
        network.append_as("farm-1", {"id": f"o{i}", "kind": "origin", "time": t,
                                     "location": "farm-1.field", "outputs": [q[i]],
                                     "data": {"certificate": certificate(lot)}})
    network.append_as("farm-1", {"id": "s", "kind": "ship", "time": t,
                                 "location": "farm-1.field", "inputs": q, "data": {"to": STALL}})
    network.append_as(STALL, {"id": "r", "kind": "receive", "time": t, "location": STALL,
                               "inputs": q, "data": {"from": "farm-1.field", "ship_event": "s"}})
    return network


def _sale(**data: Any) -> dict[str, Any]:
    return {"id": RECEIPT, "kind": "sale", "location": STALL,
            "inputs": [{"lot": LOT, "qty": "0.735", "unit": "kg"},
                       {"lot": LOT2, "qty": "1", "unit": "kg"}],
            "data": {"receipt": "A01-1", **data}}


def _payment(**changes: Any) -> dict[str, Any]:
    data = {"receipt": RECEIPT, "amount": "15.21", "provider_ref": "agg-1",
            "paid_at": "2026-11-22T07:00:00+08:00", **changes.pop("data", {})}
    return {"id": "payment-" + RECEIPT, "kind": "payment", "location": STALL, "data": data,
            **changes}


def test_money_rounds_half_up_to_the_fen() -> None:
    assert format_yuan(line_amount(Decimal("0.735"), parse_yuan("12.80"))) == "9.41"
    assert format_yuan(line_amount(Decimal("0.5"), parse_yuan("0.01"))) == "0.01"
    for bad in ("-1", "1e3", "01.5", "1.23456", 12, "１２"):
        with pytest.raises(ValueError, match="decimal string"):
            parse_yuan(bad)
    with pytest.raises(ValueError, match="whole fen"):
        parse_yuan("1.005", fen_only=True)


def test_a_priced_sale_and_its_payment_are_recorded(net: Network) -> None:
    net.append_as(STALL, _sale(unit_prices=["12.80", "5.80"], total="15.21"))
    net.append_as("market-1", _payment())
    assert net.ledger.verify(workers=1).ok


@pytest.mark.parametrize(("data", "field"), [
    ({"unit_prices": ["12.80", "5.80"], "total": "15.20"}, "data.total"),
    ({"unit_prices": ["12.80"], "total": "9.41"}, "data.unit_prices"),
    ({"unit_prices": ["12.80", "-5"], "total": "9.41"}, "data.unit_prices[1]"),
    ({"unit_prices": ["12.80", "5.80"]}, "data.total"),
    ({"total": "15.21"}, "data.total"),
])
def test_a_sale_whose_prices_do_not_add_up_is_refused(net: Network, data: dict[str, Any],
                                                      field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        net.append_as(STALL, _sale(**data))
    assert caught.value.field == field


@pytest.mark.parametrize(("actor", "changes", "field"), [
    ("market-1", {"id": "payment-OTHER"}, "data.receipt"),
    ("market-1", {"data": {"amount": "15.215"}}, "data.amount"),
    ("market-1", {"location": "market-1"}, "location"),
    ("market-1", {"data": {"paid_at": "yesterday"}}, "data.paid_at"),
])
def test_a_malformed_payment_is_refused(net: Network, actor: str, changes: dict[str, Any],
                                        field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        net.append_as(actor, _payment(**changes))
    assert caught.value.field == field


def test_a_lot_on_two_lines_is_refused(net: Network) -> None:
    doc = _sale()
    doc["inputs"][1]["lot"] = LOT
    with pytest.raises(ValidationError, match="two lines") as caught:
        net.append_as(STALL, doc)
    assert caught.value.field == "inputs[1].lot"


def test_only_the_market_or_the_operator_signs_a_payment(net: Network) -> None:
    for actor in (STALL, "farm-1"):
        with pytest.raises(TracelibError):
            net.append_as(actor, _payment())
    net.append_as("operator", _payment())


@pytest.mark.parametrize(("location", "words"), [
    ({"id": "farm-1.field", "name": "田", "type": "farm",
      "payment_url": "https://pay.example.cn/?a={amount}"}, "only a stall or a market"),
    ({"id": STALL, "name": "张记蔬菜", "type": "stall", "parent": "market-1",
      "holder": STALL, "payment_url": "http://pay.example.cn/?a={amount}"}, "https://"),
    ({"id": STALL, "name": "张记蔬菜", "type": "stall", "parent": "market-1",
      "holder": STALL, "payment_url": "https://pay.example.cn/?a={card}"}, "placeholders"),
])
def test_a_payment_link_is_https_on_a_stall_or_market(net: Network, location: dict[str, Any],
                                                       words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        net.append_as("operator", {"kind": "register", "location": "operator.office",
                                   "data": {"locations": [location]}})


def test_a_stalls_own_payment_link_comes_before_its_markets(net: Network) -> None:
    from tracelib.views.receipt import payment_template

    market = {"id": "market-1", "name": "市场", "type": "market", "holder": "market-1",
              "payment_url": "https://pay.example.cn/m?o={order}"}
    net.append_as("operator", {"kind": "register", "location": "operator.office",
                               "data": {"locations": [market]}})
    assert payment_template(net.ledger, STALL) == market["payment_url"]
    stall = {"id": STALL, "name": "张记蔬菜", "type": "stall", "parent": "market-1",
             "holder": STALL, "payment_url": "https://pay.example.cn/s?o={order}&s={stall}"}
    net.append_as("operator", {"kind": "register", "location": "operator.office",
                               "data": {"locations": [stall]}})
    assert payment_template(net.ledger, STALL) == stall["payment_url"]

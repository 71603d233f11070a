"""One set of limits (docs/contract.md "Limits"): every string the event schema accepts fits
the database's columns, on SQLite and on PostgreSQL alike. A 300-character product once hit
PostgreSQL's varchar(200) and a 150-character lab method its varchar(100): 500 errors where
SQLite, and the docs, said the events were valid."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import NOW
from tests.helpers import Network, certificate
from tracelib.bounds import MAX_LABEL, MAX_TEXT
from tracelib.errors import ValidationError
from tracelib.store.schema import lots, test_results


def _origin(net: Network, lot: str, product: str) -> dict[str, Any]:
    return net.event("farm-1", {"kind": "origin", "location": "farm-1.field",
                                "outputs": [{"lot": lot, "qty": "10", "unit": "kg"}],
                                "data": {"certificate": {**certificate(lot), "product": product},
                                         "product": product}})


def _lab(net: Network, method: str) -> dict[str, Any]:
    return net.event("market-1", {"kind": "lab_test", "location": "stall-a01", "data": {
        "analyte": "毒死蜱", "commodity": "芹菜", "value": "0.01", "unit": "mg/kg",
        "lab": "检测中心", "report_no": "R-1", "method": method}})


@pytest.mark.parametrize("length", [300, MAX_TEXT])
def test_a_product_as_long_as_the_schema_allows_is_stored(network: Network, length: int) -> None:
    ledger = network.ledger
    product = "豇" * length
    ledger.append([_origin(network, "LOT-LONG", product)], now=NOW)
    with ledger.store.engine.connect() as conn:
        assert conn.execute(select(lots.c.product).where(lots.c.lot == "LOT-LONG")).scalar() \
            == product
    with pytest.raises(ValidationError) as caught:
        ledger.append([_origin(network, "LOT-LONGER", product + "豆" * (MAX_TEXT + 1 - length))],
                      now=NOW)
    assert caught.value.field == "data.certificate.product"
    assert ledger.verify(workers=1).ok


@pytest.mark.parametrize("length", [150, MAX_LABEL])
def test_a_lab_method_as_long_as_the_schema_allows_is_stored(network: Network, length: int) -> None:
    ledger = network.ledger
    method = "G" * length
    ledger.append([_lab(network, method)], now=NOW)
    with ledger.store.engine.connect() as conn:
        assert conn.execute(select(test_results.c.method)).scalar() == method
    with pytest.raises(ValidationError) as caught:
        ledger.append([_lab(network, "G" * (MAX_LABEL + 1))], now=NOW)
    assert caught.value.field == "data.method"
    assert ledger.verify(workers=1).ok


def test_a_lot_shipped_back_and_forth_cannot_carry_its_totals_past_64_bits(
        network: Network) -> None:
    """One event carries at most 999,999,999,999.999999 of a lot, which fits the micro-unit
    columns; a lot received at the same place again and again could pass 2**63 − 1 in its
    running total: that receipt is refused naming its quantity, never a database error."""
    ledger = network.ledger
    qty = "999999999999"
    ledger.append([network.event("farm-1", {
        "kind": "origin", "location": "farm-1.field",
        "outputs": [{"lot": "LOT-BIG", "qty": qty, "unit": "kg"}],
        "data": {"certificate": certificate("LOT-BIG")}})], now=NOW)
    item = [{"lot": "LOT-BIG", "qty": qty, "unit": "kg"}]

    def hop(sender: str, src: str, receiver: str, dst: str) -> list[dict[str, Any]]:
        ship = network.event(sender, {"kind": "ship", "location": src, "inputs": item,
                                      "data": {"to": dst}})
        receive = network.event(receiver, {"kind": "receive", "location": dst, "inputs": item,
                                           "data": {"from": src, "ship_event": ship["id"]}})
        return [ship, receive]

    for _ in range(8):  # the farm's total received grows by 10**18 micro-units a round
        ledger.append(hop("farm-1", "farm-1.field", "carrier-1", "coldstore-1")
                      + hop("carrier-1", "coldstore-1", "farm-1", "farm-1.field"), now=NOW)
    ledger.append(hop("farm-1", "farm-1.field", "carrier-1", "coldstore-1"), now=NOW)
    ship, receive = hop("carrier-1", "coldstore-1", "farm-1", "farm-1.field")
    ledger.append([ship], now=NOW)
    size = ledger.size
    with pytest.raises(ValidationError, match="largest total") as caught:
        ledger.append([receive], now=NOW)
    assert caught.value.field == "inputs[0].qty" and ledger.size == size
    assert ledger.verify(workers=1).ok

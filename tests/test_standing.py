"""Producers held to their certificates (docs/contract.md "Producers' standing"): a failing
lab result marks the commitments of exactly the certificates its lot came from (through
splits and mixes), a passing one and a rapid positive mark none, the standing's rules both
ways, what a shopper may read of it, and verify/reindex over ``broken_commitments``."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from tests.conftest import NOW
from tests.helpers import Network, origin_event
from tracelib.errors import NotFoundError
from tracelib.store.schema import broken_commitments
from tracelib.views.disclosure import EVERYTHING, PUBLIC, Reach, disclose_standing
from tracelib.views.standing import ProducerRules, standing_view
from tracelib_cli.main import cli

TODAY = date(2026, 11, 22)
LAB = {"id": "lab-1", "name": "云阳县检验检测中心", "type": "lab", "holder": "market-1"}


def ship_to_stall(net: Network, lot: str, qty: str) -> list[dict[str, Any]]:
    ship = net.event("farm-1", {"kind": "ship", "location": "farm-1.field",
                                "data": {"to": "stall-a01"},
                                "inputs": [{"lot": lot, "qty": qty, "unit": "kg"}]})
    receive = net.event("stall-a01", {"kind": "receive", "location": "stall-a01", "data": {
        "from": "farm-1.field", "ship_event": ship["id"]},
        "inputs": [{"lot": lot, "qty": qty, "unit": "kg"}]})
    return [ship, receive]


def transform(net: Network, inputs: list[tuple[str, str]], output: tuple[str, str],
              process: str) -> dict[str, Any]:
    return net.event("farm-1", {"kind": "transform", "location": "farm-1.field",
                                "inputs": [{"lot": c, "qty": q, "unit": "kg"} for c, q in inputs],
                                "outputs": [{"lot": output[0], "qty": output[1], "unit": "kg"}],
                                "data": {"process": process}})


def lab(net: Network, lot: str, value: str, *, time: str = "2026-11-22T13:30:00+08:00"
        ) -> dict[str, Any]:
    return net.event("market-1", {"kind": "lab_test", "location": "lab-1", "time": time,
                                  "data": {"analyte": "毒死蜱", "commodity": "芹菜", "value": value,
                                           "unit": "mg/kg", "lab": "云阳县检验检测中心",
                                           "report_no": f"R-{lot}-{value}", "lot": lot,
                                           "stall": "stall-a01", "sampling": "supervision"}})


def rapid_positive(net: Network, lot: str) -> dict[str, Any]:
    return net.event("market-1", {"kind": "rapid_test", "location": "stall-a01", "data": {
        "item": "有机磷和氨基甲酸酯类农药", "method": "GB/T 5009.199-2003", "tester": "王芳",
        "sample": "S", "readings": {"delta_a0": "0.800", "delta_at": "0.300"}, "lot": lot}})


@pytest.fixture
def net(network: Network) -> Network:
    """farm-1 made LOT-A and LOT-B (two certificates) and LOT-C (a third); LOT-A was split
    into LOT-A1, and LOT-A1 mixed with LOT-B into LOT-M; LOT-A1, LOT-M and LOT-C are at
    stall-a01."""
    ledger = network.ledger
    ledger.append([network.event("operator", {"kind": "register", "location": "operator.office",
                                              "data": {"locations": [LAB]}})], now=NOW)
    ledger.append([origin_event(network, code) for code in ("LOT-A", "LOT-B", "LOT-C")],
                  now=NOW)
    ledger.append([transform(network, [("LOT-A", "60")], ("LOT-A1", "60"), "split"),
                   transform(network, [("LOT-A1", "20"), ("LOT-B", "20")], ("LOT-M", "40"),
                             "merge"),
                   *ship_to_stall(network, "LOT-A1", "40"), *ship_to_stall(network, "LOT-M", "40"),
                   *ship_to_stall(network, "LOT-C", "40")], now=NOW)
    return network


def rows(net: Network) -> list[tuple[str, str, str | None, str | None, str]]:
    with net.ledger.store.engine.connect() as conn:
        c = broken_commitments.c
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            select(c.tested_lot, c.source_lot, c.certificate_no, c.producer, c.source_kind)
            .order_by(c.test_seq, c.source_lot))]


def test_a_failing_lab_result_on_a_split_lot_breaks_its_origin_certificate_only(
        net: Network) -> None:
    net.ledger.append([lab(net, "LOT-A1", "0.12")], now=NOW)
    assert rows(net) == [("LOT-A1", "LOT-A", "CERT-LOT-A", "farm-1", "origin")]
    assert net.ledger.verify().ok


def test_a_failing_lab_result_on_a_mixed_lot_breaks_every_certificate_it_came_from(
        net: Network) -> None:
    net.ledger.append([lab(net, "LOT-M", "0.12")], now=NOW)
    assert rows(net) == [("LOT-M", "LOT-A", "CERT-LOT-A", "farm-1", "origin"),
                         ("LOT-M", "LOT-B", "CERT-LOT-B", "farm-1", "origin")]


def test_a_failure_in_the_same_batch_as_the_lots_it_came_from_is_traced(
        network: Network) -> None:
    ledger = network.ledger
    ledger.append([network.event("operator", {"kind": "register", "location": "operator.office",
                                              "data": {"locations": [LAB]}})], now=NOW)
    ledger.append([origin_event(network, "LOT-X"),
                   transform(network, [("LOT-X", "50")], ("LOT-X1", "50"), "split"),
                   *ship_to_stall(network, "LOT-X1", "50"), lab(network, "LOT-X1", "0.2")],
                  now=NOW)
    assert rows(network) == [("LOT-X1", "LOT-X", "CERT-LOT-X", "farm-1", "origin")]
    assert ledger.verify().ok


def test_a_passing_lab_result_and_a_rapid_positive_break_nothing(net: Network) -> None:
    net.ledger.append([lab(net, "LOT-M", "0.01"), rapid_positive(net, "LOT-A1")], now=NOW)
    assert rows(net) == []
    view = standing_view(net.ledger, "farm-1", today=TODAY)
    assert (view["failures"], view["failures_total"], view["standing"]) == ([], 0, "none")
    assert view["downstream"]["tests"] == 2


def test_the_standing_shows_failures_certificates_and_downstream_tests(net: Network) -> None:
    net.ledger.append([lab(net, "LOT-M", "0.12")], now=NOW)
    view = standing_view(net.ledger, "farm-1", today=TODAY)
    assert view["party"] == {"id": "farm-1", "name": "云阳县红狮镇蔬菜合作社", "role": "farm"}
    assert view["certificates"]["count"] == 3
    assert [c["no"] for c in view["certificates"]["newest"]] == [
        "CERT-LOT-C", "CERT-LOT-B", "CERT-LOT-A"]
    assert view["lots_made"] == 5  # three origin lots and two transformed ones
    assert view["downstream"] == {"lots": 5, "lots_tested": 1, "tests": 1, "tests_window": 1,
                                  "lab_tests_window": 1, "truncated": False}
    assert view["failures_total"] == view["failures_window"] == 1
    assert [(f["certificate_no"], f["analyte"], f["value_mg_kg"], f["limit_mg_kg"], f["day"],
             f["stall"]["name"]) for f in view["failures"]] == [
        ("CERT-LOT-A", "毒死蜱", "0.12", "0.05", "2026-11-22", "张记蔬菜"),
        ("CERT-LOT-B", "毒死蜱", "0.12", "0.05", "2026-11-22", "张记蔬菜")]
    assert view["standing"] == "black"


def test_black_only_while_a_failure_is_within_the_window(net: Network) -> None:
    net.ledger.append([lab(net, "LOT-A1", "0.12")], now=NOW)
    rules = ProducerRules(window_days=90)
    assert standing_view(net.ledger, "farm-1", today=date(2027, 2, 19),
                         rules=rules)["standing"] == "black"  # day 90 of the window
    later = standing_view(net.ledger, "farm-1", today=date(2027, 2, 20), rules=rules)
    assert (later["standing"], later["failures_total"], later["failures_window"]) == (
        "none", 1, 0)
    earlier = standing_view(net.ledger, "farm-1", today=date(2026, 11, 21), rules=rules)
    assert (earlier["standing"], earlier["failures_window"]) == ("none", 0)  # not yet failed


def test_red_needs_enough_tests_downstream_and_no_failure(net: Network) -> None:
    net.ledger.append([lab(net, "LOT-M", "0.01"), lab(net, "LOT-C", "0.02")], now=NOW)
    assert standing_view(net.ledger, "farm-1", today=TODAY,
                         rules=ProducerRules(red_min_tests=2))["standing"] == "red"
    assert standing_view(net.ledger, "farm-1", today=TODAY,
                         rules=ProducerRules(red_min_tests=3))["standing"] == "none"
    net.ledger.append([lab(net, "LOT-C", "0.3")], now=NOW)  # now one failed
    assert standing_view(net.ledger, "farm-1", today=TODAY,
                         rules=ProducerRules(red_min_tests=2))["standing"] == "black"


def test_the_walk_downstream_is_bounded_and_says_so(net: Network) -> None:
    view = standing_view(net.ledger, "farm-1", today=TODAY, rules=ProducerRules(max_lots=2))
    assert (view["downstream"]["lots"], view["downstream"]["truncated"]) == (2, True)
    view = standing_view(net.ledger, "farm-1", today=TODAY, rules=ProducerRules(max_lots=5))
    assert (view["downstream"]["lots"], view["downstream"]["truncated"]) == (5, False)


def test_an_unknown_party_or_one_not_a_producer_is_not_found(net: Network) -> None:
    with pytest.raises(NotFoundError, match="unknown party 'farm-9'"):
        standing_view(net.ledger, "farm-9", today=TODAY)
    with pytest.raises(NotFoundError, match="'market-1' is a market, not a producer"):
        standing_view(net.ledger, "market-1", today=TODAY)


def test_a_shopper_sees_no_producer_name_or_contact_a_regulator_does(net: Network) -> None:
    view = standing_view(net.ledger, "farm-1", today=TODAY)
    newest = view["certificates"]["newest"][0]
    assert newest["producer"] == "云阳县红狮镇蔬菜合作社"
    public = disclose_standing(view, PUBLIC)["certificates"]["newest"][0]
    assert "producer" not in public and "contact" not in public
    assert public["no"] == "CERT-LOT-C" and public["day"] == "2026-11-22"
    assert disclose_standing(view, EVERYTHING) == view
    assert disclose_standing(view, Reach(places=frozenset({"farm-1.field"}),
                                         party="farm-1")) == view
    other = disclose_standing(view, Reach(places=frozenset({"stall-a01"}), party="stall-a01"))
    assert "producer" not in other["certificates"]["newest"][0]


def test_verify_names_an_edited_row_and_reindex_restores_it(net: Network) -> None:
    ledger = net.ledger
    ledger.append([lab(net, "LOT-A1", "0.12")], now=NOW)
    with ledger.store.engine.begin() as conn:
        conn.execute(update(broken_commitments).values(certificate_no="CERT-FORGED"))
    report = ledger.verify(workers=1)
    assert not report.ok
    assert "table broken_commitments" in str(report.to_dict())
    ledger.reindex()
    assert rows(net) == [("LOT-A1", "LOT-A", "CERT-LOT-A", "farm-1", "origin")]
    assert ledger.verify(workers=1).ok


def test_the_cli_shows_the_standing_as_a_shopper_reads_it_or_in_full(
        net: Network, db_url: str, tmp_path: Any) -> None:
    net.ledger.append([lab(net, "LOT-M", "0.12")], now=NOW)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, ["--db", db_url, "--keystore", str(tmp_path / "keys"),
                                     "standing", *args])
        assert result.exit_code == code, (result.output, result.exception)
        return result.output

    doc = json.loads(run("farm-1", "--today", "2026-11-22", "--json"))
    assert doc["standing"] == "black" and doc["failures_total"] == 1
    assert "producer" not in doc["certificates"]["newest"][0]
    full = json.loads(run("farm-1", "--today", "2026-11-22", "--json", "--full"))
    assert full["certificates"]["newest"][0]["producer"] == "云阳县红狮镇蔬菜合作社"
    text = run("farm-1", "--today", "2026-11-22")
    assert "black list" in text and "CERT-LOT-A" in text and "毒死蜱" in text
    assert "not a producer" in run("market-1", code=1)


def test_revision_0018_derives_the_rows_of_failures_already_recorded_and_back(
        net: Network) -> None:
    """A ledger from before revision 0018 with a failing lab result gets its broken
    commitments on upgrade, as the append rules give them: it verifies."""
    from alembic import command
    from sqlalchemy import inspect

    from tests.test_migrations import _migrate

    ledger = net.ledger
    ledger.append([lab(net, "LOT-M", "0.12"), lab(net, "LOT-C", "0.01")], now=NOW)
    expected = rows(net)
    assert len(expected) == 2
    _migrate(ledger, "0017", command.downgrade)
    with ledger.store.engine.connect() as conn:
        assert "broken_commitments" not in inspect(conn).get_table_names()
        assert "ix_lots_location_seq" not in {i["name"] for i in inspect(conn).get_indexes("lots")}
    _migrate(ledger, "head", command.upgrade)
    assert rows(net) == expected
    assert ledger.verify(workers=1).ok


def test_a_failure_on_goods_from_outside_breaks_the_entry_that_vouched_for_them(
        net: Network) -> None:
    """Goods a wholesaler took in from a supplier outside the ledger (``entry``), split and
    sold on at the stall, fail a lab test: the entry's 合格证 voucher is the broken
    commitment, held against the wholesaler that vouched for them; the supplier is named to
    a regulator and never to a shopper."""
    from tracelib.keys import SigningKey

    key = SigningKey.generate()
    net.keys["wholesale-1"] = key
    net.ledger.append([net.event("operator", {"kind": "register", "location": "operator.office",
                                              "data": {
        "parties": [{"id": "wholesale-1", "name": "云阳县农产品批发市场", "role": "wholesaler"}],
        "locations": [{"id": "wholesale-1", "name": "云阳县农产品批发市场",
                       "type": "wholesale_market", "holder": "wholesale-1"}],
        "keys": [{"party": "wholesale-1", "key_id": key.key_id,
                  "public_key": key.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"}]}})], now=NOW)
    entry = net.event("wholesale-1", {
        "kind": "entry", "location": "wholesale-1",
        "outputs": [{"lot": "ENT-V", "qty": "100", "unit": "kg"}],
        "data": {"supplier": {"name": "湖北某某蔬菜种植合作社", "licence": "JY14201234567890",
                              "contact": "13800000000"},
                 "product": "芹菜", "category": "vegetable",
                 "vouchers": [{"type": "合格证", "no": "HG-ENT-V"},
                              {"type": "购货凭证", "no": "FP-ENT-V"}]}})
    split = net.event("wholesale-1", {"kind": "transform", "location": "wholesale-1",
                                      "inputs": [{"lot": "ENT-V", "qty": "40", "unit": "kg"}],
                                      "outputs": [{"lot": "ENT-V1", "qty": "40", "unit": "kg"}],
                                      "data": {"process": "split"}})
    ship = net.event("wholesale-1", {"kind": "ship", "location": "wholesale-1",
                                     "data": {"to": "stall-a01"},
                                     "inputs": [{"lot": "ENT-V1", "qty": "40", "unit": "kg"}]})
    receive = net.event("stall-a01", {"kind": "receive", "location": "stall-a01", "data": {
        "from": "wholesale-1", "ship_event": ship["id"]},
        "inputs": [{"lot": "ENT-V1", "qty": "40", "unit": "kg"}]})
    net.ledger.append([entry, split, ship, receive, lab(net, "ENT-V1", "0.12")], now=NOW)
    assert rows(net) == [("ENT-V1", "ENT-V", "HG-ENT-V", "wholesale-1", "entry")]
    assert net.ledger.verify().ok

    view = standing_view(net.ledger, "wholesale-1", today=TODAY)
    assert view["standing"] == "black"
    [failure] = view["failures"]
    assert failure["certificate_no"] == "HG-ENT-V"
    assert failure["supplier"] == {"name": "湖北某某蔬菜种植合作社", "licence": "JY14201234567890"}
    shopper = disclose_standing(view, PUBLIC)
    assert "supplier" not in shopper["failures"][0]
    assert "13800000000" not in json.dumps(shopper, ensure_ascii=False)
    assert disclose_standing(view, EVERYTHING)["failures"][0]["supplier"] == failure["supplier"]

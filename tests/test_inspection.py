"""The ``inspection`` and ``rectification`` kinds (docs/contract.md "Kinds", "Authority"):
each rule allowed and refused, the ``inspections`` rows they leave, a batch that inspects and
rectifies at once, and verify naming an edited inspections row (reindex repairs it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import NOW
from tests.helpers import Network
from tracelib.errors import ValidationError
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger
from tracelib.store.schema import inspections

STALL, AMR = "stall-a01", "amr-1"
ITEMS = [{"name": "亮证亮照", "compliant": True},
         {"name": "进货查验记录", "compliant": False, "note": "无购货凭证"}]
INSPECTORS = [{"name": "李明", "badge": "50023500123"}, {"name": "陈静"}]


@pytest.fixture
def net(tmp_path: Any, operator_key: SigningKey) -> Iterator[Network]:
    ledger = Ledger.create(f"sqlite:///{tmp_path / 'ledger.db'}", operator_key=operator_key,
                           operator="operator", now=NOW)
    network = Network.build(ledger, operator_key, now=NOW)
    key = SigningKey.generate()
    network.keys[AMR] = key
    network.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": AMR, "name": "云阳县市场监督管理局", "role": "regulator"}],
        "locations": [{"id": f"{AMR}.office", "name": "云阳县市场监督管理局", "type": "office",
                       "holder": AMR}],
        "keys": [{"party": AMR, "key_id": key.key_id, "public_key": key.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"}]}})
    yield network
    report = ledger.verify(workers=1)
    assert report.ok, report
    ledger.close()


def inspection(event_id: str = "insp-1", *, result: str = "basically_compliant",
               location: str = STALL, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"items": ITEMS, "result": result, "inspectors": INSPECTORS}
    if result != "compliant":
        body |= {"findings": "进货查验记录不全", "rectification_deadline": "2026-11-29"}
    body |= data
    return {"id": event_id, "kind": "inspection", "location": location,
            "time": "2026-11-22T09:40:00+08:00", "data": {k: v for k, v in body.items()
                                                          if v is not None}}


def rectification(step: str, inspection_id: str = "insp-1", *, location: str = STALL,
                  **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"inspection": inspection_id, "step": step}
    if step == "report":
        body["measures"] = "已补全进货查验记录"
    body |= data
    return {"kind": "rectification", "location": location, "time": "2026-11-22T13:00:00+08:00",
            "data": {k: v for k, v in body.items() if v is not None}}


def append(net: Network, *docs: tuple[str, dict[str, Any]]) -> None:
    net.ledger.append([net.event(actor, body) for actor, body in docs], now=net.now)


def refused(net: Network, actor: str, body: dict[str, Any]) -> ValidationError:
    size = net.ledger.size
    with pytest.raises(ValidationError) as caught:
        append(net, (actor, body))
    assert net.ledger.size == size  # nothing stored
    return caught.value


def row(net: Network, event_id: str = "insp-1") -> dict[str, Any]:
    with net.ledger.store.engine.connect() as conn:
        found = conn.execute(select(inspections).where(inspections.c.event_id == event_id))
        return dict(found.mappings().one())


# -- inspection -------------------------------------------------------------------------------

def test_a_compliant_inspection_has_no_rectification(net: Network) -> None:
    append(net, (AMR, inspection(result="compliant",
                                 items=[{"name": "亮证亮照", "compliant": True}])))
    got = row(net)
    assert (got["location"], got["actor"], got["day"], got["result"], got["deadline"],
            got["rectification"]) == (STALL, AMR, "2026-11-22", "compliant", None, None)


def test_a_not_compliant_inspection_opens_a_rectification(net: Network) -> None:
    append(net, (AMR, inspection(result="non_compliant")))
    got = row(net)
    assert (got["result"], got["deadline"], got["rectification"]) == (
        "non_compliant", "2026-11-29", "open")


@pytest.mark.parametrize(("body", "field", "words"), [
    (inspection(result="compliant"), "data.items[1].compliant",
     "a compliant inspection has no item that did not comply"),
    (inspection(result="compliant", items=[ITEMS[0]], rectification_deadline="2026-11-29"),
     "data.rectification_deadline", "nothing to rectify"),
    (inspection(findings=None), "data.findings", "says what was found"),
    (inspection(rectification_deadline=None), "data.rectification_deadline",
     "sets a rectification deadline"),
    (inspection(rectification_deadline="2026-11-21"), "data.rectification_deadline",
     "is before the inspection's day 2026-11-22"),
    (inspection(rectification_deadline="2026-02-30"), "data.rectification_deadline",
     "is not a calendar date"),
    (inspection(result="passed"), "data.result", "Must be one of"),
    (inspection(items=[]), "data.items", ""),
    (inspection(inspectors=[]), "data.inspectors", ""),
    (inspection(location="stall-z99"), "location", "unknown location 'stall-z99'"),
    (inspection(location=f"{AMR}.office"), "location", "inspects the places of others"),
])
def test_inspection_rules_refuse(net: Network, body: dict[str, Any], field: str,
                                 words: str) -> None:
    error = refused(net, AMR, body)
    assert error.field is not None and error.field.startswith(field), error
    assert words in error.message, error


@pytest.mark.parametrize("actor", ["market-1", STALL, "operator"])
def test_only_a_regulator_inspects(net: Network, actor: str) -> None:
    error = refused(net, actor, inspection())
    assert error.field == "actor" and "only a regulator" in error.message


# -- rectification ----------------------------------------------------------------------------

def test_the_stall_reports_and_the_regulator_confirms(net: Network) -> None:
    append(net, (AMR, inspection()))
    append(net, (STALL, rectification("report")))
    reported = row(net)
    assert reported["rectification"] == "reported"
    assert reported["reported_seq"] == net.ledger.size - 1 and reported["closed_seq"] is None
    append(net, (STALL, rectification("report", measures="再次补充")))  # may report again
    append(net, (AMR, rectification("confirm")))
    closed = row(net)
    assert closed["rectification"] == "closed" and closed["closed_seq"] == net.ledger.size - 1
    error = refused(net, STALL, rectification("report"))
    assert error.field == "data.inspection" and "already confirmed" in error.message


def test_the_market_reports_for_its_stall_and_a_regulator_may_confirm_unreported(
        net: Network) -> None:
    append(net, (AMR, inspection("insp-1")), (AMR, inspection("insp-2")))
    append(net, ("market-1", rectification("report", "insp-1")))
    assert row(net, "insp-1")["rectification"] == "reported"
    append(net, (AMR, rectification("confirm", "insp-2")))  # its own re-inspection
    assert row(net, "insp-2")["rectification"] == "closed"


def test_an_inspection_and_its_rectification_in_one_batch(net: Network) -> None:
    append(net, (AMR, inspection()), (STALL, rectification("report")),
           (AMR, rectification("confirm")))
    got = row(net)
    assert got["rectification"] == "closed" and got["reported_seq"] == got["seq"] + 1


@pytest.mark.parametrize(("actor", "body", "field", "words"), [
    (STALL, rectification("confirm"), "data.step",
     "stall-a01 (stall) may not confirm a rectification: only a regulator"),
    ("market-1", rectification("confirm"), "data.step", "only a regulator"),
    (AMR, rectification("report"), "data.step", "the inspected place's holder reports it"),
    ("farm-1", rectification("report"), "actor", "'farm-1' does not hold 'stall-a01'"),
    (STALL, rectification("report", "insp-9"), "data.inspection", "no inspection 'insp-9'"),
    ("farm-1", rectification("report", location="farm-1.field"), "location",
     "its rectification is recorded there, not at 'farm-1.field'"),
    (STALL, rectification("report", measures=None), "data.measures", "says what was done"),
])
def test_rectification_rules_refuse(net: Network, actor: str, body: dict[str, Any], field: str,
                                    words: str) -> None:
    append(net, (AMR, inspection()))
    error = refused(net, actor, body)
    assert error.field == field and words in error.message, error


def test_a_compliant_inspection_cannot_be_rectified(net: Network) -> None:
    append(net, (AMR, inspection(result="compliant", items=[ITEMS[0]])))
    error = refused(net, AMR, rectification("confirm"))
    assert error.field == "data.inspection" and "nothing to rectify" in error.message


# -- verify ----------------------------------------------------------------------------------

def test_verify_names_an_edited_inspections_row_and_reindex_repairs_it(net: Network) -> None:
    append(net, (AMR, inspection(result="non_compliant")))
    with net.ledger.store.engine.begin() as conn:
        conn.execute(update(inspections).where(inspections.c.event_id == "insp-1")
                     .values(result="compliant", rectification=None))
    report = net.ledger.verify(workers=1)
    assert not report.ok
    assert "inspections" in str(report.to_dict()), report
    net.ledger.reindex()
    assert row(net)["result"] == "non_compliant"

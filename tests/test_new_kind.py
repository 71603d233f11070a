"""Adding a kind touches one place: a KindSpec (a module of tracelib.kinds, or registered at
run time as here). This test registers a throw-away ``cold_storage_check`` kind from this
module and sees it validated, applied at append, exported in a recall drill's sheet and
documented in the event reference, with no other file of tracelib touched."""

from __future__ import annotations

import csv
import pkgutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from marshmallow import fields, validate

import tracelib.kinds
from tests.helpers import Network, Supply
from tests.test_docs import _event_docs
from tracelib.errors import ValidationError
from tracelib.events import Event
from tracelib.keys import SigningKey
from tracelib.kinds import KINDS, CteFacts, KindSpec, Signers, register_kind, unregister_kind
from tracelib.kinds._fields import OpenData
from tracelib.kinds._stock import existing_lot, need, none
from tracelib.kinds.context import AppendContext, EventView
from tracelib.recalls import drill


class ColdStorageCheckData(OpenData):
    celsius = fields.String(required=True, validate=validate.Regexp(r"\A-?\d{1,3}\Z"),
                            metadata={"description": "the store's temperature, whole °C"})


def apply_cold_storage_check(ctx: AppendContext, event: EventView, seq: int) -> None:
    need(event.inputs, "inputs", at_least=1)
    none(event.outputs, "outputs")
    for i, item in enumerate(event.inputs):
        existing_lot(ctx, item, f"inputs[{i}].lot")
        row = ctx.supply.stock(item.lot, event.location)
        if row is None or row.on_hand == 0:
            raise ValidationError(f"lot {item.lot!r} is not on hand at {event.location!r}",
                                  field=f"inputs[{i}].lot")
        ctx.supply.add_lot_event(item.lot, seq)


SPEC = KindSpec(
    name="cold_storage_check", order=55, data_schema=ColdStorageCheckData(),
    apply=apply_cold_storage_check, label_zh="冷库温度检查", label_en="Cold storage check",
    summary="a cold store checks the lots it holds",
    rules="`inputs`: lots on hand at `location`, checked where they lie; no `outputs`.",
    example={"id": "csc-1", "kind": "cold_storage_check", "time": "2026-11-22T08:00:00+08:00",
             "actor": "coldstore-1", "location": "coldstore-1",
             "inputs": [{"lot": "LOT-1", "qty": "1", "unit": "kg"}], "data": {"celsius": "-20"}},
    signers=Signers(roles=("carrier", "wholesaler")),
    bizstep="inspecting", epcis_type="ObjectEvent", cte="cooling",
    cte_facts=lambda doc: CteFacts(doc["location"], doc["location"], "冷库记录 cold store log",
                                   doc["data"]["celsius"]),
)


@pytest.fixture
def new_kind() -> Iterator[KindSpec]:
    register_kind(SPEC)
    try:
        yield SPEC
    finally:
        unregister_kind(SPEC.name)


def test_a_kind_registered_from_outside_is_validated_applied_drilled_and_documented(
        new_kind: KindSpec, network: Network, operator_key: SigningKey, tmp_path: Path) -> None:
    sup = Supply.build(network)
    sup.add(sup.origin("W-9", "50"), *sup.move("farm-1.field", "coldstore-1", [("W-9", "20")]))

    # Validated: its data schema, field named.
    bad = sup.event("cold_storage_check", "coldstore-1", inputs=[("W-9", "1")],
                    data={"celsius": "cold"})
    with pytest.raises(ValidationError) as caught:
        Event.from_dict(bad)
    assert caught.value.field == "data.celsius"

    # Applied: its rules at append, both ways.
    with pytest.raises(ValidationError, match="unknown lot 'NO-SUCH'"):
        sup.add(sup.event("cold_storage_check", "coldstore-1", inputs=[("NO-SUCH", "1")],
                          data={"celsius": "-20"}))
    check = sup.event("cold_storage_check", "coldstore-1", inputs=[("W-9", "20")],
                      data={"celsius": "-21"})
    (receipt,) = sup.add(check)
    assert not receipt.duplicate
    assert sup.ledger.verify(workers=1).ok

    # Exported in a drill's sheet, with the CTE and the document its spec names.
    folder = tmp_path / "drill"
    drill(sup.ledger, "W-9", report_dir=folder, now=datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    with (folder / "ctes.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    mine = [row for row in rows if any(check["id"] in cell for cell in row)]
    assert mine, rows[:3]
    text = " | ".join(mine[0])
    assert "cooling / 冷库温度检查 (cold_storage_check)" in text
    assert "冷库记录 cold store log" in text and "-21" in text

    # Documented: a section of the event reference with its field table and example.
    page = _event_docs().render()
    assert "## cold_storage_check — a cold store checks the lots it holds" in page
    assert "冷库温度检查 · Cold storage check. CBV bizStep: `inspecting`." in page
    assert "| `celsius` | string | yes |" in page
    assert '"kind": "cold_storage_check"' in page


def test_unregistering_removes_the_kind(new_kind: KindSpec) -> None:
    assert KINDS["cold_storage_check"] is new_kind
    unregister_kind("cold_storage_check")
    with pytest.raises(ValidationError, match="unknown kind 'cold_storage_check'"):
        Event.from_dict({**SPEC.example})
    register_kind(SPEC)  # the fixture unregisters it again


def test_a_kind_name_is_registered_once(new_kind: KindSpec) -> None:
    other = KindSpec(name="cold_storage_check", data_schema=ColdStorageCheckData(), apply=None,
                     label_zh="x", label_en="x", summary="x", rules="x", example={},
                     signers=Signers())
    with pytest.raises(ValueError, match="already registered"):
        register_kind(other)


def test_every_module_of_the_kinds_package_is_a_registered_kind() -> None:
    """The built-in kinds are found by listing the package: a new module is a new kind."""
    # A kind named by a Python keyword (``return``) lives in a module with a trailing "_".
    modules = {m.name.removesuffix("_") for m in pkgutil.iter_modules(tracelib.kinds.__path__)
               if not m.name.startswith("_") and m.name not in ("context", "spec")}
    assert modules <= set(KINDS)
    assert {n for n in KINDS if n != "cold_storage_check"} == modules
    for name in modules:
        assert KINDS[name].name == name and KINDS[name].rules and KINDS[name].example

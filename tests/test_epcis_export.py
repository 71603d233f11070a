"""The EPCIS 2.0 export (issue 18): each kind's mapping gives events valid against GS1's
JSON schema (tests/data/epcis/EPCIS-JSON-Schema.json, with formats checked); the export of a
generated network validates whole; ``--lot`` narrows to the lot's trace and ``--since`` /
``--until`` to a time range; the CLI writes a file or standard output; the writer holds one
event at a time."""

from __future__ import annotations

import inspect
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from jsonschema import Draft7Validator, FormatChecker

from tracelib import canonical
from tracelib.cbv import EPCIS_CONTEXT, NAMESPACE, EpcisNames, gs1_check_digit_ok, uom
from tracelib.epcis import epcis_events, export_document, names_for, write_document
from tracelib.errors import ValidationError
from tracelib.kinds import KINDS
from tracelib.ledger import Ledger
from tracelib.store.supply import SupplySql
from tracelib.timeutil import from_micros, parse_rfc3339, to_micros
from tracelib.views.tracing import trace
from tracelib_cli.main import cli
from tracelib_demo import NetworkSpec, generate

from .helpers import Network, Supply

_APART = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner).parameters else {}
DATA = Path(__file__).parent / "data" / "epcis"
BASE = "https://trace.example.cn"
NAMES = EpcisNames(BASE)


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads((DATA / "EPCIS-JSON-Schema.json").read_text("utf-8"))
    return Draft7Validator(schema, format_checker=FormatChecker())


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    buf = io.BytesIO()
    write_document(events, buf)
    return orjson.loads(buf.getvalue())


def errors(validator: Draft7Validator, doc: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


# -- the validator has teeth -----------------------------------------------------------------

def test_gs1_example_validates_and_a_broken_one_does_not(validator: Draft7Validator) -> None:
    example = json.loads((DATA / "Example_9.6.4-TransformationEvent.jsonld").read_text("utf-8"))
    assert errors(validator, example) == []
    example["epcisBody"]["eventList"][0]["eventTimeZoneOffset"] = "8:00"
    assert errors(validator, example)
    mapped = KINDS["sale"].epcis(KINDS["sale"].example, NAMES)  # type: ignore[misc]
    assert errors(validator, document([mapped])) == []
    for broken in ({"quantityList": [{"epcClass": "not a uri", "quantity": 1}]},
                   {"action": "SELL"}, {"eventTime": "yesterday"}):
        assert errors(validator, document([{**mapped, **broken}])), broken


# -- every kind -----------------------------------------------------------------------------

MAPPED = sorted(name for name, spec in KINDS.items() if spec.epcis is not None)
UNMAPPED = sorted(name for name, spec in KINDS.items() if spec.epcis is None)


def test_the_kinds_that_map_and_those_that_do_not() -> None:
    assert set(UNMAPPED) == {"register", "limits", "plan", "drill", "inspection",
                             "rectification", "payment"}
    for name, spec in KINDS.items():
        assert spec.epcis_words, name
        assert spec.epcis_words.startswith("None:") == (spec.epcis is None), name
        assert (spec.epcis_type is None) == (spec.epcis is None), name


@pytest.mark.parametrize("kind", MAPPED)
def test_every_mapped_kind_gives_a_schema_valid_event(validator: Draft7Validator,
                                                      kind: str) -> None:
    spec = KINDS[kind]
    assert spec.epcis is not None
    event = spec.epcis(spec.example, NAMES)
    assert event is not None
    assert errors(validator, document([event])) == []
    assert event["type"] == spec.epcis_type
    if spec.bizstep is not None:
        assert event["bizStep"] == f"https://ref.gs1.org/cbv/BizStep-{spec.bizstep}"
    assert event["eventTime"] == spec.example["time"]
    assert event["eventTimeZoneOffset"] == spec.example["time"][-6:]
    assert event["tracelib:eventId"] == spec.example["id"]
    assert event["readPoint"] == {"id": f"{BASE}/loc/{spec.example['location']}"}


def test_ship_names_places_sensors_and_the_shipment() -> None:
    ship = KINDS["ship"]
    names = EpcisNames(BASE, holder={"coldstore-cq01": "carrier-cq01"}.get)
    event = ship.epcis(ship.example, names)  # type: ignore[misc]
    assert event["action"] == "OBSERVE"
    assert event["disposition"] == "https://ref.gs1.org/cbv/Disp-in_transit"
    assert event["quantityList"] == [{"epcClass": f"{BASE}/l/LOT-CP-20261122-01",
                                      "quantity": 200, "uom": "KGM"}]
    assert event["sourceList"] == [
        {"type": "https://ref.gs1.org/cbv/SDT-owning_party", "source": f"{BASE}/p/carrier-cq01"},
        {"type": "https://ref.gs1.org/cbv/SDT-location", "source": f"{BASE}/loc/coldstore-cq01"}]
    assert event["destinationList"] == [
        {"type": "https://ref.gs1.org/cbv/SDT-location", "destination": f"{BASE}/loc/stall-a01"}]
    assert event["sensorElementList"] == [{"sensorReport": [
        {"type": "Temperature", "time": "2026-11-22T07:50:00+08:00", "value": 3.8,
         "uom": "CEL"}]}]
    assert event["bizTransactionList"] == [{"type": "https://ref.gs1.org/cbv/BTT-bol",
                                            "bizTransaction":
                                                f"{BASE}/api/v1/events/ship-cq01-a01-0001"}]


def test_import_documents_are_certification_info(validator: Draft7Validator) -> None:
    docs = {"customs_declaration": "CD-1", "inspection_cert": "IQ-2", "disinfection_cert": "XD-3"}
    for kind in ("origin", "ship"):
        spec = KINDS[kind]
        doc = {**spec.example, "data": {**spec.example["data"], "import_docs": docs}}
        event = spec.epcis(doc, NAMES)  # type: ignore[misc]
        assert [c for c in event["certificationInfo"] if "origin-certificate" not in c] == [
            f"{NAMESPACE}doc:customs_declaration:CD-1", f"{NAMESPACE}doc:inspection_cert:IQ-2",
            f"{NAMESPACE}doc:disinfection_cert:XD-3"], kind
        assert errors(validator, document([event])) == []
    assert "certificationInfo" not in KINDS["ship"].epcis(KINDS["ship"].example, NAMES)  # type: ignore[misc]


def test_slaughter_is_a_transformation_of_live_animals_into_carcasses(
        validator: Draft7Validator) -> None:
    spec = KINDS["slaughter"]
    event = spec.epcis(spec.example, NAMES)  # type: ignore[misc]
    assert event["inputQuantityList"] == [{"epcClass": f"{BASE}/l/PIG-20261120-07",
                                           "quantity": 12, "uom": "H87"}]
    assert event["outputQuantityList"][0]["uom"] == "KGM"
    assert len(event["certificationInfo"]) == 3


@pytest.mark.parametrize(("result", "disposition"), [("positive", "non_conformant"),
                                                     ("negative", "conformant"),
                                                     ("suspect", None)])
def test_a_rapid_test_strip_sets_the_disposition(validator: Draft7Validator, result: str,
                                                 disposition: str | None) -> None:
    spec = KINDS["rapid_test"]
    data = {k: v for k, v in spec.example["data"].items() if k != "readings"}
    event = spec.epcis({**spec.example, "data": {**data, "result": result}}, NAMES)  # type: ignore[misc]
    assert errors(validator, document([event])) == []
    assert event.get("disposition") == (disposition and
                                        f"https://ref.gs1.org/cbv/Disp-{disposition}")
    assert event["sensorElementList"][0]["sensorReport"][0]["stringValue"] == result


def test_rapid_test_readings_give_the_inhibition_rate_and_no_lot_is_allowed(
        validator: Draft7Validator) -> None:
    spec = KINDS["rapid_test"]
    data = {k: v for k, v in spec.example["data"].items() if k != "lot"}
    event = spec.epcis({**spec.example, "data": data}, NAMES)  # type: ignore[misc]
    assert errors(validator, document([event])) == []
    assert "quantityList" not in event
    report = event["sensorElementList"][0]["sensorReport"][0]
    assert (report["value"], report["uom"]) == (62.5, "P1")  # (0.8 − 0.3) / 0.8 × 100


def test_lab_test_value_in_rec20_and_an_unknown_unit_kept(validator: Draft7Validator) -> None:
    spec = KINDS["lab_test"]
    event = spec.epcis(spec.example, NAMES)  # type: ignore[misc]
    report = event["sensorElementList"][0]["sensorReport"][0]
    assert (report["value"], report["uom"]) == (0.12, "NA")
    assert report["chemicalSubstance"] == f"{NAMESPACE}analyte:%E6%AF%92%E6%AD%BB%E8%9C%B1"
    odd = {**spec.example, "data": {**spec.example["data"], "unit": "μg/L"}}
    event = spec.epcis(odd, NAMES)  # type: ignore[misc]
    assert "uom" not in event["sensorElementList"][0]["sensorReport"][0]
    assert event["tracelib:unit"] == "μg/L"
    assert errors(validator, document([event])) == []


@pytest.mark.parametrize(("unit", "qty", "expected"), [
    ("kg", "2.5", (2.5, "KGM")), ("g", "500", (500, "GRM")), ("t", "1.2", (1.2, "TNE")),
    ("head", "12", (12, "H87")), ("斤", "3", (1.5, "KGM")), ("箱", "4", (4, "H87"))])
def test_units_are_rec20(unit: str, qty: str, expected: tuple[Any, str]) -> None:
    spec = KINDS["sale"]
    doc = {**spec.example, "inputs": [{"lot": "L-1", "qty": qty, "unit": unit}]}
    element = spec.epcis(doc, NAMES)["quantityList"][0]  # type: ignore[misc]
    assert (element["quantity"], element["uom"]) == expected
    assert "tracelib:units" not in spec.epcis(doc, NAMES)  # type: ignore[misc]


def test_a_unit_without_a_rec20_code_leaves_uom_out(validator: Draft7Validator) -> None:
    assert uom("bunch") is None
    spec = KINDS["sale"]
    doc = {**spec.example, "inputs": [{"lot": "L-1", "qty": "7", "unit": "bunch"}]}
    event = spec.epcis(doc, NAMES)  # type: ignore[misc]
    assert event["quantityList"] == [{"epcClass": f"{BASE}/l/L-1", "quantity": 7}]
    assert event["tracelib:units"] == {"L-1": "bunch"}
    assert errors(validator, document([event])) == []


def test_return_to_a_supplier_and_reject_of_goods_from_outside(validator: Draft7Validator) -> None:
    ret = KINDS["return"]
    doc = {**ret.example, "data": {"reason": "包装破损",
                                   "supplier": {"name": "重庆某某食品有限公司",
                                                "licence": "JY15001234567890"}}}
    event = ret.epcis(doc, NAMES)  # type: ignore[misc]
    assert event["destinationList"] == [{"type": "https://ref.gs1.org/cbv/SDT-owning_party",
                                         "destination": f"{NAMESPACE}supplier:JY15001234567890"}]
    assert errors(validator, document([event])) == []
    rej = KINDS["reject"]
    outside = {**rej.example, "inputs": [], "data": {"reason": "无购货凭证"}}
    event = rej.epcis(outside, NAMES)  # type: ignore[misc]
    assert "bizTransactionList" not in event and "sourceList" not in event
    assert errors(validator, document([event])) == []


# -- names from master data -------------------------------------------------------------------

def test_lots_and_locations_by_gtin_and_gln_else_the_ledger_base() -> None:
    names = EpcisNames(BASE, gtin={"L 1": "06141410000010"}.get,
                       gln={"dock": ("0614141000005", "D 7"), "yard": ("4012345000009", None)}.get)
    assert names.lot("L 1") == "https://id.gs1.org/01/06141410000010/10/L%201"
    assert names.lot("豇豆-1") == f"{BASE}/l/%E8%B1%87%E8%B1%86-1"
    assert names.location("dock") == "https://id.gs1.org/414/0614141000005/254/D%207"
    assert names.location("yard") == "https://id.gs1.org/414/4012345000009"
    assert names.location("stall-a01") == f"{BASE}/loc/stall-a01"


def test_gs1_check_digit() -> None:
    assert gs1_check_digit_ok("0614141000005")
    assert gs1_check_digit_ok("4012345000009")
    assert not gs1_check_digit_ok("0614141000006")


def _register(network: Network, location: dict[str, Any]) -> None:
    network.append_as("operator", {"kind": "register", "location": "operator.office",
                                   "data": {"locations": [location]}})


COLDSTORE = {"id": "coldstore-1", "name": "重庆冷链物流", "type": "coldstore", "holder": "carrier-1"}


def test_register_takes_a_gln_with_a_valid_check_digit(network: Network) -> None:
    _register(network, {**COLDSTORE, "gln": "0614141000005", "gln_extension": "D1"})
    assert network.ledger.location("coldstore-1").details["gln"] == "0614141000005"  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="check digit") as bad:
        _register(network, {**COLDSTORE, "gln": "0614141000006"})
    assert bad.value.field == "data.locations[0].gln"
    with pytest.raises(ValidationError, match="13 digits") as short:
        _register(network, {**COLDSTORE, "gln": "061414100000"})
    assert short.value.field == "data.locations[0].gln"
    with pytest.raises(ValidationError, match="needs a gln") as alone:
        _register(network, {**COLDSTORE, "gln_extension": "D1"})
    assert alone.value.field == "data.locations[0].gln_extension"


# -- a ledger ----------------------------------------------------------------------------------

@pytest.fixture
def sup(network: Network) -> Supply:
    """LOT-A (with a GTIN) to the coldstore (with a GLN) and on to stall-a01, split there,
    partly sold, held, released; LOT-B elsewhere."""
    _register(network, {**COLDSTORE, "gln": "0614141000005", "gln_extension": "D1"})
    s = Supply.build(network)
    s.add(s.origin("LOT-A", "100", product="豇豆", gtin="06141410000010"),
          s.origin("LOT-B", "30", product="豇豆"),
          *s.move("farm-1.field", "coldstore-1", [("LOT-A", "60")],
                  temperatures=[{"time": "2026-11-20T07:00:00+08:00", "celsius": "4.5"}]),
          *s.move("coldstore-1", "stall-a01", [("LOT-A", "20")]),
          s.transform("stall-a01", [("LOT-A", "20")], [("LOT-A1", "10"), ("LOT-A2", "10")]),
          s.sale("stall-a01", [("LOT-A1", "2.5")]),
          s.hold("stall-a01", [("LOT-A2", "10")]),
          s.release("stall-a01", [("LOT-A2", "10")]),
          *s.move("farm-1.field", "abattoir-1", [("LOT-B", "30")]))
    return s


def export(ledger: Ledger, **kw: Any) -> dict[str, Any]:
    buf = io.BytesIO()
    export_document(ledger, buf, base=BASE, **kw)
    return orjson.loads(buf.getvalue())


def test_a_ledger_exports_a_valid_document_named_from_master_data(
        sup: Supply, validator: Draft7Validator) -> None:
    doc = export(sup.ledger)
    assert errors(validator, doc) == []
    assert doc["@context"] == [EPCIS_CONTEXT, {"tracelib": NAMESPACE}]
    events = doc["epcisBody"]["eventList"]
    size = sup.ledger.size
    registers = sum(1 for seq in range(size) if sup.ledger.record(seq).kind == "register")
    assert len(events) == size - registers
    assert [e["tracelib:seq"] for e in events] == sorted(e["tracelib:seq"] for e in events)
    record = sup.ledger.record(events[0]["tracelib:seq"])
    assert events[0]["tracelib:recordHash"] == record.hash.hex()
    assert events[0]["recordTime"] == record.recorded_at
    origin_a = next(e for e in events if e["tracelib:kind"] == "origin")
    assert origin_a["quantityList"][0]["epcClass"] == \
        "https://id.gs1.org/01/06141410000010/10/LOT-A"
    ship = next(e for e in events if e["tracelib:kind"] == "ship")
    assert ship["destinationList"] == [
        {"type": "https://ref.gs1.org/cbv/SDT-owning_party", "destination": f"{BASE}/p/carrier-1"},
        {"type": "https://ref.gs1.org/cbv/SDT-location",
         "destination": "https://id.gs1.org/414/0614141000005/254/D1"}]
    assert ship["sensorElementList"][0]["sensorReport"][0]["value"] == 4.5
    # each event's ID is its GS1 event hash ID, over the event as mapped: the record fields
    # this ledger adds (recordTime, tracelib:seq, tracelib:recordHash) do not enter it
    from tracelib.eventhash import event_hash_id

    for event in events:
        mapped = {k: v for k, v in event.items()
                  if k not in ("eventID", "recordTime", "tracelib:seq", "tracelib:recordHash")}
        assert event["eventID"] == event_hash_id(mapped, {"tracelib": NAMESPACE})
    assert len({e["eventID"] for e in events}) == len(events)
    assert ship["eventID"].startswith("ni:///sha-256;") and ship["eventID"].endswith("?ver=CBV2.0")


def test_lot_narrows_to_the_lots_trace(sup: Supply, validator: Draft7Validator) -> None:
    doc = export(sup.ledger, lot="LOT-A2")
    assert errors(validator, doc) == []
    got = {e["tracelib:eventId"] for e in doc["epcisBody"]["eventList"]}
    answer = trace(sup.ledger, "LOT-A2")
    family = sorted({"LOT-A2", *answer.upstream_lots, *answer.downstream_lots})
    with sup.ledger.store.reader() as conn:
        seqs = SupplySql.event_seqs(conn, family)
    expected = {sup.ledger.record(seq).event_id for seq in seqs}
    assert got == expected
    kinds = {e["tracelib:kind"] for e in doc["epcisBody"]["eventList"]}
    assert {"origin", "ship", "receive", "transform", "hold", "release"} <= kinds
    lots = {q["epcClass"] for e in doc["epcisBody"]["eventList"]
            for key in ("quantityList", "inputQuantityList", "outputQuantityList")
            for q in e.get(key, [])}
    assert f"{BASE}/l/LOT-B" not in lots  # another lot's events are left out


def test_since_and_until_keep_a_half_open_range(sup: Supply) -> None:
    times = sorted({to_micros(parse_rfc3339(sup.ledger.record(seq).event_time))
                    for seq in range(sup.ledger.size)})
    low, high = times[3], times[-3]
    doc = export(sup.ledger, since=from_micros(low), until=from_micros(high))
    got = [to_micros(parse_rfc3339(e["eventTime"])) for e in doc["epcisBody"]["eventList"]]
    assert got and all(low <= t < high for t in got)
    expected = sum(1 for seq in range(sup.ledger.size)
                   if sup.ledger.record(seq).kind != "register"
                   and low <= to_micros(parse_rfc3339(sup.ledger.record(seq).event_time)) < high)
    assert len(got) == expected


def test_the_writer_holds_one_event_at_a_time(sup: Supply) -> None:
    produced = 0
    written = 0

    class Out(io.RawIOBase):
        def write(self, b: Any) -> int:
            nonlocal written
            if bytes(b).startswith(b'{"type"'):
                written += 1
                assert produced == written  # the event just made is the one written
            return len(b)

    with sup.ledger.store.reader() as conn:
        names = names_for(sup.ledger, conn, BASE)

        def counted() -> Iterator[dict[str, Any]]:
            nonlocal produced
            for event in epcis_events(sup.ledger, conn, names):
                produced += 1
                assert produced == written + 1  # nothing made ahead of the writer
                yield event

        write_document(counted(), Out())  # type: ignore[arg-type]
    assert produced == written > 10


def test_cli_writes_a_file_and_standard_output(sup: Supply, tmp_path: Path, db_url: str,
                                               validator: Draft7Validator) -> None:
    runner = CliRunner(**_APART)
    out = tmp_path / "export.jsonld"
    args = ["--db", db_url, "epcis", "export", "--base-url", BASE]
    result = runner.invoke(cli, [*args, "--out", str(out), "--lot", "LOT-A"])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text("utf-8"))
    assert errors(validator, doc) == []
    result = runner.invoke(cli, [*args, "--since", "2026-11-20T00:00:00+08:00"])
    assert result.exit_code == 0, result.output
    streamed = json.loads(result.stdout)
    assert json.loads(result.stderr)["events"] == len(streamed["epcisBody"]["eventList"])
    assert errors(validator, streamed) == []
    assert len(streamed["epcisBody"]["eventList"]) > len(doc["epcisBody"]["eventList"]) - 5
    bad = runner.invoke(cli, [*args, "--since", "yesterday"])
    assert bad.exit_code == 2 and "--since" in bad.output
    unknown = runner.invoke(cli, [*args, "--lot", "NO-SUCH-LOT", "--out", str(out)])
    assert unknown.exit_code == 1 and "NO-SUCH-LOT" in unknown.output, unknown.output
    assert json.loads(out.read_text("utf-8")) == doc  # the earlier export is left whole
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("export")) == \
        ["export.jsonld"]


# -- a generated network ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    spec = NetworkSpec(seed=5, events=3000, farms=6, markets=1, stalls_per_market=10, days=3)
    net = generate(spec)
    path = tmp_path_factory.mktemp("generated") / "gen.db"
    ledger = Ledger.create(f"sqlite:///{path}", operator_key=net.operator_key,
                           operator=spec.operator, now=net.end)
    ledger.append(net.events(), now=net.end)
    yield ledger
    ledger.close()


def test_a_generated_network_exports_whole_and_valid(generated: Ledger,
                                                     validator: Draft7Validator) -> None:
    ledger = generated
    buf = io.BytesIO()
    summary = export_document(ledger, buf, base=BASE)
    doc = orjson.loads(buf.getvalue())
    assert errors(validator, doc) == []
    events = doc["epcisBody"]["eventList"]
    assert summary.events == len(events) == ledger.size - sum(summary.skipped.values())
    assert set(summary.skipped) <= set(UNMAPPED)
    assert {"origin", "ship", "receive", "sale"} <= set(summary.by_kind)
    for event in events[::97]:  # every mapped event carries the stored record's own facts
        record = ledger.record(event["tracelib:seq"])
        assert canonical.loads(record.body)["id"] == event["tracelib:eventId"]


# -- a long export: hash IDs from the worker pool ---------------------------------------------

class _CountingPool:
    """The real worker pool, counting what is sent to it."""

    def __init__(self) -> None:
        from tracelib.append.sigpool import pool

        self.pool = pool()
        self.sent = 0

    def submit(self, fn: Any, *args: Any) -> Any:
        self.sent += 1
        return self.pool.submit(fn, *args)


def test_a_long_export_hashes_in_the_pool_what_a_short_one_hashes_here(
        generated: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over POOL_FROM records the IDs come from the pool's workers, in order, the same as
    computed one by one here; at most IN_FLIGHT chunks are out at a time."""
    from tracelib.epcis import export as export_module
    from tracelib.eventhash import event_hash_id

    ledger = generated
    counting = _CountingPool()
    monkeypatch.setattr(export_module, "pool", lambda: counting)
    monkeypatch.setattr(export_module, "POOL_CHUNK", 50)  # many chunks from a small ledger
    now = parse_rfc3339("2026-11-30T00:00:00+08:00")
    serial, pooled = io.BytesIO(), io.BytesIO()
    export_document(ledger, serial, base=BASE, now=now)  # 3,000 records: below POOL_FROM
    assert counting.sent == 0
    summary = export_document(ledger, pooled, base=BASE, now=now, pool_from=ledger.size)
    assert counting.sent == -(-summary.events // 50) > export_module.IN_FLIGHT
    assert pooled.getvalue() == serial.getvalue()  # the same document, valid (test above)
    doc = orjson.loads(pooled.getvalue())
    for event in doc["epcisBody"]["eventList"]:
        mapped = {k: v for k, v in event.items()
                  if k not in ("eventID", "recordTime", "tracelib:seq", "tracelib:recordHash")}
        assert event["eventID"] == event_hash_id(mapped, {"tracelib": NAMESPACE})
    # a lot's trace is short: hashed here whatever the ledger's size
    counting.sent = 0
    lot = next(e for e in doc["epcisBody"]["eventList"] if e["tracelib:kind"] == "sale")
    lot_id = lot["quantityList"][0]["epcClass"].rsplit("/", 1)[1]
    export_document(ledger, io.BytesIO(), base=BASE, lot=lot_id)
    assert counting.sent == 0

    # bounded: the consumer is never more than IN_FLIGHT + 1 chunks behind what was sent
    counting.sent = 0
    taken = 0
    with ledger.store.reader() as conn:
        names = names_for(ledger, conn, BASE)
        for _ in epcis_events(ledger, conn, names, pool_from=0):
            taken += 1
            assert counting.sent * 50 - taken < (export_module.IN_FLIGHT + 1) * 50
    assert taken == summary.events


def test_an_export_pool_worker_ends_with_its_parent(generated: Ledger, tmp_path: Path) -> None:
    """An export killed by SIGKILL leaves no hashing worker behind (the pool's workers watch
    their parent, tracelib/_lifeline.py)."""
    import os
    import signal
    import subprocess
    import sys

    from tests.helpers import child_env
    from tests.test_pool_lifeline import GRACE, _assert_gone_within, _pool_workers

    script = (
        "import sys, time\n"
        "from tracelib.epcis import export_document\n"
        "from tracelib.ledger import Ledger\n"
        "class Slow:\n"
        "    n = 0\n"
        "    def write(self, b):\n"
        "        self.n += 1\n"
        "        if self.n == 2:\n"
        "            print('exporting', flush=True)\n"
        "        if self.n > 2:\n"
        "            time.sleep(0.05)\n"
        "        return len(b)\n"
        "if __name__ == '__main__':\n"
        "    export_document(Ledger.open(sys.argv[1]), Slow(), base='https://x.example',\n"
        "                    pool_from=0)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, generated.store.url],
                            stdout=subprocess.PIPE, env=child_env(), start_new_session=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"exporting\n"
        workers = _pool_workers(proc.pid)
        assert workers, "the export did not use the worker pool"
        os.kill(proc.pid, signal.SIGKILL)  # the export only, not its process group
        proc.wait(timeout=10)
        _assert_gone_within(workers, GRACE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()

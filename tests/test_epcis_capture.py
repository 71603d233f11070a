"""EPCIS 2.0 import and capture (issue 18): a generated network exported and imported into a
fresh ledger with the same master data gives the same traces and drills; every GS1 example
captures or is refused with a reason; bad input is refused whole with its JSON path, nothing
stored, the ledger verifying; ``rollback`` and ``proceed``; GLN master data; the CLI."""

from __future__ import annotations

import base64
import copy
import importlib
import inspect
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelib.cbv import EPCIS_CONTEXT, EpcisNames, EpcisSources, Refusal
from tracelib.epcis import (
    DocumentRefused,
    capture,
    choose_kind,
    export_document,
    load_document,
)
from tracelib.epcis.masterdata import register_masterdata
from tracelib.errors import ValidationError
from tracelib.eventhash import document_context, event_hash_id
from tracelib.keys import Keystore, SigningKey
from tracelib.kinds import KINDS
from tracelib.ledger import Ledger
from tracelib.recalls import drill
from tracelib.views.tracing import trace
from tracelib_cli.main import cli
from tracelib_demo import NetworkSpec, generate

from .conftest import NOW
from .helpers import Network, Supply

_APART = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner).parameters else {}
DATA = Path(__file__).parent / "data" / "epcis"
BASE = "https://trace.example.cn"
COLDSTORE_GLN = "0614141000005"


def _document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"@context": [EPCIS_CONTEXT, {"tracelib": "urn:tracelib:epcis:"}],
            "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-11-22T00:00:00Z", "epcisBody": {"eventList": events}}


def _export(ledger: Ledger) -> dict[str, Any]:
    buf = io.BytesIO()
    export_document(ledger, buf, base=BASE)
    return orjson.loads(buf.getvalue())


def _signed_records(ledger: Ledger, kinds: set[str]) -> list[dict[str, Any]]:
    """The stored records of ``kinds`` (after genesis) as signed events, in seq order."""
    out = []
    for seq in range(1, ledger.size):
        record = ledger.record(seq)
        if record.kind in kinds:
            out.append({**orjson.loads(record.body),
                        "sig": {"key": record.key_id,
                                "value": base64.b64encode(record.signature).decode()}})
    return out


# -- the round trip on a generated network ----------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Ledger, Ledger]]:
    """A generated network's ledger, exported and imported into a fresh ledger given the
    same master data (the records the export leaves out: register events)."""
    tmp = tmp_path_factory.mktemp("roundtrip")
    spec = NetworkSpec(seed=11, events=1500, farms=5, markets=1, stalls_per_market=8, days=3)
    net = generate(spec)
    first = Ledger.create(f"sqlite:///{tmp / 'a.db'}", operator_key=net.operator_key,
                          operator=spec.operator, now=net.end)
    first.append(net.events(), now=net.end)
    doc = _export(first)
    second = Ledger.create(f"sqlite:///{tmp / 'b.db'}", operator_key=net.operator_key,
                           operator=spec.operator, now=net.end)
    unexported = {k for k, s in KINDS.items() if s.epcis is None}
    second.append(_signed_records(first, unexported), now=net.end)
    result = capture(second, doc, keys=net.keys.get, base=BASE, now=net.end)
    assert result.success, result.errors[:3]
    yield net, first, second, doc, result  # type: ignore[misc]
    first.close()
    second.close()


def test_the_round_trip_gives_the_same_ledger(generated: Any) -> None:
    _net, first, second, doc, result = generated
    assert result.stored == len(doc["epcisBody"]["eventList"]) and result.duplicates == 0
    assert second.size == first.size
    for seq in range(first.size):  # the same events, signed by the same parties, in order
        a, b = first.record(seq), second.record(seq)
        assert (a.event_id, a.body, a.key_id) == (b.event_id, b.body, b.key_id)
    assert second.verify(workers=1).ok


def test_the_round_trip_gives_the_same_traces_and_drills(generated: Any) -> None:
    _net, first, second, doc, _result = generated
    lots = sorted({e["epcClass"].rsplit("/", 1)[1] for ev in doc["epcisBody"]["eventList"]
                   for e in ev.get("quantityList", []) + ev.get("outputQuantityList", [])})
    assert len(lots) > 20
    for lot in lots[::7]:
        assert trace(second, lot).to_dict() == trace(first, lot).to_dict()
        assert drill(second, lot).answer_digest == drill(first, lot).answer_digest


def test_each_event_answers_its_hash_id_and_seq(generated: Any) -> None:
    _net, _first, _second, doc, result = generated
    events = doc["epcisBody"]["eventList"]
    for outcome in result.outcomes[::50]:
        event = events[outcome.index]
        assert outcome.hash_id == event["eventID"]  # the export's ID is the event's hash
        assert outcome.event_id == event["tracelib:eventId"]
        assert outcome.seq == event["tracelib:seq"]


def test_a_long_documents_hash_ids_from_the_worker_pool_are_the_serial_ones(
        generated: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    capture_module = importlib.import_module("tracelib.epcis.capture")
    _net, _first, _second, doc, _result = generated
    monkeypatch.setattr(capture_module, "_POOL_FROM", 100)
    monkeypatch.setattr(capture_module, "_POOL_CHUNK", 64)
    events = [dict(e) for e in doc["epcisBody"]["eventList"]]
    events[130] = {"eventTime": "2026-11-22T06:00:00Z"}  # no type, no hash ID: serial chunk
    ignore = ("tracelib:seq", "tracelib:recordHash")
    context = document_context(doc)
    pooled = list(capture_module._hash_ids(events, context, ignore))
    assert len(pooled) == len(events) > 1000
    assert isinstance(pooled[130], ValidationError)
    for i, (event, found) in enumerate(zip(events, pooled, strict=True)):
        if i != 130:
            assert found == event_hash_id(event, context, ignore=ignore) == event["eventID"], i


@pytest.mark.parametrize("behaviour", ["rollback", "proceed"])
def test_a_long_document_with_a_fault_is_refused_whole(
        generated: Any, monkeypatch: pytest.MonkeyPatch, behaviour: str) -> None:
    """A long document (its events hashed and signed in the worker pool) with a schema or
    depth fault is refused whole, naming its path, and nothing is stored."""
    capture_module = importlib.import_module("tracelib.epcis.capture")
    net, _first, second, doc, _result = generated
    monkeypatch.setattr(capture_module, "_POOL_FROM", 100)
    bad = copy.deepcopy(doc)
    events = bad["epcisBody"]["eventList"]
    where = next(i for i, e in enumerate(events) if e.get("quantityList"))
    events[where]["quantityList"][0]["quantity"] = "12"  # a quantity as text
    size = second.size
    with pytest.raises(DocumentRefused) as refused:
        capture(second, bad, keys=net.keys.get, base=BASE, now=net.end, behaviour=behaviour)
    assert refused.value.path == f"epcisBody.eventList[{where}].quantityList[0].quantity"
    assert second.size == size
    deep: Any = {}
    events[where]["quantityList"][0]["quantity"] = 1
    events[-1]["example:nested"] = deep
    for _ in range(40):
        deep["x"] = {}
        deep = deep["x"]
    with pytest.raises(DocumentRefused, match="nested deeper than 32"):
        capture(second, bad, keys=net.keys.get, base=BASE, now=net.end, behaviour=behaviour)
    assert second.size == size and second.verify(workers=1).ok


def test_capturing_the_same_document_again_stores_nothing(generated: Any) -> None:
    net, _first, second, doc, result = generated
    size = second.size
    again = capture(second, doc, keys=net.keys.get, base=BASE, now=net.end)
    assert again.success and again.stored == 0
    assert again.duplicates == len(doc["epcisBody"]["eventList"])
    assert [o.seq for o in again.outcomes] == [o.seq for o in result.outcomes]
    assert second.size == size


# -- a small ledger, events from another system ----------------------------------------------

@pytest.fixture
def sup(network: Network) -> Supply:
    return _supply(network)


@pytest.fixture
def lite(tmp_path: Path, operator_key: SigningKey) -> Iterator[Supply]:
    """:func:`sup` on SQLite only: for what the document checks decide before the store."""
    ledger = Ledger.create(f"sqlite:///{tmp_path / 'lite.db'}", operator_key=operator_key,
                           operator="operator", now=NOW, blobs=tmp_path / "blobs")
    yield _supply(Network.build(ledger, operator_key, now=NOW))
    ledger.close()


def _supply(network: Network) -> Supply:
    network.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "locations": [{"id": "coldstore-1", "name": "重庆冷链物流", "type": "coldstore",
                       "holder": "carrier-1", "gln": COLDSTORE_GLN}]}})
    s = Supply.build(network)
    s.add(s.origin("LOT-A", "100", product="豇豆", gtin="06141410000010"))
    return s


def _keys(sup: Supply) -> Any:
    return sup.net.keys.get


def _ship(lot: str = "https://id.gs1.org/01/06141410000010/10/LOT-A", qty: Any = 30,
          **over: Any) -> dict[str, Any]:
    """A shipping event as another system writes it: SGLN places, a Digital Link lot."""
    event = {"type": "ObjectEvent", "action": "OBSERVE",
             "bizStep": "shipping", "disposition": "in_transit",
             "eventTime": "2026-11-22T06:30:00+08:00", "eventTimeZoneOffset": "+08:00",
             "quantityList": [{"epcClass": lot, "quantity": qty, "uom": "KGM"}],
             "readPoint": {"id": f"{BASE}/loc/farm-1.field"},
             "bizLocation": {"id": f"{BASE}/loc/farm-1.field"},
             "destinationList": [{"type": "location",
                                  "destination": "urn:epc:id:sgln:0614141.00000.0"}]}
    event.update(over)
    return event


def test_a_foreign_event_is_named_by_its_hash_id_and_captured_once(sup: Supply) -> None:
    ledger = sup.ledger
    doc = _document([_ship()])
    result = capture(ledger, doc, keys=_keys(sup), base=BASE, now=sup.net.now)
    assert result.success, result.errors
    outcome = result.outcomes[0]
    assert outcome.event_id == outcome.hash_id == event_hash_id(doc["epcisBody"]["eventList"][0],
                                                                 {"tracelib": "urn:tracelib:epcis:"})
    record = ledger.record(outcome.seq)  # type: ignore[arg-type]
    body = orjson.loads(record.body)
    assert body["kind"] == "ship" and body["actor"] == "farm-1"
    assert body["data"] == {"to": "coldstore-1"}  # the SGLN, through the GLN registered
    assert body["inputs"] == [{"lot": "LOT-A", "qty": "30", "unit": "kg"}]
    again = capture(ledger, copy.deepcopy(doc), keys=_keys(sup), base=BASE, now=sup.net.now)
    assert again.outcomes[0].duplicate and again.outcomes[0].seq == outcome.seq
    assert ledger.verify(workers=1).ok


def test_rollback_stores_nothing_and_proceed_stores_the_good_ones(sup: Supply) -> None:
    ledger = sup.ledger
    size = ledger.size
    too_much = _ship(qty=500, eventTime="2026-11-22T06:40:00+08:00")
    doc = _document([_ship(), too_much, _ship(qty=10, eventTime="2026-11-22T06:50:00+08:00")])
    rolled = capture(ledger, doc, keys=_keys(sup), base=BASE, now=sup.net.now)
    assert not rolled.success and ledger.size == size
    [problem] = rolled.errors
    assert problem.index == 1 and "mass balance" in problem.detail
    assert problem.path == "epcisBody.eventList[1].quantityList"
    kept = capture(ledger, doc, keys=_keys(sup), base=BASE, behaviour="proceed",
                   now=sup.net.now)
    assert [o.problem is None for o in kept.outcomes] == [True, False, True]
    assert kept.stored == 2 and ledger.size == size + 2
    assert ledger.verify(workers=1).ok


def test_an_event_for_a_party_without_a_local_key_or_another_party_is_refused(
        sup: Supply) -> None:
    ledger = sup.ledger
    size = ledger.size
    none = capture(ledger, _document([_ship()]), keys=lambda party: None, base=BASE)
    assert none.errors[0].status == 403 and "no local key" in none.errors[0].detail
    other = capture(ledger, _document([_ship()]), keys=_keys(sup), base=BASE,
                    as_party="carrier-1")
    assert other.errors[0].status == 403 and "'farm-1'" in other.errors[0].detail
    assert ledger.size == size


def test_an_unknown_gln_or_lot_name_is_refused_with_its_path(lite: Supply) -> None:
    sup = lite
    bad_place = _ship(destinationList=[{"type": "location",
                                        "destination": "https://id.gs1.org/414/4012345000009"}])
    bad_lot = _ship(lot="https://example.com/lots/7")
    result = capture(sup.ledger, _document([bad_place, bad_lot]), keys=_keys(sup), base=BASE,
                     behaviour="proceed")
    first, second = result.errors
    assert first.path == "epcisBody.eventList[0].destinationList[0].destination"
    assert "4012345000009" in first.detail and "masterdata" in first.detail
    assert second.path == "epcisBody.eventList[1].quantityList[0].epcClass"


def test_choosing_the_kind() -> None:
    def kind(**event: Any) -> str:
        return choose_kind({"type": "ObjectEvent", **event})

    assert kind(action="ADD", bizStep="commissioning") == "origin"
    assert kind(action="OBSERVE", bizStep="urn:epcglobal:cbv:bizstep:shipping") == "ship"
    assert kind(action="OBSERVE", bizStep="https://ref.gs1.org/cbv/BizStep-receiving") == "receive"
    assert kind(action="OBSERVE", bizStep="retail_selling") == "sale"
    assert kind(action="OBSERVE", disposition="recalled") == "recall"
    assert kind(action="DELETE", bizStep="destroying") == "dispose"
    assert choose_kind({"type": "TransformationEvent"}) == "transform"
    assert kind(action="OBSERVE", bizStep="ship", **{"tracelib:kind": "hold"}) == "hold"
    with pytest.raises(Refusal, match="no tracelib kind"):
        choose_kind({"type": "AggregationEvent", "action": "ADD", "bizStep": "packing"})
    with pytest.raises(Refusal, match="not imported"):
        kind(**{"tracelib:kind": "register"})


@pytest.mark.parametrize(("unit", "qty"), [("kg", "2.5"), ("斤", "3"), ("头", "12"),
                                           ("bunch", "7"), ("L", "1.25")])
def test_units_come_back_as_counted(unit: str, qty: str) -> None:
    spec = KINDS["sale"]
    doc = {**spec.example, "inputs": [{"lot": "L-1", "qty": qty, "unit": unit}]}
    event = spec.epcis(doc, EpcisNames(BASE))  # type: ignore[misc]
    back = EpcisSources(BASE).items(event, "quantityList")
    assert back == [{"lot": "L-1", "qty": qty, "unit": unit}]


# -- every GS1 example captures or is refused with a reason -----------------------------------

@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.jsonld")))
def test_every_gs1_example_captures_or_is_refused_with_a_reason(lite: Supply, name: str) -> None:
    sup = lite
    ledger = sup.ledger
    size = ledger.size
    doc = load_document((DATA / name).read_bytes())
    try:
        result = capture(ledger, doc, keys=_keys(sup), base=BASE, behaviour="proceed")
    except DocumentRefused as e:
        assert e.message and e.status in (400, 413)
    else:
        assert result.outcomes
        for outcome in result.outcomes:
            assert outcome.seq is not None or (outcome.problem and outcome.problem.detail
                                               and outcome.problem.path)
    assert ledger.size >= size
    assert ledger.verify(workers=1).ok


# -- bad input: refused whole, with the JSON path, nothing stored -----------------------------

def _deep(levels: int) -> dict[str, Any]:
    inner: dict[str, Any] = {"x": 1}
    for _ in range(levels):
        inner = {"x": inner}
    return inner


def _bad_documents() -> list[tuple[str, Any, str, int]]:
    good = _ship()
    without = {k: v for k, v in good.items() if k != "eventTime"}
    no_offset = {k: v for k, v in good.items() if k != "eventTimeZoneOffset"}
    return [
        ("wrong context", {**_document([good]), "@context": ["https://example.com/ctx.jsonld"]},
         "@context", 400),
        ("unknown event type", _document([{**good, "type": "TeleportEvent"}]),
         "epcisBody.eventList[0].type", 400),
        ("non-standard bizStep", _document([{**good, "bizStep": "teleporting"}]),
         "epcisBody.eventList[0].bizStep", 400),
        ("non-standard disposition", _document([{**good, "disposition": "lost_at_sea"}]),
         "epcisBody.eventList[0].disposition", 400),
        ("quantity as text", _document([_ship(qty="30")]),
         "epcisBody.eventList[0].quantityList[0].quantity", 400),
        ("missing eventTime", _document([without]), "epcisBody.eventList[0]", 400),
        ("missing eventTimeZoneOffset", _document([no_offset]), "epcisBody.eventList[0]", 400),
        ("100,000 events", _document([good] * 100_000), "epcisBody.eventList", 413),
        ("nested 40 deep", _document([{**good, "example:x": _deep(40)}]),
         "epcisBody.eventList[0].example:x" + ".x" * 28, 400),
    ]


@pytest.mark.parametrize(("what", "doc", "path", "status"), _bad_documents(),
                         ids=[b[0] for b in _bad_documents()])
def test_bad_documents_are_refused_whole_with_their_path(lite: Supply, what: str, doc: Any,
                                                         path: str, status: int) -> None:
    sup = lite
    ledger = sup.ledger
    size = ledger.size
    with pytest.raises(DocumentRefused) as refused:
        capture(ledger, doc, keys=_keys(sup), base=BASE)
    assert (refused.value.path, refused.value.status) == (path, status), refused.value.message
    assert ledger.size == size and ledger.verify(workers=1).ok


def test_malformed_and_too_deep_json_is_refused_before_anything_recurses() -> None:
    with pytest.raises(DocumentRefused, match="malformed JSON"):
        load_document(b'{"type": "EPCISDocument", "epcisBody": {')
    with pytest.raises(DocumentRefused, match="malformed JSON"):
        load_document(b'{"a":' * 10_000 + b"1" + b"}" * 10_000)
    with pytest.raises(DocumentRefused, match="JSON object"):
        load_document(b"[1, 2]")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\n', max_size=6),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=3), inner, max_size=3),
    max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(doc=_JSON, limit=st.integers(min_value=1, max_value=12))
def test_the_quick_depth_check_agrees_with_the_walk(doc: Any, limit: int) -> None:
    """The depth check reads the document's JSON text (brackets, quotes, escapes) instead of
    walking it; strings full of brackets, quotes and backslashes must not fool it."""
    capture_module = importlib.import_module("tracelib.epcis.capture")
    walked = capture_module._too_deep(doc, limit) is None
    assert capture_module._nests_within(doc, limit) == walked


def test_duplicates_inside_one_document_are_stored_once(sup: Supply) -> None:
    ledger = sup.ledger
    size = ledger.size
    result = capture(ledger, _document([_ship(), _ship()]), keys=_keys(sup), base=BASE)
    assert result.success and result.stored == 1 and result.duplicates == 1
    assert result.outcomes[0].seq == result.outcomes[1].seq and ledger.size == size + 1


# -- master data ------------------------------------------------------------------------------

def test_masterdata_in_both_forms_names_locations_by_gln(sup: Supply) -> None:
    ledger = sup.ledger
    count = register_masterdata(ledger, {"locations": [
        {"id": "stall-a01", "gln": "4012345000009", "gln_extension": "A01"}]},
        sup.net.operator_key, now=sup.net.now)
    assert count == 1
    stall = ledger.location("stall-a01")
    assert stall is not None and stall.details["gln"] == "4012345000009"
    assert stall.parent == "market-1" and stall.details["licences"]  # the rest kept
    vocab = {"epcisHeader": {"epcisMasterData": {"vocabularyList": [{
        "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
        "vocabularyElementList": [{"id": "urn:epc:id:sgln:4012345.00001.0", "attributes": [
            {"id": "urn:tracelib:epcis:location", "attribute": "market-1"}]}]}]}}}
    register_masterdata(ledger, vocab, sup.net.operator_key, now=sup.net.now)
    market = ledger.location("market-1")
    assert market is not None and market.details["gln"] == "4012345000016"
    src = EpcisSources(BASE, location_of=lambda g, e: {("4012345000009", "A01"): "stall-a01"}
                       .get((g, e)))
    assert src.location("https://id.gs1.org/414/4012345000009/254/A01", "x") == "stall-a01"
    assert ledger.verify(workers=1).ok


# -- the CLI ----------------------------------------------------------------------------------

def test_cli_imports_and_registers_masterdata(sup: Supply, tmp_path: Path, db_url: str) -> None:
    keystore = Keystore(tmp_path / "keys")
    keystore.save("operator", sup.net.operator_key)
    keystore.save("farm-1", sup.net.keys["farm-1"])
    runner = CliRunner(**_APART)
    base = ["--db", db_url, "--keystore", str(keystore.path)]
    master = tmp_path / "master.json"
    master.write_text(json.dumps({"locations": [{"id": "coldstore-1", "gln": COLDSTORE_GLN,
                                                 "gln_extension": "D1"}]}))
    done = runner.invoke(cli, [*base, "epcis", "masterdata", str(master)])
    assert done.exit_code == 0, done.output
    assert "1 location" in done.stdout
    good = tmp_path / "good.jsonld"
    dest = [{"type": "location", "destination": f"https://id.gs1.org/414/{COLDSTORE_GLN}/254/D1"}]
    good.write_text(json.dumps(_document([_ship(destinationList=dest)])))
    done = runner.invoke(cli, [*base, "epcis", "import", str(good), "--base-url", BASE])
    assert done.exit_code == 0, done.output
    assert "stored 1 event(s), 0 already present, 0 refused" in done.stdout
    again = runner.invoke(cli, [*base, "epcis", "import", str(good), "--base-url", BASE])
    assert "stored 0 event(s), 1 already present" in again.stdout
    bad = tmp_path / "bad.jsonld"
    bad.write_text(json.dumps(_document([_ship(qty=9999)])))
    refused = runner.invoke(cli, [*base, "epcis", "import", str(bad), "--base-url", BASE])
    assert refused.exit_code == 1
    assert "epcisBody.eventList[0].quantityList" in refused.stderr
    assert "nothing was stored" in refused.stderr
    broken = tmp_path / "broken.jsonld"
    broken.write_text("{")
    refused = runner.invoke(cli, [*base, "epcis", "import", str(broken)])
    assert refused.exit_code == 1 and "malformed JSON" in refused.stderr


def test_a_key_only_local_never_signs_for_another(lite: Supply) -> None:
    sup = lite
    stranger = SigningKey.generate()
    result = capture(sup.ledger, _document([_ship()]), keys=lambda party: stranger, base=BASE)
    assert not result.success
    assert result.errors[0].status == 400  # the ledger refuses a key it never registered


def test_capture_jobs_are_kept_on_both_databases(ledger: Ledger) -> None:
    from tracelib.store.captures import CaptureJobRow, CaptureSql

    job = CaptureJobRow("c0ffee", "stall-a01", "proceed", "2026-11-22T00:00:00.000000Z",
                        "2026-11-22T00:00:01.000000Z", False, 3, 2,
                        [{"type": "epcisException:ValidationException", "index": 1,
                          "path": "epcisBody.eventList[1].quantityList", "detail": "超过库存"}])
    with ledger.store.writer() as conn:
        CaptureSql.save_job(conn, job)
    with ledger.store.reader() as conn:
        assert CaptureSql.job(conn, "c0ffee") == job
        assert CaptureSql.job(conn, "nope") is None
    assert ledger.verify(workers=1).ok  # not ledger state: verify neither replays nor minds it

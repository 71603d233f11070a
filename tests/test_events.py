"""The event envelope (docs/contract.md "Event"): every malformed input is a ValidationError
whose ``field`` names the offending field, and ``ledger.append`` reports the input line
and stores nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import Network, certificate, origin_event, stored_event_ids
from tracelib import canonical
from tracelib.errors import SignatureError, ValidationError
from tracelib.events import Event, sign_event
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger

KEY = SigningKey.from_bytes(bytes(range(32)))

VALID: dict[str, Any] = {
    "id": "ship-0001", "kind": "ship", "time": "2026-11-22T06:10:00+08:00",
    "actor": "carrier-cq01", "location": "coldstore-cq01",
    "inputs": [{"lot": "LOT-PK-0001", "qty": "1200", "unit": "kg"}], "outputs": [],
    "data": {"to": "market-yy01",
             "temperatures": [{"time": "2026-11-22T07:00:00+08:00", "celsius": "-19.5"}]},
}


def signed(doc: dict[str, Any]) -> dict[str, Any]:
    return sign_event(doc, KEY)


def without(name: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        del doc[name]
    return edit


def put(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a value at a dotted path with [i] list indexes, e.g. ``inputs[0].qty``."""
    def edit(doc: dict[str, Any]) -> None:
        target: Any = doc
        parts = path.replace("[", ".[").split(".")
        for part in parts[:-1]:
            target = target[int(part[1:-1])] if part.startswith("[") else target[part]
        last = parts[-1]
        if last.startswith("["):
            target[int(last[1:-1])] = value
        else:
            target[last] = value
    return edit


GOOD_SIG = {"key": KEY.key_id, "value": "A" * 86 + "=="}

# (case id, edit of a valid signed event, expected field path)
ENVELOPE_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    *[(f"missing-{name}", without(name), name)
      for name in ("id", "kind", "time", "actor", "location", "data")],
    ("id-int", put("id", 17), "id"),
    ("id-empty", put("id", ""), "id"),
    ("id-oversize", put("id", "x" * 201), "id"),
    ("id-control-nul", put("id", "ev\x00-1"), "id"),
    ("id-control-newline", put("id", "ev\n1"), "id"),
    ("id-control-del", put("id", "ev\x7f1"), "id"),
    ("id-control-c1-nel", put("id", "ev\x851"), "id"),
    ("id-control-c1-csi", put("id", "ev\x9b1"), "id"),
    ("actor-control", put("actor", "carrier\tcq01"), "actor"),
    ("location-oversize", put("location", "l" * 201), "location"),
    ("kind-int", put("kind", 3), "kind"),
    ("kind-unknown", put("kind", "teleport"), "kind"),
    ("time-no-offset", put("time", "2026-11-22T06:10:00"), "time"),
    ("time-date-only", put("time", "2026-11-22"), "time"),
    ("time-bad-month", put("time", "2026-13-22T06:10:00+08:00"), "time"),
    ("time-int", put("time", 1763763000), "time"),
    ("data-list", put("data", ["to", "market-yy01"]), "data"),
    ("data-string", put("data", "market-yy01"), "data"),
    ("inputs-string", put("inputs", "LOT-PK-0001"), "inputs"),
    ("inputs-object", put("inputs", {"lot": "LOT-PK-0001", "qty": "1", "unit": "kg"}),
     "inputs"),
    ("outputs-string", put("outputs", "LOT-X"), "outputs"),
    ("qty-number", put("inputs[0].qty", 1200), "inputs[0].qty"),
    ("qty-zero", put("inputs[0].qty", "0"), "inputs[0].qty"),
    ("qty-zero-decimal", put("inputs[0].qty", "0.000"), "inputs[0].qty"),
    ("qty-negative", put("inputs[0].qty", "-1"), "inputs[0].qty"),
    ("qty-exponent", put("inputs[0].qty", "1e3"), "inputs[0].qty"),
    ("qty-leading-zero", put("inputs[0].qty", "012"), "inputs[0].qty"),
    ("qty-bare-point", put("inputs[0].qty", ".5"), "inputs[0].qty"),
    ("qty-spaces", put("inputs[0].qty", " 12"), "inputs[0].qty"),
    ("qty-missing", lambda d: d["inputs"][0].pop("qty"), "inputs[0].qty"),
    ("unit-with-space", put("inputs[0].unit", "k g"), "inputs[0].unit"),
    ("unit-empty", put("inputs[0].unit", ""), "inputs[0].unit"),
    ("lot-missing", lambda d: d["inputs"][0].pop("lot"), "inputs[0].lot"),
    ("lot-control", put("inputs[0].lot", "LOT\r1"), "inputs[0].lot"),
    ("lot-unknown-field", put("inputs[0].grade", "A"), "inputs[0].grade"),
    ("second-output-bad", put("outputs", [{"lot": "A", "qty": "1", "unit": "kg"},
                                          {"lot": "B", "qty": "-2", "unit": "kg"}]),
     "outputs[1].qty"),
    ("unknown-top-level", put("colour", "red"), "colour"),
    ("float-in-data", put("data", {"to": "m", "celsius": -19.5}), "data.celsius"),
    ("float-nested", put("data", {"to": "m", "temperatures": [
        {"time": "2026-11-22T07:00:00+08:00", "celsius": 1.5}]}),
     "data.temperatures[0].celsius"),
    ("sig-not-base64", put("sig", {"key": KEY.key_id, "value": "not base64!"}), "sig.value"),
    ("sig-short", put("sig", {"key": KEY.key_id, "value": "AAAA"}), "sig.value"),
    ("sig-long", put("sig", {"key": KEY.key_id, "value": "A" * 88}), "sig.value"),
    ("sig-empty", put("sig", {"key": KEY.key_id, "value": ""}), "sig.value"),
    ("sig-value-missing", put("sig", {"key": KEY.key_id}), "sig.value"),
    ("sig-key-not-hex", put("sig", {**GOOD_SIG, "key": "XYZXYZXYZXYZXYZX"}), "sig.key"),
    ("sig-key-short", put("sig", {**GOOD_SIG, "key": KEY.key_id[:8]}), "sig.key"),
    ("sig-unknown-field", put("sig", {**GOOD_SIG, "alg": "ed25519"}), "sig.alg"),
    ("sig-string", put("sig", "AAAA"), "sig"),
    ("register-empty-data", lambda d: d.update(kind="register", data={}), "data"),
    ("register-bad-role", lambda d: d.update(kind="register", data={
        "parties": [{"id": "p", "name": "P", "role": "king"}]}), "data.parties[0].role"),
]


def test_valid_event_parses_and_round_trips() -> None:
    doc = signed(VALID)
    event = Event.from_dict(doc)
    assert event.id == "ship-0001"
    assert event.body == canonical.dumps(VALID)
    assert event.to_dict() == doc
    assert Event.from_json(json.dumps(doc)) == event
    KEY.public.verify(event.body, event.sig.value if event.sig else b"")


@pytest.mark.parametrize(("edit", "field"), [pytest.param(e, f, id=i)
                                             for i, e, f in ENVELOPE_CASES])
def test_envelope_rejects_with_field(edit: Callable[[dict[str, Any]], None],
                                     field: str) -> None:
    doc = copy.deepcopy(signed(VALID))
    edit(doc)
    with pytest.raises(ValidationError) as raised:
        Event.from_dict(doc)
    assert raised.value.field == field, str(raised.value)
    assert raised.value.message


@pytest.mark.parametrize(("edit", "field"), [pytest.param(e, f, id=i)
                                             for i, e, f in ENVELOPE_CASES
                                             if not i.startswith("float")])
def test_envelope_rejects_json_line_with_field(edit: Callable[[dict[str, Any]], None],
                                               field: str) -> None:
    """The same table as JSON lines (floats have their own table: they fail in the parser)."""
    doc = copy.deepcopy(signed(VALID))
    edit(doc)
    line = json.dumps(doc, ensure_ascii=False)
    with pytest.raises(ValidationError) as raised:
        Event.from_json(line)
    assert raised.value.field == field, str(raised.value)


def test_non_object_is_rejected() -> None:
    for value in ([VALID], "event", 3, None):
        with pytest.raises(ValidationError) as raised:
            Event.from_dict(value)
        assert raised.value.field == "event"


def _line(**data_json: str) -> str:
    """A JSON line of VALID with raw JSON text spliced into ``data``."""
    inner = ",".join(f'"{k}":{v}' for k, v in data_json.items())
    head = json.dumps({k: v for k, v in VALID.items() if k != "data"})[:-1]
    return head + ',"data":{' + inner + "}}"


@pytest.mark.parametrize(("line", "field"), [
    pytest.param(_line(celsius="1.5"), "data.celsius", id="float"),
    pytest.param(_line(celsius="-19.50"), "data.celsius", id="negative-float"),
    pytest.param(_line(count="1e3"), "data.count", id="exponent"),
    pytest.param(_line(count="1E-2"), "data.count", id="exponent-negative"),
    pytest.param(_line(readings='[{"a": 1}, {"a": 2.0}]'), "data.readings[1].a",
                 id="float-in-list"),
    pytest.param(_line(to='"m"', x='{"y": {"z": 0.1}}'), "data.x.y.z", id="float-deep"),
    pytest.param(_line(to='"a"', ship='"s"').replace('"ship"', '"to"'), "data.to",
                 id="duplicate-key-in-data"),
    pytest.param('{"id":"a","id":"b","kind":"ship"}', "id", id="duplicate-top-level-key"),
    pytest.param(_line(to='{"k":1,"k":1}'), "data.to.k", id="duplicate-key-same-value"),
])
def test_json_line_rejects_floats_and_duplicate_keys(line: str, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Event.from_json(line)
    assert raised.value.field == field, str(raised.value)


def test_floats_rejected_by_canonical_loads() -> None:
    # The strict parser is what makes "no floats" hold for every input path.
    with pytest.raises(ValidationError):
        canonical.loads(_line(celsius="1.5"))
    assert canonical.loads(_line(celsius='"1.5"'))["data"] == {"celsius": "1.5"}


@pytest.mark.parametrize("text", ["", "{", '{"id": "a"} {"id": "b"}', "[1,", "nul"])
def test_json_line_rejects_malformed_json(text: str) -> None:
    with pytest.raises(ValidationError):
        Event.from_json(text)


# --- through the ledger: the error names the input line, and nothing is stored -------------

def _sign_if_possible(net: Network, doc: dict[str, Any]) -> dict[str, Any]:
    try:
        return sign_event(doc, net.keys["farm-1"])
    except ValidationError:  # e.g. a float: cannot even be made canonical to sign
        return {**doc, "sig": {"key": net.keys["farm-1"].key_id, "value": "A" * 86 + "=="}}


LEDGER_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("missing-time", without("time"), "time"),
    ("unknown-field", put("colour", "red"), "colour"),
    ("qty-zero", put("outputs[0].qty", "0"), "outputs[0].qty"),
    ("qty-number", put("outputs[0].qty", 5), "outputs[0].qty"),
    ("unit-space", put("outputs[0].unit", "k g"), "outputs[0].unit"),
    ("kind-unknown", put("kind", "teleport"), "kind"),
    ("time-no-offset", put("time", "2026-11-22T07:00:00"), "time"),
    ("float", put("data", {"certificate": certificate("L"), "celsius": 2.5}), "data.celsius"),
    ("id-control", put("id", "ev\x00"), "id"),
]


def test_append_reports_line_and_stores_nothing(network: Network) -> None:
    """Each bad event, first or among good ones, rejects the batch: the error names the
    field and the input line, and nothing is stored (one ledger for the whole table, so
    the rejected batches also leave it verifiable)."""
    ledger = network.ledger
    lines = [101, 102, 104, 108]  # a file with blank lines and comments skipped
    before = ledger.size
    for case, edit, field in LEDGER_CASES:
        for position in (0, 2, 3):
            good = [origin_event(network, f"LOT-OK-{case}-{position}-{i}") for i in range(3)]
            bad = origin_event(network, sign=False, lot=f"LOT-BAD-{case}-{position}")
            edit(bad)
            batch = list(good)
            batch.insert(position, _sign_if_possible(network, bad))
            with pytest.raises(ValidationError) as raised:
                ledger.append(batch, lines=lines)
            where = f"{case} at position {position}: {raised.value}"
            assert raised.value.field == field, where
            assert raised.value.line == lines[position], where
            assert ledger.size == before, where
            assert stored_event_ids(ledger, [e["id"] for e in good]) == set(), where
    assert ledger.verify().ok


def test_append_default_line_is_position(network: Network) -> None:
    batch = [origin_event(network, f"LOT-D-{i}") for i in range(4)]
    batch[3] = {**batch[3], "time": "yesterday"}
    with pytest.raises(ValidationError) as raised:
        network.ledger.append(batch)
    assert (raised.value.line, raised.value.field) == (4, "time")
    assert raised.value.event_id == batch[3]["id"]


def test_bad_event_in_a_later_chunk_rolls_back_earlier_chunks(network: Network) -> None:
    """The append inserts chunk by chunk inside one transaction; a failure in the second
    chunk must leave nothing of the first."""
    from tracelib.append import CHUNK

    ledger = network.ledger
    batch = [origin_event(network, f"LOT-C-{i}") for i in range(CHUNK + 5)]
    batch[CHUNK + 2] = {**batch[CHUNK + 2], "location": "nowhere"}  # sig now wrong too
    before = ledger.size
    with pytest.raises(ValidationError) as raised:
        ledger.append(batch, lines=list(range(1, 2 * len(batch), 2)))
    assert raised.value.line == 2 * (CHUNK + 2) + 1
    assert ledger.size == before
    assert stored_event_ids(ledger, [e["id"] for e in batch]) == set()
    assert ledger.verify().ok


def test_bad_signature_reports_line_and_stores_nothing(network: Network) -> None:
    ledger = network.ledger
    # more than the inline limit: the signatures are checked in the process pool
    batch = [origin_event(network, f"LOT-S-{i}") for i in range(300)]
    forged = dict(batch[137])
    forged["outputs"] = [{"lot": "LOT-S-137", "qty": "999", "unit": "kg"}]  # sig is stale
    batch[137] = forged
    before = ledger.size
    with pytest.raises(SignatureError) as raised:
        ledger.append(batch, lines=[n * 10 for n in range(len(batch))])
    assert (raised.value.line, raised.value.field) == (1370, "sig.value")
    assert raised.value.event_id == forged["id"]
    assert ledger.size == before
    assert stored_event_ids(ledger, [e["id"] for e in batch]) == set()


def test_unsigned_event_is_rejected(network: Network, ledger: Ledger) -> None:
    doc = origin_event(network, sign=False, lot="LOT-U")
    with pytest.raises(SignatureError) as raised:
        ledger.append([doc], lines=[7])
    assert (raised.value.line, raised.value.field) == (7, "sig")


@pytest.mark.parametrize(("where", "field"), [
    (lambda d: d["data"]["certificate"].__setitem__("product", "豇\x00豆"),
     "data.certificate.product"),
    (lambda d: d["data"]["certificate"]["commitments"].append("ok\x00"),
     "data.certificate.commitments[2]"),
    (lambda d: d["data"].__setitem__("note\x00", "x"), 'data["note\\u0000"]'),
], ids=["string", "list item", "key"])
def test_nul_anywhere_in_an_event_is_refused_with_its_path(
        network: Network, where: Callable[[dict[str, Any]], None], field: str) -> None:
    # PostgreSQL text cannot hold U+0000: refused at validation on every store, so the
    # database never sees it (a raw driver error would otherwise reach the caller).
    doc = origin_event(network, "LOT-NUL", sign=False)
    where(doc)
    signed = sign_event(doc, network.keys["farm-1"])
    with pytest.raises(ValidationError, match="U\\+0000") as caught:
        Event.from_dict(signed)
    assert caught.value.field == field
    before = network.ledger.size
    with pytest.raises(ValidationError, match="U\\+0000"):
        network.ledger.append([signed], now=network.now)
    assert network.ledger.size == before and network.ledger.verify().ok


def test_an_escaped_backslash_u0000_text_is_not_a_nul(network: Network) -> None:
    doc = origin_event(network, "LOT-BS", sign=False)
    doc["data"]["certificate"]["product"] = "a\\u0000b\\\\u0000"  # backslashes, no NUL
    event = Event.from_dict(sign_event(doc, network.keys["farm-1"]))
    assert event.data["certificate"]["product"] == "a\\u0000b\\\\u0000"
    network.ledger.append([sign_event(doc, network.keys["farm-1"])], now=network.now)

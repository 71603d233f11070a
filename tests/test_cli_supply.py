"""The command line end to end with click's CliRunner: init, keys, append of JSON Lines
(signed from the local keystore), trace (docs/contract.md "Trace JSON"), recall, and exit codes
(0 ok, 1 rejected input or failed check, 2 usage)."""

from __future__ import annotations

import base64
import inspect
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tracelib.events import sign_event
from tracelib.keys import Keystore, SigningKey
from tracelib.ledger import Ledger
from tracelib_cli.main import cli

CERT = {"no": "HGZ-500235-0001", "product": "猪肉", "producer": "云阳县红狮镇生猪养殖合作社",
        "origin_place": "重庆市云阳县红狮镇", "issued_at": "2026-11-22T05:00:00+08:00",
        "commitments": ["不使用禁用药物", "兽药残留不超标"], "basis": "self_test"}
LOT = "LOT-PK-0001"
PARTIES = (("farm-1", "farm"), ("carrier-1", "carrier"), ("market-1", "market"),
           ("stall-a01", "stall"))
LOCATIONS = [
    {"id": "farm-1.field", "name": "红狮镇养殖场", "type": "farm", "holder": "farm-1"},
    {"id": "coldstore-1", "name": "重庆冷链物流", "type": "coldstore", "holder": "carrier-1"},
    {"id": "market-1", "name": "城南农贸市场", "type": "market", "holder": "market-1"},
    {"id": "stall-a01", "name": "张记鲜肉", "type": "stall", "holder": "stall-a01",
     "parent": "market-1", "licences": {"business": "91500235MA5U0001",
                                        "food": "JY15002350000001"}},
]


def ev(id: str, kind: str, actor: str, location: str, *, inputs: Any = (), outputs: Any = (),
       time: str = "2026-11-22T07:00:00+08:00", **data: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": id, "kind": kind, "time": time, "actor": actor,
                           "location": location, "data": data}
    if inputs:
        doc["inputs"] = [{"lot": lot, "qty": qty, "unit": "kg"} for lot, qty in inputs]
    if outputs:
        doc["outputs"] = [{"lot": lot, "qty": qty, "unit": "kg"} for lot, qty in outputs]
    return doc


# The example of docs/contract.md "Trace JSON", hop by hop: 100 kg made, 12.5 reach the stall, 10 are sold.
CHAIN = [
    ev("origin-1", "origin", "farm-1", "farm-1.field", outputs=[(LOT, "100")],
       time="2026-11-22T05:30:00+08:00", certificate=CERT, storage="chilled"),
    ev("ship-1", "ship", "carrier-1", "farm-1.field", inputs=[(LOT, "100")],
       time="2026-11-22T06:00:00+08:00", to="coldstore-1",
       temperatures=[{"time": "2026-11-22T06:30:00+08:00", "celsius": "2.5"}]),
    ev("receive-1", "receive", "carrier-1", "coldstore-1", inputs=[(LOT, "100")],
       time="2026-11-22T07:00:00+08:00", **{"from": "farm-1.field", "ship_event": "ship-1"}),
    ev("ship-2", "ship", "carrier-1", "coldstore-1", inputs=[(LOT, "12.5")],
       time="2026-11-22T07:30:00+08:00", to="stall-a01"),
    ev("receive-2", "receive", "stall-a01", "stall-a01", inputs=[(LOT, "12.5")],
       time="2026-11-22T08:00:00+08:00", **{"from": "coldstore-1", "ship_event": "ship-2"}),
    ev("sale-1", "sale", "stall-a01", "stall-a01", inputs=[(LOT, "10")],
       time="2026-11-22T09:00:00+08:00", receipt="R-0001"),
]
EXPECTED_TRACE = {
    "lot": LOT,
    "upstream": {
        "lots": [],
        "origins": [{"lot": LOT, "event": "origin-1", "seq": 6, "location": "farm-1.field",
                     "certificate": CERT}],
        "path": [
            {"lot": LOT, "ship_event": "ship-1", "time": "2026-11-22T06:00:00+08:00",
             "from": "farm-1.field", "to": "coldstore-1", "qty": "100", "unit": "kg",
             "received": "100", "discrepancy": None,
             "temperatures": [{"time": "2026-11-22T06:30:00+08:00", "celsius": "2.5"}],
             "excursions": []},
            {"lot": LOT, "ship_event": "ship-2", "time": "2026-11-22T07:30:00+08:00",
             "from": "coldstore-1", "to": "stall-a01", "qty": "12.5", "unit": "kg",
             "received": "12.5", "discrepancy": None, "temperatures": [], "excursions": []},
        ],
    },
    "downstream": {
        "lots": [],
        "locations": [
            {"location": "coldstore-1", "type": "coldstore", "unit": "kg", "received": "100",
             "sold": "0", "on_hand": "87.5", "name": "重庆冷链物流", "held": False},
            {"location": "farm-1.field", "type": "farm", "unit": "kg", "received": "100",
             "sold": "0", "on_hand": "0", "name": "红狮镇养殖场", "held": False},
            {"location": "stall-a01", "type": "stall", "unit": "kg", "received": "12.5",
             "sold": "10", "on_hand": "2.5", "name": "张记鲜肉", "held": False},
        ],
    },
}


# click < 8.2 mixes stderr into stdout unless asked not to; 8.2 always keeps it apart.
_APART = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner).parameters else {}


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "ledger.db"
        self.keystore = tmp_path / "keys"
        self.tmp = tmp_path
        self.runner = CliRunner(**_APART)
        self.files = 0

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(cli, ["--db", str(self.db), "--keystore", str(self.keystore),
                                          *args])
        assert result.exit_code == code, (result.exit_code, result.output, result.exception)
        return result

    def jsonl(self, lines: list[Any]) -> str:
        """Write lines (dicts become JSON, strings go as they are) to a new file."""
        self.files += 1
        path = self.tmp / f"events-{self.files}.jsonl"
        path.write_text("".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False))
                                + "\n" for x in lines), encoding="utf-8")
        return str(path)

    def size(self) -> int:
        with Ledger.open(str(self.db)) as led:
            return led.size

    def trace(self, *args: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self("trace", *args, "--json").stdout)
        return result

    def key(self, party: str) -> SigningKey:
        return Keystore(self.keystore).for_party(party)


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    """A ledger made with `init`, four parties with `keys new`, their places with `append`."""
    c = Cli(tmp_path)
    assert "created ledger" in c("init").stdout
    for party, role in PARTIES:
        assert "registered key" in c("keys", "new", party, "--role", role).stdout
    register = {"id": "register-places", "kind": "register", "time": "2026-11-22T05:00:00+08:00",
                "actor": "operator", "location": "operator.office",
                "data": {"locations": LOCATIONS}}
    assert "appended 1 event(s)" in c("append", c.jsonl([register])).stdout
    assert c.size() == 6  # genesis, 4 parties with keys, the places
    return c


@pytest.fixture
def chained(run: Cli) -> Cli:
    out = run("append", run.jsonl(CHAIN)).stdout
    assert "appended 6 event(s), 0 already present; ledger size 12" in out
    return run


def test_append_then_trace_json_is_the_contract_shape(chained: Cli) -> None:
    assert chained.trace(LOT) == EXPECTED_TRACE
    assert chained.trace(LOT, "--back") == {"lot": LOT, "upstream": EXPECTED_TRACE["upstream"]}
    assert chained.trace(LOT, "--forward") == {"lot": LOT,
                                               "downstream": EXPECTED_TRACE["downstream"]}
    # The same file again is idempotent.
    again = chained("append", chained.jsonl(CHAIN)).stdout
    assert "appended 0 event(s), 6 already present; ledger size 12" in again
    assert chained("verify").exit_code == 0


def test_trace_tables_and_window(chained: Cli) -> None:
    text = chained("trace", LOT).stdout
    assert "HGZ-500235-0001" in text and "张记鲜肉" in text and "87.5" in text
    back = chained("trace", LOT, "--back").stdout
    assert "where it came from" in back and "where it went" not in back
    forward = chained("trace", LOT, "--forward").stdout
    assert "where it went" in forward and "where it came from" not in forward
    window = chained.trace(LOT, "--since", "2026-11-21T23:30:00Z")  # = 07:30 +08:00
    assert [h["ship_event"] for h in window["upstream"]["path"]] == ["ship-2"]
    window = chained.trace(LOT, "--until", "2026-11-22T07:30:00+08:00")
    assert [h["ship_event"] for h in window["upstream"]["path"]] == ["ship-1"]


def test_recall_holds_stock_and_stops_sales(chained: Cli) -> None:
    out = chained("recall", LOT, "--reason", "抽检不合格: 瘦肉精", "--json").stdout
    assert json.loads(out) == {"lot": LOT, "reason": "抽检不合格: 瘦肉精",
                               "canteens_reached": [], "schools_reached": [], "holds": [
        {"location": "coldstore-1", "name": "重庆冷链物流", "type": "coldstore",
         "lots": [{"lot": LOT, "qty": "87.5", "unit": "kg"}], "already_held": False},
        {"location": "stall-a01", "name": "张记鲜肉", "type": "stall",
         "lots": [{"lot": LOT, "qty": "2.5", "unit": "kg"}], "already_held": False}],
        "in_transit": [], "recalled_lots": [LOT]}
    held = {p["location"]: p["held"] for p in chained.trace(LOT)["downstream"]["locations"]}
    assert held == {"coldstore-1": True, "farm-1.field": False, "stall-a01": True}
    size = chained.size()
    sale = ev("sale-2", "sale", "stall-a01", "stall-a01", inputs=[(LOT, "1")], receipt="R-2")
    result = chained("append", chained.jsonl([sale]), code=1)
    assert "line 1" in result.stderr and "inputs[0].lot" in result.stderr
    assert "is recalled" in result.stderr  # recalled everywhere, and held here
    assert chained.size() == size
    # A second recall: nothing left to hold; the table form names the places to visit.
    table = chained("recall", LOT, "--reason", "复查").stdout
    assert "2 place(s) to visit" in table  # still there, already held: listed, not re-held
    assert chained("verify").exit_code == 0


def test_drill_records_evidence_and_writes_a_report(chained: Cli) -> None:
    size = chained.size()
    folder = chained.tmp / "drill-report"
    out = chained("drill", LOT, "--out", str(folder)).stdout
    assert f"recorded as drill event at seq {size}" in out
    assert chained.size() == size + 1
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["downstream"] == EXPECTED_TRACE["downstream"]
    assert f"answer digest {summary['answer_digest']}" in out
    chained("drill", LOT, "--no-record", "--out", str(chained.tmp / "again"))
    assert chained.size() == size + 1


def test_recall_table_names_the_places_to_visit(chained: Cli) -> None:
    text = chained("recall", LOT, "--reason", "抽检不合格").stdout
    assert "2 place(s) to visit" in text
    assert "重庆冷链物流 (coldstore-1)" in text and "张记鲜肉 (stall-a01)" in text
    assert f"{LOT} 87.5 kg" in text and f"{LOT} 2.5 kg" in text


def test_rejected_rule_names_line_and_field_and_stores_nothing(chained: Cli) -> None:
    size, before = chained.size(), chained.trace(LOT)
    lines = [ev("ship-3", "ship", "carrier-1", "coldstore-1", inputs=[(LOT, "50")],
                to="market-1"),
             "",  # blank lines are skipped but counted
             ev("ship-4", "ship", "carrier-1", "coldstore-1", inputs=[(LOT, "40")],
                to="market-1")]  # 87.5 - 50 = 37.5 left
    result = chained("append", chained.jsonl(lines), code=1)
    assert "line 3" in result.stderr and "'ship-4'" in result.stderr
    assert "field 'inputs[0].qty'" in result.stderr and "mass balance" in result.stderr
    assert chained.size() == size and chained.trace(LOT) == before


def _bad_signature(run: Cli) -> dict[str, Any]:
    doc = ev("sale-x", "sale", "stall-a01", "stall-a01", inputs=[(LOT, "1")], receipt="R-X")
    return {**doc, "sig": {"key": run.key("stall-a01").key_id,
                           "value": base64.b64encode(bytes(64)).decode()}}


def _signed_by_other_key(run: Cli) -> dict[str, Any]:
    doc = ev("sale-y", "sale", "stall-a01", "stall-a01", inputs=[(LOT, "1")], receipt="R-Y")
    forged = sign_event(doc, SigningKey.generate())
    forged["sig"]["key"] = run.key("stall-a01").key_id
    return forged


GOOD_LINE = ev("sale-ok", "sale", "stall-a01", "stall-a01", inputs=[(LOT, "1")], receipt="R-OK")
BAD_LINES = [
    # name, second line, what the message must say besides "line 2"
    ("malformed JSON", lambda r: '{"id": "x", "kind": "sale",', "invalid JSON"),
    ("duplicate key", lambda r: '{"id": "a", "id": "b", "kind": "sale"}',
     "field 'id': duplicate object key 'id'"),
    ("float", lambda r: json.dumps({**GOOD_LINE, "id": "sale-f", "data": {
        "receipt": "R-F", "price": 12.5}}), "field 'data.price'"),
    ("unknown kind", lambda r: {**GOOD_LINE, "id": "tp-1", "kind": "teleport"},
     "field 'kind': unknown kind 'teleport'"),
    ("missing required data", lambda r: {**GOOD_LINE, "id": "sale-d", "data": {}},
     "field 'data.receipt'"),
    ("qty not a decimal string", lambda r: {**GOOD_LINE, "id": "sale-q",
                                            "inputs": [{"lot": LOT, "qty": "-1", "unit": "kg"}]},
     "field 'inputs[0].qty'"),
    ("actor without a local key", lambda r: {**GOOD_LINE, "id": "sale-k", "actor": "nobody"},
     "field 'sig': event is not signed"),
    ("bad signature bytes", _bad_signature, "field 'sig.value': signature does not verify"),
    ("signature by another key", _signed_by_other_key,
     "field 'sig.value': signature does not verify"),
]


def test_bad_line_rejects_the_whole_file(chained: Cli, subtests: Any) -> None:
    for name, make, says in BAD_LINES:
        with subtests.test(msg=name):
            size, before = chained.size(), chained.trace(LOT)
            result = chained("append", chained.jsonl([GOOD_LINE, make(chained)]), code=1)
            assert "line 2" in result.stderr, result.stderr
            assert says in result.stderr, result.stderr
            assert "Traceback" not in result.output
            assert chained.size() == size and chained.trace(LOT) == before
    # The good line alone is accepted: only the bad ones were at fault.
    size = chained.size()
    chained("append", chained.jsonl([GOOD_LINE]))
    assert chained.size() == size + 1
    assert chained("verify").exit_code == 0


def test_usage_errors_exit_2(run: Cli, tmp_path: Path) -> None:
    size = run.size()
    for args in (["trace"], ["recall", LOT], ["trace", LOT, "--bogus"], ["append"],
                 ["append", str(tmp_path / "missing.jsonl")], ["keys", "new", "someone"],
                 ["nonsense"]):
        result = run(*args, code=2)
        assert "Usage" in result.stderr or "Error" in result.stderr, args
    assert run.size() == size


def test_failed_lookups_exit_1(run: Cli) -> None:
    result = run("trace", "LOT-NONE", code=1)
    assert "unknown lot 'LOT-NONE'" in result.stderr
    result = run("trace", LOT, "--since", "yesterday", code=1)
    assert "since" in result.stderr


def test_alerts_list_the_days_work_as_json_and_as_a_table(chained: Cli) -> None:
    """The chain's pork was made by an origin, with no slaughter, and is on sale at
    stall-a01; market-1 published no rapid test on the 22nd."""
    early = json.loads(chained("alerts", "--json", "--at", "2026-11-22T00:30:00Z").stdout)
    assert early["now"] == "2026-11-22T08:30:00+08:00"  # the default zone: Asia/Shanghai
    assert [a["kind"] for a in early["alerts"]] == ["meat_without_slaughter"]
    assert early["alerts"][0]["lot"] == LOT and early["alerts"][0]["location"] == "stall-a01"
    later = json.loads(chained("alerts", "--json", "--at", "2026-11-22T09:00:00+08:00").stdout)
    assert [a["kind"] for a in later["alerts"]] == ["meat_without_slaughter",
                                                    "tests_not_published"]
    utc = json.loads(chained("alerts", "--json", "--tz", "+00:00",
                             "--at", "2026-11-22T09:00:00+08:00").stdout)
    assert [a["kind"] for a in utc["alerts"]] == ["meat_without_slaughter"]  # 01:00 UTC
    table = chained("alerts", "--at", "2026-11-22T09:00:00+08:00").stdout
    assert "2 (1 critical, 1 warning)" in table and "(market-1)" in table
    lines = table.splitlines()  # the place, the lot, then its evidence, one a line
    assert any(f"│ {LOT} " in line and "│ origin-1 " in after
               for line, after in pairwise(lines))
    assert "11-22 05:30" in table
    assert "not checked: past_shelf_life" in table


def test_alerts_refuse_a_bad_clock_or_zone(run: Cli) -> None:
    assert "expected an RFC 3339 time" in run("alerts", "--at", "9 am", code=1).stderr
    assert "unknown time zone 'Mars/Olympus'" in run("alerts", "--tz", "Mars/Olympus",
                                                     code=1).stderr

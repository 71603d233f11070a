"""A GB 2763 limits table is loaded by a signed ``limits`` event that carries its text
(docs/howto-limits.md): the operator or a regulator loads it, the whole table is checked first,
a version is loaded once, and lab results recorded afterwards are judged with it — through the
library, the CLI and the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW
from tests.helpers import Network
from tests.test_cli_supply import Cli
from tracelib.errors import ValidationError
from tracelib.keys import SigningKey
from tracelib.kinds.limits import MAX_TABLE_CHARS
from tracelib.limit_tables import active_table, load_table

HEADER = "pesticide_zh,pesticide_en,commodity_zh,commodity_en,mrl_mg_kg,edition,source\n"
TABLE = HEADER + "毒死蜱,chlorpyrifos,芹菜,celery,0.2,GB 2763-2026,EXAMPLE ROW\n"
REGULATOR = "amr-1"


def _add_regulator(net: Network) -> SigningKey:
    key = SigningKey.generate()
    net.keys[REGULATOR] = key
    net.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": REGULATOR, "name": "云阳县市场监督管理局", "role": "regulator"}],
        "locations": [{"id": f"{REGULATOR}.office", "name": "云阳县市场监督管理局",
                       "type": "office", "holder": REGULATOR}],
        "keys": [{"party": REGULATOR, "key_id": key.key_id, "public_key": key.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"}]}})
    return key


def _lab_result(net: Network, report: str) -> dict[str, Any]:
    """A lab result of 0.1 mg/kg 毒死蜱 on 芹菜: over the starter table's 0.05, within 0.2."""
    net.ledger.append([net.event("market-1", {
        "kind": "lab_test", "location": "stall-a01", "data": {
            "analyte": "毒死蜱", "commodity": "芹菜", "value": "0.1", "unit": "mg/kg",
            "lab": "云阳县检验检测中心", "report_no": report}})], now=NOW)
    with net.ledger.store.reader() as conn:
        row = conn.exec_driver_sql(
            "SELECT result, table_version FROM test_results ORDER BY seq DESC").first()
    assert row is not None
    return {"result": row[0], "table_version": row[1]}


def test_a_loaded_table_is_a_signed_record_that_judges_later_results(network: Network) -> None:
    ledger = network.ledger
    before = _lab_result(network, "R-1")
    assert before == {"result": "fail", "table_version": "starter-1"}
    loaded = load_table(ledger, TABLE, "GB2763-2026-city", key=network.operator_key, now=NOW)
    record = ledger.record(loaded.seq)
    assert (record.kind, record.actor) == ("limits", "operator")
    assert json.loads(record.body)["data"] == {"version": "GB2763-2026-city", "csv": TABLE}
    assert loaded.rows == 1 and len(loaded.sha256) == 64
    with ledger.store.reader() as conn:
        assert active_table(conn).version == "GB2763-2026-city"
    assert _lab_result(network, "R-2") == {"result": "pass", "table_version": "GB2763-2026-city"}
    assert ledger.verify(workers=1).ok


def test_a_regulator_may_load_a_table_and_a_farm_may_not(network: Network) -> None:
    ledger = network.ledger
    key = _add_regulator(network)
    loaded = load_table(ledger, TABLE, "amr-v1", key=key, actor=REGULATOR,
                        location=f"{REGULATOR}.office", now=NOW)
    assert ledger.record(loaded.seq).actor == REGULATOR
    size = ledger.size
    with pytest.raises(ValidationError) as refused:
        load_table(ledger, TABLE, "farm-v1", key=network.keys["farm-1"], actor="farm-1",
                   location="farm-1.field", now=NOW)
    assert refused.value.field == "actor"
    assert "only the operator or a regulator" in str(refused.value)
    with pytest.raises(ValidationError) as no_place:
        load_table(ledger, TABLE, "amr-v2", key=key, actor=REGULATOR, now=NOW)
    assert no_place.value.field == "location"
    assert ledger.size == size
    with ledger.store.reader() as conn:
        assert active_table(conn).version == "amr-v1"


@pytest.mark.parametrize(("text", "version", "field", "words"), [
    (HEADER + "毒死蜱,chlorpyrifos,芹菜,celery,abc,GB 2763-2026,x\n", "bad-row", "data.csv",
     "row 2"),
    (HEADER + "毒死蜱,chlorpyrifos,火星菜,mars,0.1,GB 2763-2026,x\n", "bad-commodity",
     "data.csv", "row 2"),
    (TABLE, "first", "data.version", "already loaded"),
])
def test_a_bad_table_or_a_reused_version_stores_nothing(network: Network, text: str,
                                                        version: str, field: str,
                                                        words: str) -> None:
    ledger = network.ledger
    load_table(ledger, TABLE, "first", key=network.operator_key, now=NOW)
    size = ledger.size
    # Signed by hand, so the ledger's own rules (not load_table's early check) refuse it.
    event = network.event("operator", {"kind": "limits", "location": "operator.office",
                                       "data": {"version": version, "csv": text}})
    with pytest.raises(ValidationError) as refused:
        ledger.append([event], now=NOW)
    assert refused.value.field == field and words in str(refused.value), refused.value
    assert ledger.size == size
    with ledger.store.reader() as conn:
        assert active_table(conn).version == "first"
    assert ledger.verify(workers=1).ok


def test_cli_loads_a_table_as_an_event(tmp_path: Path) -> None:
    run = Cli(tmp_path)
    run("init")
    path = tmp_path / "gb2763.csv"
    path.write_text("\ufeff" + TABLE, encoding="utf-8")  # a BOM, as Excel writes
    out = run("limits", "load", str(path), "--version", "GB2763-2026-city").stdout
    assert out.startswith("loaded limits table GB2763-2026-city at seq 1: 1 rows, sha256 ")
    assert "0.2 mg/kg" in run("limits", "show", "毒死蜱", "芹菜").stdout
    again = run("limits", "load", str(path), "--version", "GB2763-2026-city", code=1)
    assert "already loaded" in again.stderr
    assert run.size() == 2
    assert "verified" in run("verify").stdout.lower()


def test_a_table_text_past_its_limit_is_refused_naming_it(network: Network) -> None:
    """The API's body limit comes first there; the library takes any size up to the limit."""
    ledger = network.ledger
    size = ledger.size
    padding = "\n" * (MAX_TABLE_CHARS + 1 - len(TABLE))
    with pytest.raises(ValidationError) as refused:
        ledger.append([network.event("operator", {
            "kind": "limits", "location": "operator.office",
            "data": {"version": "too-long", "csv": TABLE + padding}})], now=NOW)
    assert refused.value.field == "data.csv"
    loaded = load_table(ledger, TABLE + padding[1:], "at-the-limit", key=network.operator_key,
                        now=NOW)
    assert loaded.rows == 1 and ledger.size == size + 1

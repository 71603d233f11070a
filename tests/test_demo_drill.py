"""The demo names a recall drill worth running: its lot still has stock on hand, so
`tracelib recall` on it lists places to visit and recalls lots (docs/contract.md "CLI
environment"; the recall holds stock wherever it remains)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from tracelib_cli.main import cli


def test_the_demo_names_a_drill_lot_with_stock_on_hand(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    keys = str(tmp_path / "keys")
    runner = CliRunner()
    made = runner.invoke(cli, ["--db", db, "--keystore", keys, "demo", "generate",
                               "--events", "3000", "--base-url", "http://127.0.0.1:8600"])
    assert made.exit_code == 0, made.output
    found = re.search(r"recall (\S+) --reason", made.output)
    assert found, made.output
    lot = found.group(1)
    stocked = re.search(r"(\d+) still have stock of it", made.output)
    assert stocked and int(stocked.group(1)) > 0, made.output
    assert "http://127.0.0.1:8600/l/" + lot in made.output
    printed = re.search(r"a receipt +http://127\.0\.0\.1:8600(/r/[A-Z2-7]{26})", made.output)
    assert printed, made.output
    from tracelib_service import create_app

    app = create_app({"DB": db, "KEYSTORE": keys})
    try:
        page = app.test_client().get(printed.group(1))
        assert page.status_code == 200 and "电子小票" in page.get_data(as_text=True)
    finally:
        app.extensions["tracelib"].close()

    recalled = runner.invoke(cli, ["--db", db, "--keystore", keys, "recall", lot,
                                   "--reason", "演练", "--json"])
    assert recalled.exit_code == 0, recalled.output


    answer = json.loads(recalled.output[recalled.output.index("{"):])
    assert answer["holds"], answer  # places to visit, not an empty table
    assert answer["recalled_lots"]
    stalls = [h for h in answer["holds"] if h["type"] == "stall"]
    assert len(stalls) == int(stocked.group(1))


def test_too_few_events_for_the_demo_is_a_usage_error_that_stores_nothing(
        tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "demo", "generate", "--events", "1000"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--events': 1000 events are too few" in result.output
    assert list(tmp_path.iterdir()) == []

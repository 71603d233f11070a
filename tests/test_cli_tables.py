"""The CLI's tables at 80 columns (a plain terminal, or output to a pipe): lot codes, ids
and times appear whole — folded or wrapped text never cuts them with an ellipsis."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from tracelib_cli.main import cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    folder = tmp_path_factory.mktemp("demo")
    where = ["--db", str(folder / "demo.db"), "--keystore", str(folder / "keys")]
    made = CliRunner().invoke(cli, [*where, "demo", "generate", "--events", "3000"])
    assert made.exit_code == 0, made.output
    found = re.search(r"recall (\S+) --reason", made.output)
    assert found, made.output
    return where, found.group(1)


def run80(args: list[str]) -> str:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(cli, args, terminal_width=80)
    assert result.exit_code == 0, result.output
    table_lines = [line for line in result.output.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(len(line) for line in table_lines) <= 80, result.output
    return result.output


def test_trace_tables_keep_lot_codes_and_times_whole(demo: tuple[list[str], str]) -> None:
    where, drill_lot = demo
    # a lot at the end of a chain: its trace has origins and several hops
    forward = json.loads(CliRunner().invoke(cli, [*where, "trace", drill_lot, "--json"]).output)
    lot = forward["downstream"]["lots"][-1]
    answer = json.loads(CliRunner().invoke(cli, [*where, "trace", lot, "--json"]).output)
    text = run80([*where, "trace", lot])
    assert "…" not in text, text
    up = answer["upstream"]
    codes = {lot, *(o["lot"] for o in up["origins"]), *(h["lot"] for h in up["path"])}
    places = {p for h in up["path"] for p in (h["from"], h["to"])}
    times = {h["time"] for h in up["path"]}
    assert len(codes) > 1 and times
    for whole in codes | places | times:
        assert whole in text, whole


def test_the_recall_table_keeps_lot_codes_whole(demo: tuple[list[str], str]) -> None:
    where, lot = demo
    text = run80([*where, "recall", lot, "--reason", "演练"])
    assert "…" not in text, text
    answer = json.loads(CliRunner().invoke(cli, [*where, "recall", lot, "--reason", "演练",
                                                 "--json"]).output)
    on_hold = {code for hold in answer["holds"] for code, _qty, _unit in hold["lots"]}
    assert on_hold
    for code in on_hold:
        assert code in text, code


def test_the_alerts_table_keeps_lot_codes_whole(demo: tuple[list[str], str]) -> None:
    where, _lot = demo
    doc = json.loads(CliRunner().invoke(cli, [*where, "alerts", "--json"]).output)
    text = run80([*where, "alerts"])
    assert "…" not in text, text
    lots = {a["lot"] for a in doc["alerts"] if a.get("lot")}
    # event ids up to 36 characters stay whole beside the alert's text; a longer one (a
    # recall's hold, 70 characters) is folded over lines, never cut
    events = {e for a in doc["alerts"] for e in a["evidence"]["events"] if len(e) <= 36}
    assert lots and events, doc
    for whole in lots | events:
        assert whole in text, whole

"""Official sampling on lab results, the ``plan`` kind, and the KPI report that counts only
official sampling (docs/contract.md "lab_test", "plan"; tracelib.views.kpi)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from tests.helpers import Network
from tests.test_testing import rapid, stock_at_stall
from tracelib.errors import ValidationError
from tracelib.keys import SigningKey
from tracelib.views.kpi import kpi

END_OF_YEAR = dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.UTC)
OFFICIAL = ("supervision", "evaluation", "monitoring")
PASS_VALUE, FAIL_VALUE = "0.01", "0.12"  # 毒死蜱 in 芹菜, GB 2763 limit 0.05 mg/kg


def with_regulator(net: Network) -> None:
    key = SigningKey.generate()
    net.keys["regulator-1"] = key
    net.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": "regulator-1", "name": "开州区市场监管局", "role": "regulator"}],
        "locations": [{"id": "regulator-1.office", "name": "办公室", "type": "office",
                       "holder": "regulator-1"}],
        "keys": [{"party": "regulator-1", "key_id": key.key_id,
                  "public_key": key.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"}]}})


def plan(net: Network, targets: list[dict[str, Any]], *, population: int = 20_000,
         year: int = 2026, time: str = "2026-01-10T09:00:00+08:00") -> dict[str, Any]:
    return net.event("regulator-1", {"kind": "plan", "location": "regulator-1.office",
                                     "time": time, "data": {"year": year,
                                                            "population": population,
                                                            "targets": targets}})


def lab(net: Network, value: str, *, time: str = "2026-03-02T10:00:00+08:00",
        **data: Any) -> dict[str, Any]:
    return net.event("market-1", {"kind": "lab_test", "location": "stall-a01", "time": time,
                                  "data": {"analyte": "毒死蜱", "commodity": "芹菜",
                                           "value": value, "unit": "mg/kg", "lab": "检测中心",
                                           "report_no": f"R-{time}", **data}})


def _per_1000(n: int, population: int) -> Decimal:
    return (Decimal(n) * 1000 / population).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def _percent(part: int, whole: int) -> Decimal:
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def test_kpi_of_a_generated_year_equals_an_independent_count(network: Network) -> None:
    """A year of rapid tests and lab results of every sampling type (and none), a plan, and
    two official failures on lots, one disposed of; every figure recomputed here from what
    was sent."""
    ledger = network.ledger
    with_regulator(network)
    stock_at_stall(network, "LOT-F-1")
    stock_at_stall(network, "LOT-F-2")
    rng = random.Random(17)
    targets = [{"sampling": "supervision", "category": "蔬菜", "stage": "circulation",
                "batches": 30},
               {"sampling": "evaluation", "batches": 40},
               {"sampling": "monitoring", "stage": "production", "batches": 10}]
    events = [plan(network, targets)]
    sent: list[dict[str, Any]] = []  # (sampling, category, stage, failed) of each lab result
    rapid_results: Counter[str] = Counter()
    for day in range(0, 360, 4):
        date = dt.date(2026, 1, 2) + dt.timedelta(day)
        for n in range(2):
            delta_at = rng.choice(("0.300", "0.452", "0.760", "0.760"))
            rapid_results[{"0.300": "positive", "0.452": "suspect",
                           "0.760": "negative"}[delta_at]] += 1
            events.append(rapid(network, None, delta_at,
                                time=f"{date.isoformat()}T0{6 + n}:00:00+08:00"))
        sampling = rng.choice((*OFFICIAL, "commissioned", "self", None))
        fields = {"sampling": sampling, "category": rng.choice(("蔬菜", "水果")),
                  "stage": rng.choice(("production", "circulation", "catering"))}
        fields = {k: v for k, v in fields.items() if v is not None}
        failed = rng.random() < 0.1
        sent.append({"sampling": sampling, "category": fields["category"],
                     "stage": fields["stage"], "failed": failed})
        events.append(lab(network, FAIL_VALUE if failed else PASS_VALUE,
                          time=f"{date.isoformat()}T10:00:00+08:00", **fields))
    for lot, sampling in (("LOT-F-1", "evaluation"), ("LOT-F-2", "supervision")):
        sent.append({"sampling": sampling, "category": "蔬菜", "stage": "circulation",
                     "failed": True, "lot": lot})
        events.append(lab(network, FAIL_VALUE, time="2026-12-20T10:00:00+08:00", lot=lot,
                          sampling=sampling, category="蔬菜", stage="circulation"))
    events.append(network.event("stall-a01", {
        "kind": "dispose", "location": "stall-a01", "time": "2026-12-21T10:00:00+08:00",
        "data": {"reason": "销毁 destroyed"},
        "inputs": [{"lot": "LOT-F-1", "qty": "50", "unit": "kg"}]}))
    ledger.append(events, now=END_OF_YEAR)

    figures = kpi(ledger, year=2026)  # the population from the plan
    population = 20_000
    official = [s for s in sent if s["sampling"] in OFFICIAL]
    evaluation = [s for s in official if s["sampling"] == "evaluation"]
    ev_failed = sum(s["failed"] for s in evaluation)
    official_failed = sum(s["failed"] for s in official)
    done = [sum(1 for s in official if s["sampling"] == t["sampling"]
                and t.get("category") in (None, s["category"])
                and t.get("stage") in (None, s["stage"])) for t in targets]
    expected = {
        "sampling_batches_per_1000": _per_1000(len(official), population),
        "residue_batches_per_1000": _per_1000(len(official), population),  # all residues
        "evaluation_pass_rate": _percent(len(evaluation) - ev_failed, len(evaluation)),
        "follow_up_rate": _percent(1, official_failed),  # only LOT-F-1 was disposed of
        "plan_completion": _percent(sum(min(d, t["batches"]) for d, t in zip(done, targets, strict=True)),
                                    sum(t["batches"] for t in targets)),
    }
    doc = figures.to_dict()
    assert doc["population"] == population
    assert {f["name"]: f["value"] for f in doc["figures"]} == {
        name: str(value) for name, value in expected.items()}
    for row in doc["figures"]:
        assert row["met"] == (Decimal(row["value"]) >= Decimal(row["target"]))
        assert "评价细则" in row["definition"]
    assert [r["done"] for r in doc["plan"]["targets"]] == done
    rapid_total = sum(rapid_results.values())
    assert {f["name"]: f["value"] for f in doc["rapid_figures"]} == {
        "rapid_tests": str(rapid_total),
        "rapid_positive_rate": str(_percent(rapid_results["positive"], rapid_total))}
    by_sampling = Counter(s["sampling"] or "unstated" for s in sent)
    assert {k: v for k, v in doc["counts"]["by_sampling"].items() if v} == dict(by_sampling)
    assert sum(d["tests"] for d in doc["daily"]) == len(evaluation)
    assert ledger.verify().ok  # the new columns replay identically


def test_rapid_tests_and_lab_results_without_official_sampling_count_in_no_figure(
        network: Network) -> None:
    """Results recorded before `sampling` existed (none stated), commissioned tests,
    self-tests and rapid tests: the official figures stay empty, the rapid ones apart."""
    ledger = network.ledger
    ledger.append([rapid(network, None, "0.300"), rapid(network, None, "0.760",
                                                        time="2026-11-22T08:00:00+08:00"),
                   lab(network, FAIL_VALUE),
                   lab(network, PASS_VALUE, time="2026-03-03T10:00:00+08:00",
                       sampling="commissioned"),
                   lab(network, PASS_VALUE, time="2026-03-04T10:00:00+08:00", sampling="self")],
                  now=END_OF_YEAR)
    figures = kpi(ledger, population=1000, year=2026)
    values = {f["name"]: f["value"] for f in figures.figures()}
    assert values == {"sampling_batches_per_1000": "0.00", "residue_batches_per_1000": "0.00",
                      "evaluation_pass_rate": None, "follow_up_rate": None}
    assert {f["name"]: f["value"] for f in figures.rapid_figures()} == {
        "rapid_tests": "2", "rapid_positive_rate": "50.00"}
    assert figures.by_sampling["unstated"] == 1 and figures.batches == 0


def test_a_later_plan_for_the_year_replaces_the_earlier(network: Network) -> None:
    ledger = network.ledger
    with_regulator(network)
    ledger.append([plan(network, [{"sampling": "evaluation", "batches": 2}], population=5000),
                   lab(network, PASS_VALUE, sampling="evaluation")], now=END_OF_YEAR)
    assert kpi(ledger, year=2026).plan_completion == Decimal("50.00")
    ledger.append([plan(network, [{"sampling": "evaluation", "batches": 1}], population=8000,
                        time="2026-06-01T09:00:00+08:00")], now=END_OF_YEAR)
    figures = kpi(ledger, year=2026)
    assert (figures.population, figures.plan_completion) == (8000, Decimal("100.00"))
    assert kpi(ledger, year=2026, population=1000).population == 1000  # given: it wins
    with pytest.raises(ValidationError, match="no plan for 2027") as raised:
        kpi(ledger, year=2027)
    assert raised.value.field == "population"


@pytest.mark.parametrize(("targets", "field"), [
    ([], "data.targets"),
    ([{"sampling": "self", "batches": 5}], "data.targets[0].sampling"),
    ([{"sampling": "evaluation", "batches": 0}], "data.targets[0].batches"),
    ([{"sampling": "evaluation", "stage": "retail", "batches": 5}], "data.targets[0].stage"),
    ([{"sampling": "evaluation", "category": "蔬菜", "batches": 5},
      {"sampling": "evaluation", "category": "蔬菜", "batches": 9}], "data.targets[1]"),
])
def test_bad_plans_name_the_field_and_store_nothing(network: Network,
                                                    targets: list[dict[str, Any]],
                                                    field: str) -> None:
    ledger = network.ledger
    with_regulator(network)
    size = ledger.size
    with pytest.raises(ValidationError) as raised:
        ledger.append([plan(network, targets)], now=END_OF_YEAR)
    assert raised.value.field == field, raised.value
    assert ledger.size == size


def test_a_lab_result_with_an_unknown_sampling_type_is_refused(network: Network) -> None:
    ledger = network.ledger
    size = ledger.size
    with pytest.raises(ValidationError) as raised:
        ledger.append([lab(network, PASS_VALUE, sampling="rapid")], now=END_OF_YEAR)
    assert raised.value.field == "data.sampling" and ledger.size == size


def test_report_kpi_json_names_the_figures(network: Network, tmp_path: Any) -> None:
    from click.testing import CliRunner

    from tracelib_cli.main import cli

    with_regulator(network)
    network.ledger.append([plan(network, [{"sampling": "evaluation", "batches": 1}]),
                           lab(network, PASS_VALUE, sampling="evaluation")], now=END_OF_YEAR)
    url = str(network.ledger.store.engine.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(cli, ["--db", url, "report", "kpi", "--year", "2026", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [f["name"] for f in doc["figures"]] == [
        "sampling_batches_per_1000", "residue_batches_per_1000", "evaluation_pass_rate",
        "follow_up_rate", "plan_completion"]
    assert [f["name"] for f in doc["rapid_figures"]] == ["rapid_tests", "rapid_positive_rate"]


def test_the_year_is_read_in_index_order_with_no_sort(sqlite_url: str,
                                                       operator_key: SigningKey) -> None:
    """SQLite reads the year's figures from their covering index and aggregates as it goes:
    no temporary B-tree (a sort of every test of the year) in the plan."""
    from sqlalchemy import event

    from tracelib.ledger import Ledger
    from tracelib.store.states import FollowUp
    from tracelib.store.tests import TestsSql

    ledger = Ledger.create(sqlite_url, operator_key=operator_key, operator="operator",
                           operator_name="运营方", now=END_OF_YEAR)
    try:
        seen: list[tuple[str, Any]] = []
        engine = ledger.store.engine

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                    executemany: bool) -> None:
            if "GROUP BY" in statement:
                seen.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            with ledger.store.reader() as conn:
                TestsSql.year_counts(conn, 2026, closed=FollowUp.CLOSED)
                statement, parameters = seen[-1]
                plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                            parameters).all()
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        details = " ".join(str(row[-1]) for row in plan)
        assert "COVERING INDEX ix_test_results_day_figures" in details, details
        assert "TEMP B-TREE" not in details, details
    finally:
        ledger.close()

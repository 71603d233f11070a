"""A generated city year (tracelib_demo.city): appended to a fresh ledger, its KPI report —
through the library and through `tracelib report kpi --json` — equals the figures counted
from the generator's ground truth, every one; a drill on a lot that reached the school names
it, in the CLI's output and the report folder."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracelib.ledger import Ledger
from tracelib.views.kpi import kpi
from tracelib_cli.main import cli
from tracelib_demo import GeneratedNetwork, NetworkSpec, generate
from tracelib_demo.city import CityYear, GeneratedCity, generate_city

SPEC = NetworkSpec(seed=11, events=1_500, farms=8, markets=1, stalls_per_market=12, days=3,
                   start=date(2026, 11, 16))
CITY = CityYear(year=2026, population=25_000, samples=140, fail_rate=0.08, rapid_tests=60,
                inspections=15)


@dataclass
class CityLedger:
    net: GeneratedNetwork
    city: GeneratedCity
    ledger: Ledger
    url: str


@pytest.fixture(scope="module")
def city_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CityLedger]:
    net = generate(SPEC)
    events = list(net.events())
    city = generate_city(net, CITY)
    city_events = list(city.events())
    url = f"sqlite:///{tmp_path_factory.mktemp('city') / 'ledger.db'}"
    ledger = Ledger.create(url, operator_key=net.operator_key, operator=SPEC.operator,
                           operator_name="云阳县市场监督管理局", now=net.end)
    ledger.append(events, now=net.end)
    ledger.append(city_events, now=city.end)
    yield CityLedger(net, city, ledger, url)
    ledger.close()


def test_the_city_year_has_everything_the_evaluation_counts(city_ledger: CityLedger) -> None:
    """Every sampling type at every stage, failures with and without follow-up, all three
    inspection results, rectifications closed and open, rapid tests of every outcome."""
    truth = city_ledger.city.truth
    assert {s.sampling for s in truth.samples} == {"supervision", "evaluation", "monitoring",
                                                   "commissioned", "self"}
    assert {s.stage for s in truth.samples} == {"production", "circulation", "catering"}
    assert {s.business_type for s in truth.samples} >= {"学校食堂", "超市", "农贸市场"}
    failed = [s for s in truth.official() if s.failed]
    assert any(s.disposed for s in failed) and any(not s.disposed for s in failed)
    assert {i.result for i in truth.inspections} == {"compliant", "basically_compliant",
                                                     "non_compliant"}
    assert {i.rectification for i in truth.inspections} >= {None, "closed", "open"}
    assert all(truth.rapid[k] > 0 for k in ("negative", "suspect", "positive"))
    assert truth.targets and truth.plan_event
    kinds = city_ledger.net.truth.kinds()
    for kind in ("plan", "lab_test", "rapid_test", "inspection", "rectification", "dispose"):
        assert kinds.get(kind, 0) > 0, kind
    assert kinds["entry"] == len(truth.entries) > 0 and kinds["reject"] == len(truth.rejects) > 0
    assert city_ledger.ledger.verify().ok


def test_kpi_equals_the_figures_counted_from_the_ground_truth(city_ledger: CityLedger) -> None:
    truth = city_ledger.city.truth
    expected = truth.figures()
    doc = kpi(city_ledger.ledger, year=2026).to_dict()  # the population from the plan
    assert doc["population"] == CITY.population
    assert {f["name"]: f["value"] for f in doc["figures"] + doc["rapid_figures"]} == expected
    assert doc["plan"]["event"] == truth.plan_event
    assert [r["done"] for r in doc["plan"]["targets"]] == [truth.done(t) for t in truth.targets]
    by_sampling = Counter(s.sampling for s in truth.samples)
    assert {k: v for k, v in doc["counts"]["by_sampling"].items() if v} == dict(by_sampling)
    assert doc["counts"]["official_failed"] == sum(s.failed for s in truth.official())


def test_report_kpi_json_through_the_cli_equals_the_ground_truth(
        city_ledger: CityLedger) -> None:
    result = CliRunner().invoke(cli, ["--db", city_ledger.url, "report", "kpi", "--year",
                                      "2026", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {f["name"]: f["value"] for f in doc["figures"] + doc["rapid_figures"]} == \
        city_ledger.city.truth.figures()


def test_the_ground_truth_is_not_the_ledger_it_is_checked_against(
        city_ledger: CityLedger) -> None:
    """The truth's figures move with what was generated: one more evaluation failure in the
    records changes the pass rate the truth expects, so the equality above can fail."""
    truth = city_ledger.city.truth
    before = truth.figures()["evaluation_pass_rate"]
    index = next(i for i, s in enumerate(truth.samples)
                 if s.sampling == "evaluation" and not s.failed)
    sample = truth.samples[index]
    try:
        truth.samples[index] = type(sample)(**{**sample.__dict__, "failed": True})
        assert truth.figures()["evaluation_pass_rate"] != before
    finally:
        truth.samples[index] = sample


def test_a_drill_on_a_lot_that_reached_the_school_names_it(city_ledger: CityLedger,
                                                           tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    truth = city_ledger.city.truth
    assert truth.school in truth.delivered[truth.school_lot]
    origin = truth.school_origins[0]
    folder = tmp_path / "drill"
    result = CliRunner().invoke(cli, ["--db", city_ledger.url, "drill", origin, "--no-record",
                                      "--out", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"school reached: {truth.school_name} ({truth.school})" in result.output
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert {"location": truth.school, "name": truth.school_name, "school": True} in \
        summary["schools_reached"]
    assert [c["location"] for c in summary["schools_reached"]] == [truth.school]
    from openpyxl import load_workbook

    sheet = dict(load_workbook(folder / "ctes.xlsx")["Summary"].iter_rows(min_row=2,
                                                                         values_only=True))
    assert sheet["到达的学校食堂 Schools reached"] == f"{truth.school_name} ({truth.school})"
    assert truth.school_name in sheet["到达的食堂 Canteens reached"]


def test_a_lot_that_never_reached_the_school_names_no_school(city_ledger: CityLedger,
                                                             tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    net = city_ledger.net.truth
    truth = city_ledger.city.truth
    other = next(lot for lot in net.lots() if net.origins(lot) == {lot}
                 and lot not in truth.school_origins
                 and not any(truth.school in places for d, places in truth.delivered.items()
                             if lot in net.origins(d)))
    result = CliRunner().invoke(cli, ["--db", city_ledger.url, "drill", other, "--no-record",
                                      "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "school reached:" not in result.output
    assert "of them schools 0" in result.output
    from openpyxl import load_workbook

    sheet = dict(load_workbook(tmp_path / "d" / "ctes.xlsx")["Summary"].iter_rows(
        min_row=2, values_only=True))
    assert sheet["到达的学校食堂 Schools reached"] == "—"


def test_entries_follow_the_voucher_rules() -> None:
    """The city year's goods entering from outside the ledger: meat with both its
    certificates, at a market's stall at least one voucher, refusals with a reason; none
    with ``entries=False``."""
    net = generate(SPEC, sign=False)
    for _ in net.events():
        pass
    city = generate_city(net, CityYear(year=2026, population=25_000, samples=40,
                                       rapid_tests=5, inspections=5))
    events = list(city.events())
    entries = [e for e in events if e["kind"] == "entry"]
    rejects = [e for e in events if e["kind"] == "reject"]
    assert len(entries) == len(city.truth.entries) > 0
    assert len(rejects) == len(city.truth.rejects) > 0
    categories = {"meat", "aquatic", "vegetable", "fruit", "egg", "grain", "other"}
    for e in entries:
        data = e["data"]
        types = [v["type"] for v in data["vouchers"]]
        assert data["category"] in categories
        if data["category"] == "meat":
            assert {"动物检疫合格证明", "肉品品质检验合格证"} <= set(types)
        if e["location"].startswith(("stall-", "market-")):
            assert types
        assert e["actor"] == next(s.holder for s in (*net.locations, *city.sites)
                                  if s.id == e["location"])
        assert next(o["lot"] for o in e["outputs"]).startswith("ENT-")
        assert "file" not in json.dumps(data)
    assert any(e["location"].startswith("stall-") for e in entries)
    assert all(r["data"]["reason"] and r["data"]["vouchers"] == [] for r in rejects)
    for _ in net.events():  # a new walk of the network for another city year over it
        pass
    assert "entry" not in {e["kind"] for e in generate_city(net, CityYear(
        year=2026, population=25_000, samples=40, entries=False)).events()}


def test_a_city_year_needs_a_fresh_walk_of_its_network() -> None:
    net = generate(SPEC, sign=False)
    city = generate_city(net, CityYear(year=2026, population=25_000, samples=40))
    with pytest.raises(ValueError, match="walk the network's events first"):
        next(city.events())
    for _ in net.events():
        pass
    assert sum(1 for _ in city.events()) > 40
    with pytest.raises(ValueError, match="walk the network's events again"):
        next(city.events())
    with pytest.raises(ValueError, match="not in 2025"):
        generate_city(net, CityYear(year=2025))

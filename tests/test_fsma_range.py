"""The FSMA 204 sortable spreadsheet for a date range (21 CFR 1.1455(c)(3)(ii)), over a
generated network: its rows equal those computed independently from the generator's events
(the kinds with a critical tracking event, event times in [since, until)); ``--product``
narrows them; locations are described from master data; the CLI writes both files and
refuses bad ranges, naming the field."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tracelib.errors import ValidationError
from tracelib.events import sign_event
from tracelib.kinds import KINDS
from tracelib.ledger import Ledger
from tracelib.recalls import fsma_range, parse_range_bound
from tracelib.report import FSMA_RANGE_HEADERS, HEADERS
from tracelib.timeutil import CHINA, parse_rfc3339
from tracelib_cli.main import cli
from tracelib_demo import NetworkSpec, generate

SPEC = NetworkSpec(seed=11, events=3000, farms=8, markets=2, stalls_per_market=12, days=3)
# docs/contract.md, the kinds' FSMA 204 critical tracking events (21 CFR 1.1325-1.1350)
CTE = {"origin": "harvesting/initial packing", "entry": "receiving", "peer_entry": "receiving",
       "receive": "receiving",
       "ship": "shipping", "return": "shipping", "slaughter": "transformation",
       "transform": "transformation"}
PHONE = "023-55123456"
DAY2 = ("2026-11-17", "2026-11-18")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ledger, list[dict[str, Any]], str]:
    net = generate(SPEC)
    db = tmp_path_factory.mktemp("fsma") / "ledger.db"
    ledger = Ledger.create(f"sqlite:///{db}", operator_key=net.operator_key,
                           operator=SPEC.operator, now=net.end)
    events = list(net.events())
    ledger.append(events, now=net.end)
    # The wholesale market registers its telephone (master data, a register event).
    site = next(s for s in net.locations if s.id == "wholesale-yy01")
    register = {"id": "reg-phone", "kind": "register", "time": net.end.isoformat(),
                "actor": SPEC.operator, "location": net.office,
                "data": {"locations": [{**site.to_register(), "phone": PHONE}]}}
    ledger.append([sign_event(register, net.operator_key)], now=net.end)
    return ledger, events, str(db)


def _expected(events: list[dict[str, Any]], since: datetime, until: datetime,
              product: str | None = None) -> list[tuple[str, str, str, Decimal, str, str]]:
    """(event id, CTE, lot, quantity, unit, product) of every lot of every event of a kind
    with a CTE whose time is in [since, until), from the generator's events alone."""
    made: dict[str, str] = {}
    for doc in events:
        for item in doc.get("outputs", []):
            made[item["lot"]] = doc["data"]["product"]
    rows = []
    for doc in events:
        if doc["kind"] not in CTE or not since <= parse_rfc3339(doc["time"]) < until:
            continue
        for role in ("outputs", "inputs"):
            for item in doc.get(role, []):
                if product is None or made[item["lot"]] == product:
                    rows.append((doc["id"], CTE[doc["kind"]], item["lot"], Decimal(item["qty"]),
                                 item["unit"], made[item["lot"]]))
    return sorted(rows)


def _got(report: Any) -> list[tuple[str, str, str, Decimal, str, str]]:
    return sorted((c.event_id, c.cte, c.traceability_lot_code, c.quantity, c.unit, c.product)
                  for c in report.ctes)


def _day(text: str, name: str) -> datetime:
    return parse_range_bound(text, field=name)


def test_the_kinds_with_a_cte_are_those_of_the_contract() -> None:
    assert {name: spec.cte for name, spec in KINDS.items() if spec.cte} == CTE


def test_rows_in_a_range_equal_the_generators_events(built: Any) -> None:
    ledger, events, _db = built
    since, until = _day(DAY2[0], "since"), _day(DAY2[1], "until")
    report = fsma_range(ledger, since=since, until=until)
    expected = _expected(events, since, until)
    assert len(expected) > 50
    assert _got(report) == expected
    # sorted as the drill sorts: by instant, then event id
    rows = report.sorted_ctes()
    assert [(r.moment, r.event_id) for r in rows] == sorted((r.moment, r.event_id) for r in rows)
    # a sale (no CTE) in range is left out; the whole ledger has more rows than one day
    assert any(e["kind"] == "sale" and since <= parse_rfc3339(e["time"]) < until for e in events)
    assert all(r.kind in CTE for r in report.ctes)
    whole = fsma_range(ledger, since=_day("2026-11-16", "since"), until=_day("2026-11-19", "until"))
    assert len(whole.ctes) > len(report.ctes)
    # ship rows go from the event's location to data.to
    ships = {e["id"]: e for e in events if e["kind"] == "ship"}
    for row in report.ctes:
        if row.event_id in ships:
            assert (row.from_location, row.to_location) == (ships[row.event_id]["location"],
                                                            ships[row.event_id]["data"]["to"])


def test_since_is_inclusive_and_until_exclusive(built: Any) -> None:
    ledger, events, _db = built
    moment = parse_rfc3339(next(e["time"] for e in events if e["kind"] == "ship"))
    at = fsma_range(ledger, since=moment, until=moment + timedelta(microseconds=1))
    assert at.ctes and {c.moment for c in at.ctes} == {moment}
    assert _got(at) == _expected(events, moment, moment + timedelta(microseconds=1))
    before = fsma_range(ledger, since=moment - timedelta(seconds=1), until=moment)
    assert moment not in {c.moment for c in before.ctes}


def test_product_narrows_to_its_lots(built: Any) -> None:
    ledger, events, _db = built
    since, until = _day(DAY2[0], "since"), _day(DAY2[1], "until")
    everything = fsma_range(ledger, since=since, until=until)
    product = sorted({c.product for c in everything.ctes})[0]
    narrowed = fsma_range(ledger, since=since, until=until, product=product)
    assert narrowed.ctes and {c.product for c in narrowed.ctes} == {product}
    assert len(narrowed.ctes) < len(everything.ctes)
    assert _got(narrowed) == _expected(events, since, until, product)


def test_locations_are_described_from_master_data(built: Any) -> None:
    ledger, _events, _db = built
    report = fsma_range(ledger, since=_day(DAY2[0], "since"), until=_day(DAY2[1], "until"))
    market = report.location("wholesale-yy01")
    assert market.phone == PHONE and market.type == "wholesale_market"
    assert market.address.startswith("重庆市云阳县") and market.holder
    farm = next(report.location(c.from_location) for c in report.ctes if c.kind == "ship"
                and report.location(c.from_location).type == "farm")
    assert farm.address and farm.phone == ""  # no phone registered: an empty cell
    consumer = report.location("consumer")
    assert (consumer.name, consumer.address) == ("consumer", "")


def test_refused_ranges_and_products_name_the_field(built: Any) -> None:
    ledger, _events, _db = built
    day = _day(DAY2[0], "since")
    for since, until in ((day, day), (day + timedelta(days=1), day)):
        with pytest.raises(ValidationError) as e:
            fsma_range(ledger, since=since, until=until)
        assert e.value.field == "until"
    with pytest.raises(ValidationError) as e:
        fsma_range(ledger, since=day.replace(tzinfo=None), until=day + timedelta(days=1))
    assert e.value.field == "since"
    with pytest.raises(ValidationError) as e:
        fsma_range(ledger, since=day, until=day + timedelta(days=1), product="不存在的产品")
    assert e.value.field == "product" and "不存在的产品" in str(e.value)
    for bad in ("2026-13-01", "yesterday", "2026-11-17T06:00:00"):
        with pytest.raises(ValidationError) as e:
            parse_range_bound(bad, field="since")
        assert e.value.field == "since"
    assert parse_range_bound("2026-11-17", field="since") == datetime(2026, 11, 17, tzinfo=CHINA)
    assert parse_range_bound("2026-11-17T01:00:00Z", field="since") == parse_rfc3339(
        "2026-11-17T09:00:00+08:00")


def test_an_empty_range_is_an_answer(built: Any) -> None:
    ledger, _events, _db = built
    report = fsma_range(ledger, since=_day("2025-01-01", "since"), until=_day("2025-01-02", "until"))
    assert report.ctes == () and report.locations == {}


def _run(db: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", f"sqlite:///{db}", "report", "fsma", *args])


def test_cli_writes_both_files(built: Any, tmp_path: Path) -> None:
    _ledger, events, db = built
    since, until = _day(DAY2[0], "since"), _day(DAY2[1], "until")
    result = _run(db, "--since", DAY2[0], "--until", DAY2[1], "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    count = len(_expected(events, since, until))
    assert f"{count} critical tracking events in range" in result.output
    with (tmp_path / "r" / "ctes.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == FSMA_RANGE_HEADERS and rows[0][:len(HEADERS)] == list(HEADERS)
    assert len(rows) == count + 1
    phone = FSMA_RANGE_HEADERS.index("Ship-to Location Description: Phone (接收地电话)")
    assert PHONE in {row[phone] for row in rows[1:]}
    import openpyxl

    book = openpyxl.load_workbook(tmp_path / "r" / "ctes.xlsx")
    assert book.sheetnames == ["CTEs", "Summary", "Locations"]
    assert book["CTEs"].max_row == count + 1
    facts = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert facts["事件 CTE rows"] == count
    assert facts["自 Since (event time, inclusive)"] == "2026-11-17T00:00:00+08:00"
    assert facts["产品 Product"] == "all (全部)"
    located = {row[0]: row for row in book["Locations"].iter_rows(min_row=2, values_only=True)}
    assert located["wholesale-yy01"][4] == PHONE
    only_csv = _run(db, "--since", DAY2[0], "--until", DAY2[1], "--format", "csv",
                    "--out", str(tmp_path / "c"))
    assert only_csv.exit_code == 0, only_csv.output
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["ctes.csv"]


def test_cli_errors_and_the_empty_answer(built: Any, tmp_path: Path) -> None:
    _ledger, _events, db = built
    same = _run(db, "--since", "2026-11-17", "--until", "2026-11-17")
    assert same.exit_code != 0 and "must be before" in same.output
    bad = _run(db, "--since", "2026-11-31", "--until", "2026-12-01")
    assert bad.exit_code != 0 and "since" in bad.output and "2026-11-31" in bad.output
    unknown = _run(db, "--since", "2026-11-17", "--until", "2026-11-18", "--product", "榴莲王")
    assert unknown.exit_code != 0 and "榴莲王" in unknown.output
    assert not list(tmp_path.iterdir())
    empty = _run(db, "--since", "2025-01-01", "--until", "2025-01-02", "--out",
                 str(tmp_path / "e"), "--format", "csv")
    assert empty.exit_code == 0, empty.output
    assert "0 critical tracking events in range" in empty.output
    with (tmp_path / "e" / "ctes.csv").open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle)) == [list(FSMA_RANGE_HEADERS)]


def test_windows_do_not_change_the_answer(built: Any) -> None:
    ledger, _events, _db = built
    since, until = _day(DAY2[0], "since"), _day(DAY2[1], "until")
    seen: list[int] = []
    small = fsma_range(ledger, since=since, until=until, window=7, progress=seen.append)
    assert small.sorted_ctes() == fsma_range(ledger, since=since, until=until).sorted_ctes()
    assert sum(seen) == ledger.size and max(seen) == 7


def test_a_phone_is_registered_within_its_limit(built: Any) -> None:
    ledger, _events, _db = built
    net = generate(SPEC)
    site = next(s for s in net.locations if s.id == "wholesale-yy01")
    for suffix, phone in (("long", "1" * 51), ("empty", "")):
        register = {"id": f"reg-phone-{suffix}", "kind": "register",
                    "time": net.end.isoformat(), "actor": SPEC.operator,
                    "location": net.office,
                    "data": {"locations": [{**site.to_register(), "phone": phone}]}}
        with pytest.raises(ValidationError) as e:
            ledger.append([sign_event(register, net.operator_key)], now=net.end)
        assert e.value.field is not None and e.value.field.endswith("locations[0].phone")


def test_location_descriptions_are_neutralized(tmp_path: Path) -> None:
    from tracelib.report import (
        CriticalTrackingEvent,
        FsmaRangeReport,
        LocationDescription,
        write_range_csv,
    )

    cte = CriticalTrackingEvent(
        event_id="sh-1", kind="ship", cte="shipping", traceability_lot_code="L1",
        quantity=Decimal("2.5"), unit="kg", product="豇豆", from_location="a",
        from_location_name="A", to_location="b", to_location_name="B",
        date="2026-11-17T06:00:00+08:00", tlc_source="a", tlc_source_name="A",
        reference_document_type="ship event", reference_document_number="sh-1")
    report = FsmaRangeReport(
        since="2026-11-17T00:00:00+08:00", until="2026-11-18T00:00:00+08:00", product=None,
        generated_at="2026-11-18T00:00:00Z", ctes=(cte,),
        locations={"a": LocationDescription("a", "A", "farm", "=HYPERLINK(\"x\")", "+86 23",
                                            "张三")})
    assert write_range_csv(tmp_path / "c.csv", report) == 1
    with (tmp_path / "c.csv").open(encoding="utf-8-sig", newline="") as handle:
        row = list(csv.reader(handle))[1]
    cells = dict(zip(FSMA_RANGE_HEADERS, row, strict=True))
    assert cells["Ship-from Location Description: Address (发出地地址)"] == "'=HYPERLINK(\"x\")"
    assert cells["Ship-from Location Description: Phone (发出地电话)"] == "'+86 23"
    assert cells["Ship-from Location Holder (发出地经营者)"] == "张三"
    assert cells["Ship-to Location Description: Address (接收地地址)"] == ""  # not registered
    assert cells["Quantity (数量)"] == "2.5"
    with pytest.raises(ValidationError) as e:
        FsmaRangeReport(since=report.until, until=report.since, product=None,
                        generated_at="x", ctes=())
    assert e.value.field == "FsmaRangeReport.until"
    with pytest.raises(ValidationError) as e:
        FsmaRangeReport(since=report.since, until=report.until, product=None, generated_at="x",
                        locations={"b": LocationDescription("a", "A")})
    assert e.value.field == "FsmaRangeReport.locations"


@pytest.mark.postgres
def test_the_same_sheet_on_postgresql(built: Any, pg_url: str) -> None:
    ledger, events, _db = built
    net = generate(SPEC)
    pg = Ledger.create(pg_url, operator_key=net.operator_key, operator=SPEC.operator,
                       now=net.end)
    try:
        pg.append(events, now=net.end)
        since, until = _day(DAY2[0], "since"), _day(DAY2[1], "until")
        on_pg = fsma_range(pg, since=since, until=until, window=500)
        on_sqlite = fsma_range(ledger, since=since, until=until)
        assert on_pg.sorted_ctes() == on_sqlite.sorted_ctes()
        # the same master data, but for the telephone the SQLite ledger registered later
        unchanged = set(on_sqlite.locations) - {"wholesale-yy01"}
        assert len(unchanged) > 10 and set(on_pg.locations) == set(on_sqlite.locations)
        assert all(on_pg.locations[k] == on_sqlite.locations[k] for k in unchanged)
    finally:
        pg.close()


def test_a_range_longer_than_a_sheet_is_refused_before_any_file(
        built: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracelib.report import sheets

    _ledger, _events, db = built
    monkeypatch.setattr(sheets, "XLSX_MAX_ROWS", 5)
    long = _run(db, "--since", DAY2[0], "--until", DAY2[1], "--out", str(tmp_path / "x"))
    assert long.exit_code != 0 and "more than an Excel sheet holds (5)" in long.output
    assert not list((tmp_path / "x").iterdir())
    as_csv = _run(db, "--since", DAY2[0], "--until", DAY2[1], "--out", str(tmp_path / "x"),
                  "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    short = _run(db, "--since", "2026-11-17T06:00:00+08:00", "--until",
                 "2026-11-17T06:00:00.000001+08:00", "--out", str(tmp_path / "y"))
    assert short.exit_code == 0, short.output
    assert (tmp_path / "y" / "ctes.xlsx").exists()

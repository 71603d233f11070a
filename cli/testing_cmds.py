"""Testing commands: record rapid tests and lab results, import a test room's CSV,
manage GB 2763 limits tables, and the regulator's KPI report."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from tracelib.errors import ValidationError
from tracelib.events import sign_event
from tracelib.ledger import Ledger
from tracelib.limit_tables import explain, load_table
from tracelib.recalls import fsma_range, parse_range_bound
from tracelib.report import write_range_csv, write_range_xlsx
from tracelib.report.kpi_chart import write_pass_rate_chart
from tracelib.timeutil import parse_rfc3339, utcnow
from tracelib.views.kpi import DEFINITIONS
from tracelib.views.kpi import kpi as compute_kpi

from .context import Env
from .extras import require
from .ledger_cmds import out, pass_env, print_json, progress_bar
from .tables import folding_table

CHINA = timezone(timedelta(hours=8))


# -- limits ---------------------------------------------------------------------------
@click.group()
def limits() -> None:
    """GB 2763 limits tables: load the authoritative table, explain a lookup."""


@limits.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--version", "version", required=True, help="Name of this table version, "
                                                          "e.g. GB2763-2026-official.")
@click.option("--as", "actor", help="Party that signs the `limits` event: a regulator with a "
                                    "key in the local keystore [default: the operator].")
@click.option("--location", help="Location the party signs at (one it holds) "
                                 "[default: the operator's office].")
@pass_env
def limits_load(env: Env, file: str, version: str, actor: str | None,
                location: str | None) -> None:
    """Load FILE.csv (columns pesticide_zh, commodity_zh, mrl_mg_kg, …) as the active table,
    by appending a signed `limits` event that carries it."""
    text = Path(file).read_text(encoding="utf-8-sig")
    with env.open() as ledger:
        signer = actor or ledger.operator
        loaded = load_table(ledger, text, version, key=ledger.signing_key(env.keystore, signer),
                            actor=signer, location=location)
    click.echo(f"loaded limits table {loaded.version} at seq {loaded.seq}: {loaded.rows} rows, "
               f"sha256 {loaded.sha256}; lab results are now judged with it")


@limits.command("show")
@click.argument("pesticide")
@click.argument("commodity", required=False)
@click.option("--on", "on", help="Test date (YYYY-MM-DD) [default: today].")
@pass_env
def limits_show(env: Env, pesticide: str, commodity: str | None, on: str | None) -> None:
    """Explain which limit applies to PESTICIDE on COMMODITY and why."""
    day = date.fromisoformat(on) if on else utcnow().astimezone(CHINA).date()
    with env.open() as ledger:
        if commodity is None:
            raise click.UsageError("give a COMMODITY, e.g. `tracelib limits show 毒死蜱 芹菜`")
        decision = explain(ledger, pesticide, commodity, day)
    click.echo(decision.explanation)
    if decision.banned is not None:
        click.echo("banned on this date: any detection fails")


# -- recording tests --------------------------------------------------------------------
@click.group("test")
def test_group() -> None:
    """Record rapid tests and lab results."""


def _default_actor(ledger: Ledger, stall: str) -> str:
    """The market's test room signs by default: the holder of the stall's market."""
    place = ledger.location(stall)
    if place is None or place.type != "stall":
        raise ValidationError(f"{stall!r} is not a registered stall", field="stall")
    market = ledger.location(place.parent) if place.parent else None
    holder = (market.holder if market else None) or place.holder
    if holder is None:
        raise ValidationError(f"no holder for stall {stall!r}; pass --actor", field="actor")
    return holder


def _append_signed(env: Env, ledger: Ledger, events: list[dict[str, Any]],
                   lines: list[int] | None = None) -> None:
    keys: dict[str, Any] = {}
    signed = []
    for event in events:
        actor = event["actor"]
        if actor not in keys:
            keys[actor] = ledger.signing_key(env.keystore, actor)
        signed.append(sign_event(event, keys[actor]))
    receipts = ledger.append(signed, lines=lines)
    for event, receipt in zip(events, receipts, strict=True):
        click.echo(f"recorded {event['kind']} {event['id']} at seq {receipt.seq}")
    if env.keystore.has_party(ledger.operator):
        env.sign_checkpoint(ledger)


def _show_result(ledger: Ledger, event_id: str) -> None:
    from tracelib.store.tests import TestsSql

    with ledger.store.reader() as conn:
        row = TestsSql.by_event(conn, event_id)
    if row is not None:
        rate = f" rate {row['rate']} %" if row["rate"] else ""
        limit = f" limit {row['limit_mg_kg']} mg/kg" if row["limit_mg_kg"] else ""
        held = " — lot held at the stall (下架)" if row["follow_up"] == "held" else ""
        click.echo(f"result: {row['result']}{rate}{limit}{held}")


@test_group.command("rapid")
@click.option("--stall", required=True)
@click.option("--sample", required=True)
@click.option("--item", required=True, help="e.g. 有机磷和氨基甲酸酯类农药, clenbuterol")
@click.option("--method", required=True, help="e.g. GB/T 5009.199-2003")
@click.option("--tester", required=True)
@click.option("--a0", "delta_a0", help="Control ΔA₀ (enzyme inhibition).")
@click.option("--at", "delta_at", help="Sample ΔAₜ (enzyme inhibition).")
@click.option("--result", type=click.Choice(["negative", "positive"]), help="Strip result.")
@click.option("--lot")
@click.option("--commodity")
@click.option("--reviewer")
@click.option("--instrument-model")
@click.option("--instrument-serial")
@click.option("--retest", is_flag=True)
@click.option("--actor", help="Signing party [default: the holder of the stall's market].")
@click.option("--time", "when", help="RFC 3339 [default: now].")
@pass_env
def test_rapid(env: Env, stall: str, sample: str, item: str, method: str, tester: str,
               delta_a0: str | None, delta_at: str | None, result: str | None,
               lot: str | None, commodity: str | None, reviewer: str | None,
               instrument_model: str | None, instrument_serial: str | None, retest: bool,
               actor: str | None, when: str | None) -> None:
    """Record one rapid test at STALL (tracelib computes the enzyme inhibition result)."""
    data: dict[str, Any] = {"sample": sample, "item": item, "method": method, "tester": tester,
                            "retest": retest}
    if delta_a0 is not None or delta_at is not None:
        data["readings"] = {"delta_a0": delta_a0 or "", "delta_at": delta_at or ""}
    if result is not None:
        data["result"] = result
    extras = {"lot": lot, "commodity": commodity, "reviewer": reviewer}
    data.update({k: v for k, v in extras.items() if v is not None})
    if instrument_model or instrument_serial:
        data["instrument"] = {k: v for k, v in (("model", instrument_model),
                                                ("serial", instrument_serial)) if v}
    moment = parse_rfc3339(when) if when else utcnow().astimezone(CHINA)
    with env.open() as ledger:
        event = {"id": f"rt-{stall}-{moment.strftime('%Y%m%dT%H%M%S%f')}", "kind": "rapid_test",
                 "time": moment.isoformat(), "actor": actor or _default_actor(ledger, stall),
                 "location": stall, "data": data}
        _append_signed(env, ledger, [event])
        _show_result(ledger, event["id"])


@test_group.command("lab")
@click.option("--location", required=True, help="The lab's location id.")
@click.option("--analyte", required=True)
@click.option("--commodity", required=True)
@click.option("--value", required=True, help='Decimal string, or "ND" / "未检出".')
@click.option("--unit", required=True, help="mg/kg or μg/kg")
@click.option("--lab", "lab_name", required=True)
@click.option("--report-no", required=True)
@click.option("--lot")
@click.option("--stall")
@click.option("--actor", help="Signing party [default: the holder of the lab location].")
@click.option("--time", "when", help="RFC 3339 [default: now].")
@pass_env
def test_lab(env: Env, location: str, analyte: str, commodity: str, value: str, unit: str,
             lab_name: str, report_no: str, lot: str | None, stall: str | None,
             actor: str | None, when: str | None) -> None:
    """Record one lab result; tracelib looks up the GB 2763 limit and judges it."""
    moment = parse_rfc3339(when) if when else utcnow().astimezone(CHINA)
    data = {"analyte": analyte, "commodity": commodity, "value": value, "unit": unit,
            "lab": lab_name, "report_no": report_no}
    data.update({k: v for k, v in (("lot", lot), ("stall", stall)) if v is not None})
    with env.open() as ledger:
        place = ledger.location(location)
        signer = actor or (place.holder if place else None)
        if signer is None:
            raise ValidationError(f"unknown lab location {location!r}", field="location")
        event = {"id": f"lab-{report_no}", "kind": "lab_test", "time": moment.isoformat(),
                 "actor": signer, "location": location, "data": data}
        _append_signed(env, ledger, [event])
        _show_result(ledger, event["id"])


# Column names a market test room's instrument exports, Chinese or English.
COLUMNS = {
    "test_no": ("检测编号", "test_no", "test no."), "stall_no": ("摊位号", "stall_no", "stall no."),
    "sample": ("样品名称", "sample"), "item": ("检测项目", "item"),
    "delta_a0": ("ΔA0", "delta_a0", "对照ΔA0"), "delta_at": ("ΔAt", "delta_at", "样品ΔAt"),
    "result": ("检测结果", "result"), "unit": ("单位", "unit"), "limit": ("限值", "limit"),
    "method": ("检测方法", "method"), "tester": ("检测人", "tester"),
    "reviewer": ("审核人", "reviewer"), "instrument": ("仪器", "instrument"),
    "time": ("检测时间", "time"), "retest": ("是否复检", "retest", "retest flag"),
    "lot": ("批次", "lot"), "commodity": ("品名", "commodity"),
}
RESULTS = {"阴性": "negative", "阳性": "positive", "negative": "negative",
           "positive": "positive", "合格": "negative", "不合格": "positive"}


def _normalise(header: list[str]) -> dict[str, int]:
    where = {}
    for index, name in enumerate(header):
        for key, names in COLUMNS.items():
            if name.strip().lower() in {n.lower() for n in names}:
                where[key] = index
    return where


def _row_event(row: dict[str, str], line: int, stalls: dict[str, str], market: str,
               actor: str, tz: timezone) -> dict[str, Any]:
    def need(key: str) -> str:
        value = row.get(key, "").strip()
        if not value:
            raise ValidationError(f"column {key!r} is empty", field=key, line=line)
        return value

    stall = stalls.get(need("stall_no"))
    if stall is None:
        raise ValidationError(f"no stall numbered {row['stall_no']!r} in market {market!r}",
                              field="stall_no", line=line)
    when = need("time").replace("/", "-")
    moment = (parse_rfc3339(when) if "T" in when else
              datetime.fromisoformat(when).replace(tzinfo=tz))
    data: dict[str, Any] = {"sample": need("sample"), "item": need("item"),
                            "method": need("method"), "tester": need("tester"),
                            "test_no": need("test_no")}
    if row.get("delta_a0") or row.get("delta_at"):
        data["readings"] = {"delta_a0": row.get("delta_a0", ""), "delta_at": row.get("delta_at", "")}
    elif row.get("result"):
        result = RESULTS.get(row["result"].strip())
        if result is None:
            raise ValidationError(f"unknown result {row['result']!r}", field="result", line=line)
        data["result"] = result
    else:
        raise ValidationError("give ΔA0 and ΔAt (enzyme) or a result (strips)",
                              field="delta_a0", line=line)
    for key in ("lot", "commodity", "reviewer"):
        if row.get(key):
            data[key] = row[key].strip()
    if row.get("instrument"):
        data["instrument"] = {"model": row["instrument"].strip()}
    if row.get("limit"):
        data["limit_claimed"] = row["limit"].strip()
    data["retest"] = row.get("retest", "").strip() in ("是", "1", "true", "yes", "Y", "y")
    return {"id": f"rt-{market}-{data['test_no']}", "kind": "rapid_test",
            "time": moment.isoformat(), "actor": actor, "location": stall, "data": data}


@test_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--market", required=True, help="The market whose test room exported FILE.")
@click.option("--actor", help="Signing party [default: the market's holder].")
@click.option("--tz", default="+08:00", show_default=True,
              help="Offset for times without one.")
@pass_env
def test_import(env: Env, file: str, market: str, actor: str | None, tz: str) -> None:
    """Import a test room's CSV export (one transaction: any bad row stores nothing)."""
    sign = -1 if tz.startswith("-") else 1
    hours, minutes = (int(p) for p in tz.lstrip("+-").split(":"))
    zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    text = Path(file).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValidationError("the file is empty", field="file")
    where = _normalise(rows[0])
    with env.open() as ledger:
        place = ledger.location(market)
        if place is None or place.type != "market":
            raise ValidationError(f"{market!r} is not a registered market", field="market")
        signer = actor or place.holder
        if signer is None:
            raise ValidationError(f"market {market!r} has no holder; pass --actor", field="actor")
        stalls = {}
        for child in ledger.store_children(market):
            stalls[child.id] = child.id
            number = child.details.get("number")
            if isinstance(number, str):
                stalls[number] = child.id
        events, lines = [], []
        for line, raw in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in raw):
                continue
            row = {key: raw[i] if i < len(raw) else "" for key, i in where.items()}
            events.append(_row_event(row, line, stalls, market, signer, zone))
            lines.append(line)
        _append_signed(env, ledger, events, lines)
    click.echo(f"imported {len(events)} test(s) from {file}")


# -- reports ------------------------------------------------------------------------------
@click.group()
def report() -> None:
    """Reports for regulators."""


@report.command("kpi")
@click.option("--population", type=click.IntRange(min=1),
              help="Residents of the area; default: the population of the year's plan.")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option("--market", help="Only the tests of this market's stalls.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--chart", "chart_dir", type=click.Path(file_okay=False),
              help="Write pass-rate.svg and pass-rate.png (评价性抽检) here.")
@pass_env
def report_kpi(env: Env, population: int | None, year: int, market: str | None, as_json: bool,
               chart_dir: str | None) -> None:
    """Demonstration-city figures from official sampling (监督抽检, 评价性抽检, 风险监测):
    batches and residue batches per 1,000 residents, the 评价性抽检 pass rate, follow-up
    completion and plan completion, each beside its target; market rapid tests apart."""
    if chart_dir:
        require("`tracelib report kpi --chart` (pass-rate.png)", "reports", "PIL")
    with env.open() as ledger:
        figures = compute_kpi(ledger, population=population, year=year, market=market)
    if chart_dir:
        write_pass_rate_chart(figures, Path(chart_dir))
    if as_json:
        print_json(figures.to_dict())
        return
    table = folding_table("figure", "value", "target", "met",
                          title=f"{year}, population {figures.population:,}: official sampling")
    labels = {"sampling_batches_per_1000": "official sampling batches per 1,000 residents",
              "residue_batches_per_1000": "residue batches per 1,000 residents",
              "evaluation_pass_rate": "evaluation sampling pass rate (%)",
              "follow_up_rate": "official failures followed up (%)",
              "plan_completion": "sampling plan completed (%)",
              "rapid_tests": "market rapid tests (not official sampling)",
              "rapid_positive_rate": "market rapid tests positive (%)"}
    for row in figures.figures():
        met = "—" if row["met"] is None else ("yes" if row["met"] else "NO")
        table.add_row(labels[row["name"]], row["value"] or "—", f"≥ {row['target']}", met)
    out.print(table)
    rapid = folding_table("figure", "value",
                          title="market rapid tests, apart from the figures above")
    for row in figures.rapid_figures():
        rapid.add_row(labels[row["name"]], row["value"] or "—")
    out.print(rapid)
    for name in [row["name"] for row in figures.figures()]:
        click.echo(f"{name}: {DEFINITIONS[name]}")
    counts = figures.to_dict()["counts"]
    click.echo(json.dumps(counts, ensure_ascii=False))


@report.command("fsma")
@click.option("--since", required=True,
              help="First day (YYYY-MM-DD, from its midnight in China Standard Time, UTC+08:00) "
                   "or an RFC 3339 time; events at or after it.")
@click.option("--until", required=True,
              help="Day (YYYY-MM-DD, its midnight UTC+08:00) or RFC 3339 time the range ends "
                   "before: --until 2026-11-23 ends with the 22nd.")
@click.option("--product", help="Only lots of this product, as recorded on the lot (e.g. 豇豆).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for ctes.csv and ctes.xlsx [default: ./fsma-<since>-<until>].")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "both"]), default="both",
              show_default=True)
@pass_env
def report_fsma(env: Env, since: str, until: str, product: str | None, out_dir: str | None,
                fmt: str) -> None:
    """The FSMA 204 sortable spreadsheet for a date range (21 CFR 1.1455(c)(3)(ii)): one row
    per lot per critical tracking event whose event time is in [--since, --until), as a
    recall drill's ctes.csv and ctes.xlsx, plus the description of every location named
    (address, phone, type, holder) from master data."""
    start = parse_range_bound(since, field="since")
    end = parse_range_bound(until, field="until")
    if start >= end:
        raise ValidationError(f"--since ({since}) must be before --until ({until})",
                              field="until")
    if fmt != "csv":
        require("`tracelib report fsma` (ctes.xlsx)", "reports", "openpyxl")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{since}-{until}")[:80]
    folder = Path(out_dir or f"fsma-{safe}")
    with env.open() as ledger, progress_bar() as bar:
        task = bar.add_task("reading records", total=ledger.size)
        result = fsma_range(ledger, since=start, until=end, product=product,
                            progress=lambda n: bar.advance(task, n))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if fmt in ("xlsx", "both"):  # first: a range too long for a sheet leaves no files
        write_range_xlsx(folder / "ctes.xlsx", result)
        written.append("ctes.xlsx")
    if fmt in ("csv", "both"):
        write_range_csv(folder / "ctes.csv", result)
        written.append("ctes.csv")
    what = f" of {product}" if product is not None else ""
    click.echo(f"{len(result.ctes)} critical tracking events{what} in range "
               f"[{result.since}, {result.until})")
    click.echo(f"  report: {folder}/ ({', '.join(written)})")


COMMANDS = [limits, test_group, report]

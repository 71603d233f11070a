"""``ctes.csv`` and ``ctes.xlsx``: the FSMA 204 "electronic sortable spreadsheet".

21 CFR 1.1455(c)(3)(ii): on request, the records for a lot or date range go to the FDA within
24 hours as an electronic sortable spreadsheet. One row per critical tracking event (CTE) with
its key data elements (KDEs, 21 CFR 1.1325-1.1350): traceability lot code, quantity and unit of
measure, product description, ship-from and ship-to location, date, traceability lot code
source, reference document type and number.

Invariants:

* rows are sorted by event instant, then event id (:meth:`DrillReportInput.sorted_ctes`);
* every text cell is :func:`~tracelib.report._text.neutralize`-d: text starting with ``=``,
  ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` (OWASP CSV Injection); quantities are
  numbers and are never prefixed;
* the CSV is UTF-8 with a BOM (Excel on Chinese Windows otherwise reads it as GBK) and
  RFC 4180 quoting with CRLF line ends (``csv`` module, ``excel`` dialect);
* the XLSX first sheet is sortable (autofilter on the header row, header row frozen),
  quantities are numeric cells and dates real datetimes in the report's time zone.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..errors import TracelibError
from ._text import clean, neutralize
from .model import CriticalTrackingEvent, DrillReportInput, FsmaRangeReport, LocationDescription

__all__ = ["CHINA_STANDARD_TIME", "FSMA_RANGE_HEADERS", "HEADERS", "write_csv", "write_range_csv",
           "write_range_xlsx", "write_xlsx"]

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "UTC+08:00")

# tracelib event kinds in Chinese, for the "Event" column.
def _place(name: str, ident: str) -> str:
    if name and ident and name != ident:
        return f"{name} ({ident})"
    return name or ident


def _event(cte: CriticalTrackingEvent) -> str:
    zh = cte.kind_zh
    return f"{cte.cte} / {zh} ({cte.kind})" if zh else f"{cte.cte} ({cte.kind})"


# (header, value) per column, in the order of the KDE lists of the rule: e.g. shipping,
# 21 CFR 1.1340(a): lot code, quantity and unit, product description, ship-to, ship-from,
# date, TLC source (1.1320 assigns the code there), reference document type and number;
# receiving (1.1345) and transformation (1.1350) keep the same shape. Quantity and Date
# become a number and a datetime in the XLSX.
_Column = tuple[str, Callable[[CriticalTrackingEvent], str]]
COLUMNS: tuple[_Column, ...] = (
    ("Traceability Lot Code (追溯批次码)", lambda c: c.traceability_lot_code),
    ("Quantity (数量)", lambda c: format(c.quantity, "f")),
    ("Unit of Measure (单位)", lambda c: c.unit),
    ("Product Description (产品)", lambda c: c.product),
    ("Ship-from / Location (发出地)", lambda c: _place(c.from_location_name, c.from_location)),
    ("Ship-to / Location (接收地)", lambda c: _place(c.to_location_name, c.to_location)),
    ("Date (日期)", lambda c: c.date),
    ("TLC Source (批次码来源)", lambda c: _place(c.tlc_source_name, c.tlc_source)),
    ("Reference Document Type (单据类型)", lambda c: c.reference_document_type),
    ("Reference Document Number (单据编号)", lambda c: c.reference_document_number),
    ("Event (事件)", _event),
    ("Event ID", lambda c: c.event_id),
)
HEADERS: tuple[str, ...] = tuple(header for header, _value in COLUMNS)
_QUANTITY = 1
_DATE = 6


def _cell_text(value: str) -> str:
    return neutralize(clean(value))


def write_csv(path: Path, report: DrillReportInput) -> int:
    """Write the CTE rows to ``path`` (UTF-8 with BOM, RFC 4180); return the row count."""
    rows = report.sorted_ctes()
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, dialect="excel")  # RFC 4180: "," and '"', CRLF
        writer.writerow(HEADERS)
        for cte in rows:
            writer.writerow([
                value(cte) if index == _QUANTITY else _cell_text(value(cte))
                for index, (_header, value) in enumerate(COLUMNS)
            ])
    return len(rows)


def _display_width(value: object) -> int:
    text = value if isinstance(value, str) else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _openpyxl() -> Any:
    try:
        import openpyxl  # type: ignore[import-untyped,unused-ignore]
    except ImportError as e:  # pragma: no cover - depends on the install
        raise TracelibError("writing ctes.xlsx needs openpyxl: pip install 'tracelib[reports]'") from e
    return openpyxl


def _style_table(sheet: Any, rows: int, widths: Sequence[int], date_columns: Iterable[int] = (),
                 ) -> None:
    """Bold frozen header, autofilter over the table, column widths (CJK counts double)."""
    from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped,unused-ignore]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped,unused-ignore]

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE7F0")
    for cell in sheet[1]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(vertical="center", wrap_text=False)
    sheet.freeze_panes = "A2"
    last = get_column_letter(max(1, len(widths)))
    sheet.auto_filter.ref = f"A1:{last}{rows + 1}"
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(60, max(10, width + 3))
    for column in date_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = "yyyy-mm-dd hh:mm:ss"


def _summary_value(value: object) -> object:
    """A Summary-sheet cell: numbers stay numbers, everything else neutralized text."""
    if isinstance(value, bool) or value is None:
        return _cell_text(str(value).lower() if value is not None else "")
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, list | tuple):
        text = ", ".join(str(v) for v in value)
        return _cell_text(text if len(text) <= 2000 else text[:2000] + "…")
    return _cell_text(str(value))


def _summary_rows(report: DrillReportInput, rows: int, tz: tzinfo) -> list[tuple[str, object]]:
    """(label, value) rows of the Summary sheet: the question, lot, counts, timing."""
    held = sorted(report.held_locations)
    out: list[tuple[str, object]] = [
        ("问题 Question", report.question),
        ("批次 Lot", report.lot),
        ("生成时间 Generated at", report.generated_at),
        ("时区 Times in this workbook", str(tz.tzname(None) or tz)),
        ("事件 CTE rows", rows),
        ("地点 Locations on the path", len(report.nodes)),
        ("流向 Flows on the path", len(report.edges)),
        ("下架地点 Locations on hold", len(held)),
        ("下架地点列表 On hold at", held),
    ]
    summary = report.summary
    upstream = summary.get("upstream")
    if isinstance(upstream, Mapping):
        out.append(("上游批次 Upstream lots", len(upstream.get("lots") or ())))
        out.append(("产地 Origins", len(upstream.get("origins") or ())))
    downstream = summary.get("downstream")
    if isinstance(downstream, Mapping):
        out.append(("下游批次 Downstream lots", len(downstream.get("lots") or ())))
        out.append(("下游地点 Downstream locations", len(downstream.get("locations") or ())))
    # The canteens reached, and the schools among them (学校食堂), by name: a regulator
    # visits a school first (docs/contract.md "Roles and location types").
    for key, label in (("schools_reached", "到达的学校食堂 Schools reached"),
                       ("canteens_reached", "到达的食堂 Canteens reached")):
        reached = summary.get(key)
        if isinstance(reached, list | tuple):
            out.append((label, [f"{c.get('name')} ({c.get('location')})" for c in reached
                                if isinstance(c, Mapping)] or "—"))
    for key, value in summary.items():  # timing, counts and other top-level facts
        if key in ("lot", "upstream", "downstream", "files", "schools_reached",
                   "canteens_reached"):
            continue
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                if not isinstance(inner, Mapping):
                    out.append((f"{key}.{sub}", inner))
        else:
            out.append((str(key), value))
    return out


def _number(text: object) -> object:
    """A decimal string from the trace JSON as a number cell; anything else as text."""
    if isinstance(text, str):
        try:
            value = Decimal(text)
        except InvalidOperation:
            return _cell_text(text)
        if value.is_finite():
            return value
        return _cell_text(text)
    return _summary_value(text)


def _append_ctes(sheet: Any, rows: Sequence[CriticalTrackingEvent], headers: Sequence[str],
                 texts_of: Callable[[CriticalTrackingEvent], Sequence[str]],
                 tz: tzinfo) -> None:
    """The sortable CTE rows under ``headers`` (already on the sheet): each row's texts as
    ``texts_of`` gives them, but the quantity as a number cell (never prefixed) and the date
    as a wall-clock date in ``tz``; columns as wide as their widest text."""
    widths = [_display_width(h) for h in headers]
    for cte in rows:
        values: list[object] = []
        for index, text in enumerate(texts_of(cte)):
            cell: object
            if index == _QUANTITY:
                cell = cte.quantity
            elif index == _DATE:
                cell = cte.moment.astimezone(tz).replace(tzinfo=None)
                text = "2026-11-22 06:10:00"  # as wide as any date shown
            else:
                cell = _cell_text(text)
            values.append(cell)
            widths[index] = max(widths[index], _display_width(text))
        sheet.append(values)
    _style_table(sheet, len(rows), widths, date_columns=(_DATE + 1,))


def write_xlsx(path: Path, report: DrillReportInput, *, tz: tzinfo = CHINA_STANDARD_TIME) -> int:
    """Write the workbook (sheets ``CTEs``, ``Summary``, and ``Downstream`` when the summary
    has downstream locations) to ``path``; return the CTE row count.

    Excel has no time zones: dates are shown as wall-clock time in ``tz`` (default UTC+08:00,
    China Standard Time), which the Summary sheet states."""
    openpyxl = _openpyxl()
    rows = report.sorted_ctes()
    workbook = openpyxl.Workbook()
    workbook.properties.creator = "tracelib"
    workbook.properties.title = clean(f"Recall drill {report.lot}", one_line=True)
    sheet = workbook.active
    sheet.title = "CTEs"
    sheet.append(list(HEADERS))
    _append_ctes(sheet, rows, HEADERS, lambda cte: [getter(cte) for _, getter in COLUMNS], tz)

    summary_sheet = workbook.create_sheet("Summary")
    summary_sheet.append(["Field (项目)", "Value (内容)"])
    summary_widths = [14, 14]
    for label, fact in _summary_rows(report, len(rows), tz):
        cell_value = _summary_value(fact)
        summary_sheet.append([_cell_text(label), cell_value])
        summary_widths[0] = max(summary_widths[0], _display_width(label))
        summary_widths[1] = max(summary_widths[1], min(80, _display_width(cell_value)))
    from openpyxl.styles import Font  # type: ignore[import-untyped,unused-ignore]

    for header_cell in summary_sheet[1]:
        header_cell.font = Font(bold=True)
    summary_sheet.freeze_panes = "A2"
    summary_sheet.column_dimensions["A"].width = min(60, summary_widths[0] + 3)
    summary_sheet.column_dimensions["B"].width = min(80, summary_widths[1] + 3)

    downstream = report.summary.get("downstream")
    locations = downstream.get("locations") if isinstance(downstream, Mapping) else None
    if isinstance(locations, list) and locations:
        names = {n.id: n.name for n in report.nodes}
        down = workbook.create_sheet("Downstream")
        headers = ["Location (地点)", "Type (类型)", "Unit (单位)", "Received (收货)",
                   "Sold (销售)", "On hand (库存)"]
        down.append(headers)
        down_widths = [_display_width(h) for h in headers]
        count = 0
        for entry in locations:
            if not isinstance(entry, Mapping):
                continue
            ident = str(entry.get("location", ""))
            row: list[object] = [
                _cell_text(_place(names.get(ident, ""), ident)),
                _cell_text(str(entry.get("type", ""))),
                _cell_text(str(entry.get("unit", ""))),
                _number(entry.get("received", "")),
                _number(entry.get("sold", "")),
                _number(entry.get("on_hand", "")),
            ]
            for index, item in enumerate(row):
                down_widths[index] = max(down_widths[index], _display_width(item))
            down.append(row)
            count += 1
        _style_table(down, count, down_widths)

    workbook.save(path)
    return len(rows)


# -- the sheet for a date range (21 CFR 1.1455(c)(3)(ii)) ----------------------------------------
# The drill's columns, unchanged and in the same places, then the location description of
# each place a row names (21 CFR 1.1310 "location description": business name, phone number,
# physical address; the name is already in the drill's place columns), with its type and the
# party holding it, as master data registers them.
_PLACES: tuple[tuple[str, str, Callable[[CriticalTrackingEvent], str]], ...] = (
    ("Ship-from", "发出地", lambda c: c.from_location),
    ("Ship-to", "接收地", lambda c: c.to_location),
    ("TLC Source", "批次码来源", lambda c: c.tlc_source),
)
_FACETS: tuple[tuple[str, str, Callable[[LocationDescription], str]], ...] = (
    ("Location Type", "类型", lambda d: d.type),
    ("Location Description: Address", "地址", lambda d: d.address),
    ("Location Description: Phone", "电话", lambda d: d.phone),
    ("Location Holder", "经营者", lambda d: d.holder),
)


def _range_extra(place: Callable[[CriticalTrackingEvent], str],
                 facet: Callable[[LocationDescription], str],
                 ) -> Callable[[CriticalTrackingEvent, FsmaRangeReport], str]:
    return lambda cte, report: facet(report.location(place(cte)))


_RANGE_EXTRA: tuple[tuple[str, Callable[[CriticalTrackingEvent, FsmaRangeReport], str]], ...] = \
    tuple((f"{en} {facet_en} ({zh}{facet_zh})", _range_extra(place, facet))
          for en, zh, place in _PLACES for facet_en, facet_zh, facet in _FACETS)
FSMA_RANGE_HEADERS: tuple[str, ...] = HEADERS + tuple(h for h, _value in _RANGE_EXTRA)
#: rows of data an Excel worksheet holds below its header (1,048,576 rows in all)
XLSX_MAX_ROWS = 1_048_575
_LOCATION_HEADERS = ("Location ID (地点编号)", "Business Name (名称)", "Location Type (类型)",
                     "Address (地址)", "Phone (电话)", "Holder (经营者)")


def _range_texts(cte: CriticalTrackingEvent, report: FsmaRangeReport) -> list[str]:
    """The row's cells as text, raw (before neutralizing): the drill's, then the extras."""
    return ([value(cte) for _header, value in COLUMNS]
            + [value(cte, report) for _header, value in _RANGE_EXTRA])


def write_range_csv(path: Path, report: FsmaRangeReport) -> int:
    """Write the range's CTE rows to ``path`` (UTF-8 with BOM, RFC 4180), with the drill's
    columns then the location descriptions; return the row count."""
    rows = report.sorted_ctes()
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, dialect="excel")  # RFC 4180: "," and '"', CRLF
        writer.writerow(FSMA_RANGE_HEADERS)
        for cte in rows:
            writer.writerow([text if index == _QUANTITY else _cell_text(text)
                             for index, text in enumerate(_range_texts(cte, report))])
    return len(rows)


def write_range_xlsx(path: Path, report: FsmaRangeReport, *,
                     tz: tzinfo = CHINA_STANDARD_TIME) -> int:
    """Write the workbook: ``CTEs`` (sortable, as the drill's plus the location
    descriptions), ``Summary`` (the range, the product, the row count) and ``Locations``
    (each location the rows name, once); return the CTE row count. Dates are wall-clock
    time in ``tz``, which the Summary sheet states."""
    if len(report.ctes) > XLSX_MAX_ROWS:
        raise TracelibError(f"{len(report.ctes):,} rows are more than an Excel sheet holds "
                            f"({XLSX_MAX_ROWS:,}); write the CSV or narrow the range")
    openpyxl = _openpyxl()
    rows = report.sorted_ctes()
    workbook = openpyxl.Workbook()
    workbook.properties.creator = "tracelib"
    workbook.properties.title = clean(f"FSMA 204 {report.since} - {report.until}", one_line=True)
    sheet = workbook.active
    sheet.title = "CTEs"
    sheet.append(list(FSMA_RANGE_HEADERS))
    _append_ctes(sheet, rows, FSMA_RANGE_HEADERS, lambda cte: _range_texts(cte, report), tz)
    named = {ident for cte in rows for ident in (cte.from_location, cte.to_location,
                                                 cte.tlc_source)}

    summary = workbook.create_sheet("Summary")
    summary.append(["Field (项目)", "Value (内容)"])
    facts: list[tuple[str, object]] = [
        ("自 Since (event time, inclusive)", report.since),
        ("至 Until (event time, exclusive)", report.until),
        ("产品 Product", report.product if report.product is not None else "all (全部)"),
        ("事件 CTE rows", len(rows)),
        ("地点 Locations named", len(named)),
        ("生成时间 Generated at", report.generated_at),
        ("时区 Times in this workbook", str(tz.tzname(None) or tz)),
    ]
    summary_widths = [14, 14]
    for label, fact in facts:
        value = _summary_value(fact)
        summary.append([_cell_text(label), value])
        summary_widths[0] = max(summary_widths[0], _display_width(label))
        summary_widths[1] = max(summary_widths[1], min(80, _display_width(value)))
    _style_table(summary, len(facts), summary_widths)

    places = workbook.create_sheet("Locations")
    places.append(list(_LOCATION_HEADERS))
    place_widths = [_display_width(h) for h in _LOCATION_HEADERS]
    for ident in sorted(named):
        d = report.location(ident)
        row = [d.id, d.name, d.type, d.address, d.phone, d.holder]
        for index, text in enumerate(row):
            place_widths[index] = max(place_widths[index], _display_width(text))
        places.append([_cell_text(text) for text in row])
    _style_table(places, len(named), place_widths)
    workbook.save(path)
    return len(rows)

"""Tests for tracelib.report: the recall-drill report folder (FSMA 204, 21 CFR 1.1300ff).

One hand-built drill: farm → abattoir → cold store → wholesale market → 2 markets → 120 stalls,
one stall on hold, one temperature excursion, and hostile names (markup, a spreadsheet formula,
control characters) where a careless writer would break or run them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from PIL import Image

from tracelib.errors import ValidationError
from tracelib.kinds import KINDS
from tracelib.report import (
    HEADERS,
    CriticalTrackingEvent,
    DrillReportFiles,
    DrillReportInput,
    PathEdge,
    PathNode,
    find_cjk_font,
    layout_path,
    write_drill_report,
)
from tracelib.report.pathlayout import Box, Wire

SVG = "{http://www.w3.org/2000/svg}"
LOT = "LOT-PK-0001"
XSS = "<script>&\"'"
FORMULA = "=cmd|' /C calc'!A0"
HELD_STALL = "stall-007"
FORMULA_STALL = "stall-013"
STALLS = 120


def _cte(event_id: str, kind: str, cte: str, qty: str, unit: str, src: tuple[str, str],
         dst: tuple[str, str], when: str, *, lot: str = LOT, product: str = "猪肉 pork",
         doc: tuple[str, str] = ("ship event", "")) -> CriticalTrackingEvent:
    return CriticalTrackingEvent(
        event_id=event_id, kind=kind, cte=cte, kind_zh=KINDS[kind].label_zh if kind in KINDS else "",
        traceability_lot_code=lot,
        quantity=Decimal(qty), unit=unit, product=product,
        from_location=src[0], from_location_name=src[1],
        to_location=dst[0], to_location_name=dst[1], date=when,
        tlc_source="abattoir-01", tlc_source_name="重庆定点屠宰场",
        reference_document_type=doc[0], reference_document_number=doc[1] or event_id)


def build_drill() -> DrillReportInput:
    """The fixture drill (also handy for rendering a sample: see the module docstring)."""
    farm = PathNode("farm-01", "黄土坡生猪养殖场", "farm")
    abattoir = PathNode("abattoir-01", "重庆定点屠宰场", "abattoir")
    cold = PathNode("coldstore-01", "渝北冷链物流冷库", "coldstore")
    wsm = PathNode("wsm-01", "双福国际农贸城批发市场", "wholesale_market")
    m1 = PathNode("market-01", "沙坪坝农贸市场", "market")
    m2 = PathNode("market-02", XSS, "market")
    stalls = []
    for i in range(1, STALLS + 1):
        sid = f"stall-{i:03d}"
        market = "沙坪坝" if i <= STALLS // 2 else "杨家坪"
        name = f"{market} {i:03d} 号猪肉摊"
        if sid == FORMULA_STALL:
            name = FORMULA
        if sid == "stall-021":
            name = "控制\x07字符\x00摊"  # control characters: not allowed in XML or XLSX
        stalls.append(PathNode(sid, name, "stall", market="market-01" if i <= STALLS // 2
                               else "market-02", market_name=f"{market}农贸市场"))
    nodes = (farm, abattoir, cold, wsm, m1, m2, *stalls)
    names = {n.id: n.name for n in nodes}

    def loc(ident: str) -> tuple[str, str]:
        return ident, names[ident]

    edges = [
        PathEdge("farm-01", "abattoir-01", ("LOT-HOG-01",), Decimal("20"), "头"),
        PathEdge("abattoir-01", "coldstore-01", (LOT,), Decimal("1800.0"), "kg"),
        PathEdge("coldstore-01", "wsm-01", (LOT,), Decimal("1800"), "kg", excursion=True),
        PathEdge("wsm-01", "market-01", (LOT,), Decimal("900"), "kg"),
        PathEdge("wsm-01", "market-02", (LOT,), Decimal("900"), "kg"),
    ]
    ctes = [
        _cte("origin-01", "origin", "harvesting/initial packing", "20", "头", ("", ""),
             loc("farm-01"), "2026-11-18T07:00:00+08:00", lot="LOT-HOG-01", product="生猪 hogs",
             doc=("合格证 origin certificate", "HG-2026-0001")),
        _cte("ship-01", "ship", "shipping", "20", "头", loc("farm-01"), loc("abattoir-01"),
             "2026-11-19T05:00:00+08:00", lot="LOT-HOG-01", product="生猪 hogs"),
        _cte("slaughter-01", "slaughter", "transformation", "1800", "kg", loc("abattoir-01"),
             loc("abattoir-01"), "2026-11-19T09:00:00+08:00",
             doc=("肉品品质检验合格证", "@SUM(A1:A9)")),
        _cte("ship-02", "ship", "shipping", "1800", "kg", loc("abattoir-01"),
             loc("coldstore-01"), "2026-11-19T12:00:00+08:00"),
        _cte("ship-03", "ship", "shipping", "1800", "kg", loc("coldstore-01"), loc("wsm-01"),
             "2026-11-20T04:00:00+08:00", doc=("ship event", "-2+3")),
        _cte("ship-04", "ship", "shipping", "900", "kg", loc("wsm-01"), loc("market-01"),
             "2026-11-21T03:00:00+08:00"),
        _cte("ship-05", "ship", "shipping", "900", "kg", loc("wsm-01"), loc("market-02"),
             "2026-11-21T03:00:00+08:00"),
    ]
    for i, stall in enumerate(stalls, start=1):
        market = "market-01" if i <= STALLS // 2 else "market-02"
        edges.append(PathEdge(market, stall.id, (LOT,), Decimal("15"), "kg",
                              held=stall.id == HELD_STALL))
        ctes.append(_cte(f"recv-{i:03d}", "receive", "receiving", "15", "kg", loc(market),
                         loc(stall.id), "2026-11-21T05:30:00+08:00", doc=("receipt", "")))
    # Same instant written in two offsets, and a later event whose text sorts earlier.
    ctes.append(_cte("sale-002", "sale", "sale", "2.5", "kg", loc(HELD_STALL), ("", ""),
                     "2026-11-22T01:00:00Z", doc=("receipt", "R-2")))
    ctes.append(_cte("sale-001", "sale", "sale", "1.25", "kg", loc(FORMULA_STALL), ("", ""),
                     "2026-11-22T09:00:00+08:00", product=FORMULA, doc=("receipt", "R-1")))
    downstream = [{"location": s.id, "type": "stall", "unit": "kg", "received": "15",
                   "sold": "2.5" if s.id == HELD_STALL else "0",
                   "on_hand": "12.5" if s.id == HELD_STALL else "15"} for s in stalls]
    summary: dict[str, Any] = {
        "lot": LOT,
        "upstream": {"lots": ["LOT-HOG-01"],
                     "origins": [{"lot": "LOT-HOG-01", "event": "origin-01",
                                  "certificate": {"no": "HG-2026-0001"}}]},
        "downstream": {"lots": [LOT], "locations": downstream},
        "timing": {"trace_ms": 41.7, "report_ms": 0},
        "counts": {"locations": len(nodes), "stalls": STALLS, "held": 1},
    }
    return DrillReportInput(
        lot=LOT, question=f"{LOT} 非洲猪瘟检测阳性：哪些摊位收到了，售出多少、库存多少？",
        generated_at="2026-11-22T10:00:00+08:00", summary=summary, ctes=tuple(ctes),
        nodes=nodes, edges=tuple(edges), held_locations=frozenset({HELD_STALL}))


@pytest.fixture(scope="module")
def drill() -> DrillReportInput:
    return build_drill()


@pytest.fixture(scope="module")
def written(drill: DrillReportInput, tmp_path_factory: pytest.TempPathFactory) -> DrillReportFiles:
    return write_drill_report(tmp_path_factory.mktemp("drill"), drill)


def test_writes_five_files(written: DrillReportFiles, drill: DrillReportInput) -> None:
    assert sorted(p.name for p in written.folder.iterdir()) == [
        "ctes.csv", "ctes.xlsx", "path.png", "path.svg", "summary.json"]
    assert written.rows == len(drill.ctes)


def test_xlsx_is_a_sortable_sheet(written: DrillReportFiles, drill: DrillReportInput) -> None:
    book = openpyxl.load_workbook(written.ctes_xlsx)
    assert book.sheetnames[:2] == ["CTEs", "Summary"]
    sheet = book["CTEs"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == HEADERS
    assert rows[0][0] == "Traceability Lot Code (追溯批次码)"
    assert len(rows) == 1 + len(drill.ctes)
    assert sheet.auto_filter.ref == f"A1:L{len(drill.ctes) + 1}"
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width >= 10
    by_id = {row[11]: row for row in rows[1:]}
    # Quantities are numbers, dates real datetimes (UTC+08:00 wall clock).
    assert by_id["ship-02"][1] == 1800 and isinstance(by_id["ship-02"][1], int | float)
    assert by_id["sale-001"][1] == pytest.approx(1.25)
    assert by_id["sale-002"][6] == datetime(2026, 11, 22, 9, 0)
    # OWASP CSV injection: text that would be a formula starts with '.
    assert by_id["sale-001"][3] == "'" + FORMULA
    assert by_id["sale-001"][4] == f"'{FORMULA} ({FORMULA_STALL})"
    assert by_id["slaughter-01"][9] == "'@SUM(A1:A9)"
    assert by_id["ship-03"][9] == "'-2+3"
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f"
    summary = dict(book["Summary"].iter_rows(min_row=2, values_only=True))
    assert summary["问题 Question"] == drill.question
    assert summary["事件 CTE rows"] == len(drill.ctes)
    assert summary["timing.trace_ms"] == pytest.approx(41.7)
    assert summary["counts.stalls"] == STALLS
    down = list(book["Downstream"].iter_rows(values_only=True))
    assert len(down) == 1 + STALLS
    assert ("沙坪坝 007 号猪肉摊 (stall-007)", "stall", "kg", 15, 2.5, 12.5) in down


def test_rows_sorted_by_instant_then_id(written: DrillReportFiles,
                                        drill: DrillReportInput) -> None:
    book = openpyxl.load_workbook(written.ctes_xlsx)
    ids = [row[11] for row in book["CTEs"].iter_rows(min_row=2, values_only=True)]
    # sale-002 (01:00Z) and sale-001 (09:00+08:00) are the same instant: id breaks the tie.
    assert ids[-2:] == ["sale-001", "sale-002"]
    assert ids[:2] == ["origin-01", "ship-01"]
    assert ids.index("ship-04") < ids.index("ship-05") < ids.index("recv-001")


def test_csv_has_bom_and_parses(written: DrillReportFiles, drill: DrillReportInput) -> None:
    raw = written.ctes_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == HEADERS
    assert len(rows) == 1 + len(drill.ctes)
    by_id = {row[11]: row for row in rows[1:]}
    assert by_id["sale-001"][1] == "1.25"  # a plain number, never prefixed
    assert by_id["sale-001"][3] == "'" + FORMULA
    assert by_id["ship-02"][6] == "2026-11-19T12:00:00+08:00"  # the ledger's RFC 3339 time
    assert by_id["ship-04"][10] == "shipping / 发货 (ship)"
    # Control characters are replaced, markup is plain text.
    assert "\x07" not in raw.decode("utf-8-sig")
    assert by_id["ship-05"][5] == f"{XSS} (market-02)"


def test_svg_is_valid_and_shows_everything(written: DrillReportFiles,
                                           drill: DrillReportInput) -> None:
    raw = written.path_svg.read_bytes()
    root = ET.fromstring(raw)
    assert root.tag == f"{SVG}svg"
    width, height = written.svg_size
    assert root.get("width") == str(width) and root.get("height") == str(height)
    assert root.get("viewBox") == f"0 0 {width} {height}"
    assert "Noto Sans CJK SC" in (root.get("font-family") or "")
    assert b"<script>" not in raw and b"&lt;script&gt;&amp;" in raw
    texts = {"".join(e.itertext()) for e in root.iter() if e.tag in (f"{SVG}text",
                                                                      f"{SVG}title")}
    joined = "\n".join(texts)
    for node in drill.nodes:
        shown = node.name.replace("\x07", "\ufffd").replace("\x00", "\ufffd")
        assert shown in joined, node.name
        assert node.id in joined
    assert drill.question in joined
    rects = [e for e in root.iter(f"{SVG}rect") if "node" in (e.get("class") or "").split()]
    assert len(rects) == len(drill.nodes)
    held = [e for e in rects if "held" in (e.get("class") or "").split()]
    assert [e.get("data-id") for e in held] == [HELD_STALL]
    assert held[0].get("stroke") == "#d32f2f"
    assert any(e.text == "已下架 / on hold" for e in root.iter(f"{SVG}text"))
    lines = list(root.iter(f"{SVG}polyline"))
    dashed = [e for e in lines if "excursion" in (e.get("class") or "").split()
              and "edge" in (e.get("class") or "").split()]
    assert len(dashed) == 1 and dashed[0].get("stroke-dasharray")
    assert dashed[0].get("stroke") == "#ef6c00"
    assert any(e.text == "温度异常" for e in root.iter(f"{SVG}text"))
    assert any(e.text == "1,800 kg" for e in root.iter(f"{SVG}text"))


def test_png_matches_reported_size(written: DrillReportFiles) -> None:
    with Image.open(written.path_png) as image:
        image.load()
        assert image.size == written.png_size == written.svg_size
        assert image.format == "PNG"
        colors = {c for _n, c in image.convert("RGB").getcolors(maxcolors=1 << 20) or []}
    assert (0xd3, 0x2f, 0x2f) in colors  # the red hold outline
    assert (0xef, 0x6c, 0x00) in colors  # the orange excursion
    assert written.png.text in ("cjk", "ascii")
    assert (written.png.font is not None) == (written.png.text == "cjk")


def test_png_ascii_fallback(drill: DrillReportInput, tmp_path: Path) -> None:
    files = write_drill_report(tmp_path, drill, font="ascii")
    assert files.png.text == "ascii" and files.png.font is None
    with Image.open(files.path_png) as image:
        assert image.size == files.png_size


def test_png_uses_a_cjk_font_when_installed(drill: DrillReportInput, tmp_path: Path) -> None:
    found = find_cjk_font()
    if found is None:
        pytest.skip("no CJK font installed (Debian: fonts-wqy-zenhei)")
    files = write_drill_report(tmp_path, drill)
    assert files.png.text == "cjk" and files.png.font == found[0]


def test_summary_json_round_trips(written: DrillReportFiles, drill: DrillReportInput) -> None:
    raw = written.summary_json.read_bytes()
    document = json.loads(raw.decode("utf-8"))
    files = document.pop("files")
    assert document == drill.summary
    assert [f["name"] for f in files] == ["summary.json", "ctes.csv", "ctes.xlsx", "path.svg",
                                          "path.png"]
    for entry in files[1:]:
        data = (written.folder / entry["name"]).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert (files[-1]["width"], files[-1]["height"]) == written.png_size
    assert json.loads(json.dumps(written.to_dict()))["png"]["width"] == written.png_size[0]


def test_summary_json_is_utf8_not_escaped(tmp_path: Path) -> None:
    report = DrillReportInput(lot="L", question="q", generated_at="2026-11-22T10:00:00+08:00",
                              summary={"note": "下架", "qty": Decimal("12.50"),
                                       "bad": "\ud800"})
    files = write_drill_report(tmp_path, report, font="ascii")
    raw = files.summary_json.read_bytes()
    assert "下架".encode() in raw
    document = json.loads(raw)
    assert document["qty"] == "12.50" and document["bad"] == "\ud800"


def test_many_stalls_wrap_and_wires_avoid_boxes(drill: DrillReportInput) -> None:
    layout = layout_path(drill)
    node_boxes = [i for i in layout.items if isinstance(i, Box) and i.node_id is not None]
    stalls = [b for b in node_boxes if b.node_id and b.node_id.startswith("stall-")]
    assert len(stalls) == STALLS
    assert len({b.x for b in stalls}) == 3  # 120 stalls: 3 sub-columns of 40
    assert max(sum(1 for b in stalls if b.x == x) for x in {b.x for b in stalls}) == 40
    for a in node_boxes:  # no two boxes overlap
        for b in node_boxes:
            if a is not b:
                assert (a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y
                        or b.y + b.h <= a.y)
    wires = [i for i in layout.items if isinstance(i, Wire) and "edge" in i.cls.split()]
    assert len(wires) == len(drill.edges)
    for wire in wires:  # orthogonal routes never run through a box
        for (x0, y0), (x1, y1) in zip(wire.points, wire.points[1:], strict=False):
            assert x0 == x1 or y0 == y1
            for box in node_boxes:
                inside_x = max(min(x0, x1), box.x + 0.5) < min(max(x0, x1), box.x + box.w - 0.5)
                inside_y = max(min(y0, y1), box.y + 0.5) < min(max(y0, y1), box.y + box.h - 0.5)
                if x0 == x1:
                    assert not (box.x < x0 < box.x + box.w and inside_y), (wire.title, box)
                else:
                    assert not (box.y < y0 < box.y + box.h and inside_x), (wire.title, box)
        for x, y in wire.points:
            assert 0 <= x <= layout.width and 0 <= y <= layout.height


def test_routes_skip_columns_go_backwards_and_stay_in_a_column(tmp_path: Path) -> None:
    nodes = (PathNode("port-1", "洋山港", "port"), PathNode("cs-1", "冷库一", "coldstore"),
             PathNode("cs-2", "冷库二", "coldstore"), PathNode("lab-1", "检测中心", "lab"),
             PathNode("stall-1", "摊位", "stall"))
    edges = (PathEdge("port-1", "cs-1", ("L",), Decimal("5"), "t"),
             PathEdge("cs-1", "cs-2", ("L",), Decimal("5"), "t", held=True),
             PathEdge("cs-2", "stall-1", ("L",), Decimal("0.5"), "t", excursion=True),
             PathEdge("stall-1", "cs-1", ("L",), Decimal("0.1"), "t"),
             PathEdge("stall-1", "stall-1", ("L",), Decimal("1"), "t"))
    report = DrillReportInput(lot="L", question="q", generated_at="now", summary={},
                              nodes=nodes, edges=edges, held_locations=frozenset({"cs-2"}))
    layout = layout_path(report)
    assert layout.columns == 4 and layout.wires == 4  # the self-loop is not drawn
    files = write_drill_report(tmp_path, report, font="ascii")
    ET.fromstring(files.path_svg.read_bytes())


def test_empty_report(tmp_path: Path) -> None:
    report = DrillReportInput(lot="L", question="", generated_at="", summary={})
    files = write_drill_report(tmp_path, report, font="ascii")
    assert files.rows == 0
    ET.fromstring(files.path_svg.read_bytes())
    assert len(list(csv.reader(io.StringIO(files.ctes_csv.read_text("utf-8-sig"))))) == 1


@pytest.mark.parametrize(("build", "field"), [
    (lambda: PathEdge("a", "b", (), 1.5, "kg"), "PathEdge.quantity"),
    (lambda: PathEdge("a", "b", (), Decimal("NaN"), "kg"), "PathEdge.quantity"),
    (lambda: _cte("e", "ship", "shipping", "1", "kg", ("a", ""), ("b", ""), "2026-11-22"),
     "CriticalTrackingEvent.date"),
    (lambda: DrillReportInput(lot="L", question="q", generated_at="", summary={},
                              nodes=(PathNode("a", "A", "farm"),),
                              edges=(PathEdge("a", "zz", (), Decimal(1), "kg"),)),
     "DrillReportInput.edges[0].target"),
    (lambda: DrillReportInput(lot="L", question="q", generated_at="", summary={},
                              nodes=(PathNode("a", "A", "farm"), PathNode("a", "B", "farm"))),
     "DrillReportInput.nodes"),
])
def test_invalid_input_is_rejected(build: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        build()
    assert info.value.field == field


def test_layout_rejects_zero_rows(drill: DrillReportInput) -> None:
    with pytest.raises(ValidationError, match="max_rows"):
        layout_path(drill, max_rows=0)


def test_public_api() -> None:
    import tracelib.report as report

    assert sorted(report.__all__) == sorted(set(report.__all__))
    for name in report.__all__:
        assert getattr(report, name) is not None


def test_unserialisable_summary_is_a_validation_error(tmp_path: Path) -> None:
    report = DrillReportInput(lot="L", question="q", generated_at="", summary={"x": object()})
    with pytest.raises(ValidationError, match="JSON"):
        write_drill_report(tmp_path, report, font="ascii")

"""The drill picture tells the truth at a glance (path.svg / path.png, tracelib.report.pathlayout).

Checked as geometry, on a generated 14-stall, two-market drill and on the demo network's
multi-market drill: every stall box lies inside its own market's band; no flow runs through a
box or band it does not connect; every text stays inside its box as the PNG's font measures
it; held and recalled stock is red; each stall shows received / sold / on hand; and the
header answers "还有多少在售?" with the total on hand and not held.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tracelib.ledger import Ledger
from tracelib.recalls import drill, recall, report_input
from tracelib.report import DrillReportInput, NodeStock, PathEdge, PathNode, write_drill_report
from tracelib.report.pathlayout import HOLD_RED, Box, Measure, PathLayout, Text, Wire, layout_path
from tracelib.report.pathpng import resolve_font, text_measure
from tracelib_demo import NetworkSpec, generate

LOT = "LOT-PK-1207"
LONG_NAME = ("重庆市沙坪坝区磁器口古镇农贸市场第一百零八号冷鲜猪肉精品摊位（老字号）"
             "张记土猪肉专营店 Zhang's heritage pork, since 1988")
HELD_STALL = "stall-b03"
RECALLED_STALL = "stall-a05"


def fourteen_stall_drill() -> DrillReportInput:
    """Two markets of seven stalls: market A's through its market; market B's partly through
    the market and partly straight from the wholesale market (the flows that used to run over
    everything). One stall on hold, one lot recalled, one name far too long for a box."""
    nodes: list[PathNode] = [
        PathNode("farm-01", "黄土坡生猪养殖场", "farm",
                 stock=(NodeStock("头", Decimal(20), Decimal(0), Decimal(0)),)),
        PathNode("abattoir-01", "重庆定点屠宰场", "abattoir"),
        PathNode("wsm-01", "双福国际农贸城批发市场", "wholesale_market",
                 stock=(NodeStock("kg", Decimal(1400), Decimal(0), Decimal("110")),)),
        PathNode("market-a", "沙坪坝农贸市场", "market"),
        PathNode("market-b", "杨家坪农贸市场", "market"),
    ]
    edges: list[PathEdge] = [
        PathEdge("farm-01", "abattoir-01", ("LOT-HOG-01",), Decimal(20), "头"),
        PathEdge("abattoir-01", "wsm-01", (LOT,), Decimal(1400), "kg"),
        PathEdge("wsm-01", "market-a", (LOT,), Decimal(630), "kg"),
        PathEdge("wsm-01", "market-b", (LOT,), Decimal(450), "kg"),
    ]
    for market, names in (("a", "沙坪坝"), ("b", "杨家坪")):
        for i in range(1, 8):
            sid = f"stall-{market}{i:02d}"
            name = LONG_NAME if sid == "stall-a02" else f"{names} {i} 号猪肉摊"
            held = Decimal("72.5") if sid == HELD_STALL else Decimal(0)
            on_hand = Decimal("72.5") if sid == HELD_STALL else Decimal(10 + i)
            if sid == RECALLED_STALL:
                held = on_hand
            nodes.append(PathNode(sid, name, "stall", market=f"market-{market}",
                                  market_name=f"{names}农贸市场",
                                  stock=(NodeStock("kg", Decimal(90), Decimal(90) - on_hand,
                                                   on_hand, held),)))
            source = f"market-{market}"
            if market == "b" and i >= 6:
                source = "wsm-01"  # skips the market column
            lots = ("LOT-PK-1207-R",) if sid == RECALLED_STALL else (LOT,)
            edges.append(PathEdge(source, sid, lots, Decimal(90), "kg",
                                  held=sid == HELD_STALL, recalled=sid == RECALLED_STALL))
    return DrillReportInput(lot=LOT, question=f"追溯演练: 批次 {LOT} 从哪里来、到哪里去、还有多少在售?",
                            generated_at="2026-12-07T10:00:00+08:00", summary={},
                            nodes=tuple(nodes), edges=tuple(edges),
                            held_locations=frozenset({HELD_STALL}))


@pytest.fixture(scope="module")
def measure() -> Measure:
    return text_measure(resolve_font("auto"))


def _inside(inner: tuple[float, float, float, float], outer: Box) -> bool:
    x0, y0, x1, y1 = inner
    return (outer.x <= x0 and x1 <= outer.x + outer.w and outer.y <= y0
            and y1 <= outer.y + outer.h)


def _crosses(p: tuple[float, float], q: tuple[float, float], box: Box) -> bool:
    """True when the axis-parallel segment p-q runs through the inside of ``box``."""
    (x0, y0), (x1, y1) = p, q
    lo_x, hi_x, lo_y, hi_y = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
    inside_x = max(lo_x, box.x + 0.5) < min(hi_x, box.x + box.w - 0.5)
    inside_y = max(lo_y, box.y + 0.5) < min(hi_y, box.y + box.h - 0.5)
    return inside_x and inside_y


def assert_geometry(layout: PathLayout, report: DrillReportInput, measure: Measure) -> None:
    """The picture's promises, checked on its coordinates."""
    nodes = {n.id: n for n in report.nodes}
    boxes = {i.node_id: i for i in layout.items if isinstance(i, Box) and i.node_id is not None}
    bands = [i for i in layout.items if isinstance(i, Box) and i.cls == "market"]
    assert set(boxes) == set(nodes)

    # Every stall with a market lies inside a band of that market, and of no other.
    for ident, node in nodes.items():
        if node.type != "stall" or not node.market:
            continue
        box = boxes[ident]
        edges = (box.x, box.y, box.x + box.w, box.y + box.h)
        assert box.market == node.market
        assert any(b.market == node.market and _inside(edges, b) for b in bands), ident
        assert not any(b.market != node.market and _inside(edges, b) for b in bands), ident
    for a, b in itertools.combinations(bands, 2):  # bands never overlap
        assert (a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y
                or b.y + b.h <= a.y), (a.title, b.title)
    for a, b in itertools.combinations(boxes.values(), 2):  # boxes never overlap
        assert (a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y
                or b.y + b.h <= a.y), (a.node_id, b.node_id)

    # No flow runs through a box, or a market band, it does not connect.
    wires = [i for i in layout.items if isinstance(i, Wire) and i.ends is not None]
    assert len(wires) == sum(1 for e in report.edges if e.source != e.target)
    for wire in wires:
        assert wire.ends is not None
        own_markets = {nodes[end].market for end in wire.ends if nodes[end].market}
        for p, q in itertools.pairwise(wire.points):
            assert p[0] == q[0] or p[1] == q[1], wire.title  # orthogonal
            for ident, box in boxes.items():
                if ident not in wire.ends:
                    assert not _crosses(p, q, box), (wire.title, ident)
            for band in bands:
                if band.market not in own_markets:
                    assert not _crosses(p, q, band), (wire.title, band.title)
        for x, y in wire.points:
            assert 0 <= x <= layout.width and 0 <= y <= layout.height

    # Every text stays inside its box, in both renderings, as the PNG's font measures it.
    owners: dict[str, list[Box]] = {ident: [box] for ident, box in boxes.items() if ident}
    for band in bands:  # a market's band may continue in the next sub-column
        owners.setdefault(f"market:{band.market}", []).append(band)
    texts = [i for i in layout.items if isinstance(i, Text) and i.owner is not None]
    assert texts
    for text in texts:
        for content in (text.text, text.ascii):
            w = measure(content, text.size)
            left = {"start": text.x, "middle": text.x - w / 2, "end": text.x - w}[text.anchor]
            extent = (left, text.y - text.size, left + w, text.y + text.size * 0.3)
            assert any(_inside(extent, box) for box in owners[text.owner or ""]), (
                content, text.owner)


def _red(layout: PathLayout, ident: str) -> bool:
    box = next(i for i in layout.items if isinstance(i, Box) and i.node_id == ident)
    return box.stroke == HOLD_RED


def test_fourteen_stalls_in_two_market_bands(measure: Measure) -> None:
    report = fourteen_stall_drill()
    layout = layout_path(report, measure=measure)
    assert_geometry(layout, report, measure)
    bands = [i for i in layout.items if isinstance(i, Box) and i.cls == "market"]
    assert sorted(b.market or "" for b in bands) == ["market-a", "market-b"]
    # The flows from the wholesale market straight to market B's stalls do not climb over
    # the picture: they run level into their stalls.
    straight = [w for w in layout.items if isinstance(w, Wire) and w.ends is not None
                and w.ends[0] == "wsm-01" and w.ends[1].startswith("stall-")]
    assert len(straight) == 2
    header_bottom = min(b.y for b in bands)
    for wire in straight:
        assert min(y for _x, y in wire.points) >= header_bottom


@pytest.mark.parametrize("max_rows", [3, 5, 7, 40])
def test_market_bands_wrap_into_sub_columns(measure: Measure, max_rows: int) -> None:
    """A column of more stalls than ``max_rows`` wraps; a market too big for one sub-column
    continues in the next, and every stall stays inside a band of its own market."""
    report = fourteen_stall_drill()
    layout = layout_path(report, max_rows=max_rows, measure=measure)
    assert_geometry(layout, report, measure)
    stalls = [i for i in layout.items if isinstance(i, Box) and i.node_id
              and i.node_id.startswith("stall-")]
    assert max(sum(1 for b in stalls if b.x == x) for x in {b.x for b in stalls}) <= max_rows
    bands = [i for i in layout.items if isinstance(i, Box) and i.cls == "market"]
    assert len(bands) >= max(2, -(-14 // max_rows))


def test_stalls_without_a_market_share_one_band(measure: Measure) -> None:
    nodes = (PathNode("wsm", "批发市场", "wholesale_market"),
             *(PathNode(f"s{i}", f"摊位 {i}", "stall") for i in range(4)))
    edges = tuple(PathEdge("wsm", f"s{i}", ("L",), Decimal(1), "kg") for i in range(4))
    report = DrillReportInput(lot="L", question="q", generated_at="", summary={},
                              nodes=nodes, edges=edges)
    layout = layout_path(report, measure=measure)
    assert_geometry(layout, report, measure)
    bands = [i for i in layout.items if isinstance(i, Box) and i.cls == "market"]
    assert [b.market for b in bands] == [""]
    header = [i for i in layout.items if isinstance(i, Text) and i.owner == "market:"]
    assert header[0].text.startswith("无所属市场")


def test_stall_boxes_show_received_sold_on_hand_and_held_in_red(measure: Measure) -> None:
    report = fourteen_stall_drill()
    layout = layout_path(report, measure=measure)
    stock = {i.owner: [] for i in layout.items if isinstance(i, Text) and "stock" in i.cls}
    for item in layout.items:
        if isinstance(item, Text) and "stock" in item.cls:
            stock[item.owner].append(item)
    line = " ".join(t.text for t in stock["stall-a03"])
    assert "收 90 kg" in line and "售 77 kg" in line and "存 13 kg" in line
    held_line = stock[HELD_STALL]
    assert any(t.color == HOLD_RED and "存 72.5 kg" in t.text for t in held_line)
    assert _red(layout, HELD_STALL) and _red(layout, RECALLED_STALL)
    assert not _red(layout, "stall-a03")
    recalled = [w for w in layout.items if isinstance(w, Wire) and w.ends == ("market-a",
                                                                               RECALLED_STALL)]
    assert recalled[0].color == HOLD_RED and "recalled" in recalled[0].cls
    held = [w for w in layout.items if isinstance(w, Wire) and w.ends == ("market-b",
                                                                          HELD_STALL)]
    assert held[0].color == HOLD_RED
    # The long name wraps onto two lines and ends in "…" inside its box.
    name = [i for i in layout.items if isinstance(i, Text) and i.owner == "stall-a02"
            and i.cls == "name"]
    assert len(name) == 2 and name[-1].text.endswith("…")


def test_header_answers_how_much_is_still_on_sale(measure: Measure) -> None:
    report = fourteen_stall_drill()
    on_sale = sum((e.on_hand - e.held for n in report.nodes for e in n.stock if e.unit == "kg"),
                  Decimal(0))
    held = sum((e.held for n in report.nodes for e in n.stock), Decimal(0))
    assert on_sale == Decimal("110") + sum(Decimal(10 + i) for i in range(1, 8)
                                           if i != 5) + sum(Decimal(10 + i) for i in range(1, 8)
                                                            if i != 3)
    layout = layout_path(report, measure=measure)
    assert f"仍在售 {on_sale.normalize():,f} kg" in layout.answer
    assert f"{held.normalize():,f} kg 已下架" in layout.answer
    assert "沙坪坝农贸市场" in layout.answer and "杨家坪农贸市场" in layout.answer
    answers = [i for i in layout.items if isinstance(i, Text) and i.cls == "answer"]
    assert "".join(t.text for t in answers).replace(" ", "").startswith("答Answer:仍在售")


def test_nothing_on_sale_is_said_plainly(measure: Measure) -> None:
    report = DrillReportInput(lot="L", question="还有多少在售?", generated_at="", summary={},
                              nodes=(PathNode("s", "摊", "stall", stock=(
                                  NodeStock("kg", Decimal(5), Decimal(5), Decimal(0)),)),))
    assert "已无在售" in layout_path(report, measure=measure).answer


def test_png_of_fourteen_stalls_is_drawn_at_layout_size(tmp_path: Path) -> None:
    files = write_drill_report(tmp_path, fourteen_stall_drill())
    with Image.open(files.path_png) as image:
        assert image.size == files.svg_size
    assert b'class="market"' in files.path_svg.read_bytes()


def _demo_ledger(path: Path) -> tuple[Ledger, Any]:
    spec = NetworkSpec(seed=11, events=1500, farms=4, markets=2, stalls_per_market=7, days=2)
    net = generate(spec)
    ledger = Ledger.create(f"sqlite:///{path}", operator_key=net.operator_key,
                           operator=spec.operator, now=net.end)
    ledger.append(net.events(), now=net.end)
    return ledger, net


def test_demo_network_drill_picture(tmp_path: Path, measure: Measure) -> None:
    ledger, net = _demo_ledger(tmp_path / "ledger.db")
    try:
        # The origin lot that reached stalls of both markets, the most stalls first.
        def reach(lot: str) -> tuple[int, bool, int]:
            forward = net.truth.forward(lot)
            stalls = {loc for loc, _u in forward if net.truth.location_type(loc) == "stall"}
            markets = {p.parent for s in stalls if (p := ledger.location(s)) is not None}
            stocked = any(values[2] > 0 for (loc, _u), values in forward.items()
                          if loc in stalls)
            return len(markets), stocked, len(stalls)

        origins = [lot for lot in net.truth.lots() if net.truth.origins(lot) == {lot}]
        lot = max(origins, key=lambda code: (reach(code), code))
        assert reach(lot)[0] == 2
        result = drill(ledger, lot)
        report = report_input(ledger, result, generated_at="2026-12-07T10:00:00+08:00")
        layout = layout_path(report, measure=measure)
        assert_geometry(layout, report, measure)
        totals = {t.location: t for t in result.trace.locations}
        for node in report.nodes:
            if node.type != "stall":
                continue
            place = ledger.location(node.id)
            assert place is not None and node.market == place.parent
            (entry,) = node.stock
            assert entry.on_hand * 1_000_000 == totals[node.id].on_hand
            assert entry.received * 1_000_000 == totals[node.id].received
        on_sale = sum((e.on_hand - e.held for n in report.nodes for e in n.stock), Decimal(0))
        assert on_sale > 0
        assert f"仍在售 {on_sale.normalize():,f}" in layout.answer

        # Recalled: every lot on hand is held and recalled; nothing is left on sale, the
        # stalls holding it and the flows carrying recalled lots are red.
        recall(ledger, lot, key=net.operator_key, reason="抽检不合格")
        result = drill(ledger, lot)
        report = report_input(ledger, result, generated_at="2026-12-07T11:00:00+08:00")
        layout = layout_path(report, measure=measure)
        assert_geometry(layout, report, measure)
        assert "已无在售" in layout.answer and f"{on_sale.normalize():,f}" in layout.answer
        stocked = [n.id for n in report.nodes if n.type == "stall"
                   and any(e.on_hand for e in n.stock)]
        assert stocked and all(_red(layout, ident) for ident in stocked)
        assert any(e.recalled for e in report.edges)
        red_wires = [w for w in layout.items if isinstance(w, Wire) and w.ends is not None
                     and w.color == HOLD_RED]
        assert red_wires
    finally:
        ledger.close()

"""Layout of a lot's path, computed once and drawn twice (``path.svg`` and ``path.png``).

The picture reads left to right by stage of the supply chain (a recall drill must "find everything
upstream and downstream ... every stall that received it"):

    farm / port → abattoir → cold store / warehouse → (other types) → wholesale market
    → market → stall

One box per location (Chinese name, then id); one arrow per :class:`PathEdge`, labelled with its
quantity and unit. A column with more than ``max_rows`` boxes wraps into sub-columns ("slots")
so 100+ stalls stay legible.

Arrows are routed orthogonally through the gaps between slots and never cross a box:

* into the next slot: right from the source, along a vertical *lane* in the gap, right into
  the target (all edges of one source into one gap share its lane: a tree);
* anywhere else (skipping a column, into a later sub-column, backwards): right into the
  source's lane, up to the source's own horizontal *track* above all boxes, across, down the
  source's lane in the target's gap, right into the target;
* within one slot: out of the source's right side, down the lane, back into the target's
  right side.

Stalls are grouped under the market they belong to (``PathNode.market``): each market is a
band in the stall column holding its stalls, headed by the market's name and what is on sale
there; the market's own box (when the stock passed through it) sits level with its band. A
flow that skips columns runs straight at its target's height when nothing lies in its way,
and over the top otherwise. Each box shows received / sold / on hand (收 / 售 / 存) with units;
stock on hold or recalled is red. The header answers the drill's question "还有多少在售?"
(how much is still on sale, and where) from the boxes' totals.

Text is measured with ``measure`` (the PNG's font, see
:func:`~tracelib.report.pathpng.text_measure`) as well as the generous estimate of
:func:`~tracelib.report._text.text_width`, so names wrap (two lines) or end in "…" inside
their boxes in both pictures.

Invariants of :class:`PathLayout`: every coordinate lies inside ``0..width`` × ``0..height``;
every text is :func:`~tracelib.report._text.clean` one-line text with an ASCII twin for
renderers without a CJK font; ``items`` are in paint order (later on top).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from ..errors import ValidationError
from ._text import ascii_only, ascii_prose, clean, text_width
from .model import DrillReportInput, NodeStock, PathEdge, PathNode

__all__ = [
    "EXCURSION_ORANGE",
    "FONT_FAMILY",
    "HOLD_RED",
    "Box",
    "Measure",
    "PathLayout",
    "Text",
    "Wire",
    "format_quantity",
    "layout_path",
    "stage_of",
]

Anchor = Literal["start", "middle", "end"]
#: ``measure(text, size)``: the width in px of ``text`` drawn at ``size`` px.
Measure = Callable[[str, float], float]

# CJK fonts first: the SVG is opened on Chinese Windows (YaHei), Linux (Noto, WenQuanYi).
FONT_FAMILY = "'Noto Sans CJK SC', 'WenQuanYi Zen Hei', 'Microsoft YaHei', sans-serif"
HOLD_RED = "#d32f2f"
EXCURSION_ORANGE = "#ef6c00"
EDGE_GREY = "#546e7a"
BOX_STROKE = "#455a64"
INK = "#212121"
MUTED = "#616161"
BAND = "#f3f6f9"
MARKET_BAND = "#e3ebf2"
MARKET_STROKE = "#90a4ae"

# Geometry (px). The PNG is drawn 1:1 from these.
MARGIN = 24
BOX_H = 46  # a box with one name line and no stock line; see _BoxMetrics for the others
ROW_GAP = 12
PITCH = BOX_H + ROW_GAP
PAD = 10
NAME_SIZE = 14
NAME_LINE = 18
ID_SIZE = 11
STOCK_SIZE = 11
STOCK_LINE = 15
NAME_LINES = 2  # a long name wraps onto a second line, then ends in "…"
STOCK_LINES = 3  # units shown per box; more are summed up as "+N"
BAND_HEAD = 24  # a market band's header above its first stall
BAND_PAD = 6
BAND_GAP = 14
MAX_BAND_W = 300
LABEL_SIZE = 11
TAG_SIZE = 10
MIN_BOX_W = 150
MAX_BOX_W = 300
MAX_STOCK_BOX_W = 380  # received / sold / on hand are never cut below this width
LANE_SP = 8
TRACK_SP = 9
ARROW = 8
MAX_ROWS = 40

HOLD_TAG = ("已下架 / on hold", "on hold")
RECALL_TAG = ("召回", "recalled")
EXCURSION_TAG = ("温度异常", "temp!")

# Stages, left to right: (location types, Chinese header, English header). Types not listed
# (lab, office, anything new) go to the middle "other" column.
_OTHER = 3
STAGES: tuple[tuple[frozenset[str], str, str], ...] = (
    (frozenset({"farm", "port"}), "产地 / 口岸", "farm / port"),
    (frozenset({"abattoir"}), "屠宰场", "abattoir"),
    (frozenset({"coldstore", "warehouse"}), "冷库 / 仓库", "cold store / warehouse"),
    (frozenset(), "其他", "other"),
    (frozenset({"wholesale_market"}), "批发市场", "wholesale market"),
    (frozenset({"market"}), "农贸市场", "market"),
    (frozenset({"stall"}), "摊位", "stall"),
)


def stage_of(location_type: str) -> int:
    """Column index of a location type (unknown types: the middle column)."""
    for index, (types, _zh, _en) in enumerate(STAGES):
        if location_type in types:
            return index
    return _OTHER


def format_quantity(quantity: Decimal) -> str:
    """``1,200`` / ``12.5``: grouped, no exponent, no trailing zeros (for reading, not data)."""
    value = quantity.normalize()
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    return f"{value:,f}"


@dataclass(frozen=True)
class Text:
    """One line of text; ``y`` is the alphabetic baseline, ``x`` the anchor point."""

    x: float
    y: float
    text: str
    ascii: str
    size: float
    color: str = INK
    anchor: Anchor = "start"
    bold: bool = False
    cls: str = ""
    owner: str | None = None  # the box it must stay inside: a node id or "market:<id>"


@dataclass(frozen=True)
class Box:
    """A rectangle. ``node_id`` is set for location boxes; ``title`` is hover text (SVG)."""

    x: float
    y: float
    w: float
    h: float
    stroke: str | None = BOX_STROKE
    fill: str | None = "#ffffff"
    stroke_width: float = 1.2
    radius: float = 4.0
    cls: str = ""
    node_id: str | None = None
    title: str = ""
    market: str | None = None  # a stall box: its market; a market band: that market


@dataclass(frozen=True)
class Wire:
    """A polyline, optionally dashed, with an arrowhead at its last point when ``arrow``."""

    points: tuple[tuple[float, float], ...]
    color: str = EDGE_GREY
    width: float = 1.4
    dashed: bool = False
    arrow: bool = True
    cls: str = ""
    title: str = ""
    ends: tuple[str, str] | None = None  # a flow: the ids of its source and target boxes


Item = Box | Wire | Text


@dataclass(frozen=True)
class PathLayout:
    """The whole picture: a ``width`` × ``height`` px canvas and its items in paint order."""

    width: int
    height: int
    title: str
    description: str
    items: tuple[Item, ...]
    columns: int
    slots: int
    boxes: int
    wires: int
    answer: str = ""  # the header's answer to "还有多少在售?"


@dataclass
class _Place:
    node: PathNode
    column: int
    slot: int = 0
    row: int = 0
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = BOX_H


@dataclass
class _Band:
    """A market's band in the stall column (one per slot it spans)."""

    market: str
    name: str
    slot: int
    places: list[_Place]
    y: float = 0.0
    h: float = 0.0
    continued: bool = False


@dataclass(frozen=True)
class _Route:
    edge: PathEdge
    source: _Place
    target: _Place
    kind: Literal["next", "track", "same", "straight"]


def _order_columns(nodes: Sequence[PathNode], edges: Sequence[PathEdge],
                   stage: dict[str, int]) -> list[list[PathNode]]:
    """Nodes per non-empty stage column, each column ordered by the mean position of its
    upstream neighbours (barycentre heuristic: fewer crossings), then by id."""
    by_stage: dict[int, list[PathNode]] = defaultdict(list)
    for node in nodes:
        by_stage[stage[node.id]].append(node)
    preds: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        if stage[edge.source] < stage[edge.target]:
            preds[edge.target].append(edge.source)
    position: dict[str, float] = {}
    columns: list[list[PathNode]] = []
    for index in sorted(by_stage):

        def key(node: PathNode) -> tuple[float, str]:
            known = [position[p] for p in preds[node.id] if p in position]
            return (sum(known) / len(known) if known else 2.0, node.id)

        column = sorted(by_stage[index], key=key)
        for rank, node in enumerate(column):
            position[node.id] = rank / max(1, len(column) - 1)
        columns.append(column)
    return columns


def _edge_title(edge: PathEdge, names: dict[str, str]) -> str:
    lots = ", ".join(edge.lots)
    flags = []
    if edge.excursion:
        flags.append("温度异常 temperature excursion")
    if edge.held:
        flags.append("已下架 on hold")
    extra = f" [{'; '.join(flags)}]" if flags else ""
    return clean(f"{names[edge.source]} → {names[edge.target]}: "
                 f"{format_quantity(edge.quantity)} {edge.unit}; lots: {lots}{extra}")


def _legend(x0: float, y: float) -> tuple[list[Item], float]:
    """Legend items in one row starting at ``x0`` with text baseline ``y``; returns its width."""
    items: list[Item] = []
    x = x0
    size = 12.0

    def label(text: str, english: str) -> None:
        nonlocal x
        items.append(Text(x, y, text, english, size, color=MUTED, cls="legend"))
        x += text_width(text, size) + 26

    items.append(Box(x, y - 12, 28, 16, cls="legend"))
    x += 36
    label("地点（名称 / 编号） location (name / id)", "location (name / id)")
    items.append(Box(x, y - 12, 28, 16, stroke=HOLD_RED, stroke_width=2.5, cls="legend held"))
    x += 36
    label(HOLD_TAG[0], HOLD_TAG[1])
    items.append(Wire(((x, y - 4), (x + 36, y - 4)), cls="legend"))
    x += 44
    label("流向：数量 单位 / shipment: quantity unit", "shipment: quantity unit")
    items.append(Wire(((x, y - 4), (x + 36, y - 4)), color=EXCURSION_ORANGE, width=2.0,
                      dashed=True, cls="legend excursion"))
    x += 44
    label("温度异常 / temperature excursion", "temperature excursion")
    items.append(Wire(((x, y - 4), (x + 36, y - 4)), color=HOLD_RED, width=2.0,
                      cls="legend held"))
    x += 44
    label("扣留 / 召回货物 held / recalled stock", "held / recalled stock")
    label("收 / 售 / 存 = received / sold / on hand", "in / sold / left = received / sold / on hand")
    return items, x - x0


def _widths(measure: Measure | None) -> Measure:
    """The width to plan for: the larger of the estimate and the PNG font's own measure."""
    if measure is None:
        return text_width
    given = measure

    def width(text: str, size: float) -> float:
        return max(text_width(text, size), given(text, size))
    return width


def _fit(text: str, size: float, max_width: float, width: Measure) -> str:
    """``text`` cut to fit ``max_width`` by ``width``, ending in "…" when cut."""
    if width(text, size) <= max_width:
        return text
    out = text
    while out and width(out + "…", size) > max_width:
        out = out[:-1]
    return out.rstrip() + "…"


def _lines(text: str, size: float, max_width: float, max_lines: int, width: Measure
           ) -> list[str]:
    """``text`` in at most ``max_lines`` lines of ``max_width``, the last ending in "…" if cut;
    lines break at a space near the end of a line, else between any two characters (Chinese
    has no spaces)."""
    lines: list[str] = []
    rest = text
    while len(lines) < max_lines - 1 and width(rest, size) > max_width:
        cut = 1
        while cut < len(rest) and width(rest[:cut + 1], size) <= max_width:
            cut += 1
        space = rest.rfind(" ", 0, cut + 1)
        if space > cut * 2 // 3:
            cut = space + 1
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not lines:
        lines.append(_fit(rest, size, max_width, width))
    return lines


def _stock_texts(entry: NodeStock, unit: str) -> tuple[str, str, str, str]:
    """(received and sold, on hand) in Chinese and their ASCII twins, with units."""
    received, sold = format_quantity(entry.received), format_quantity(entry.sold)
    on_hand = format_quantity(entry.on_hand)
    first = f"收 {received} {unit} · 售 {sold} {unit} · "
    second = f"存 {on_hand} {unit}"
    first_ascii = f"in {received} {ascii_only(unit)}, sold {sold} {ascii_only(unit)}, "
    second_ascii = f"left {on_hand} {ascii_only(unit)}"
    if entry.held:
        held = format_quantity(entry.held)
        second += " 全部下架" if entry.held == entry.on_hand else f" (下架 {held})"
        second_ascii += " all held" if entry.held == entry.on_hand else f" ({held} held)"
    return first, second, first_ascii, second_ascii


def _sum_by_unit(pairs: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for unit, quantity in pairs:
        out[unit] += quantity
    return {unit: q for unit, q in sorted(out.items()) if q}


def _amount(by_unit: dict[str, Decimal], *, plain: bool = False) -> str:
    join = " + ".join(f"{format_quantity(q)} {clean(u, one_line=True)}"
                      for u, q in by_unit.items())
    return ascii_only(join) if plain else join


def _answer(nodes: Sequence[PathNode], names: dict[str, str]) -> tuple[str, str, bool]:
    """The answer to "还有多少在售?": what is on hand and not held, at how many places, per
    market (stalls under their market, docs/contract.md "Drill picture"); then what is held.
    Returns (Chinese, ASCII twin, anything on sale)."""
    selling = [n for n in nodes if any(e.for_sale > 0 for e in n.stock)]
    total = _sum_by_unit((e.unit, e.for_sale) for n in nodes for e in n.stock)
    held = _sum_by_unit((e.unit, e.held) for n in nodes for e in n.stock)
    if not total:
        zh, en = "答 Answer: 已无在售 nothing left on sale", "Answer: nothing left on sale"
    else:
        per_market: dict[str, list[PathNode]] = defaultdict(list)
        for node in selling:
            key = node.market or (node.id if node.type in ("market", "wholesale_market") else "")
            per_market[key].append(node)
        parts, parts_ascii = [], []
        for key in sorted(per_market, key=lambda k: (k == "", k)):
            group = per_market[key]
            amount = _sum_by_unit((e.unit, e.for_sale) for n in group for e in n.stock)
            label = (group[0].market_name or names.get(key, key)) if key else "其他 elsewhere"
            if key and not group[0].market:
                label = names.get(key, key)
            parts.append(f"{clean(label, one_line=True)} {_amount(amount)}")
            parts_ascii.append(f"{ascii_prose(clean(label, one_line=True)) or '?'} "
                               f"{_amount(amount, plain=True)}")
        stalls = sum(1 for n in selling if n.type == "stall")
        zh = (f"答 Answer: 仍在售 {_amount(total)}，{len(selling)} 处 places"
              f"（{stalls} 个摊位 stalls）: " + " · ".join(parts))
        en = (f"Answer: still on sale {_amount(total, plain=True)} at {len(selling)} places "
              f"({stalls} stalls): " + " - ".join(parts_ascii))
    if held:
        zh += f"；另有 {_amount(held)} 已下架 / 召回 on hold"
        en += f"; {_amount(held, plain=True)} on hold"
    return zh, en, bool(total)


def layout_path(report: DrillReportInput, *, max_rows: int = MAX_ROWS,
                measure: Measure | None = None) -> PathLayout:
    """Place every location and route every edge of ``report``; pure and deterministic.

    ``measure`` is the width function of the font the PNG is drawn with (text is planned at
    the larger of it and the estimate)."""
    if max_rows < 1:
        raise ValidationError(f"expected max_rows of at least 1, got {max_rows}", field="max_rows")
    width = _widths(measure)
    nodes = report.nodes
    names = {n.id: clean(n.name, one_line=True) or n.id for n in nodes}
    stage = {n.id: stage_of(n.type) for n in nodes}
    columns = _order_columns(nodes, report.edges, stage)
    held = report.held_locations
    stall_stage = stage_of("stall")
    market_stage = stage_of("market")

    # --- box widths and the uniform box height ----------------------------------------
    def stock_need(node: PathNode) -> float:
        need = 0.0
        for entry in node.stock[:STOCK_LINES]:
            unit = clean(entry.unit, one_line=True)
            first, second, first_a, second_a = _stock_texts(entry, unit)
            # The on-hand part is right-aligned after the wider rendering of the rest.
            need = max(need, max(width(first, STOCK_SIZE), width(first_a, STOCK_SIZE))
                       + max(width(second, STOCK_SIZE), width(second_a, STOCK_SIZE)) + 6)
        return need

    column_width: list[float] = []
    for column in columns:
        col_width = float(MIN_BOX_W)
        for node in column:
            ident = clean(node.id, one_line=True)
            tag = width(HOLD_TAG[0], TAG_SIZE) + 16 if node.id in held else 0.0
            need = max(width(names[node.id], NAME_SIZE), width(ascii_only(ident), NAME_SIZE),
                       width(ident, ID_SIZE) + tag)
            col_width = max(col_width, min(MAX_BOX_W, need + 2 * PAD),
                            min(MAX_STOCK_BOX_W, stock_need(node) + 2 * PAD))
        column_width.append(col_width)
    name_lines: dict[str, list[str]] = {}
    for col_index, column in enumerate(columns):
        inner = column_width[col_index] - 2 * PAD
        for node in column:
            name_lines[node.id] = _lines(names[node.id], NAME_SIZE, inner, NAME_LINES, width)
    most_names = max((len(v) for v in name_lines.values()), default=1)
    most_stock = min(STOCK_LINES, max((len(n.stock) for n in nodes), default=0))
    box_h = float(BOX_H + (most_names - 1) * NAME_LINE + most_stock * STOCK_LINE)
    pitch = box_h + ROW_GAP

    # --- slots (sub-columns), rows and market bands ------------------------------------
    places: dict[str, _Place] = {}
    slot_widths: list[float] = []
    column_slots: list[tuple[int, int]] = []  # first slot, slot count, per column
    slot_height: list[float] = []
    bands: list[_Band] = []
    for col_index, column in enumerate(columns):
        first = len(slot_widths)
        if column and stage[column[0].id] == stall_stage:
            subs = _place_stalls(column, col_index, first, max_rows, places, bands, pitch,
                                 box_h)
            for slot in range(first, first + subs):
                mine = [b for b in bands if b.slot == slot]
                slot_height.append(max((b.y + b.h for b in mine), default=0.0))
        else:
            subs = max(1, math.ceil(len(column) / max_rows))
            rows = math.ceil(len(column) / subs) if column else 0
            for index, node in enumerate(column):
                places[node.id] = _Place(node, col_index, first + index // rows, index % rows,
                                         y=(index % rows) * pitch, h=box_h)
            for slot in range(subs):
                count = sum(1 for p in places.values() if p.slot == first + slot)
                slot_height.append(max(0.0, count * pitch - ROW_GAP))
        column_slots.append((first, subs))
        slot_widths.extend([column_width[col_index]] * subs)
    slot_count = len(slot_widths)
    slot_column = [c for c, (_first, subs) in enumerate(column_slots) for _ in range(subs)]
    grid_h = max(slot_height, default=0.0)
    # Columns of one slot are centred; a market's box sits level with its band.
    for col_index, column in enumerate(columns):
        first, subs = column_slots[col_index]
        if subs != 1 or not column or stage[column[0].id] == stall_stage:
            continue
        offset = (grid_h - slot_height[first]) / 2
        for node in column:
            places[node.id].y += offset
        if stage[column[0].id] == market_stage and bands:
            _level_with_bands(column, places, bands, grid_h, pitch)

    # --- routes -------------------------------------------------------------------------
    routes: list[_Route] = []
    for edge in report.edges:
        if edge.source == edge.target:
            continue  # a move within one location is not a hop on the path
        src, dst = places[edge.source], places[edge.target]
        if dst.slot == src.slot + 1:
            kind: Literal["next", "track", "same", "straight"] = "next"
        elif dst.slot == src.slot:
            kind = "same"
        else:
            kind = "track"
        routes.append(_Route(edge, src, dst, kind))

    # Several arrows into one side of one box enter at evenly spaced heights, so neither
    # their last segments nor their labels lie on top of each other.
    # The top entry goes to the topmost source, which keeps the lanes from crossing.
    by_side: dict[tuple[str, bool], list[int]] = defaultdict(list)
    for index, route in enumerate(routes):
        by_side[(route.target.node.id, route.kind == "same")].append(index)
    entry_dy: dict[int, float] = {}  # entry height below the target box's top
    for indexes in by_side.values():
        indexes.sort(key=lambda i: (routes[i].kind == "track", routes[i].source.y,
                                    routes[i].source.slot, i))
        for rank_in_side, index in enumerate(indexes, start=1):
            entry_dy[index] = box_h * rank_in_side / (len(indexes) + 1)

    # A flow skipping slots runs straight at its entry height when no box or market band of
    # the slots between lies there (3 px clearance); else over the top on its own track.
    def obstacles(slot: int) -> list[tuple[float, float]]:
        spans = [(p.y, p.y + p.h) for p in places.values() if p.slot == slot]
        spans += [(b.y, b.y + b.h) for b in bands if b.slot == slot]
        return spans

    spans_of = {slot: obstacles(slot) for slot in range(slot_count)}
    for index, route in enumerate(routes):
        if route.kind != "track" or route.target.slot < route.source.slot:
            continue
        ty = route.target.y + entry_dy[index]
        between = range(route.source.slot + 1, route.target.slot)
        if all(not (top - 3 <= ty <= bottom + 3) for slot in between
               for top, bottom in spans_of[slot]):
            routes[index] = _Route(route.edge, route.source, route.target, "straight")

    lane_keys: dict[int, set[tuple[int, str]]] = defaultdict(set)  # gap -> {(is_in_lane, src)}
    track_sources: set[str] = set()
    label_need: dict[int, float] = defaultdict(float)
    for route in routes:
        out_gap = route.source.slot + 1
        lane_keys[out_gap].add((0, route.source.node.id))
        label = f"{format_quantity(route.edge.quantity)} {clean(route.edge.unit, one_line=True)}"
        need = max(width(label, LABEL_SIZE), width(ascii_only(label), LABEL_SIZE))
        if route.edge.excursion:
            need += width(EXCURSION_TAG[0], TAG_SIZE) + 12
        if route.kind == "track":
            track_sources.add(route.source.node.id)
            lane_keys[route.target.slot].add((1, route.source.node.id))
            label_need[route.target.slot] = max(label_need[route.target.slot], need)
        elif route.kind in ("next", "straight"):
            label_need[route.target.slot] = max(label_need[route.target.slot], need)
        else:
            label_need[out_gap] = max(label_need[out_gap], need)

    # --- header: title, question, answer, meta, legend ----------------------------------
    title_size, question_size, answer_size, meta_size = 20.0, 14.0, 15.0, 12.0
    y = float(MARGIN)
    title_y = y + title_size
    y = title_y + 8
    grid_w_estimate = sum(slot_widths) + 90 * (slot_count + 1)
    text_w = max(900.0, grid_w_estimate)

    def paragraph(zh: str, en: str, size: float, lines: int) -> tuple[list[str], list[str]]:
        first = _lines(zh, size, text_w, lines, width)
        second = _lines(en, size, text_w, lines, width)
        count = max(len(first), len(second))
        return first + [""] * (count - len(first)), second + [""] * (count - len(second))

    question = clean(report.question, one_line=True)
    question_lines, ascii_lines = paragraph(f"问题 Question: {question}",
                                            f"Question: {ascii_prose(question)}",
                                            question_size, 3)
    question_ys = [y + question_size + 6 + i * (question_size + 6)
                   for i in range(len(question_lines))]
    y = question_ys[-1] + 6
    answer_zh, answer_en, on_sale = _answer(nodes, names)
    answer_lines, answer_ascii = paragraph(answer_zh, answer_en, answer_size, 3)
    answer_ys = [y + answer_size + 6 + i * (answer_size + 6) for i in range(len(answer_lines))]
    y = answer_ys[-1] + 6
    meta_y = y + meta_size + 6
    legend_y = meta_y + 30
    header_y = legend_y + 36
    track_list = sorted(track_sources, key=lambda s: (places[s].slot, places[s].row, s))
    track_y = {s: header_y + 16 + (len(track_list) - i) * TRACK_SP for i, s in
               enumerate(track_list)}
    grid_top = header_y + 24 + len(track_list) * TRACK_SP
    for place in places.values():
        place.y += grid_top
    for band in bands:
        band.y += grid_top

    # --- horizontal placement ---------------------------------------------------------
    def lane_order(gap: int) -> list[tuple[int, str]]:
        return sorted(lane_keys[gap], key=lambda k: (k[0], places[k[1]].slot, places[k[1]].y,
                                                     k[1]))

    gap_width: list[float] = []
    for gap in range(slot_count + 1):
        lanes = len(lane_keys[gap])
        label_room = label_need[gap] + 16 if label_need[gap] else 0.0
        between_columns = gap in (0, slot_count) or slot_column[gap - 1] != slot_column[gap]
        base = 44.0 if between_columns and 0 < gap < slot_count else 16.0
        if any(b.slot in (gap - 1, gap) for b in bands):
            base += BAND_PAD
        gap_width.append(max(base, 10 + lanes * LANE_SP + label_room + ARROW + 4 + BAND_PAD))
    slot_x: list[float] = []
    x = float(MARGIN)
    for slot in range(slot_count):
        x += gap_width[slot]
        slot_x.append(x)
        x += slot_widths[slot]
    grid_right = x + gap_width[slot_count]
    for place in places.values():
        place.x = slot_x[place.slot]
        place.w = slot_widths[place.slot]

    def gap_left(gap: int) -> float:
        return slot_x[gap - 1] + slot_widths[gap - 1] if gap > 0 else float(MARGIN)

    lane_x: dict[tuple[int, tuple[int, str]], float] = {}
    for gap in range(slot_count + 1):
        for index, key in enumerate(lane_order(gap)):
            lane_x[(gap, key)] = gap_left(gap) + 10 + index * LANE_SP

    # --- items: column bands and headers, market bands ---------------------------------
    items: list[Item] = []
    backdrops: list[Item] = []
    grid_bottom = grid_top + grid_h
    for col_index, column in enumerate(columns):
        first, subs = column_slots[col_index]
        left = slot_x[first] - 8 - (BAND_PAD if stage[column[0].id] == stall_stage else 0)
        right = (slot_x[first + subs - 1] + slot_widths[first + subs - 1] + 8
                 + (BAND_PAD if stage[column[0].id] == stall_stage else 0))
        backdrops.append(Box(left, header_y - 18, right - left, grid_bottom - header_y + 26,
                             stroke=None, fill=BAND, radius=6, cls="band"))
        _types, zh, en = STAGES[stage[column[0].id]]
        header = f"{zh} {en} ({len(column)})"
        items.append(Text((left + right) / 2, header_y, header, f"{en} ({len(column)})", 13,
                          color=MUTED, anchor="middle", bold=True, cls="column"))
    market_items: list[Item] = []
    market_stalls: dict[str, list[_Place]] = defaultdict(list)
    for band in bands:  # a market's figures are its whole, on each piece of its band
        market_stalls[band.market].extend(band.places)
    for band in bands:
        bx = slot_x[band.slot] - BAND_PAD
        bw = slot_widths[band.slot] + 2 * BAND_PAD
        owner = f"market:{band.market}"
        members = market_stalls[band.market]
        amount = _sum_by_unit((e.unit, e.for_sale) for p in members for e in p.node.stock)
        head = band.name + (" (续 cont.)" if band.continued else "")
        label = f"{head} · {len(members)} 摊位"
        label_ascii = (f"{ascii_prose(band.name) or '?'}{' (cont.)' if band.continued else ''}: "
                       f"{len(members)} stalls")
        if amount:
            label += f" · 在售 {_amount(amount)}"
            label_ascii += f", on sale {_amount(amount, plain=True)}"
        inner = bw - 2 * 8
        market_items.append(Box(bx, band.y, bw, band.h, stroke=MARKET_STROKE, fill=MARKET_BAND,
                                stroke_width=1.0, radius=5, cls="market",
                                title=clean(f"{band.name} ({band.market})"), market=band.market))
        market_items.append(Text(bx + 8, band.y + 16, _fit(label, 12, inner, width),
                                 _fit(label_ascii, 12, inner, width), 12, color=INK, bold=True,
                                 cls="market", owner=owner))

    lot = clean(report.lot, one_line=True)
    title = f"追溯演练 Recall drill — 批次 lot {lot}"
    title_items: list[Item] = [Text(MARGIN, title_y, title, f"Recall drill - lot {ascii_only(lot)}",
                                    title_size, bold=True, cls="title")]
    for line, twin, line_y in zip(question_lines, ascii_lines, question_ys, strict=True):
        title_items.append(Text(MARGIN, line_y, line, twin, question_size, cls="question"))
    for line, twin, line_y in zip(answer_lines, answer_ascii, answer_ys, strict=True):
        title_items.append(Text(MARGIN, line_y, line, twin, answer_size, bold=True,
                                color=HOLD_RED if on_sale else INK, cls="answer"))
    held_count = sum(1 for n in nodes if n.id in held)
    meta = (f"生成时间 generated {clean(report.generated_at, one_line=True)} · "
            f"{len(nodes)} 个地点 locations · {len(routes)} 条流向 flows · "
            f"{held_count} 处下架 on hold · {len(report.ctes)} 个事件 CTEs")
    meta_ascii = (f"generated {ascii_only(clean(report.generated_at, one_line=True))} - "
                  f"{len(nodes)} locations - {len(routes)} flows - {held_count} on hold - "
                  f"{len(report.ctes)} CTEs")
    title_items.append(Text(MARGIN, meta_y, meta, meta_ascii, meta_size, color=MUTED,
                            cls="meta"))
    legend_items, legend_w = _legend(MARGIN, legend_y)

    # --- wires ------------------------------------------------------------------------
    wires: list[tuple[int, Wire]] = []
    labels: list[Item] = []
    for index, route in enumerate(routes):
        edge, src, dst = route.edge, route.source, route.target
        sy = src.y + box_h / 2
        ty = dst.y + entry_dy[index]
        out_gap = src.slot + 1
        xo = lane_x[(out_gap, (0, src.node.id))]
        start = (src.x + src.w, sy)
        points: list[tuple[float, float]]
        if route.kind in ("next", "straight"):
            points = [start, (xo, sy), (xo, ty), (dst.x, ty)]
        elif route.kind == "same":
            points = [start, (xo, sy), (xo, ty), (dst.x + dst.w, ty)]
        else:
            xi = lane_x[(dst.slot, (1, src.node.id))]
            ty_track = track_y[src.node.id]
            points = [start, (xo, sy), (xo, ty_track), (xi, ty_track), (xi, ty), (dst.x, ty)]
        color, stroke, rank = EDGE_GREY, 1.4, 0
        classes = ["edge"]
        if edge.held or edge.recalled:
            color, stroke, rank = HOLD_RED, 2.0, 1
            classes.append("held" if edge.held else "recalled")
        if edge.excursion:
            color, stroke, rank = EXCURSION_ORANGE, 2.0, 2
            classes.append("excursion")
        wires.append((rank, Wire(tuple(_dedupe(points)), color=color, width=stroke,
                                 dashed=edge.excursion, cls=" ".join(classes),
                                 title=_edge_title(edge, names),
                                 ends=(edge.source, edge.target))))
        unit = clean(edge.unit, one_line=True)
        text = f"{format_quantity(edge.quantity)} {unit}"
        if edge.recalled:
            text = f"{RECALL_TAG[0]} {text}"
        if route.kind == "same":
            lx, anchor = gap_left(out_gap) + 14 + len(lane_keys[out_gap]) * LANE_SP, "start"
        else:
            lx, anchor = dst.x - ARROW - 4 - BAND_PAD * (dst.node.id in _banded(bands)), "end"
        anchor_t: Anchor = "start" if anchor == "start" else "end"
        twin = ascii_only(text) if not edge.recalled else f"recalled {ascii_only(text[3:])}"
        labels.append(Text(lx, ty - 4, text, twin, LABEL_SIZE,
                           color=color if rank else INK, anchor=anchor_t, cls="qty"))
        if edge.excursion:  # the tag sits on the label's line, before the quantity
            tag_w = width(EXCURSION_TAG[0], TAG_SIZE) + 8
            qty_w = width(text, LABEL_SIZE)
            tx = lx - qty_w - 4 - tag_w if anchor_t == "end" else lx + qty_w + 4
            labels.append(Box(tx, ty - 4 - TAG_SIZE - 2, tag_w, TAG_SIZE + 5, stroke=None,
                              fill=EXCURSION_ORANGE, radius=3, cls="tag excursion"))
            labels.append(Text(tx + tag_w / 2, ty - 5, EXCURSION_TAG[0],
                               EXCURSION_TAG[1], TAG_SIZE, color="#ffffff", anchor="middle",
                               cls="tag excursion"))

    # --- location boxes ---------------------------------------------------------------
    boxes: list[Item] = []
    for place in sorted(places.values(), key=lambda p: (p.slot, p.row)):
        boxes.extend(_node_items(place, name_lines[place.node.id], place.node.id in held,
                                 box_h, most_names, width))

    if not places:
        boxes.append(Text(MARGIN, header_y + 30, "没有地点 no locations on this path",
                          "no locations on this path", 14, color=MUTED, cls="empty"))

    title_w = max(width(t.text, t.size) for t in title_items if isinstance(t, Text))
    canvas_w = math.ceil(max(grid_right + MARGIN, MARGIN * 2 + legend_w, MARGIN * 2 + title_w))
    canvas_h = math.ceil(max(grid_bottom, header_y + 40) + MARGIN + 8)
    ordered_wires: list[Item] = [w for _rank, w in sorted(wires, key=lambda rw: rw[0])]
    all_items = (backdrops + market_items + title_items + legend_items + items + ordered_wires
                 + boxes + labels)
    return PathLayout(
        width=canvas_w,
        height=canvas_h,
        title=title,
        description=clean(f"{report.question} — {answer_zh} — {report.generated_at}",
                          one_line=True),
        items=tuple(all_items),
        columns=len(columns),
        slots=slot_count,
        boxes=len(places),
        wires=len(routes),
        answer=answer_zh,
    )


def _banded(bands: Sequence[_Band]) -> set[str]:
    return {p.node.id for b in bands for p in b.places}


def _place_stalls(column: list[PathNode], col_index: int, first: int, max_rows: int,
                  places: dict[str, _Place], bands: list[_Band], pitch: float,
                  box_h: float) -> int:
    """Stalls grouped by market into bands, packed top-down into slots of at most
    ``max_rows`` stalls; a market too big for one slot continues in the next. Returns the
    number of slots used. Stalls with no market form a band of their own ("无所属市场")."""
    groups: dict[str, list[PathNode]] = defaultdict(list)
    order: dict[str, int] = {}
    for rank, node in enumerate(column):  # column order: by upstream position already
        groups[node.market].append(node)
        order.setdefault(node.market, rank)
    slot, used, y = first, 0, 0.0
    for market in sorted(groups, key=lambda m: (m == "", order[m], m)):
        members = groups[market]
        name = clean(members[0].market_name, one_line=True) or market or "无所属市场 no market"
        pending = list(members)
        continued = False
        while pending:
            room = max_rows - used
            if used and (room < len(pending) <= max_rows or room <= 0):
                slot, used, y = slot + 1, 0, 0.0  # start the band in a fresh slot
                room = max_rows
            take, pending = pending[:room], pending[room:]
            band = _Band(market, name, slot, [], y=y, continued=continued)
            row_y = y + BAND_HEAD
            for node in take:
                place = _Place(node, col_index, slot, used, y=row_y, h=box_h)
                places[node.id] = place
                band.places.append(place)
                row_y += pitch
                used += 1
            band.h = row_y - ROW_GAP + BAND_PAD - band.y
            bands.append(band)
            y = band.y + band.h + BAND_GAP
            continued = True
    return slot - first + 1


def _level_with_bands(column: list[PathNode], places: dict[str, _Place], bands: list[_Band],
                      grid_h: float, pitch: float) -> None:
    """Move each market's box level with the middle of its (first) band, keeping the column's
    order and spacing; boxes without a band keep their turn."""
    centre: dict[str, float] = {}
    for band in bands:
        centre.setdefault(band.market, band.y + band.h / 2)
    wanted: list[float] = []
    for node in column:
        place = places[node.id]
        wanted.append(centre.get(node.id, place.y + place.h / 2) - place.h / 2)
    y = 0.0
    placed: list[float] = []
    for want in wanted:
        y = max(want, y)
        placed.append(y)
        y += pitch
    overflow = placed[-1] + places[column[-1].id].h - grid_h if placed else 0.0
    if overflow > 0:  # shift up, never above the top
        placed = [max(0.0, p - overflow) for p in placed]
        for i in range(1, len(placed)):
            placed[i] = max(placed[i], placed[i - 1] + pitch)
    for node, y_new in zip(column, placed, strict=True):
        places[node.id].y = y_new


def _node_items(place: _Place, lines: list[str], is_held: bool,
                box_h: float, most_names: int, width: Measure) -> list[Item]:
    """A location's box: name (two lines at most), id (and the hold tag), then one stock line
    per unit: 收 received · 售 sold · 存 on hand, on hand red when held or recalled."""
    node = place.node
    ident = clean(node.id, one_line=True)
    inner = place.w - 2 * PAD
    type_text = clean(node.type, one_line=True)
    owner = node.id
    held_stock = any(e.held for e in node.stock)
    red = is_held or held_stock
    items: list[Item] = [Box(
        place.x, place.y, place.w, box_h, stroke=HOLD_RED if red else BOX_STROKE,
        fill="#fff5f5" if red else "#ffffff", stroke_width=3.0 if red else 1.2,
        cls="node held" if red else "node", node_id=node.id,
        title=clean(f"{node.name} ({node.id}, {node.type})"
                    + (" — 已下架 on hold" if red else "")),
        market=node.market or None)]
    ascii_name = _fit(ascii_only(ident), NAME_SIZE, inner, width)
    for index, line in enumerate(lines):
        items.append(Text(place.x + PAD, place.y + 19 + index * NAME_LINE, line,
                          ascii_name if index == 0 else "", NAME_SIZE, bold=True, cls="name",
                          owner=owner))
    id_y = place.y + 37 + (most_names - 1) * NAME_LINE
    tag_room = width(HOLD_TAG[0], TAG_SIZE) + 14 if is_held else 0.0
    items.append(Text(place.x + PAD, id_y, _fit(ident, ID_SIZE, inner - tag_room, width),
                      _fit(ascii_only(type_text), ID_SIZE, inner - tag_room, width), ID_SIZE,
                      color=MUTED, cls="id", owner=owner))
    if is_held:
        tag_w = width(HOLD_TAG[0], TAG_SIZE) + 8
        tx = place.x + place.w - tag_w - 5
        items.append(Box(tx, id_y - TAG_SIZE - 1, tag_w, TAG_SIZE + 5, stroke=None,
                         fill=HOLD_RED, radius=3, cls="tag held"))
        items.append(Text(tx + tag_w / 2, id_y, HOLD_TAG[0], HOLD_TAG[1], TAG_SIZE,
                          color="#ffffff", anchor="middle", cls="tag held", owner=owner))
    shown = node.stock[:STOCK_LINES]
    for index, entry in enumerate(shown):
        sy = id_y + STOCK_LINE * (index + 1)
        unit = clean(entry.unit, one_line=True)
        first, second, first_a, second_a = _stock_texts(entry, unit)
        if index == STOCK_LINES - 1 and len(node.stock) > STOCK_LINES:
            second += f" (+{len(node.stock) - STOCK_LINES})"
            second_a += f" (+{len(node.stock) - STOCK_LINES})"
        # On hand is right-aligned at the box's edge; the rest gets what is left of the line.
        right = place.x + place.w - PAD
        second = _fit(second, STOCK_SIZE, inner, width)
        second_a = _fit(second_a, STOCK_SIZE, inner, width)
        room = inner - max(width(second, STOCK_SIZE), width(second_a, STOCK_SIZE)) - 4
        items.append(Text(place.x + PAD, sy, _fit(first, STOCK_SIZE, room, width),
                          _fit(first_a, STOCK_SIZE, room, width), STOCK_SIZE, color=MUTED,
                          cls="stock", owner=owner))
        items.append(Text(right, sy, second, second_a, STOCK_SIZE,
                          color=HOLD_RED if entry.held else INK, bold=True, anchor="end",
                          cls="stock on-hand held" if entry.held else "stock on-hand",
                          owner=owner))
    return items


def _dedupe(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop consecutive repeated points (a zero-length segment would upset arrowheads)."""
    out: list[tuple[float, float]] = []
    for point in points:
        if not out or out[-1] != point:
            out.append(point)
    return out

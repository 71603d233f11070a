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

Invariants of :class:`PathLayout`: every coordinate lies inside ``0..width`` × ``0..height``;
every text is :func:`~tracelib.report._text.clean` one-line text with an ASCII twin for
renderers without a CJK font; ``items`` are in paint order (later on top).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from ..errors import ValidationError
from ._text import ascii_only, ascii_prose, clean, text_width, truncate, wrap
from .model import DrillReportInput, PathEdge, PathNode

__all__ = [
    "EXCURSION_ORANGE",
    "FONT_FAMILY",
    "HOLD_RED",
    "Box",
    "PathLayout",
    "Text",
    "Wire",
    "format_quantity",
    "layout_path",
    "stage_of",
]

Anchor = Literal["start", "middle", "end"]

# CJK fonts first: the SVG is opened on Chinese Windows (YaHei), Linux (Noto, WenQuanYi).
FONT_FAMILY = "'Noto Sans CJK SC', 'WenQuanYi Zen Hei', 'Microsoft YaHei', sans-serif"
HOLD_RED = "#d32f2f"
EXCURSION_ORANGE = "#ef6c00"
EDGE_GREY = "#546e7a"
BOX_STROKE = "#455a64"
INK = "#212121"
MUTED = "#616161"
BAND = "#f3f6f9"

# Geometry (px). The PNG is drawn 1:1 from these.
MARGIN = 24
BOX_H = 46
ROW_GAP = 12
PITCH = BOX_H + ROW_GAP
PAD = 10
NAME_SIZE = 14
ID_SIZE = 11
LABEL_SIZE = 11
TAG_SIZE = 10
MIN_BOX_W = 150
MAX_BOX_W = 300
LANE_SP = 8
TRACK_SP = 9
ARROW = 8
MAX_ROWS = 40

HOLD_TAG = ("已下架 / on hold", "on hold")
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


@dataclass
class _Place:
    node: PathNode
    column: int
    slot: int = 0
    row: int = 0
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0


@dataclass(frozen=True)
class _Route:
    edge: PathEdge
    source: _Place
    target: _Place
    kind: Literal["next", "track", "same"]


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
    label("扣留货物 / held stock", "held stock")
    return items, x - x0


def layout_path(report: DrillReportInput, *, max_rows: int = MAX_ROWS) -> PathLayout:
    """Place every location and route every edge of ``report``; pure and deterministic."""
    if max_rows < 1:
        raise ValidationError(f"expected max_rows of at least 1, got {max_rows}", field="max_rows")
    nodes = report.nodes
    names = {n.id: clean(n.name, one_line=True) or n.id for n in nodes}
    stage = {n.id: stage_of(n.type) for n in nodes}
    columns = _order_columns(nodes, report.edges, stage)
    held = report.held_locations

    # --- slots (sub-columns) and rows ------------------------------------------------
    places: dict[str, _Place] = {}
    slot_widths: list[float] = []
    column_slots: list[tuple[int, int]] = []  # first slot, slot count, per column
    grid_rows = 1
    for col_index, column in enumerate(columns):
        subs = max(1, math.ceil(len(column) / max_rows))
        rows = math.ceil(len(column) / subs) if column else 0
        grid_rows = max(grid_rows, rows)
        col_width = float(MIN_BOX_W)
        for node in column:
            ident = clean(node.id, one_line=True)
            need = max(text_width(names[node.id], NAME_SIZE),
                       text_width(ident, ID_SIZE)
                       + (text_width(HOLD_TAG[0], TAG_SIZE) + 16 if node.id in held else 0))
            col_width = max(col_width, min(MAX_BOX_W, need + 2 * PAD))
        first = len(slot_widths)
        column_slots.append((first, subs))
        slot_widths.extend([col_width] * subs)
        for index, node in enumerate(column):
            places[node.id] = _Place(node, col_index, first + index // rows, index % rows)
    slot_count = len(slot_widths)
    slot_column = [c for c, (_first, subs) in enumerate(column_slots) for _ in range(subs)]

    # --- routes, lanes (per gap) and tracks (per source) ------------------------------
    routes: list[_Route] = []
    for edge in report.edges:
        if edge.source == edge.target:
            continue  # a move within one location is not a hop on the path
        src, dst = places[edge.source], places[edge.target]
        if dst.slot == src.slot + 1:
            kind: Literal["next", "track", "same"] = "next"
        elif dst.slot == src.slot:
            kind = "same"
        else:
            kind = "track"
        routes.append(_Route(edge, src, dst, kind))

    lane_keys: dict[int, set[tuple[int, str]]] = defaultdict(set)  # gap -> {(is_in_lane, src)}
    track_sources: set[str] = set()
    label_need: dict[int, float] = defaultdict(float)
    for route in routes:
        out_gap = route.source.slot + 1
        lane_keys[out_gap].add((0, route.source.node.id))
        label = f"{format_quantity(route.edge.quantity)} {clean(route.edge.unit, one_line=True)}"
        need = max(text_width(label, LABEL_SIZE), text_width(ascii_only(label), LABEL_SIZE))
        if route.edge.excursion:
            need += text_width(EXCURSION_TAG[0], TAG_SIZE) + 12
        if route.kind == "track":
            track_sources.add(route.source.node.id)
            lane_keys[route.target.slot].add((1, route.source.node.id))
            label_need[route.target.slot] = max(label_need[route.target.slot], need)
        elif route.kind == "next":
            label_need[route.target.slot] = max(label_need[route.target.slot], need)
        else:
            label_need[out_gap] = max(label_need[out_gap], need)

    # --- vertical placement -------------------------------------------------------------
    title_size, question_size, meta_size = 20.0, 14.0, 12.0
    y = float(MARGIN)
    title_y = y + title_size
    y = title_y + 8
    grid_w_estimate = sum(slot_widths) + 90 * (slot_count + 1)
    text_w = max(900.0, grid_w_estimate)
    question = clean(report.question, one_line=True)
    question_lines = wrap(f"问题 Question: {question}", question_size, text_w, 3)
    ascii_lines = wrap(f"Question: {ascii_prose(question)}", question_size, text_w, 3)
    line_count = max(len(question_lines), len(ascii_lines))
    question_lines += [""] * (line_count - len(question_lines))
    ascii_lines += [""] * (line_count - len(ascii_lines))
    question_ys = [y + question_size + 6 + i * (question_size + 6) for i in range(line_count)]
    y = question_ys[-1] + 6
    meta_y = y + meta_size + 6
    legend_y = meta_y + 30
    header_y = legend_y + 36
    track_list = sorted(track_sources, key=lambda s: (places[s].slot, places[s].row, s))
    track_y = {s: header_y + 16 + (len(track_list) - i) * TRACK_SP for i, s in
               enumerate(track_list)}
    grid_top = header_y + 24 + len(track_list) * TRACK_SP
    for place in places.values():
        first, subs = column_slots[place.column]
        count = len(columns[place.column])
        if subs > 1:
            offset = 0.0
        else:
            offset = (grid_rows - count) * PITCH / 2
        place.y = grid_top + offset + place.row * PITCH

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
        gap_width.append(max(base, 10 + lanes * LANE_SP + label_room + ARROW + 4))
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

    # --- items: title, legend, column bands and headers -------------------------------
    items: list[Item] = []
    bands: list[Item] = []
    grid_bottom = grid_top + grid_rows * PITCH - ROW_GAP
    for col_index, column in enumerate(columns):
        first, subs = column_slots[col_index]
        left = slot_x[first] - 8
        right = slot_x[first + subs - 1] + slot_widths[first + subs - 1] + 8
        bands.append(Box(left, header_y - 18, right - left, grid_bottom - header_y + 26,
                         stroke=None, fill=BAND, radius=6, cls="band"))
        _types, zh, en = STAGES[stage[column[0].id]]
        header = f"{zh} {en} ({len(column)})"
        items.append(Text((left + right) / 2, header_y, header, f"{en} ({len(column)})", 13,
                          color=MUTED, anchor="middle", bold=True, cls="column"))

    lot = clean(report.lot, one_line=True)
    title = f"追溯演练 Recall drill — 批次 lot {lot}"
    title_items: list[Item] = [Text(MARGIN, title_y, title, f"Recall drill - lot {ascii_only(lot)}",
                                    title_size, bold=True, cls="title")]
    for line, twin, line_y in zip(question_lines, ascii_lines, question_ys, strict=True):
        title_items.append(Text(MARGIN, line_y, line, twin, question_size, cls="question"))
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
    # Several arrows into one side of one box enter at evenly spaced heights, so neither
    # their last segments nor their labels lie on top of each other.
    # The top entry goes to the topmost source, which keeps the lanes from crossing.
    by_side: dict[tuple[str, bool], list[int]] = defaultdict(list)
    for index, route in enumerate(routes):
        by_side[(route.target.node.id, route.kind == "same")].append(index)
    entry_y: dict[int, float] = {}
    for indexes in by_side.values():
        indexes.sort(key=lambda i: (routes[i].kind == "track", routes[i].source.y,
                                    routes[i].source.slot, i))
        for rank_in_side, index in enumerate(indexes, start=1):
            dst = routes[index].target
            entry_y[index] = dst.y + BOX_H * rank_in_side / (len(indexes) + 1)
    for index, route in enumerate(routes):
        edge, src, dst = route.edge, route.source, route.target
        sy = src.y + BOX_H / 2
        ty = entry_y[index]
        out_gap = src.slot + 1
        xo = lane_x[(out_gap, (0, src.node.id))]
        start = (src.x + src.w, sy)
        points: list[tuple[float, float]]
        if route.kind == "next":
            points = [start, (xo, sy), (xo, ty), (dst.x, ty)]
        elif route.kind == "same":
            points = [start, (xo, sy), (xo, ty), (dst.x + dst.w, ty)]
        else:
            xi = lane_x[(dst.slot, (1, src.node.id))]
            ty_track = track_y[src.node.id]
            points = [start, (xo, sy), (xo, ty_track), (xi, ty_track), (xi, ty), (dst.x, ty)]
        color, stroke, rank = EDGE_GREY, 1.4, 0
        classes = ["edge"]
        if edge.held:
            color, stroke, rank = HOLD_RED, 2.0, 1
            classes.append("held")
        if edge.excursion:
            color, stroke, rank = EXCURSION_ORANGE, 2.0, 2
            classes.append("excursion")
        wires.append((rank, Wire(tuple(_dedupe(points)), color=color, width=stroke,
                                 dashed=edge.excursion, cls=" ".join(classes),
                                 title=_edge_title(edge, names))))
        unit = clean(edge.unit, one_line=True)
        text = f"{format_quantity(edge.quantity)} {unit}"
        if route.kind == "same":
            lx, anchor = gap_left(out_gap) + 14 + len(lane_keys[out_gap]) * LANE_SP, "start"
        else:
            lx, anchor = dst.x - ARROW - 4, "end"
        anchor_t: Anchor = "start" if anchor == "start" else "end"
        labels.append(Text(lx, ty - 4, text, ascii_only(text), LABEL_SIZE,
                           color=color if rank else INK, anchor=anchor_t, cls="qty"))
        if edge.excursion:  # the tag sits on the label's line, before the quantity
            tag_w = text_width(EXCURSION_TAG[0], TAG_SIZE) + 8
            qty_w = text_width(text, LABEL_SIZE)
            tx = lx - qty_w - 4 - tag_w if anchor_t == "end" else lx + qty_w + 4
            labels.append(Box(tx, ty - 4 - TAG_SIZE - 2, tag_w, TAG_SIZE + 5, stroke=None,
                              fill=EXCURSION_ORANGE, radius=3, cls="tag excursion"))
            labels.append(Text(tx + tag_w / 2, ty - 5, EXCURSION_TAG[0],
                               EXCURSION_TAG[1], TAG_SIZE, color="#ffffff", anchor="middle",
                               cls="tag excursion"))

    # --- location boxes ---------------------------------------------------------------
    boxes: list[Item] = []
    for place in sorted(places.values(), key=lambda p: (p.slot, p.row)):
        node = place.node
        is_held = node.id in held
        ident = clean(node.id, one_line=True)
        name = names[node.id]
        inner = place.w - 2 * PAD
        type_text = clean(node.type, one_line=True)
        boxes.append(Box(place.x, place.y, place.w, BOX_H,
                         stroke=HOLD_RED if is_held else BOX_STROKE,
                         fill="#fff5f5" if is_held else "#ffffff",
                         stroke_width=3.0 if is_held else 1.2,
                         cls="node held" if is_held else "node", node_id=node.id,
                         title=clean(f"{node.name} ({node.id}, {node.type})"
                                     + (" — 已下架 on hold" if is_held else ""))))
        boxes.append(Text(place.x + PAD, place.y + 19, truncate(name, NAME_SIZE, inner),
                          truncate(ascii_only(ident), NAME_SIZE, inner), NAME_SIZE,
                          bold=True, cls="name"))
        tag_room = text_width(HOLD_TAG[0], TAG_SIZE) + 14 if is_held else 0.0
        boxes.append(Text(place.x + PAD, place.y + 37, truncate(ident, ID_SIZE, inner - tag_room),
                          truncate(ascii_only(type_text), ID_SIZE, inner - tag_room), ID_SIZE,
                          color=MUTED, cls="id"))
        if is_held:
            tag_w = text_width(HOLD_TAG[0], TAG_SIZE) + 8
            tx = place.x + place.w - tag_w - 5
            boxes.append(Box(tx, place.y + BOX_H - TAG_SIZE - 10, tag_w, TAG_SIZE + 5,
                             stroke=None, fill=HOLD_RED, radius=3, cls="tag held"))
            boxes.append(Text(tx + tag_w / 2, place.y + BOX_H - 9, HOLD_TAG[0], HOLD_TAG[1],
                              TAG_SIZE, color="#ffffff", anchor="middle", cls="tag held"))

    if not places:
        boxes.append(Text(MARGIN, header_y + 30, "没有地点 no locations on this path",
                          "no locations on this path", 14, color=MUTED, cls="empty"))

    title_w = max(text_width(t.text, t.size) for t in title_items if isinstance(t, Text))
    canvas_w = math.ceil(max(grid_right + MARGIN, MARGIN * 2 + legend_w, MARGIN * 2 + title_w))
    canvas_h = math.ceil(max(grid_bottom, header_y + 40) + MARGIN + 8)
    ordered_wires: list[Item] = [w for _rank, w in sorted(wires, key=lambda rw: rw[0])]
    all_items = (bands + title_items + legend_items + items + ordered_wires + boxes + labels)
    return PathLayout(
        width=canvas_w,
        height=canvas_h,
        title=title,
        description=clean(f"{report.question} — {report.generated_at}", one_line=True),
        items=tuple(all_items),
        columns=len(columns),
        slots=slot_count,
        boxes=len(places),
        wires=len(routes),
    )


def _dedupe(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop consecutive repeated points (a zero-length segment would upset arrowheads)."""
    out: list[tuple[float, float]] = []
    for point in points:
        if not out or out[-1] != point:
            out.append(point)
    return out

"""``federation.svg``: a drill followed across ledgers, each ledger a region holding its own
places, shipments inside a region as grey arrows and hand-overs between ledgers (a ``ship``
in one, the ``peer_entry`` citing it in the other) as dashed blue arrows
(docs/contract.md "Peers and entries from another ledger").

Invariants: well-formed XML 1.0 whatever the names hold (every text through
``xml.sax.saxutils.escape`` after :func:`~tracelib.report._text.clean`, every attribute value
through ``quoteattr``); ``width``, ``height`` and ``viewBox`` are set; one ``<g
class="region">`` per ledger, in the order given, each with ``data-origin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from ._text import clean
from .pathlayout import EDGE_GREY, FONT_FAMILY

__all__ = ["FederationEdge", "FederationPicture", "Region", "render_federation_svg"]

CROSSING_BLUE = "#1565c0"
_REGION_W, _PLACE_W, _PLACE_H, _GAP_X, _GAP_Y, _TOP, _PAD = 260, 200, 44, 120, 28, 64, 30


@dataclass(frozen=True)
class Region:
    """One ledger: its origin line and its places in the drill, in display order."""

    origin: str
    places: tuple[str, ...]


@dataclass(frozen=True)
class FederationEdge:
    """An arrow from a place of one region to a place of (maybe another) region."""

    source: tuple[str, str]  # (origin, place)
    target: tuple[str, str]
    label: str
    crossing: bool = False


@dataclass(frozen=True)
class FederationPicture:
    lot: str
    regions: tuple[Region, ...]
    edges: tuple[FederationEdge, ...]


def _centre(spots: dict[tuple[str, str], tuple[float, float]],
            key: tuple[str, str]) -> tuple[float, float]:
    return spots[key]


def render_federation_svg(picture: FederationPicture) -> str:
    """The picture as SVG 1.1 text."""
    spots: dict[tuple[str, str], tuple[float, float]] = {}
    body: list[str] = []
    tallest = max((len(r.places) for r in picture.regions), default=0)
    height = _TOP + _PAD + tallest * (_PLACE_H + _GAP_Y) + _PAD + 20
    width = len(picture.regions) * (_REGION_W + _GAP_X) - _GAP_X + 2 * _PAD
    for i, region in enumerate(picture.regions):
        left = _PAD + i * (_REGION_W + _GAP_X)
        inner = _TOP + _PAD + len(region.places) * (_PLACE_H + _GAP_Y)
        body.append(f"<g class=\"region\" data-origin={quoteattr(clean(region.origin))}>")
        body.append(f'<rect x="{left}" y="{_TOP - 24}" width="{_REGION_W}" '
                    f'height="{inner - _TOP + 24}" rx="14" fill="#f5f7fa" stroke="#90a4ae" '
                    'stroke-width="1.5"/>')
        body.append(f'<text x="{left + 14}" y="{_TOP - 4}" font-size="15" font-weight="bold" '
                    f'fill="#263238">{escape(clean(region.origin, one_line=True))}</text>')
        for j, place in enumerate(region.places):
            x = left + (_REGION_W - _PLACE_W) / 2
            y = _TOP + _PAD + j * (_PLACE_H + _GAP_Y)
            spots[(region.origin, place)] = (x + _PLACE_W / 2, y + _PLACE_H / 2)
            body.append(f'<rect class="place" x="{x:.0f}" y="{y}" width="{_PLACE_W}" '
                        f'height="{_PLACE_H}" rx="6" fill="#ffffff" stroke="#455a64" '
                        f'data-id={quoteattr(clean(place))}/>')
            body.append(f'<text x="{x + _PLACE_W / 2:.0f}" y="{y + _PLACE_H / 2 + 5:.0f}" '
                        f'font-size="13" text-anchor="middle">'
                        f"{escape(clean(place, one_line=True))}</text>")
        body.append("</g>")
    column = {r.origin: i for i, r in enumerate(picture.regions)}
    lane = _TOP + _PAD + tallest * (_PLACE_H + _GAP_Y)
    lanes = 0
    for edge in picture.edges:
        if edge.source not in spots or edge.target not in spots:
            continue
        (x1, y1), (x2, y2) = _centre(spots, edge.source), _centre(spots, edge.target)
        color = CROSSING_BLUE if edge.crossing else EDGE_GREY
        points: list[tuple[float, float]]
        label_at: tuple[float, float]
        if edge.crossing:
            x1 += _PLACE_W / 2
            x2 -= _PLACE_W / 2
            if abs(column[edge.target[0]] - column[edge.source[0]]) > 1:
                # Past the regions between: along a lane under every region.
                lanes += 1
                below = float(lane + 8 * lanes)
                points = [(x1, y1), (x1 + 16, y1), (x1 + 16, below), (x2 - 16, below),
                          (x2 - 16, y2), (x2, y2)]
                label_at = ((x1 + x2) / 2, below - 4)
            else:
                points = [(x1, y1), (x2, y2)]
                label_at = ((x1 + x2) / 2, (y1 + y2) / 2 - 6)
        else:
            points = [(x1, y1 + _PLACE_H / 2), (x2, y2 - _PLACE_H / 2)]
            label_at = ((x1 + x2) / 2, (y1 + y2) / 2 - 6)
        dash = ' stroke-dasharray="7 4"' if edge.crossing else ""
        marker = "cross" if edge.crossing else "arrow"
        cls = "crossing" if edge.crossing else "edge"
        path = " ".join(f"{x:.0f},{y:.0f}" for x, y in points)
        body.append(f'<polyline class="{cls}" points="{path}" fill="none" stroke="{color}" '
                    f'stroke-width="2"{dash} marker-end="url(#{marker})"><title>'
                    f"{escape(clean(edge.label, one_line=True))}</title></polyline>")
        body.append(f'<text x="{label_at[0]:.0f}" y="{label_at[1]:.0f}" font-size="11" '
                    f'text-anchor="middle" fill="{color}">'
                    f"{escape(clean(edge.label, one_line=True))}</text>")
    height += 8 * lanes
    defs = "".join(
        f'<marker id="{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
        for name, color in (("arrow", EDGE_GREY), ("cross", CROSSING_BLUE)))
    title = f"追溯演练 (跨账本) / drill across ledgers: {picture.lot}"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" '
            f"font-family={quoteattr(FONT_FAMILY)}>"
            f"<defs>{defs}</defs>"
            f'<text x="{_PAD}" y="26" font-size="17">{escape(clean(title, one_line=True))}</text>'
            + "".join(body) + "</svg>\n")

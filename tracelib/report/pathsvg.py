"""``path.svg``: the path layout as hand-written SVG 1.1.

Invariants: the output is well-formed XML 1.0 in UTF-8 whatever the location names hold (every
text goes through ``xml.sax.saxutils.escape``, every attribute value through ``quoteattr``,
after :func:`~tracelib.report._text.clean`); ``width``, ``height`` and ``viewBox`` are set; the
``font-family`` lists CJK fonts first. Held locations are ``<rect class="node held">`` with a red
stroke; excursion edges are ``<polyline class="edge excursion">`` with ``stroke-dasharray``.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from .pathlayout import EDGE_GREY, EXCURSION_ORANGE, FONT_FAMILY, HOLD_RED, Box, PathLayout, Text, Wire

__all__ = ["render_svg"]

# One arrowhead marker per wire colour (markers cannot inherit the stroke in SVG 1.1).
_MARKERS = {EDGE_GREY: "arrow", HOLD_RED: "arrow-held", EXCURSION_ORANGE: "arrow-excursion"}


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _box(box: Box) -> str:
    attrs = [f'x="{_num(box.x)}" y="{_num(box.y)}" width="{_num(box.w)}" height="{_num(box.h)}"',
             f'rx="{_num(box.radius)}"',
             f"fill={quoteattr(box.fill or 'none')}",
             f"stroke={quoteattr(box.stroke or 'none')}"]
    if box.stroke:
        attrs.append(f'stroke-width="{_num(box.stroke_width)}"')
    if box.cls:
        attrs.append(f"class={quoteattr(box.cls)}")
    if box.node_id is not None:
        attrs.append(f"data-id={quoteattr(box.node_id)}")
    if box.title:
        return f"<rect {' '.join(attrs)}><title>{escape(box.title)}</title></rect>"
    return f"<rect {' '.join(attrs)}/>"


def _wire(wire: Wire) -> str:
    points = " ".join(f"{_num(x)},{_num(y)}" for x, y in wire.points)
    attrs = [f'points="{points}"', 'fill="none"', f"stroke={quoteattr(wire.color)}",
             f'stroke-width="{_num(wire.width)}"', 'stroke-linejoin="round"']
    if wire.dashed:
        attrs.append('stroke-dasharray="7 4"')
    if wire.arrow:
        marker = _MARKERS.get(wire.color, "arrow")
        attrs.append(f'marker-end="url(#{marker})"')
    if wire.cls:
        attrs.append(f"class={quoteattr(wire.cls)}")
    if wire.title:
        return f"<polyline {' '.join(attrs)}><title>{escape(wire.title)}</title></polyline>"
    return f"<polyline {' '.join(attrs)}/>"


def _text(text: Text) -> str:
    attrs = [f'x="{_num(text.x)}" y="{_num(text.y)}"', f'font-size="{_num(text.size)}"',
             f"fill={quoteattr(text.color)}"]
    if text.anchor != "start":
        attrs.append(f'text-anchor="{text.anchor}"')
    if text.bold:
        attrs.append('font-weight="bold"')
    if text.cls:
        attrs.append(f"class={quoteattr(text.cls)}")
    return f"<text {' '.join(attrs)}>{escape(text.text)}</text>"


def render_svg(layout: PathLayout) -> str:
    """The SVG document for ``layout`` (a ``str``; write it as UTF-8)."""
    w, h = layout.width, layout.height
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" font-family={quoteattr(FONT_FAMILY)}>',
        f"<title>{escape(layout.title)}</title>",
        f"<desc>{escape(layout.description)}</desc>",
        "<defs>",
    ]
    for color, marker in _MARKERS.items():
        out.append(f'<marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" '
                   f'markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" '
                   f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill={quoteattr(color)}/>'
                   f"</marker>")
    out.append("</defs>")
    out.append(f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>')
    for item in layout.items:
        if isinstance(item, Box):
            out.append(_box(item))
        elif isinstance(item, Wire):
            out.append(_wire(item))
        else:
            out.append(_text(item))
    out.append("</svg>")
    return "\n".join(out) + "\n"

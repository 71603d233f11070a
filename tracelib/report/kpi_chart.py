"""A chart of the daily 评价性抽检 pass rate beside the 98 % target, as SVG and PNG (one layout)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from ..views.kpi import TARGETS, Kpi

__all__ = ["ChartFiles", "write_pass_rate_chart"]

WIDTH, HEIGHT = 960, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 50, 50


@dataclass(frozen=True)
class ChartFiles:
    svg: Path
    png: Path
    size: tuple[int, int]


def _points(report: Kpi) -> tuple[list[tuple[float, float]], float]:
    rated = [(i, d.pass_rate) for i, d in enumerate(report.daily) if d.pass_rate is not None]
    target = float(TARGETS["evaluation_pass_rate"])
    low = min([float(r) for _, r in rated] + [target]) if rated else 90.0
    floor = max(0.0, (int(low) // 5) * 5 - 5 if low < 95 else 90.0)
    span = max(1, len(report.daily) - 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    pts = [(LEFT + plot_w * i / span, TOP + plot_h * (100 - float(r)) / (100 - floor))
           for i, r in rated]
    return pts, floor


def _y(value: float, floor: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (100 - value) / (100 - floor)


def write_pass_rate_chart(report: Kpi, folder: Path) -> ChartFiles:
    """Write ``pass-rate.svg`` and ``pass-rate.png`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    pts, floor = _points(report)
    target = float(TARGETS["evaluation_pass_rate"])
    title = (f"{report.year} 每日评价性抽检合格率 daily evaluation-sampling pass rate "
             f"(target ≥ {TARGETS['evaluation_pass_rate']} %)")
    ticks = [floor + (100 - floor) * k / 4 for k in range(5)]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Noto Sans CJK SC, WenQuanYi Zen Hei, '
           'sans-serif" font-size="13">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{LEFT}" y="28" font-size="16">{escape(title)}</text>']
    for tick in ticks:
        y = _y(tick, floor)
        svg.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')
        svg.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{tick:.0f}%</text>')
    ty = _y(target, floor)
    svg.append(f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" '
               'stroke="#c62828" stroke-dasharray="6 4"/>')
    if pts:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        svg.append(f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    if report.daily:
        svg.append(f'<text x="{LEFT}" y="{HEIGHT - 20}">{escape(report.daily[0].day)}</text>')
        svg.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 20}" text-anchor="end">'
                   f'{escape(report.daily[-1].day)}</text>')
    svg.append("</svg>")
    svg_path = folder / "pass-rate.svg"
    svg_path.write_text("\n".join(svg), encoding="utf-8")

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    for tick in ticks:
        y = _y(tick, floor)
        draw.line([(LEFT, y), (WIDTH - RIGHT, y)], fill="#dddddd")
        draw.text((8, y - 7), f"{tick:.0f}%", fill="black")
    for x in range(LEFT, WIDTH - RIGHT, 10):
        draw.line([(x, ty), (x + 6, ty)], fill="#c62828")
    if len(pts) > 1:
        draw.line(pts, fill="#1565c0", width=2)
    draw.text((LEFT, 18), f"{report.year} daily pass rate (target >= {Decimal(target)} %)",
              fill="black")
    png_path = folder / "pass-rate.png"
    image.save(png_path)
    return ChartFiles(svg_path, png_path, (WIDTH, HEIGHT))

"""Printable stall placards: the QR code of the stall's URL (one code for paying and for
tracing: 一码通) with the stall's name and number and "扫码付款 · 查溯源".

Library functions with no Flask import, so the CLI can print placards too. Error
correction level H by default (30 % of the code can be worn or stained), Q on request.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from xml.sax.saxutils import escape

import qrcode
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_Q

__all__ = ["CAPTION", "RECEIPT_DOTS", "Placard", "find_font", "placard_png", "placard_svg",
           "qr_matrix", "receipt_qr_png", "receipt_qr_svg"]

CAPTION = "扫码付款 · 查溯源"
Level = Literal["Q", "H"]
_LEVELS = {"Q": ERROR_CORRECT_Q, "H": ERROR_CORRECT_H}
QUIET_ZONE = 4  # modules of white border (ISO/IEC 18004 §7.3.8)

FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",          # Debian fonts-wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",        # Debian fonts-wqy-microhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian fonts-noto-cjk
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)


@dataclass(frozen=True)
class Placard:
    """What a placard shows: the URL encoded, and three lines of text under the code."""

    url: str
    name: str
    number: str
    caption: str = CAPTION
    level: Level = "H"

    def __post_init__(self) -> None:
        if not self.url or len(self.url) > 1000:
            raise ValueError("the placard URL must be 1-1000 characters")
        if self.level not in _LEVELS:
            raise ValueError(f"error correction level must be Q or H, got {self.level!r}")


def qr_matrix(url: str, level: Level = "H") -> list[list[bool]]:
    """The QR modules of ``url`` (True = dark), without the quiet zone."""
    code = qrcode.QRCode(error_correction=_LEVELS[level], border=0)
    code.add_data(url)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


@lru_cache(maxsize=1)
def find_font() -> str | None:
    """A font file with CJK glyphs (``TRACELIB_PLACARD_FONT`` first), or None."""
    wanted = os.environ.get("TRACELIB_PLACARD_FONT")
    for path in ((wanted,) if wanted else ()) + FONT_PATHS:
        if path and os.path.isfile(path):
            return path
    return None


def _fit(draw: object, text: str, font_for: object, start: int, width: int) -> object:
    """The largest font size ≤ ``start`` at which ``text`` fits in ``width`` pixels."""
    size = start
    while True:
        font = font_for(size)  # type: ignore[operator]
        if draw.textlength(text, font=font) <= width or size <= 10:  # type: ignore[attr-defined]
            return font
        size -= 2


def placard_png(placard: Placard, *, module: int = 12) -> bytes:
    """The placard as a PNG: code on top, name, number and caption below (black on white)."""
    from PIL import Image, ImageDraw, ImageFont

    matrix = qr_matrix(placard.url, placard.level)
    n = len(matrix)
    side = (n + 2 * QUIET_ZONE) * module
    lines = _lines(placard)
    sizes = (int(module * 4.2), int(module * 2.6), int(module * 2.6))
    text_height = sum(int(s * 1.5) for s in sizes[:len(lines)]) + module * 2
    image = Image.new("L", (side, side + text_height), 255)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                x0, y0 = (x + QUIET_ZONE) * module, (y + QUIET_ZONE) * module
                draw.rectangle((x0, y0, x0 + module - 1, y0 + module - 1), fill=0)
    path = find_font()

    def font_for(size: int) -> object:
        if path:
            return ImageFont.truetype(path, size)
        return ImageFont.load_default(size)

    y = side - module
    for text, size in zip(lines, sizes, strict=False):
        font = _fit(draw, text, font_for, size, side - 2 * module)
        width = draw.textlength(text, font=font)  # type: ignore[arg-type]
        draw.text(((side - width) / 2, y), text, fill=0, font=font)  # type: ignore[arg-type]
        y += int(size * 1.5)
    out = io.BytesIO()
    image.convert("1").save(out, format="PNG", optimize=True)
    return out.getvalue()


def _lines(placard: Placard) -> Sequence[str]:
    return [x for x in (placard.name, placard.number, placard.caption) if x]


def _dark_runs(matrix: list[list[bool]]) -> list[str]:
    """An SVG path piece per horizontal run of dark modules, in module units, the quiet zone
    around (one path for the whole code: crisp at any print size, and small)."""
    n = len(matrix)
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                runs.append(f"M{start + QUIET_ZONE} {y + QUIET_ZONE}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return runs


def placard_svg(placard: Placard, *, module: int = 10) -> str:
    """The placard as SVG: one path for the code (crisp at any print size) and text lines."""
    matrix = qr_matrix(placard.url, placard.level)
    n = len(matrix)
    side = (n + 2 * QUIET_ZONE) * module
    lines = _lines(placard)
    sizes = (module * 4.0, module * 2.5, module * 2.5)
    height = side + sum(s * 1.5 for s in sizes[:len(lines)]) + module * 2
    runs = _dark_runs(matrix)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{height:g}" '
        f'viewBox="0 0 {side} {height:g}">',
        f"<title>{escape(placard.name)} {escape(placard.caption)}</title>",
        f'<rect width="{side}" height="{height:g}" fill="#fff"/>',
        f'<path transform="scale({module})" fill="#000" shape-rendering="crispEdges" '
        f'd="{"".join(runs)}"/>',
    ]
    baseline = float(side - module)
    for text, size in zip(lines, sizes, strict=False):
        baseline += size
        parts.append(f'<text x="{side / 2:g}" y="{baseline:g}" font-size="{size:g}" '
                     'text-anchor="middle" font-family="\'WenQuanYi Zen Hei\', \'Noto Sans CJK SC\', '
                     f'\'Microsoft YaHei\', \'PingFang SC\', sans-serif">{escape(text)}</text>')
        baseline += size * 0.5
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


#: A 58 mm thermal receipt printer prints 48 mm at 203 dpi: 384 dots a line.
RECEIPT_DOTS = 384


def receipt_qr_png(url: str, *, dots: int = RECEIPT_DOTS) -> bytes:
    """A receipt's QR as a 1-bit PNG at most ``dots`` wide (a 58 mm thermal printer's 384),
    whole dots per module so the printer never smears one (level Q: a receipt is
    short-lived, and a smaller code prints sharper)."""
    from PIL import Image, ImageDraw

    matrix = qr_matrix(url, "Q")
    n = len(matrix)
    module = max(1, dots // (n + 2 * QUIET_ZONE))
    side = (n + 2 * QUIET_ZONE) * module
    image = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                x0, y0 = (x + QUIET_ZONE) * module, (y + QUIET_ZONE) * module
                draw.rectangle((x0, y0, x0 + module - 1, y0 + module - 1), fill=0)
    out = io.BytesIO()
    image.convert("1").save(out, format="PNG", optimize=True)
    return out.getvalue()


def receipt_qr_svg(url: str, *, width_mm: int = 40) -> str:
    """A receipt's QR as SVG, ``width_mm`` wide (fits the 48 mm a 58 mm roll prints)."""
    matrix = qr_matrix(url, "Q")
    n = len(matrix)
    side = n + 2 * QUIET_ZONE
    runs = _dark_runs(matrix)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm}mm" '
            f'height="{width_mm}mm" viewBox="0 0 {side} {side}">\n'
            f'<rect width="{side}" height="{side}" fill="#fff"/>\n'
            f'<path fill="#000" shape-rendering="crispEdges" d="{"".join(runs)}"/>\n</svg>\n')

"""``path.png``: the same path layout drawn with Pillow, pixel for layout pixel.

Chinese names need a CJK font. :func:`find_cjk_font` looks in the usual places (Debian's
``fonts-wqy-zenhei`` and ``fonts-noto-cjk``, Windows, macOS), then asks fontconfig for a font
covering ``zh``; every candidate must really map CJK ideographs (fontconfig's ``fc-match``
always answers something, often DejaVu, which has none). Without one the PNG is drawn with
ASCII text only (ids, ``\\uXXXX`` escapes, English labels) rather than rows of tofu boxes,
and :class:`PngInfo` says so.

Invariants: the image is exactly ``layout.width`` × ``layout.height`` px, RGB, and the
same items as the SVG are drawn in the same order.
"""

from __future__ import annotations

import functools
import itertools
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..errors import TracelibError
from .pathlayout import Box, Measure, PathLayout, Text, Wire

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

__all__ = ["CJK_FONT_PATHS", "PngInfo", "find_cjk_font", "render_png", "resolve_font",
           "text_measure"]

CJK_FONT_PATHS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",          # Debian fonts-wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",        # Debian fonts-wqy-microhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",     # Arch, Alpine
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "C:/Windows/Fonts/msyh.ttc",                             # Microsoft YaHei
    "C:/Windows/Fonts/simhei.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
)
_PROBE = "追溯批次"
_ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}
FontChoice = Path | Literal["auto", "ascii"]


@dataclass(frozen=True)
class PngInfo:
    """What was drawn: the pixel size, and whether text is Chinese (``"cjk"``, with the font
    file and face index used) or the ASCII fallback (``"ascii"``, ``font`` None)."""

    width: int
    height: int
    text: Literal["cjk", "ascii"]
    font: str | None
    font_index: int = 0


def _require_pillow() -> None:
    try:
        import PIL  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the install
        raise TracelibError("writing path.png needs Pillow: pip install 'tracelib[reports]'") from e


def _covers_cjk(font: ImageFont.FreeTypeFont) -> bool:
    """True when ``font`` draws CJK ideographs, not its .notdef box (or nothing)."""
    from PIL import Image, ImageDraw

    def ink(text: str) -> bytes:
        image = Image.new("L", (64, 40), 0)
        ImageDraw.Draw(image).text((4, 4), text, fill=255, font=font)
        return image.tobytes()

    notdef = ink("\uffff")  # a noncharacter: no font maps it, so this is glyph 0
    for ch in _PROBE:
        drawn = ink(ch)
        if drawn == notdef or not any(drawn):
            return False
    return True


def _load_cjk(path: str) -> tuple[str, int] | None:
    """The best face of ``path`` that covers CJK (for collections, a Simplified Chinese face)."""
    from PIL import ImageFont

    faces: list[tuple[str, int]] = []
    for index in range(12):
        try:
            font = ImageFont.truetype(path, 16, index=index)
        except OSError:
            break  # no such file, not a font, or past the last face of a collection
        if _covers_cjk(font):
            family = font.getname()[0] or ""
            faces.append((family, index))
            if _preferred(family):
                break
        if not path.lower().endswith((".ttc", ".otc")):
            break
    if not faces:
        return None
    preferred = [f for f in faces if _preferred(f[0])]
    return path, (preferred or faces)[0][1]


def _preferred(family: str) -> bool:
    """A Simplified Chinese face (Noto's "... CJK SC") or one made for it (WenQuanYi)."""
    return family.endswith(" SC") or " SC " in family or "WenQuanYi" in family


def _fontconfig_candidates() -> list[str]:
    found: list[str] = []
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True,
                                 text=True, timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        found.extend(sorted(line.split(":")[0].strip() for line in out.splitlines()
                            if line.strip()))
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(["fc-match", "-f", "%{file}", "sans:lang=zh"],
                                 capture_output=True, text=True, timeout=10,
                                 check=False).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out.strip():
            found.append(out.strip())
    return found


@functools.lru_cache(maxsize=1)
def find_cjk_font() -> tuple[str, int] | None:
    """``(font file, face index)`` of an installed font that draws Chinese, or None.

    Known paths first (cheap), then fontconfig. Cached for the process."""
    _require_pillow()
    seen: set[str] = set()
    for path in (*CJK_FONT_PATHS, *_fontconfig_candidates()):
        if path in seen or not Path(path).is_file():
            continue
        seen.add(path)
        loaded = _load_cjk(path)
        if loaded is not None:
            return loaded
    return None


class _Fonts:
    """Fonts by pixel size, from one CJK face or Pillow's built-in (ASCII) font."""

    def __init__(self, source: tuple[str, int] | None) -> None:
        self.source = source
        self._cache: dict[float, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}

    def get(self, size: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        from PIL import ImageFont

        font = self._cache.get(size)
        if font is None:
            if self.source is not None:
                font = ImageFont.truetype(self.source[0], size, index=self.source[1])
            else:
                font = ImageFont.load_default(size)
            self._cache[size] = font
        return font


def _dashes(points: tuple[tuple[float, float], ...], on: float = 7.0,
            off: float = 4.0) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Dash segments along a polyline, the pattern continuing across corners (like SVG)."""
    out: list[tuple[tuple[float, float], tuple[float, float]]] = []
    phase = 0.0  # distance into the current on+off period
    period = on + off
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        length = math.hypot(x1 - x0, y1 - y0)
        pos = 0.0
        while pos < length:
            if phase < on:
                step = min(on - phase, length - pos)
                a, b = pos / length, (pos + step) / length
                out.append(((x0 + (x1 - x0) * a, y0 + (y1 - y0) * a),
                            (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)))
            else:
                step = min(period - phase, length - pos)
            pos += step
            phase = (phase + step) % period
    return out


def _draw_wire(draw: ImageDraw.ImageDraw, wire: Wire) -> None:
    width = max(1, round(wire.width))
    points = wire.points
    if len(points) < 2:
        return
    (xa, ya), (xb, yb) = points[-2], points[-1]
    length = math.hypot(xb - xa, yb - ya) or 1.0
    ux, uy = (xb - xa) / length, (yb - ya) / length
    if wire.arrow:  # stop the line at the arrowhead's base, then fill the head (8 px)
        points = (*points[:-1], (xb - ux * 7, yb - uy * 7))
    if wire.dashed:
        for start, end in _dashes(points):
            draw.line([start, end], fill=wire.color, width=width)
    else:
        draw.line(list(points), fill=wire.color, width=width, joint="curve")
    if wire.arrow:
        base = (xb - ux * 8, yb - uy * 8)
        draw.polygon([(xb, yb), (base[0] - uy * 4, base[1] + ux * 4),
                      (base[0] + uy * 4, base[1] - ux * 4)], fill=wire.color)


def _draw_text(draw: ImageDraw.ImageDraw, text: Text, fonts: _Fonts) -> None:
    from PIL import ImageFont

    content = text.text if fonts.source is not None else text.ascii
    font = fonts.get(text.size)
    if isinstance(font, ImageFont.FreeTypeFont):
        offsets = (0.0, 0.6) if text.bold else (0.0,)
        for dx in offsets:  # no bold face in most CJK fonts: overstrike
            draw.text((text.x + dx, text.y), content, fill=text.color, font=font,
                      anchor=_ANCHORS[text.anchor])
        return
    # Pillow built without FreeType: a bitmap font, anchored by hand.
    width = draw.textlength(content, font=font)
    shift = {"start": 0.0, "middle": width / 2, "end": width}[text.anchor]
    draw.text((text.x - shift, text.y - text.size), content, fill=text.color, font=font)


def resolve_font(font: FontChoice = "auto") -> tuple[str, int] | None:
    """The ``(font file, face index)`` ``font`` means, or None for the ASCII fallback:
    ``"auto"`` finds a CJK font, a path is used if it covers CJK, ``"ascii"`` is None."""
    _require_pillow()
    if font == "auto":
        return find_cjk_font()
    if font == "ascii":
        return None
    return _load_cjk(str(font))


def text_measure(source: tuple[str, int] | None) -> Measure:
    """``measure(text, size)`` in px as :func:`render_png` draws with ``source`` (a CJK face,
    or Pillow's built-in font for the ASCII fallback), for planning the layout
    (:func:`~tracelib.report.pathlayout.layout_path`). Bold text is overstruck 0.6 px wider."""
    _require_pillow()
    fonts = _Fonts(source)

    def measure(text: str, size: float) -> float:
        font = fonts.get(size)
        return float(font.getlength(text)) + 0.6

    return measure


def render_png(layout: PathLayout, path: Path, *, font: FontChoice = "auto") -> PngInfo:
    """Draw ``layout`` to ``path`` as a PNG; return its size and how text was drawn.

    ``font``: ``"auto"`` finds a CJK font (:func:`find_cjk_font`); a :class:`~pathlib.Path`
    uses that font file if it covers CJK; ``"ascii"`` forces the ASCII fallback."""
    _require_pillow()
    from PIL import Image, ImageDraw

    source = resolve_font(font)
    fonts = _Fonts(source)
    image = Image.new("RGB", (layout.width, layout.height), "#ffffff")
    draw = ImageDraw.Draw(image)
    for item in layout.items:
        if isinstance(item, Box):
            draw.rounded_rectangle(
                [item.x, item.y, item.x + item.w, item.y + item.h], radius=item.radius,
                fill=item.fill, outline=item.stroke,
                width=max(1, round(item.stroke_width)) if item.stroke else 0)
        elif isinstance(item, Wire):
            _draw_wire(draw, item)
        else:
            _draw_text(draw, item, fonts)
    image.save(path, format="PNG", optimize=False, compress_level=6)
    return PngInfo(width=layout.width, height=layout.height,
                   text="cjk" if source is not None else "ascii",
                   font=source[0] if source is not None else None,
                   font_index=source[1] if source is not None else 0)

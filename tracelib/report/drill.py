"""The recall-drill report (追溯演练报告): a folder a regulator can file.

:func:`write_drill_report` writes five files into a folder:

==============  ================================================================================
``summary.json`` the trace JSON (docs/contract.md "Trace JSON") plus timing and counts,
                 as given, with a ``files`` list: every file's name and media type, and for the
                 four others their size and SHA-256 (the PNG also its pixel size and text mode)
``ctes.csv``     one row per critical tracking event, FSMA 204 KDEs (UTF-8 with BOM, RFC 4180)
``ctes.xlsx``    the same rows as a sortable sheet, plus ``Summary`` (and ``Downstream``) sheets
``path.svg``     the lot's path by stage, stalls in their market's band, received / sold / on
                 hand in each box, held and recalled stock red, excursions dashed orange, and
                 the answer to "还有多少在售?" in the header
``path.png``     the same picture drawn with Pillow (CJK font when one is installed)
==============  ================================================================================

Invariants: each file is written to a temporary name in the folder and renamed into place, so
a reader never sees half a file; ``summary.json`` is written last and lists the digests of the
four others; the input is never modified.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ValidationError
from .model import DrillReportInput
from .pathlayout import MAX_ROWS, PathLayout, layout_path
from .pathpng import FontChoice, PngInfo, render_png, resolve_font, text_measure
from .pathsvg import render_svg
from .sheets import CHINA_STANDARD_TIME, write_csv, write_xlsx

__all__ = ["DrillReportFiles", "write_drill_report"]

SUMMARY_JSON = "summary.json"
CTES_CSV = "ctes.csv"
CTES_XLSX = "ctes.xlsx"
PATH_SVG = "path.svg"
PATH_PNG = "path.png"
MEDIA_TYPES = {
    SUMMARY_JSON: "application/json",
    CTES_CSV: "text/csv; charset=utf-8",
    CTES_XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    PATH_SVG: "image/svg+xml",
    PATH_PNG: "image/png",
}

T = TypeVar("T")


@dataclass(frozen=True)
class DrillReportFiles:
    """Where the report went and what was drawn.

    ``png`` gives the PNG's pixel size and whether its text is Chinese (``png.text ==
    "cjk"``, ``png.font`` the font file) or the ASCII fallback (``"ascii"``: no CJK font on
    this machine; install e.g. Debian's ``fonts-wqy-zenhei``)."""

    folder: Path
    summary_json: Path
    ctes_csv: Path
    ctes_xlsx: Path
    path_svg: Path
    path_png: Path
    rows: int
    svg_size: tuple[int, int]
    png: PngInfo

    @property
    def png_size(self) -> tuple[int, int]:
        """(width, height) of ``path.png`` in pixels."""
        return (self.png.width, self.png.height)

    @property
    def paths(self) -> tuple[Path, ...]:
        """All five files, ``summary.json`` first."""
        return (self.summary_json, self.ctes_csv, self.ctes_xlsx, self.path_svg, self.path_png)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (for the CLI's ``--json`` and the service)."""
        return {
            "folder": str(self.folder),
            "files": [p.name for p in self.paths],
            "rows": self.rows,
            "svg": {"width": self.svg_size[0], "height": self.svg_size[1]},
            "png": {"width": self.png.width, "height": self.png.height, "text": self.png.text,
                    "font": self.png.font},
        }


@contextmanager
def _atomic(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed onto it when the block succeeds."""
    # The writers create the file themselves, so it gets the usual (umask) permissions.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _write(target: Path, writer: Callable[[Path], T]) -> T:
    with _atomic(target) as tmp:
        return writer(tmp)


def _json_default(value: object) -> object:
    """Decimals as strings (docs/contract.md: quantities are decimal strings), times as RFC 3339."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _digest(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"name": path.name, "media_type": MEDIA_TYPES[path.name], "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def summary_document(report: DrillReportInput, files: list[dict[str, Any]]) -> bytes:
    """``summary.json`` bytes: the summary as given plus ``files`` (replacing any such key)."""
    document = dict(report.summary)
    document["files"] = files
    try:
        text = json.dumps(document, ensure_ascii=False, indent=2, default=_json_default)
    except (TypeError, ValueError) as e:
        raise ValidationError(f"expected JSON-serialisable data: {e}",
                              field="DrillReportInput.summary") from e
    # A lone surrogate (legal in a Python str, e.g. from a JSON "\ud800" escape) cannot be
    # UTF-8; "backslashreplace" writes it back as the same JSON escape, keeping it valid JSON.
    return (text + "\n").encode("utf-8", "backslashreplace")


def write_drill_report(folder: Path, report: DrillReportInput, *, font: FontChoice = "auto",
                       tz: tzinfo = CHINA_STANDARD_TIME,
                       max_rows: int = MAX_ROWS) -> DrillReportFiles:
    """Write the drill report for ``report`` into ``folder`` (created if missing).

    ``font`` picks the PNG's font (``"auto"``: find a CJK font; a path; ``"ascii"``: ASCII
    only). ``tz`` is the zone the XLSX shows times in (Excel has none; default UTC+08:00).
    ``max_rows`` is how many boxes a picture column holds before it wraps into sub-columns.
    Existing files of the same names are replaced."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in MEDIA_TYPES}

    rows = _write(paths[CTES_CSV], lambda p: write_csv(p, report))
    _write(paths[CTES_XLSX], lambda p: write_xlsx(p, report, tz=tz))
    # The layout is planned with the font the PNG is drawn with, so names fit their boxes.
    source = resolve_font(font)
    layout: PathLayout = layout_path(report, max_rows=max_rows, measure=text_measure(source))
    svg = render_svg(layout).encode("utf-8")
    _write(paths[PATH_SVG], lambda p: p.write_bytes(svg))
    chosen: FontChoice = Path(source[0]) if source is not None else "ascii"
    png = _write(paths[PATH_PNG], lambda p: render_png(layout, p, font=chosen))

    files: list[dict[str, Any]] = [{"name": SUMMARY_JSON, "media_type": MEDIA_TYPES[SUMMARY_JSON]}]
    files.extend(_digest(paths[name]) for name in (CTES_CSV, CTES_XLSX, PATH_SVG, PATH_PNG))
    files[-1].update({"width": png.width, "height": png.height, "text": png.text})
    document = summary_document(report, files)
    _write(paths[SUMMARY_JSON], lambda p: p.write_bytes(document))

    return DrillReportFiles(
        folder=folder,
        summary_json=paths[SUMMARY_JSON],
        ctes_csv=paths[CTES_CSV],
        ctes_xlsx=paths[CTES_XLSX],
        path_svg=paths[PATH_SVG],
        path_png=paths[PATH_PNG],
        rows=rows,
        svg_size=(layout.width, layout.height),
        png=png,
    )

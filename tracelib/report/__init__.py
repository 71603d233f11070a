"""Recall-drill reports (追溯演练): the files a regulator files after a trace.

Build a :class:`DrillReportInput` (the trace engine does) and call :func:`write_drill_report`::

    files = write_drill_report(Path("drill-2026-11-22"), report)
    files.png_size, files.png.text   # (width, height), "cjk" or "ascii"

This package needs ``openpyxl`` (``ctes.xlsx``) and ``Pillow`` (``path.png``), imported only
when a report is written.
"""

from __future__ import annotations

from .drill import DrillReportFiles, write_drill_report
from .model import (
    CriticalTrackingEvent,
    DrillReportInput,
    FsmaRangeReport,
    LocationDescription,
    NodeStock,
    PathEdge,
    PathNode,
)
from .pathlayout import PathLayout, layout_path
from .pathpng import PngInfo, find_cjk_font, render_png
from .pathsvg import render_svg
from .sheets import (
    CHINA_STANDARD_TIME,
    FSMA_RANGE_HEADERS,
    HEADERS,
    write_csv,
    write_range_csv,
    write_range_xlsx,
    write_xlsx,
)

__all__ = [
    "CHINA_STANDARD_TIME",
    "FSMA_RANGE_HEADERS",
    "HEADERS",
    "CriticalTrackingEvent",
    "DrillReportFiles",
    "DrillReportInput",
    "FsmaRangeReport",
    "LocationDescription",
    "NodeStock",
    "PathEdge",
    "PathLayout",
    "PathNode",
    "PngInfo",
    "find_cjk_font",
    "layout_path",
    "render_png",
    "render_svg",
    "write_csv",
    "write_drill_report",
    "write_range_csv",
    "write_range_xlsx",
    "write_xlsx",
]

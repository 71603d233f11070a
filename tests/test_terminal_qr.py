"""The terminal QR (ISO/IEC 18004:2015 §9.1 quiet zone of 4 modules) decodes with a real
decoder — as text in a file, and on a dark terminal, where its explicit black-on-white
colours are what the phone sees."""

from __future__ import annotations

import re

import pytest
import zxingcpp
from PIL import Image

from tracelib_cli.terminal_qr import QUIET_ZONE, terminal_qr

URL = "http://127.0.0.1:8600/s/stall-m0-a001"
ANSI = re.compile(r"\x1b\[([0-9;]*)m")
# which of (top, bottom) module each half block draws in the foreground
HALVES = {" ": (False, False), "▀": (True, False), "▄": (False, True), "█": (True, True)}
BLACK, WHITE, DARK_THEME_TEXT, DARK_THEME_GROUND = 0, 255, 220, 30


def _screen(text: str, *, fg: int, bg: int) -> list[list[int]]:
    """What a terminal shows, module by module (grey levels), when its default colours are
    ``fg`` on ``bg``: the codes on each line replace them until the reset."""
    rows: list[list[int]] = []
    for line in text.splitlines():
        colours = (fg, bg)
        top: list[int] = []
        bottom: list[int] = []
        for part in re.split(r"(\x1b\[[0-9;]*m)", line):
            found = ANSI.fullmatch(part)
            if found:
                params = found.group(1)
                if params == "0":
                    colours = (fg, bg)
                elif params == "38;5;16":
                    colours = (BLACK, colours[1])
                elif params == "48;5;231":
                    colours = (colours[0], WHITE)
                continue
            for char in part:
                t, b = HALVES[char]
                top.append(colours[0] if t else colours[1])
                bottom.append(colours[0] if b else colours[1])
        rows += [top, bottom]
    return rows


def _decode(rows: list[list[int]]) -> list[str]:
    scale = 8
    image = Image.new("L", (len(rows[0]) * scale, len(rows) * scale))
    for y, row in enumerate(rows):
        for x, grey in enumerate(row):
            image.paste(grey, (x * scale, y * scale, (x + 1) * scale, (y + 1) * scale))
    return [b.text for b in zxingcpp.read_barcodes(image)]


def test_written_to_a_file_it_decodes_with_a_quiet_zone_of_four_modules() -> None:
    text = terminal_qr(URL, colour=False)
    assert "\x1b" not in text
    rows = _screen(text, fg=BLACK, bg=WHITE)  # a light page: dark modules are the blocks
    assert _decode(rows) == [URL]
    assert QUIET_ZONE == 4
    light = WHITE
    for row in rows[:4]:
        assert set(row) == {light}
    for row in rows:
        assert set(row[:4]) == {light} and set(row[-4:]) == {light}
    # the last module row is the 4th of the quiet zone below, or a padding row after it
    assert all(set(row) == {light} for row in rows[-4:])
    assert any(cell != light for cell in rows[4])  # the symbol starts right after it


@pytest.mark.parametrize(("fg", "bg"), [(BLACK, WHITE), (DARK_THEME_TEXT, DARK_THEME_GROUND)],
                         ids=["light-terminal", "dark-terminal"])
def test_on_a_terminal_it_decodes_whatever_the_theme(fg: int, bg: int) -> None:
    text = terminal_qr(URL, colour=True)
    for line in text.splitlines():  # every line sets both colours, and resets them after
        assert line.startswith("\x1b[38;5;16m\x1b[48;5;231m") and line.endswith("\x1b[0m")
    rows = _screen(text, fg=fg, bg=bg)
    assert {cell for row in rows for cell in row} == {BLACK, WHITE}
    assert _decode(rows) == [URL]


def test_the_plain_text_is_a_negative_on_a_dark_terminal() -> None:
    """Why the colours are set: without them a dark theme shows light modules on dark."""
    rows = _screen(terminal_qr(URL, colour=False), fg=DARK_THEME_TEXT, bg=DARK_THEME_GROUND)
    assert rows[0][0] == DARK_THEME_GROUND  # the quiet zone comes out dark

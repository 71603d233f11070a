"""A QR code drawn in the terminal that a phone can scan on any terminal theme.

ISO/IEC 18004:2015 §9.1 asks for a quiet zone of 4 light modules round the symbol; a
scanner also expects dark modules on a light ground. Two modules stack in one character
cell with the half blocks ``▀ ▄ █``, drawn in the foreground colour. On a terminal the
colours are set explicitly (black on white, ANSI 256-colour 16 on 231), so a dark theme
does not turn the code into its negative; written to a file or a pipe, the dark modules
are the blocks (as on paper)."""

from __future__ import annotations

import qrcode
from qrcode.constants import ERROR_CORRECT_M

__all__ = ["QUIET_ZONE", "terminal_qr"]

#: light modules round the symbol, ISO/IEC 18004:2015 §9.1
QUIET_ZONE = 4
#: black foreground on a white background, then back to the terminal's own colours
_DARK_ON_LIGHT = "\x1b[38;5;16m\x1b[48;5;231m"
_RESET = "\x1b[0m"
# (top module dark, bottom module dark) -> the half block drawing them in the foreground
_CELLS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def terminal_qr(data: str, *, colour: bool) -> str:
    """``data`` as a QR code in text, two modules a line, with a 4-module quiet zone;
    ``colour``: set black on white explicitly on every line (for a terminal)."""
    code = qrcode.QRCode(border=QUIET_ZONE, error_correction=ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    if len(matrix) % 2:  # an odd count of rows: one more row of quiet zone below
        matrix.append([False] * len(matrix[0]))
    lines = []
    for top, bottom in zip(matrix[::2], matrix[1::2], strict=True):
        row = "".join(_CELLS[t, b] for t, b in zip(top, bottom, strict=True))
        lines.append(f"{_DARK_ON_LIGHT}{row}{_RESET}" if colour else row)
    return "\n".join(lines) + "\n"

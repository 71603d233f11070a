"""Text hygiene shared by the report writers: untrusted names become safe, single-line text.

Invariants: :func:`clean` returns text that is valid XML 1.0 character data once escaped and
encodes to UTF-8 (no lone surrogates, no C0/C1 controls); :func:`neutralize` returns text that
a spreadsheet will not evaluate as a formula (OWASP "CSV Injection").
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ascii_only", "ascii_prose", "clean", "neutralize", "text_width", "truncate", "wrap"]

# XML 1.0 §2.2 Char, minus the controls we also drop from one-line labels: anything else
# (C0 controls, C1 controls, lone surrogates, U+FFFE/U+FFFF) becomes U+FFFD.
_NOT_TEXT = re.compile("[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACES = re.compile(r"[\t\n\r]+")

# OWASP CSV Injection: a cell starting with one of these may be run as a formula by
# Excel / LibreOffice / WPS; tab and carriage return are on OWASP's list too.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean(text: str, *, one_line: bool = False) -> str:
    """Replace characters XML 1.0 forbids (and lone surrogates) with U+FFFD.

    With ``one_line`` tabs and line breaks become single spaces (labels are one line)."""
    text = _NOT_TEXT.sub("\ufffd", text)
    if one_line:
        text = _SPACES.sub(" ", text)
    return text


def neutralize(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would read as a formula (OWASP CSV Injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def ascii_only(text: str) -> str:
    """Printable ASCII rendering of ``text`` (``\\uXXXX`` escapes), for fonts without CJK."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


_NON_ASCII_RUN = re.compile(r"[^\x20-\x7e]+")


def ascii_prose(text: str) -> str:
    """Free text for fonts without CJK: each run of non-ASCII characters becomes one ``?``
    (escapes would make a sentence unreadable; ids use :func:`ascii_only` instead)."""
    return " ".join(_NON_ASCII_RUN.sub("?", text).split())


def _char_em(ch: str) -> float:
    if unicodedata.combining(ch):
        return 0.0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.0
    if ch == " ":
        return 0.32
    if ch.isupper() or ch in "mwMW@%&":
        return 0.72
    return 0.6


def text_width(text: str, size: float) -> float:
    """A generous estimate of the rendered width of ``text`` at ``size`` px in a CJK sans font.

    The layout is computed once from this estimate and drawn by both the SVG and the PNG
    writer, so it errs wide (CJK ideographs are 1 em, Latin letters 0.6-0.72 em)."""
    return sum(_char_em(ch) for ch in text) * size


def truncate(text: str, size: float, max_width: float) -> str:
    """``text`` cut to fit ``max_width`` (by :func:`text_width`), ending in "…" when cut."""
    if text_width(text, size) <= max_width:
        return text
    budget = max_width - text_width("…", size)
    out: list[str] = []
    used = 0.0
    for ch in text:
        used += _char_em(ch) * size
        if used > budget:
            break
        out.append(ch)
    return "".join(out) + "…"


def wrap(text: str, size: float, max_width: float, max_lines: int) -> list[str]:
    """Break ``text`` into at most ``max_lines`` lines of ``max_width``; the last is truncated.

    Lines break at a space when one is near the end of the line, else between any two
    characters (Chinese text has no spaces)."""
    lines: list[str] = []
    rest = text
    while rest and len(lines) < max_lines - 1:
        if text_width(rest, size) <= max_width:
            break
        used = 0.0
        cut = 0
        for index, ch in enumerate(rest):
            used += _char_em(ch) * size
            if used > max_width:
                break
            cut = index + 1
        cut = max(cut, 1)
        space = rest.rfind(" ", 0, cut)
        if space > cut * 2 // 3:
            cut = space + 1
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not lines:
        lines.append(truncate(rest, size, max_width))
    return lines

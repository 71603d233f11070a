"""Helpers shared by the standards modules: exact decimals, name keys, CSV input.

Invariants:

* :func:`parse_decimal` returns a finite :class:`~decimal.Decimal` equal to its input
  digit for digit; it never goes through ``float`` and rejects floats, booleans, NaN,
  infinities and absurd sizes (over 30 digits, exponent beyond ±30), so every later
  comparison is exact and integer arithmetic on it stays small.
* :func:`name_key` maps the spellings a user may type for one name (full-width forms,
  case, surrounding or repeated spaces) to one key.
"""

from __future__ import annotations

import csv
import io
import os
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import TextIO

from tracelib.errors import ValidationError

__all__ = ["CsvSource", "csv_rows", "data_text", "name_key", "parse_decimal", "split_aliases"]

#: A CSV given as a path or as an open text file.
CsvSource = str | os.PathLike[str] | TextIO

# Readings and residue values have a handful of digits; a cap keeps integer arithmetic
# on them small and rejects garbage such as a pasted hash.
_MAX_DIGITS = 30
_MAX_EXPONENT = 30


def parse_decimal(value: object, *, field: str, what: str = "value") -> Decimal:
    """Parse a decimal string (or :class:`Decimal` / ``int``) exactly.

    Raises :class:`ValidationError` naming ``field`` when the value is missing (``None``
    or blank), a float or bool, not a number, not finite, or out of range.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(f"{what} is missing: expected a decimal string", field=field)
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationError(
            f"{what} must be a decimal string such as \"0.05\", not {type(value).__name__} "
            f"{value!r} (floats are inexact)", field=field)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValidationError(
                f"{what} is not a decimal number: expected e.g. \"0.05\", found {value!r}",
                field=field) from None
    else:
        raise ValidationError(
            f"{what} must be a decimal string, not {type(value).__name__}", field=field)
    if not number.is_finite():
        raise ValidationError(f"{what} must be a finite number, found {value!r}", field=field)
    _, digits, exponent = number.as_tuple()
    if len(digits) > _MAX_DIGITS or not -_MAX_EXPONENT <= int(exponent) <= _MAX_EXPONENT:
        raise ValidationError(
            f"{what} {value!r} is out of range: at most {_MAX_DIGITS} digits and "
            f"magnitudes between 1E-{_MAX_EXPONENT} and 1E+{_MAX_EXPONENT}", field=field)
    return number


def name_key(name: str) -> str:
    """The lookup key of a name: NFKC-normalised, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def split_aliases(cell: str | None) -> tuple[str, ...]:
    """Split a ``|``-separated aliases cell, dropping blanks."""
    if not cell:
        return ()
    return tuple(a.strip() for a in cell.split("|") if a.strip())


@contextmanager
def _open_text(source: CsvSource) -> Iterator[TextIO]:
    if isinstance(source, (str, os.PathLike)):
        with open(source, encoding="utf-8-sig", newline="") as handle:
            yield handle
    else:
        yield source


def csv_rows(source: CsvSource, *, required: tuple[str, ...],
             what: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, row)`` for each data row of a CSV with a header line.

    ``line`` is the 1-based line of the file the row is on (the header is line 1; for a
    row with a quoted multi-line cell, its last line). Cells are stripped strings;
    missing trailing cells are ``""``; extra columns in the header are kept, extra cells
    beyond the header are an error. Raises
    :class:`ValidationError` (with ``line``) for a missing header or required column,
    or a row with more cells than the header.
    """
    with _open_text(source) as handle:
        reader = csv.DictReader(handle, restkey="\x00extra", restval="")
        header = reader.fieldnames
        if not header:
            raise ValidationError(f"{what} is empty: expected a header line", line=1)
        names = [h.lstrip("\ufeff").strip() for h in header]
        reader.fieldnames = names
        for column in required:
            if column not in names:
                raise ValidationError(
                    f"{what} has no column {column!r}: expected columns "
                    f"{', '.join(required)}, found {', '.join(names)}",
                    field=column, line=1)
        for raw in reader:
            line = reader.line_num
            if "\x00extra" in raw:
                raise ValidationError(
                    f"row {line} of {what} has more cells than the header "
                    f"({len(names)} columns)", line=line)
            yield line, {k: (v or "").strip() for k, v in raw.items()}


def data_text(name: str) -> TextIO:
    """Open a shipped data file of ``tracelib.standards`` as text."""
    text = resources.files("tracelib.standards").joinpath("data", name).read_text("utf-8")
    return io.StringIO(text, newline="")

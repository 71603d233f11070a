"""The CLI's tables: at any terminal width (80 columns included) they wrap and fold their
text instead of cutting it with an ellipsis, and keep identifiers whole — lot codes, ids,
dates and URLs are what a reader copies into the next command."""

from __future__ import annotations

from rich.table import Column, Table

__all__ = ["folding_table", "whole"]


def whole(header: str) -> Column:
    """A column of identifiers (lot codes, ids, key ids, times, URLs): never broken while the
    other columns can still wrap; folded, never cut, when nothing else gives way."""
    return Column(header, no_wrap=True, overflow="fold")


def folding_table(*headers: str | Column, title: str | None = None) -> Table:
    """A table whose plain-text columns wrap at spaces and fold words longer than the
    column, so no cell is ever cut short; :func:`whole` columns keep their text on one
    line."""
    columns = [h if isinstance(h, Column) else Column(h, overflow="fold") for h in headers]
    return Table(*columns, title=title)

"""The GB 2763 food classification as a small tree, for the limits cascade.

GB 2763 sets some limits on a food group (豆类蔬菜, 叶菜类 …) and some on a single
commodity (豇豆, 普通白菜 …); a group limit applies to every member that has no limit of its
own (GB 2763 Appendix A, 食品类别及测定部位). This module holds that classification:
:func:`parents` gives the chain a lookup walks, nearest first.

The shipped tree (``data/commodities.csv``, see ``data/README.md``) is abridged to what a
market sees; load a fuller one with :meth:`CommodityTree.from_csv`.

Invariants of a :class:`CommodityTree`:

* Chinese names are unique, and every name, English name and alias resolves to exactly
  one commodity (a clash is rejected when the tree is built).
* Every parent exists and there are no cycles, so every chain ends at a root.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from tracelib.errors import NotFoundError, ValidationError
from tracelib.standards._common import CsvSource, csv_rows, data_text, name_key, split_aliases

__all__ = ["Commodity", "CommodityTree", "parents", "resolve"]


@dataclass(frozen=True)
class Commodity:
    """One node of the classification: a commodity or a food group.

    ``parent`` is the Chinese name of the enclosing group, ``None`` for a root
    (蔬菜, 水果 …). ``source`` says where the node comes from (GB 2763 Appendix A, or a
    market name / tracelib grouping that is not in the standard).
    """

    name_zh: str
    name_en: str
    parent: str | None = None
    aliases: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if not self.name_zh.strip():
            raise ValidationError("a commodity needs a Chinese name", field="name_zh")
        if self.parent is not None and name_key(self.parent) == name_key(self.name_zh):
            raise ValidationError(f"{self.name_zh} cannot be its own parent", field="parent_zh")

    @property
    def names(self) -> tuple[str, ...]:
        """Every name this commodity answers to: Chinese, English, aliases."""
        return (self.name_zh, self.name_en, *self.aliases)


class CommodityTree:
    """An immutable classification tree with name, English-name and alias lookup."""

    __slots__ = ("_by_key", "_chains", "_children", "_nodes")

    def __init__(self, commodities: Iterable[Commodity], *,
                 lines: Mapping[str, int] | None = None) -> None:
        """Build and check the tree; ``lines`` (Chinese name → CSV line) locates errors."""
        where = lines or {}

        def fail(name: str, message: str, field: str) -> ValidationError:
            line = where.get(name)
            return ValidationError(f"row {line}: {message}" if line else message,
                                   field=field, line=line)

        nodes: dict[str, Commodity] = {}
        by_key: dict[str, str] = {}
        for c in commodities:
            if c.name_zh in nodes:
                raise fail(c.name_zh, f"commodity {c.name_zh} is listed twice", "name_zh")
            nodes[c.name_zh] = c
        for c in nodes.values():
            for n in c.names:
                key = name_key(n)
                other = by_key.get(key)
                if other is not None and other != c.name_zh:
                    raise fail(c.name_zh, f"name {n!r} of {c.name_zh} is already used by "
                               f"{other}", "aliases")
                if key:
                    by_key[key] = c.name_zh
        children: dict[str, list[str]] = {name: [] for name in nodes}
        for c in nodes.values():
            if c.parent is None:
                continue
            if c.parent not in nodes:
                raise fail(c.name_zh, f"parent {c.parent!r} of {c.name_zh} is not in the tree",
                           "parent_zh")
            children[c.parent].append(c.name_zh)
        chains: dict[str, tuple[str, ...]] = {}
        for name in nodes:
            chain = [name]
            while (parent := nodes[chain[-1]].parent) is not None:
                if parent in chain:
                    raise fail(name, f"the tree has a cycle: {' → '.join([*chain, parent])}",
                               "parent_zh")
                chain.append(parent)
            chains[name] = tuple(chain)
        self._nodes = nodes
        self._by_key = by_key
        self._children = {k: tuple(v) for k, v in children.items()}
        self._chains = chains

    @classmethod
    def from_csv(cls, source: CsvSource) -> CommodityTree:
        """Load a tree from CSV columns ``name_zh, name_en, parent_zh, aliases, source``.

        ``aliases`` is ``|``-separated; ``name_en``, ``aliases`` and ``source`` may be
        empty or absent, extra columns are ignored. A bad row raises
        :class:`ValidationError` naming its line and column.
        """
        items: list[Commodity] = []
        lines: dict[str, int] = {}
        for line, row in csv_rows(source, required=("name_zh", "parent_zh"),
                                  what="commodity CSV"):
            name = row["name_zh"]
            if not name:
                raise ValidationError(f"row {line}: name_zh is empty", field="name_zh", line=line)
            if name in lines:
                raise ValidationError(
                    f"row {line}: {name} is already listed on row {lines[name]}",
                    field="name_zh", line=line)
            lines[name] = line
            items.append(Commodity(name_zh=name, name_en=row.get("name_en", ""),
                                   parent=row["parent_zh"] or None,
                                   aliases=split_aliases(row.get("aliases")),
                                   source=row.get("source", "")))
        return cls(items, lines=lines)

    @classmethod
    def starter(cls) -> CommodityTree:
        """The tree shipped in ``data/commodities.csv`` (built once, then shared)."""
        return _starter_tree()

    def get(self, name: str) -> Commodity | None:
        """The commodity called ``name`` (any name, English name or alias), or ``None``."""
        key = self._by_key.get(name_key(name))
        return self._nodes[key] if key is not None else None

    def resolve(self, name: str) -> Commodity:
        """The commodity called ``name``; :class:`NotFoundError` if there is none."""
        found = self.get(name)
        if found is None:
            raise NotFoundError(
                f"unknown commodity {name!r}: not a name, English name or alias in the "
                f"GB 2763 classification tree ({len(self._nodes)} entries)")
        return found

    def parents(self, name: str) -> tuple[str, ...]:
        """Chinese names from ``name`` itself up to its root, nearest first.

        ``parents("豆角") == ("豇豆", "荚可食类", "豆类蔬菜", "蔬菜")``. This is the order a
        limit lookup walks (GB 2763 Appendix A: a group limit covers its members).
        """
        return self._chains[self.resolve(name).name_zh]

    def children(self, name: str) -> tuple[str, ...]:
        """Chinese names of the direct members of the group ``name``."""
        return self._children[self.resolve(name).name_zh]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[Commodity]:
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)


@cache
def _starter_tree() -> CommodityTree:
    return CommodityTree.from_csv(data_text("commodities.csv"))


def resolve(name: str, tree: CommodityTree | None = None) -> Commodity:
    """Resolve ``name`` in ``tree`` (default: the shipped tree); NotFoundError if unknown."""
    return (tree if tree is not None else CommodityTree.starter()).resolve(name)


def parents(commodity: str, tree: CommodityTree | None = None) -> tuple[str, ...]:
    """The cascade chain of ``commodity``: itself, then each enclosing group to the root.

    Uses the shipped tree unless ``tree`` is given; NotFoundError for an unknown name.
    """
    return (tree if tree is not None else CommodityTree.starter()).parents(commodity)

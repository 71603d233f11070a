"""Pesticide maximum residue limits (GB 2763), bans, and lab-result verdicts.

The current edition is GB 2763-2026 (effective 2026-03-01). No open machine-readable copy
exists, so a :class:`LimitsTable` is *versioned data*: the shipped starter
(``LimitsTable.starter()``, version ``starter-1``, sourced values with provenance, several
from older editions and flagged, see ``data/README.md``) or a user's authoritative table
loaded with :meth:`LimitsTable.from_csv`.

Rules:

* Category cascade (GB 2763 Appendix A): a limit set on a food group applies to every
  member without a limit of its own. :meth:`LimitsTable.lookup` walks from the commodity
  up its groups (:func:`~tracelib.standards.commodities.parents`) and takes the nearest
  row.
* Bans (the notices named in ``data/banned.csv``): a banned pesticide or veterinary drug fails on
  any detection, for tests **on or after** the ban's effective date; before it the
  ordinary limit applies.
* A value above the limit fails; a value equal to the limit passes. Values are compared
  exactly as :class:`~decimal.Decimal` in mg/kg (1 μg/kg = 0.001 mg/kg, exactly).

Invariants of a table: every row's commodity is in its commodity tree; a pesticide has at
most one row per commodity; limits are finite and not negative; every name (Chinese,
English, alias) of an analyte names only that analyte.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Literal

from tracelib.errors import NotFoundError, ValidationError
from tracelib.standards._common import (
    CsvSource,
    csv_rows,
    data_text,
    name_key,
    parse_decimal,
    split_aliases,
)
from tracelib.standards.commodities import CommodityTree

__all__ = [
    "CURRENT_EDITION",
    "BanRow",
    "LabVerdict",
    "LimitDecision",
    "LimitRow",
    "LimitsTable",
    "judge_lab",
    "load_bans",
    "to_mg_kg",
]

#: The edition in force (effective 2026-03-01); rows from any other edition are flagged.
CURRENT_EDITION = "GB 2763-2026"

_NOT_DETECTED = frozenset({"nd", "n.d.", "未检出", "not detected", "<lod", "< lod"})
# μ as GREEK SMALL LETTER MU (U+03BC), MICRO SIGN (U+00B5) or plain "u".
_PER_MG = {"mg/kg": 0, "μg/kg": -3, "µg/kg": -3, "ug/kg": -3}


@dataclass(frozen=True)
class LimitRow:
    """One limit of a table: a pesticide on a commodity or a food group, in mg/kg.

    ``row`` is the line of the CSV the row came from (header = line 1). ``edition``,
    ``era``, ``confidence`` and ``source`` are its provenance; ``table_version`` the
    table it was loaded into (or the version the file itself names).
    """

    pesticide_zh: str
    pesticide_en: str
    commodity_zh: str
    commodity_en: str
    mrl_mg_kg: Decimal
    era: str = ""
    confidence: str = ""
    source: str = ""
    table_version: str = ""
    edition: str = ""
    row: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.mrl_mg_kg, Decimal) or not self.mrl_mg_kg.is_finite() \
                or self.mrl_mg_kg < 0:
            raise ValidationError(f"limit must be a Decimal ≥ 0, found {self.mrl_mg_kg!r}",
                                  field="mrl_mg_kg", line=self.row or None)

    @property
    def is_current(self) -> bool:
        """True only when the row is known to be from GB 2763-2026."""
        return self.edition.startswith(CURRENT_EDITION)

    def provenance(self) -> str:
        """Short provenance: ``"GB 2763-2021, regulator notice"``; flags old editions."""
        edition = self.edition or self.era or "edition unknown"
        text = f"{edition}, {self.confidence}" if self.confidence else edition
        if not self.is_current:
            text += f"; not confirmed against {CURRENT_EDITION}"
        return text


@dataclass(frozen=True)
class BanRow:
    """A substance whose any detection fails, from ``effective`` on.

    ``kind`` is ``pesticide`` (sale and use banned) or ``vet_drug`` (banned in food
    animals); ``notice`` names the legal act and ``source`` where its text was read.
    """

    substance_zh: str
    substance_en: str
    kind: Literal["pesticide", "vet_drug"]
    effective: dt.date
    scope: str = ""
    notice: str = ""
    confidence: str = ""
    source: str = ""
    aliases: tuple[str, ...] = ()
    row: int = 0

    def applies_on(self, on: dt.date) -> bool:
        """True for tests on or after the effective date (the day itself is banned)."""
        return _as_date(on) >= self.effective


@dataclass(frozen=True)
class LimitDecision:
    """What a lookup found.

    ``limit_mg_kg``/``row`` are the ordinary limit and its row (``None`` when there is no
    limit anywhere on the chain). ``path`` is the commodity chain walked, from the
    commodity up to the group whose row applies (the whole chain when none does).
    ``banned`` is the ban in force on the test date, if any; it overrides the limit.
    """

    limit_mg_kg: Decimal | None
    row: LimitRow | None
    path: tuple[str, ...]
    banned: BanRow | None
    explanation: str


@dataclass(frozen=True)
class LabVerdict:
    """The verdict on one lab result.

    ``verdict`` is ``pass`` or ``fail``, or ``no_limit`` when a residue was detected but
    the table has no limit for it on this commodity or its groups and it is not banned
    (GB 2763 has no default limit; judge it against the full standard). For a banned
    substance ``limit_mg_kg`` is 0: any detection fails.
    """

    value_mg_kg: Decimal
    limit_mg_kg: Decimal | None
    verdict: Literal["pass", "fail", "no_limit"]
    banned: bool
    table_version: str
    explanation: str

    def to_dict(self) -> dict[str, object]:
        return {"value_mg_kg": str(self.value_mg_kg),
                "limit_mg_kg": None if self.limit_mg_kg is None else str(self.limit_mg_kg),
                "verdict": self.verdict, "banned": self.banned,
                "table_version": self.table_version, "explanation": self.explanation}


def _as_date(on: object) -> dt.date:
    if isinstance(on, dt.datetime):
        return on.date()
    if isinstance(on, dt.date):
        return on
    raise ValidationError(f"test date must be a date, found {on!r}", field="on")


def _en_names(name: str) -> tuple[str, ...]:
    # "fipronil (sum with metabolites)" also answers to "fipronil".
    short = name.split("(")[0].strip()
    return (name, short) if short and short != name else (name,)


def load_bans(source: CsvSource) -> tuple[BanRow, ...]:
    """Load bans from CSV columns ``substance_zh, substance_en, aliases, kind, effective,
    scope, notice, confidence, source`` (the last five may be empty; extra columns are
    ignored). A bad row raises :class:`ValidationError` naming its line and column."""
    bans: list[BanRow] = []
    for line, row in csv_rows(source, required=("substance_zh", "kind", "effective"),
                              what="ban CSV"):
        if not row["substance_zh"]:
            raise ValidationError(f"row {line}: substance_zh is empty", field="substance_zh",
                                  line=line)
        kind = row["kind"]
        if kind not in ("pesticide", "vet_drug"):
            raise ValidationError(f"row {line}: kind must be pesticide or vet_drug, found "
                                  f"{kind!r}", field="kind", line=line)
        try:
            effective = dt.date.fromisoformat(row["effective"])
        except ValueError:
            raise ValidationError(f"row {line}: effective must be a date YYYY-MM-DD, found "
                                  f"{row['effective']!r}", field="effective", line=line) from None
        bans.append(BanRow(substance_zh=row["substance_zh"],
                           substance_en=row.get("substance_en", ""),
                           kind="pesticide" if kind == "pesticide" else "vet_drug",
                           effective=effective, scope=row.get("scope", ""),
                           notice=row.get("notice", ""), confidence=row.get("confidence", ""),
                           source=row.get("source", ""),
                           aliases=split_aliases(row.get("aliases")), row=line))
    return tuple(bans)


@cache
def _starter_bans() -> tuple[BanRow, ...]:
    return load_bans(data_text("banned.csv"))


class LimitsTable:
    """A versioned, immutable table of limits plus the bans and the commodity tree it uses."""

    __slots__ = ("_ban_by_name", "_bans", "_limits", "_names", "_rows", "_tree", "_version")

    def __init__(self, rows: Iterable[LimitRow], *, version: str,
                 bans: Iterable[BanRow] | None = None,
                 commodities: CommodityTree | None = None) -> None:
        """Index ``rows``; raises :class:`ValidationError` (with the row's line) for a
        commodity not in the tree, a second row for the same pesticide and commodity, or
        a name shared by two analytes. ``bans`` default to the shipped ``banned.csv``."""
        if not version or not version.strip():
            raise ValidationError("a limits table needs a version", field="version")
        self._version = version
        self._tree = commodities if commodities is not None else CommodityTree.starter()
        self._rows = tuple(rows)
        self._bans = tuple(bans) if bans is not None else _starter_bans()
        names: dict[str, str] = {}

        def claim(name: str, analyte: str, line: int, column: str) -> None:
            key = name_key(name)
            if not key:
                return
            other = names.setdefault(key, analyte)
            if other != analyte:
                raise ValidationError(
                    f"row {line}: name {name!r} of {analyte} already names {other}",
                    field=column, line=line or None)

        limits: dict[tuple[str, str], LimitRow] = {}
        for r in self.rows:
            node = self.commodities.get(r.commodity_zh)
            if node is None:
                raise ValidationError(
                    f"row {r.row}: commodity {r.commodity_zh!r} is not in the commodity tree; "
                    f"add it (CommodityTree.from_csv) so its group limits cascade correctly",
                    field="commodity_zh", line=r.row or None)
            claim(r.pesticide_zh, r.pesticide_zh, r.row, "pesticide_zh")
            for en in _en_names(r.pesticide_en):
                claim(en, r.pesticide_zh, r.row, "pesticide_en")
            key = (r.pesticide_zh, node.name_zh)
            if key in limits:
                raise ValidationError(
                    f"row {r.row}: a second limit for {r.pesticide_zh} on {node.name_zh} "
                    f"(first on row {limits[key].row})", field="commodity_zh",
                    line=r.row or None)
            limits[key] = r
        for b in self.bans:
            for n in (b.substance_zh, *_en_names(b.substance_en), *b.aliases):
                claim(n, b.substance_zh, b.row, "substance")
        self._limits = limits
        self._names = names
        self._ban_by_name = {b.substance_zh: b for b in self.bans}

    @property
    def version(self) -> str:
        """The version this table was loaded as (``starter-1`` for the shipped table)."""
        return self._version

    @property
    def rows(self) -> tuple[LimitRow, ...]:
        """Every limit row, in file order."""
        return self._rows

    @property
    def bans(self) -> tuple[BanRow, ...]:
        """The bans this table applies."""
        return self._bans

    @property
    def commodities(self) -> CommodityTree:
        """The classification tree the cascade walks."""
        return self._tree

    @classmethod
    def from_csv(cls, source: CsvSource, version: str, *,
                 commodities: CommodityTree | None = None,
                 bans: Iterable[BanRow] | None = None) -> LimitsTable:
        """Load a table from CSV, as version ``version``.

        Columns as ``data/pesticide_mrl.csv``: ``pesticide_zh``, ``commodity_zh`` and
        ``mrl_mg_kg`` are required; ``pesticide_en``, ``commodity_en``, ``era``,
        ``confidence``, ``source``, ``table_version``, ``edition`` are optional; extra
        columns are ignored. A bad row raises :class:`ValidationError` whose ``line`` is
        the row's line in the file and ``field`` the column.
        """
        rows: list[LimitRow] = []
        for line, row in csv_rows(source, required=("pesticide_zh", "commodity_zh",
                                                     "mrl_mg_kg"), what="limits CSV"):
            for column in ("pesticide_zh", "commodity_zh"):
                if not row[column]:
                    raise ValidationError(f"row {line}: {column} is empty", field=column,
                                          line=line)
            try:
                mrl = parse_decimal(row["mrl_mg_kg"], field="mrl_mg_kg", what="mrl_mg_kg")
            except ValidationError as e:
                raise ValidationError(f"row {line}: {e.message}", field="mrl_mg_kg",
                                      line=line) from None
            if mrl < 0:
                raise ValidationError(f"row {line}: mrl_mg_kg must not be negative, found "
                                      f"{row['mrl_mg_kg']!r}", field="mrl_mg_kg", line=line)
            rows.append(LimitRow(
                pesticide_zh=row["pesticide_zh"], pesticide_en=row.get("pesticide_en", ""),
                commodity_zh=row["commodity_zh"], commodity_en=row.get("commodity_en", ""),
                mrl_mg_kg=mrl, era=row.get("era", ""), confidence=row.get("confidence", ""),
                source=row.get("source", ""),
                table_version=row.get("table_version", "") or version,
                edition=row.get("edition", ""), row=line))
        return cls(rows, version=version, bans=bans, commodities=commodities)

    @classmethod
    def starter(cls) -> LimitsTable:
        """The shipped table ``data/pesticide_mrl.csv``, version ``starter-1``."""
        return _starter_table()

    def analyte(self, name: str) -> str:
        """Canonical (Chinese) name of a pesticide or drug known to this table or its bans.

        Accepts Chinese or English names and aliases; :class:`NotFoundError` if unknown.
        """
        found = self._names.get(name_key(name)) if isinstance(name, str) else None
        if found is None:
            raise NotFoundError(
                f"unknown pesticide or drug {name!r}: not in limits table {self.version} "
                f"nor in the ban list")
        return found

    def ban(self, analyte: str, on: dt.date) -> BanRow | None:
        """The ban on ``analyte`` in force on ``on`` (on or after its date), or ``None``."""
        found = self._ban_by_name.get(self.analyte(analyte))
        return found if found is not None and found.applies_on(on) else None

    def lookup(self, pesticide: str, commodity: str, on: dt.date) -> LimitDecision:
        """The limit for ``pesticide`` on ``commodity`` for a test on ``on``.

        Walks the commodity's chain (itself, then its groups, GB 2763 Appendix A) and takes
        the nearest row; reports a ban in force on ``on``. :class:`NotFoundError` for an
        unknown pesticide or commodity.
        """
        day = _as_date(on)
        analyte = self.analyte(pesticide)
        node = self.commodities.resolve(commodity)
        chain = self.commodities.parents(node.name_zh)
        row: LimitRow | None = None
        path = chain
        for i, group in enumerate(chain):
            row = self._limits.get((analyte, group))
            if row is not None:
                path = chain[: i + 1]
                break
        ban = self._ban_by_name.get(analyte)
        in_force = ban if ban is not None and ban.applies_on(day) else None

        name = node.name_zh
        if row is None:
            groups = "、".join(chain[1:])
            text = (f"no limit for {analyte} on {name}"
                    + (f" or its groups ({groups})" if groups else "")
                    + f" in table {self.version}")
        elif len(path) == 1:
            text = (f"{name} has its own limit for {analyte}: {row.mrl_mg_kg} mg/kg from row "
                    f"{row.row} ({row.provenance()})")
        else:
            text = (f"no limit for {name}; applies the {path[-1]} group limit "
                    f"{row.mrl_mg_kg} mg/kg from row {row.row} ({row.provenance()}), "
                    f"GB 2763 category cascade {' → '.join(path)}")
        if in_force is not None:
            text = (f"{analyte} is banned from {in_force.effective} ({in_force.notice}): any "
                    f"detection fails")
            if row is not None:
                text += (f"; the ordinary limit {row.mrl_mg_kg} mg/kg (row {row.row}, "
                         f"{path[-1]}) does not apply")
        elif ban is not None:
            text += (f"; {analyte} is banned only from {ban.effective} ({ban.notice}), so on "
                     f"{day} the ordinary limit applies")
        return LimitDecision(limit_mg_kg=row.mrl_mg_kg if row else None, row=row, path=path,
                             banned=in_force, explanation=text)

    def __repr__(self) -> str:
        return (f"LimitsTable(version={self.version!r}, rows={len(self.rows)}, "
                f"bans={len(self.bans)})")


@cache
def _starter_table() -> LimitsTable:
    return LimitsTable.from_csv(data_text("pesticide_mrl.csv"), version="starter-1")


def to_mg_kg(value: object, unit: object) -> Decimal:
    """Convert a residue value to mg/kg exactly.

    ``unit`` is ``mg/kg`` or ``μg/kg`` (also ``µg/kg`` with U+00B5 and ``ug/kg``);
    ``value`` a decimal string, :class:`Decimal` or int, or ``ND`` / ``未检出`` (= 0).
    ValidationError ``field="unit"`` for a missing or unknown unit, ``field="value"`` for
    a missing, non-numeric or negative value.
    """
    if not isinstance(unit, str) or not unit.strip():
        raise ValidationError("unit is missing: expected mg/kg or μg/kg", field="unit")
    shift = _PER_MG.get("".join(unit.split()).lower())
    if shift is None:
        raise ValidationError(f"unknown unit {unit!r}: expected mg/kg or μg/kg", field="unit")
    if isinstance(value, str) and name_key(value) in _NOT_DETECTED:
        return Decimal(0)
    number = parse_decimal(value, field="value", what="value")
    if number < 0:
        raise ValidationError(f"value must not be negative, found {value!r}", field="value")
    # 1 μg/kg = 0.001 mg/kg: shift the exponent, an exact operation on a Decimal.
    sign, digits, exponent = number.as_tuple()
    return Decimal((sign, digits, int(exponent) + shift))


def judge_lab(analyte: str, commodity: str, value: object, unit: object, on: dt.date,
              table: LimitsTable | None = None) -> LabVerdict:
    """Judge a ``lab_test`` result against ``table`` (default: the starter table).

    A value above the limit fails, at or below passes; for a substance banned on ``on``
    any detection (value > 0) fails. ``ND`` / ``未检出`` / 0 always passes. A detection
    with no limit on the commodity's chain and no ban gives ``no_limit``.

    ValidationError: ``field="unit"`` (missing/unknown unit), ``"value"`` (negative or
    non-numeric), ``"commodity"`` (unknown commodity), ``"analyte"`` (unknown analyte).
    """
    table = table if table is not None else LimitsTable.starter()
    mg_kg = to_mg_kg(value, unit)
    if not isinstance(analyte, str) or not analyte.strip():
        raise ValidationError("analyte is missing", field="analyte")
    if not isinstance(commodity, str) or not commodity.strip():
        raise ValidationError("commodity is missing", field="commodity")
    try:
        table.analyte(analyte)
    except NotFoundError as e:
        raise ValidationError(str(e), field="analyte") from e
    if commodity not in table.commodities:
        raise ValidationError(
            f"unknown commodity {commodity!r}: not in the GB 2763 classification tree",
            field="commodity")
    decision = table.lookup(analyte, commodity, on)
    shown = f"{mg_kg} mg/kg"
    if decision.banned is not None:
        verdict: Literal["pass", "fail", "no_limit"] = "fail" if mg_kg > 0 else "pass"
        limit: Decimal | None = Decimal(0)
        head = (f"{shown} detected: fail" if mg_kg > 0 else "not detected: pass")
    elif mg_kg == 0:
        verdict, limit = "pass", decision.limit_mg_kg
        head = "not detected: pass"
    elif decision.limit_mg_kg is None:
        verdict, limit = "no_limit", None
        head = f"{shown} detected, no limit in this table: judge against the full standard"
    else:
        limit = decision.limit_mg_kg
        verdict = "fail" if mg_kg > limit else "pass"
        head = (f"{shown} exceeds the limit {limit} mg/kg: fail" if verdict == "fail"
                else f"{shown} is within the limit {limit} mg/kg: pass")
    return LabVerdict(value_mg_kg=mg_kg, limit_mg_kg=limit, verdict=verdict,
                      banned=decision.banned is not None, table_version=table.version,
                      explanation=f"{head}. {decision.explanation}")


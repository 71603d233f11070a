"""Rapid tests of the market's testing room (快检室): enzyme inhibition and strips.

Enzyme inhibition (GB/T 5009.199-2003, NY/T 448-2001) screens vegetables for
organophosphate and carbamate residues: the sample's extract inhibits cholinesterase, and the
absorbance change over 3 min at 412 nm of a control (ΔA₀) and of the sample (ΔAₜ) give

    inhibition % = (ΔA₀ − ΔAₜ) / ΔA₀ × 100

A rate of **50 % or more is positive** (exactly 50 % is positive). tracelib adds a
*suspect* band, 40 % up to under 50 %: a 351,169-batch study found 25.4 % false negatives
there. Strips (β-agonists, malachite green, formaldehyde, sulfur dioxide,
吊白块, nitrite) read only negative or positive.

Invariants:

* The result is decided on the exact rate, by integer arithmetic on the readings; the
  reported ``rate`` is that rate rounded **down** to 0.01, so ``classify_rate(rate)`` is
  always the result (49.999… is shown as 49.99 and is suspect, never as 50.00).
* A verdict never contradicts its readings: a claimed result that differs from the
  computed one is rejected, not overwritten.
* Everything is :class:`~decimal.Decimal`; floats are rejected.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from tracelib.errors import ValidationError
from tracelib.standards._common import name_key, parse_decimal
from tracelib.standards.commodities import CommodityTree

__all__ = [
    "DEFAULT_CRITERIA",
    "FALSE_POSITIVE_PRONE",
    "ITEMS",
    "METHODS",
    "POSITIVE_AT",
    "SUSPECT_AT",
    "EnzymeCriteria",
    "InhibitionResult",
    "RapidResult",
    "RapidVerdict",
    "TestItem",
    "TestMethod",
    "classify_rate",
    "enzyme_inhibition",
    "false_positive_prone",
    "item",
    "judge_rapid",
    "method",
]

RapidResult = Literal["negative", "suspect", "positive"]

# GB/T 5009.199-2003: inhibition ≥ 50 % is positive — the boundary itself is positive.
POSITIVE_AT = Decimal("50")
# 40 % up to under 50 % is flagged suspect (false negatives found there).
SUSPECT_AT = Decimal("40")
_POSITIVE_RATIO = POSITIVE_AT.as_integer_ratio()
_SUSPECT_RATIO = SUSPECT_AT.as_integer_ratio()

# GB/T 5009.199-2003 (note on interferences): the juices of 葱 蒜 萝卜 韭菜 芹菜 香菜 茭白
# 蘑菇 番茄 contain plant secondary metabolites that inhibit the enzyme and give false
# positives. Names are nodes of the commodity tree; members of a listed group count
# (every mushroom under 蘑菇类, 樱桃番茄 under 番茄类). 蒜 includes its green parts.
FALSE_POSITIVE_PRONE: tuple[str, ...] = (
    "葱", "大蒜", "青蒜", "蒜薹", "萝卜", "韭菜", "芹菜", "芫荽", "茭白", "蘑菇类", "番茄类",
)


@dataclass(frozen=True)
class EnzymeCriteria:
    """When enzyme-inhibition readings are plausible enough to judge.

    * ``min_delta_a0``: the control's ΔA₀ must be at least this. Default 0.3. We found
      no primary text of GB/T 5009.199-2003 to confirm the figure: 0.3 is the lower bound
      of the control range (0.3–0.8) that third-party calculators attribute to the
      standard, and a lower ΔA₀ means too little enzyme activity to judge. Configurable.
    * ``max_delta_a0``: optional upper bound on ΔA₀ (those calculators use 0.8); off by
      default because we could not source it.
    * ``min_rate``: a rate below this (ΔAₜ above ΔA₀ by more than 10 % of ΔA₀) is a bad
      reading, not a very clean sample.

    Invariant: ``0 < min_delta_a0`` (ΔA₀ = 0 would divide by zero), ``min_rate ≤ 0`` and
    ``max_delta_a0``, when set, is at least ``min_delta_a0``.
    """

    min_delta_a0: Decimal = Decimal("0.3")
    max_delta_a0: Decimal | None = None
    min_rate: Decimal = Decimal("-10")

    def __post_init__(self) -> None:
        for name in ("min_delta_a0", "min_rate"):
            if not isinstance(getattr(self, name), Decimal):
                raise ValidationError(f"{name} must be a Decimal", field=name)
        if self.min_delta_a0 <= 0:
            raise ValidationError("min_delta_a0 must be above 0", field="min_delta_a0")
        if self.max_delta_a0 is not None and self.max_delta_a0 < self.min_delta_a0:
            raise ValidationError("max_delta_a0 is below min_delta_a0", field="max_delta_a0")
        if self.min_rate > 0:
            raise ValidationError("min_rate must be 0 or below", field="min_rate")


DEFAULT_CRITERIA = EnzymeCriteria()


@dataclass(frozen=True)
class InhibitionResult:
    """One enzyme-inhibition reading pair, judged.

    ``rate`` is the inhibition % rounded down to 0.01; ``result`` is decided on the exact
    rate and always equals ``classify_rate(rate)``. ``false_positive_prone`` is true when
    the sample's commodity is one GB/T 5009.199-2003 warns about.
    """

    rate: Decimal
    result: RapidResult
    false_positive_prone: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"rate": str(self.rate), "result": self.result,
                "false_positive_prone": self.false_positive_prone}


@dataclass(frozen=True)
class TestMethod:
    """A rapid-test method: a standard's code, or a technique where no code is sourced."""

    __test__ = False  # not a pytest class

    code: str
    name_zh: str
    name_en: str
    source: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestItem:
    """A rapid-test item (检测项目) and the methods valid for it.

    ``kind`` is ``"enzyme"`` (readings ΔA₀/ΔAₜ, result negative/suspect/positive) or
    ``"strip"`` (result negative/positive only). ``must_not_detect`` marks substances that
    may not be present at all, so a positive is a failure by itself.
    """

    __test__ = False  # not a pytest class

    code: str
    name_zh: str
    name_en: str
    kind: Literal["enzyme", "strip"]
    methods: tuple[str, ...]
    must_not_detect: bool
    aliases: tuple[str, ...] = ()
    basis: str = ""

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValidationError(f"item {self.code} has unknown methods {unknown}",
                                  field="method")


@dataclass(frozen=True)
class RapidVerdict:
    """The judged outcome of one rapid test.

    ``rate`` is set for enzyme tests judged from readings (rounded down to 0.01) and
    ``None`` otherwise. ``reasons`` explains the result in order: computation, band,
    warnings, what to do next.
    """

    rate: Decimal | None
    result: RapidResult
    reasons: tuple[str, ...]
    item: TestItem = field(repr=False)
    method: str = ""
    false_positive_prone: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"item": self.item.code, "method": self.method,
                "rate": None if self.rate is None else str(self.rate),
                "result": self.result, "false_positive_prone": self.false_positive_prone,
                "reasons": list(self.reasons)}


def _method_key(code: str) -> str:
    # "GB/T 5009.199—2003", "gb/t5009.199-2003" and "GB/T 5009.199-2003" are one method.
    text = unicodedata.normalize("NFKC", code)
    for dash in ("—", "–", "－", "‐"):
        text = text.replace(dash, "-")
    return "".join(text.split()).casefold()


METHODS: dict[str, TestMethod] = {m.code: m for m in (
    TestMethod("GB/T 5009.199-2003",
               "蔬菜中有机磷和氨基甲酸酯类农药残留量的快速检测",
               "Rapid determination of organophosphate and carbamate pesticide residues in "
               "vegetables (enzyme inhibition / test card)",
               "GB/T 5009.199-2003", aliases=("GB/T 5009.199",)),
    TestMethod("NY/T 448-2001",
               "蔬菜上有机磷和氨基甲酸酯类农药残毒快速检测方法",
               "Rapid test for organophosphate and carbamate pesticide residues on "
               "vegetables",
               "NY/T 448-2001", aliases=("NY/T 448",)),
    # No KJ (国家食品快速检测方法) code could be sourced for the strips, so they are
    # recorded by technique; add KJ codes here once confirmed against the published list.
    TestMethod("colloidal-gold", "胶体金免疫层析法", "colloidal gold immunochromatography",
               "technique (no standard code sourced)",
               aliases=("胶体金", "胶体金法", "胶体金检测法", "colloidal gold")),
    TestMethod("colorimetric", "比色法", "colorimetric test kit",
               "technique (no standard code sourced)",
               aliases=("化学比色法", "显色法", "colorimetry")),
)}

_METHOD_BY_KEY: dict[str, str] = {
    _method_key(n): m.code for m in METHODS.values()
    for n in (m.code, m.name_zh, m.name_en, *m.aliases)
}

_B_AGONIST = "β-agonist (瘦肉精), banned in all food animals: 农业部公告第193号"
ITEMS: dict[str, TestItem] = {i.code: i for i in (
    TestItem("op-carbamate", "有机磷和氨基甲酸酯类农药", "organophosphate and carbamate pesticides",
             "enzyme", ("GB/T 5009.199-2003", "NY/T 448-2001"), False,
             aliases=("有机磷和氨基甲酸酯类", "农药残留", "农残", "pesticide residues"),
             basis="GB/T 5009.199-2003; NY/T 448-2001"),
    TestItem("clenbuterol", "克伦特罗", "clenbuterol", "strip", ("colloidal-gold",), True,
             aliases=("克仑特罗", "盐酸克伦特罗"), basis=_B_AGONIST),
    TestItem("ractopamine", "莱克多巴胺", "ractopamine", "strip", ("colloidal-gold",), True,
             aliases=("盐酸莱克多巴胺",),
             basis="β-agonist (瘦肉精), banned in feed and drinking water since 2002"),
    TestItem("salbutamol", "沙丁胺醇", "salbutamol", "strip", ("colloidal-gold",), True,
             aliases=("albuterol",), basis=_B_AGONIST),
    TestItem("malachite-green", "孔雀石绿", "malachite green", "strip", ("colloidal-gold",), True,
             basis="banned in all food animals: 农业部公告第193号"),
    TestItem("formaldehyde", "甲醛", "formaldehyde", "strip", ("colorimetric",), False),
    TestItem("sulfur-dioxide", "二氧化硫", "sulfur dioxide", "strip", ("colorimetric",), False,
             aliases=("sulphur dioxide", "SO2")),
    # 吊白块 is first on the list of non-food substances illegally added to food
    # (食品中可能违法添加的非食用物质名单): any presence is a failure.
    TestItem("rongalite", "吊白块", "rongalite (sodium formaldehyde sulfoxylate)", "strip",
             ("colorimetric",), True,
             aliases=("sodium formaldehyde sulfoxylate", "甲醛次硫酸氢钠"),
             basis="non-food substance (食品中可能违法添加的非食用物质名单, item 1)"),
    TestItem("nitrite", "亚硝酸盐", "nitrite", "strip", ("colorimetric",), False),
)}

_ITEM_BY_KEY: dict[str, str] = {
    name_key(n).replace("_", "-").replace(" ", "-"): i.code
    for i in ITEMS.values() for n in (i.code, i.name_zh, i.name_en, *i.aliases)
}

_RESULT_WORDS: dict[str, RapidResult] = {
    "negative": "negative", "阴性": "negative", "-": "negative",
    "suspect": "suspect", "可疑": "suspect", "疑似阳性": "suspect",
    "positive": "positive", "阳性": "positive", "+": "positive",
}


def item(name: str) -> TestItem:
    """Look up a test item by code, Chinese or English name, or alias.

    ``item("有机磷和氨基甲酸酯类农药")``, ``item("clenbuterol")``, ``item("Malachite green")``.
    Unknown → :class:`ValidationError` with ``field="item"``.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("item is missing", field="item")
    code = _ITEM_BY_KEY.get(name_key(name).replace("_", "-").replace(" ", "-"))
    if code is None:
        raise ValidationError(
            f"unknown rapid-test item {name!r}: expected one of "
            f"{', '.join(f'{i.code} ({i.name_zh})' for i in ITEMS.values())}", field="item")
    return ITEMS[code]


def method(code: str, for_item: TestItem | None = None) -> TestMethod:
    """Look up a method by code or alias (dash, space and case variants accepted).

    With ``for_item``, the method must be one of that item's methods. Either failure →
    :class:`ValidationError` with ``field="method"``.
    """
    if not isinstance(code, str) or not code.strip():
        raise ValidationError("method is missing", field="method")
    found = _METHOD_BY_KEY.get(_method_key(code))
    if found is None:
        raise ValidationError(
            f"unknown rapid-test method {code!r}: expected one of {', '.join(METHODS)}",
            field="method")
    if for_item is not None and found not in for_item.methods:
        raise ValidationError(
            f"method {found} is not valid for {for_item.name_zh} ({for_item.code}): "
            f"expected one of {', '.join(for_item.methods)}", field="method")
    return METHODS[found]


_find_item = item
_find_method = method


def classify_rate(rate: Decimal) -> RapidResult:
    """Band of an inhibition rate in %: ≥ 50 positive, 40 to under 50 suspect, else negative.

    # GB/T 5009.199-2003: inhibition ≥ 50 % is positive; 50.00 itself is positive.
    """
    if rate >= POSITIVE_AT:
        return "positive"
    if rate >= SUSPECT_AT:
        return "suspect"
    return "negative"


def false_positive_prone(commodity: str | None, tree: CommodityTree | None = None) -> bool:
    """True when ``commodity`` or a group it belongs to is in :data:`FALSE_POSITIVE_PRONE`.

    An unknown or missing commodity gives ``False`` (nothing known to warn about).
    """
    if not commodity:
        return False
    if tree is None:  # the shipped tree never changes: remember its answers
        return _prone_in_starter_tree(commodity)
    if commodity not in tree:
        return False
    return any(name in FALSE_POSITIVE_PRONE for name in tree.parents(commodity))


@functools.lru_cache(maxsize=4096)
def _prone_in_starter_tree(commodity: str) -> bool:
    return false_positive_prone(commodity, CommodityTree.starter())


def _reading(readings_field: str, value: object, what: str) -> Decimal:
    number = parse_decimal(value, field=readings_field, what=what)
    if number < 0:
        raise ValidationError(f"{what} must not be negative, found {value!r}",
                              field=readings_field)
    return number


def enzyme_inhibition(delta_a0: object, delta_at: object, *, commodity: str | None = None,
                      criteria: EnzymeCriteria = DEFAULT_CRITERIA,
                      tree: CommodityTree | None = None) -> InhibitionResult:
    """Judge an enzyme-inhibition reading pair (GB/T 5009.199-2003, NY/T 448-2001).

    ``delta_a0`` is the control's absorbance change, ``delta_at`` the sample's, both
    decimal strings or :class:`Decimal`. Raises :class:`ValidationError` naming
    ``readings.delta_a0`` / ``readings.delta_at`` when a reading is missing, not a
    number, negative, or implausible: ΔA₀ below ``criteria.min_delta_a0`` (0.3 by default)
    or above ``criteria.max_delta_a0``; ΔAₜ so far above ΔA₀ that the rate falls below
    ``criteria.min_rate`` (−10 % by default).

    ``ΔA₀ = 1.0000, ΔAₜ = 0.5001`` → 49.99 suspect; ``0.5000`` → 50.00 positive;
    ``0.6001`` → 39.99 negative; ``0.6000`` → 40.00 suspect.
    """
    a0 = _reading("readings.delta_a0", delta_a0, "control ΔA₀")
    at = _reading("readings.delta_at", delta_at, "sample ΔAₜ")
    if a0 < criteria.min_delta_a0:
        raise ValidationError(
            f"control ΔA₀ {a0} is below {criteria.min_delta_a0}: the enzyme is not active "
            f"enough to judge inhibition; check the enzyme and redo the control",
            field="readings.delta_a0")
    if criteria.max_delta_a0 is not None and a0 > criteria.max_delta_a0:
        raise ValidationError(
            f"control ΔA₀ {a0} is above {criteria.max_delta_a0}: dilute the enzyme and "
            f"redo the control", field="readings.delta_a0")
    # Exact arithmetic on the readings' integer ratios (Decimal.as_integer_ratio is exact):
    # ΔA₀ = n0/d0, ΔAₜ = n1/d1, so rate = 100 × (n0·d1 − n1·d0) / (n0·d1).
    n0, d0 = a0.as_integer_ratio()
    n1, d1 = at.as_integer_ratio()
    inhibited = (n0 * d1 - n1 * d0) * 100
    whole = n0 * d1  # > 0: ΔA₀ ≥ min_delta_a0 > 0

    def at_least(threshold: tuple[int, int]) -> bool:
        # rate ≥ num/den  ⇔  inhibited × den ≥ num × whole, decided without rounding.
        num, den = threshold
        return inhibited * den >= num * whole

    if not at_least(criteria.min_rate.as_integer_ratio()):
        raise ValidationError(
            f"sample ΔAₜ {at} exceeds control ΔA₀ {a0} by more than {-criteria.min_rate} % "
            f"of ΔA₀: a bad reading (bubbles, turbid extract or a mixed-up cuvette); "
            f"repeat the test", field="readings.delta_at")
    # Rounded down to 0.01: floor keeps the band of the exact rate, since 40 and 50 are on
    # the 0.01 grid (floor(x) ≥ 50 ⇔ x ≥ 50).
    hundredths = (inhibited * 100) // whole
    rate = Decimal(f"{hundredths}E-2")
    # GB/T 5009.199-2003: ≥ 50 % positive (the boundary is positive); 40–50 % suspect (tracelib's own band).
    if at_least(_POSITIVE_RATIO):
        result: RapidResult = "positive"
    elif at_least(_SUSPECT_RATIO):
        result = "suspect"
    else:
        result = "negative"
    return InhibitionResult(rate=rate, result=result,
                            false_positive_prone=false_positive_prone(commodity, tree))


def _claimed(value: object, *, strip: bool) -> RapidResult:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("result must be a string such as \"negative\"", field="result")
    found = _RESULT_WORDS.get(name_key(value))
    if found is None or (strip and found == "suspect"):
        allowed = "negative or positive" if strip else "negative, suspect or positive"
        raise ValidationError(f"result {value!r} is not {allowed}", field="result")
    return found


def judge_rapid(item: str | TestItem, method: str,
                readings: Mapping[str, object] | None = None,
                claimed_result: str | None = None, *, commodity: str | None = None,
                criteria: EnzymeCriteria = DEFAULT_CRITERIA,
                tree: CommodityTree | None = None) -> RapidVerdict:
    """Judge one rapid test as recorded in a ``rapid_test`` event.

    * Enzyme items: with ``readings`` (``{"delta_a0": …, "delta_at": …}``) the result is
      computed; a ``claimed_result`` that differs from it is rejected
      (``ValidationError(field="result")``), never overwritten. Without readings a
      claimed result is accepted as read from a test card (GB/T 5009.199-2003 card
      method: negative or positive only).
    * Strips: a ``claimed_result`` (negative/positive) is required; readings are rejected.

    Unknown item → ``field="item"``; unknown method or one not valid for the item →
    ``field="method"``. Results may be given in Chinese (阴性 / 可疑 / 阳性).
    """
    test = item if isinstance(item, TestItem) else _find_item(item)
    how = _find_method(method, test)
    prone = test.kind == "enzyme" and false_positive_prone(commodity, tree)
    reasons: list[str] = []
    rate: Decimal | None = None
    if test.kind == "strip":
        if readings:
            raise ValidationError(
                f"{test.name_zh} is read from a strip: record result negative/positive, "
                f"not absorbance readings", field="readings")
        if claimed_result is None:
            raise ValidationError(f"{test.name_zh} strip test needs a result "
                                  f"(negative or positive)", field="result")
        result = _claimed(claimed_result, strip=True)
        reasons.append(f"{test.name_zh} by {how.name_zh} read {result}")
    elif readings is not None:
        if not isinstance(readings, Mapping):
            raise ValidationError("readings must be an object {delta_a0, delta_at}",
                                  field="readings")
        judged = enzyme_inhibition(readings.get("delta_a0"), readings.get("delta_at"),
                                   commodity=commodity, criteria=criteria, tree=tree)
        rate, result = judged.rate, judged.result
        if claimed_result is not None:
            claimed = _claimed(claimed_result, strip=False)
            if claimed != result:
                raise ValidationError(
                    f"claimed result {claimed} contradicts the readings: inhibition "
                    f"{rate} % is {result}", field="result")
        reasons.append(
            f"inhibition {rate} % = (ΔA₀ {readings.get('delta_a0')} − ΔAₜ "
            f"{readings.get('delta_at')}) / ΔA₀ × 100 ({how.code})")
        if result == "positive":
            reasons.append("≥ 50 %: positive (GB/T 5009.199-2003)")
        elif result == "suspect":
            reasons.append("40 % to under 50 %: suspect; false negatives are common in this "
                           "band, retest")
        else:
            reasons.append("under 40 %: negative")
    else:
        if claimed_result is None:
            raise ValidationError(
                f"{test.name_zh} needs readings {{delta_a0, delta_at}} or a test-card "
                f"result", field="readings")
        result = _claimed(claimed_result, strip=True)
        reasons.append(f"test card read {result}; no readings, so no rate")
    if result == "positive":
        if test.must_not_detect:
            reasons.append(f"{test.name_zh} must not be detected ({test.basis})")
        reasons.append("hold the lot now; retest, and confirm by a laboratory method "
                       "before enforcement (Food Safety Law: re-tests may not use rapid "
                       "methods)")
    if prone and result != "negative":
        reasons.append(f"{commodity} is prone to false positives with enzyme inhibition "
                       f"(GB/T 5009.199-2003): extract the whole plant or confirm by a "
                       f"laboratory method")
    return RapidVerdict(rate=rate, result=result, reasons=tuple(reasons), item=test,
                        method=how.code, false_positive_prone=prone)


"""Food-safety standards as pure logic and data: rapid tests, GB 2763 limits, bans.

The ledger calls this package when a ``rapid_test`` or ``lab_test`` event is appended:

* :func:`judge_rapid` / :func:`enzyme_inhibition` — enzyme inhibition
  (GB/T 5009.199-2003, NY/T 448-2001: ≥ 50 % positive, 40–50 % suspect) and strips.
* :func:`judge_lab` with a :class:`LimitsTable` — GB 2763 limits with the category
  cascade, and bans that fail any detection from their effective date.
* :func:`parents` — the GB 2763 food classification chain of a commodity.

No database, no clock: the test date is an argument, tables are immutable values.
"""

from __future__ import annotations

from tracelib.standards.commodities import Commodity, CommodityTree, parents, resolve
from tracelib.standards.limits import (
    CURRENT_EDITION,
    BanRow,
    LabVerdict,
    LimitDecision,
    LimitRow,
    LimitsTable,
    judge_lab,
    load_bans,
    to_mg_kg,
)
from tracelib.standards.rapid import (
    DEFAULT_CRITERIA,
    FALSE_POSITIVE_PRONE,
    ITEMS,
    METHODS,
    POSITIVE_AT,
    SUSPECT_AT,
    EnzymeCriteria,
    InhibitionResult,
    RapidResult,
    RapidVerdict,
    TestItem,
    TestMethod,
    classify_rate,
    enzyme_inhibition,
    false_positive_prone,
    item,
    judge_rapid,
    method,
)

__all__ = [
    "CURRENT_EDITION",
    "DEFAULT_CRITERIA",
    "FALSE_POSITIVE_PRONE",
    "ITEMS",
    "METHODS",
    "POSITIVE_AT",
    "SUSPECT_AT",
    "BanRow",
    "Commodity",
    "CommodityTree",
    "EnzymeCriteria",
    "InhibitionResult",
    "LabVerdict",
    "LimitDecision",
    "LimitRow",
    "LimitsTable",
    "RapidResult",
    "RapidVerdict",
    "TestItem",
    "TestMethod",
    "classify_rate",
    "enzyme_inhibition",
    "false_positive_prone",
    "item",
    "judge_lab",
    "judge_rapid",
    "load_bans",
    "method",
    "parents",
    "resolve",
    "to_mg_kg",
]

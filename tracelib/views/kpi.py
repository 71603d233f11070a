"""The figures a demonstration city is judged by (国家食品安全示范城市评价细则, 2023版), from the test index:

* batches tested per 1,000 residents a year (target ≥ 4);
* pesticide and veterinary-drug residue batches per 1,000 residents (target ≥ 2);
* pass rate (target ≥ 98 %): passed / (passed + failed); ``suspect`` rapid results and lab
  detections with ``no_limit`` are reported apart and left out of the rate;
* follow-up completion (target 100 %): failures whose follow-up is closed — lab-confirmed,
  cleared, released or disposed — over all failures.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ..errors import ValidationError
from ..ledger import Ledger
from ..store.states import FollowUp
from ..store.tests import TestsSql

__all__ = ["TARGETS", "DayFigures", "Kpi", "kpi"]

TARGETS = {"batches_per_1000": Decimal(4), "residue_batches_per_1000": Decimal(2),
           "pass_rate": Decimal(98), "follow_up_rate": Decimal(100)}
PASSED = ("negative", "pass")
FAILED = ("positive", "fail")


@dataclass(frozen=True)
class DayFigures:
    day: str
    tests: int
    passed: int
    failed: int

    @property
    def pass_rate(self) -> Decimal | None:
        return _percent(self.passed, self.passed + self.failed)


@dataclass(frozen=True)
class Kpi:
    year: int
    population: int
    batches: int
    residue_batches: int
    rapid: int
    lab: int
    passed: int
    failed: int
    suspect: int
    no_limit: int
    followed_up: int
    daily: tuple[DayFigures, ...]

    @property
    def batches_per_1000(self) -> Decimal:
        return _per_1000(self.batches, self.population)

    @property
    def residue_batches_per_1000(self) -> Decimal:
        return _per_1000(self.residue_batches, self.population)

    @property
    def pass_rate(self) -> Decimal | None:
        return _percent(self.passed, self.passed + self.failed)

    @property
    def follow_up_rate(self) -> Decimal | None:
        return _percent(self.followed_up, self.failed)

    def figures(self) -> list[dict[str, Any]]:
        """Each figure beside its target, and whether it is met."""
        out = []
        for name, target in TARGETS.items():
            value = getattr(self, name)
            met = None if value is None else value >= target
            out.append({"name": name, "value": None if value is None else str(value),
                        "target": str(target), "met": met})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "population": self.population,
                "counts": {"batches": self.batches, "residue_batches": self.residue_batches,
                           "rapid": self.rapid, "lab": self.lab, "passed": self.passed,
                           "failed": self.failed, "suspect": self.suspect,
                           "no_limit": self.no_limit, "followed_up": self.followed_up},
                "figures": self.figures(),
                "daily": [{"day": d.day, "tests": d.tests, "passed": d.passed,
                           "failed": d.failed,
                           "pass_rate": None if d.pass_rate is None else str(d.pass_rate)}
                          for d in self.daily]}


def _per_1000(count: int, population: int) -> Decimal:
    return (Decimal(count) * 1000 / Decimal(population)).quantize(Decimal("0.01"),
                                                                   ROUND_HALF_EVEN)


def _percent(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def kpi(ledger: Ledger, *, population: int, year: int, market: str | None = None) -> Kpi:
    """The year's figures over every test (or the tests of one market's stalls)."""
    if population <= 0:
        raise ValidationError("population must be a positive number of residents",
                              field="population")
    if not 2000 <= year <= 2100:
        raise ValidationError(f"expected a year like 2026, got {year}", field="year")
    counts = {"batches": 0, "residue": 0, "rapid": 0, "lab": 0, "passed": 0, "failed": 0,
              "suspect": 0, "no_limit": 0, "followed_up": 0}
    days: dict[str, list[int]] = {}
    with ledger.store.reader() as conn:
        rows = TestsSql.year_counts(conn, year, closed=FollowUp.CLOSED, market=market)
    for day, kind, result, residue, is_closed, n in rows:
        day_acc = days.setdefault(day, [0, 0, 0])
        counts["batches"] += n
        day_acc[0] += n
        counts["residue"] += n if residue else 0
        counts["rapid" if kind == "rapid" else "lab"] += n
        if result in PASSED:
            counts["passed"] += n
            day_acc[1] += n
        elif result in FAILED:
            counts["failed"] += n
            day_acc[2] += n
            counts["followed_up"] += n if is_closed else 0
        elif result == "suspect":
            counts["suspect"] += n
        else:
            counts["no_limit"] += n
    return Kpi(year, population, counts["batches"], counts["residue"], counts["rapid"],
               counts["lab"], counts["passed"], counts["failed"], counts["suspect"],
               counts["no_limit"], counts["followed_up"],
               tuple(DayFigures(d, *days[d]) for d in sorted(days)))

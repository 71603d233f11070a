"""The figures a demonstration city is judged by (国家食品安全示范城市评价细则, 2023版), from the
test index. Only official sampling counts (食品安全抽检: ``lab_test`` results whose
``data.sampling`` is ``supervision`` 监督抽检, ``evaluation`` 评价性抽检 or ``monitoring`` 风险监测,
docs/contract.md "lab_test"); commissioned tests, self-tests, lab results that do not state
their sampling and market rapid tests count in none of them:

* ``sampling_batches_per_1000``: official batches per 1,000 residents a year (target ≥ 4);
* ``residue_batches_per_1000``: official pesticide and veterinary-drug residue batches per
  1,000 residents (target ≥ 2);
* ``evaluation_pass_rate``: passed / (passed + failed) of 评价性抽检 alone (target ≥ 98 %);
  results without a limit (``no_limit``) are counted apart and left out of the rate;
* ``follow_up_rate`` (不合格核查处置率): official failures whose follow-up is closed —
  cleared, released or disposed — over all official failures (target 100 %);
* ``plan_completion`` (计划完成率, when the year has a ``plan``): Σ min(done, target) / Σ target
  over the plan's rows, so a row sampled beyond its target does not hide another's shortfall
  (target 100 %).

Apart from them and labelled as such, the market's rapid tests (快检): ``rapid_tests``, their
number, and ``rapid_positive_rate``, positives over all rapid tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ..errors import ValidationError
from ..ledger import Ledger
from ..sampling import OFFICIAL, SAMPLING_TYPES
from ..store.plans import latest_plan
from ..store.states import FollowUp
from ..store.tests import TestsSql

__all__ = ["DEFINITIONS", "TARGETS", "DayFigures", "Kpi", "PlanRow", "kpi"]

TARGETS = {"sampling_batches_per_1000": Decimal(4), "residue_batches_per_1000": Decimal(2),
           "evaluation_pass_rate": Decimal(98), "follow_up_rate": Decimal(100),
           "plan_completion": Decimal(100)}
_CITE = "国家食品安全示范城市评价细则 (2023版)"
DEFINITIONS = {
    "sampling_batches_per_1000": f"{_CITE}: 食品安全抽检 (监督抽检 + 评价性抽检 + 风险监测) "
                                 "batches per 1,000 residents a year",
    "residue_batches_per_1000": f"{_CITE}: 农药兽药残留 batches of 食品安全抽检 per 1,000 "
                                "residents a year",
    "evaluation_pass_rate": f"{_CITE}: 评价性抽检合格率, passed / (passed + failed) of "
                            "评价性抽检 alone",
    "follow_up_rate": f"{_CITE}: 不合格食品核查处置率, official failures whose follow-up is "
                      "closed over all official failures",
    "plan_completion": f"{_CITE}: 监督抽检和评价性抽检计划完成率, Σ min(done, target) / "
                       "Σ target over the year's plan",
    "rapid_tests": "market rapid tests (快检): not official sampling, in no figure above",
    "rapid_positive_rate": "market rapid tests (快检): positives over all rapid tests",
}
PASSED = ("negative", "pass")
FAILED = ("positive", "fail")


@dataclass(frozen=True)
class DayFigures:
    """One day's 评价性抽检 results."""

    day: str
    tests: int
    passed: int
    failed: int

    @property
    def pass_rate(self) -> Decimal | None:
        return _percent(self.passed, self.passed + self.failed)


@dataclass(frozen=True)
class PlanRow:
    """One target of the year's plan beside the batches sampled for it."""

    sampling: str
    category: str | None
    stage: str | None
    target: int
    done: int

    @property
    def completion(self) -> Decimal:
        return _percent(self.done, self.target) or Decimal("0.00")

    def to_dict(self) -> dict[str, Any]:
        return {"sampling": self.sampling, "category": self.category, "stage": self.stage,
                "target": self.target, "done": self.done, "completion": str(self.completion)}


@dataclass(frozen=True)
class Kpi:
    year: int
    population: int
    #: official lab results by sampling type; ``commissioned``, ``self`` and ``unstated``
    #: (no ``data.sampling``) are counted here too but are not official
    by_sampling: dict[str, int]
    residue_batches: int
    evaluation_passed: int
    evaluation_failed: int
    evaluation_no_limit: int
    official_failed: int
    followed_up: int
    rapid: int
    rapid_positive: int
    rapid_suspect: int
    daily: tuple[DayFigures, ...]
    plan_event: str | None = None
    plan: tuple[PlanRow, ...] = field(default=())

    @property
    def batches(self) -> int:
        """Official sampling batches (监督抽检 + 评价性抽检 + 风险监测)."""
        return sum(self.by_sampling.get(s, 0) for s in OFFICIAL)

    @property
    def tests(self) -> int:
        """Every test of the year counted, official or not, rapid or lab."""
        return sum(self.by_sampling.values()) + self.rapid

    @property
    def sampling_batches_per_1000(self) -> Decimal:
        return _per_1000(self.batches, self.population)

    @property
    def residue_batches_per_1000(self) -> Decimal:
        return _per_1000(self.residue_batches, self.population)

    @property
    def evaluation_pass_rate(self) -> Decimal | None:
        return _percent(self.evaluation_passed, self.evaluation_passed + self.evaluation_failed)

    @property
    def follow_up_rate(self) -> Decimal | None:
        return _percent(self.followed_up, self.official_failed)

    @property
    def plan_completion(self) -> Decimal | None:
        if not self.plan:
            return None
        return _percent(sum(min(r.done, r.target) for r in self.plan),
                        sum(r.target for r in self.plan))

    @property
    def rapid_positive_rate(self) -> Decimal | None:
        return _percent(self.rapid_positive, self.rapid)

    def figures(self) -> list[dict[str, Any]]:
        """Each official figure beside its target, whether it is met and its definition;
        ``plan_completion`` only when the year has a plan."""
        out = []
        for name, target in TARGETS.items():
            if name == "plan_completion" and not self.plan:
                continue
            value = getattr(self, name)
            met = None if value is None else value >= target
            out.append({"name": name, "value": None if value is None else str(value),
                        "target": str(target), "met": met, "definition": DEFINITIONS[name]})
        return out

    def rapid_figures(self) -> list[dict[str, Any]]:
        """The market's rapid tests, apart: no target, never in the official figures."""
        rate = self.rapid_positive_rate
        return [{"name": "rapid_tests", "value": str(self.rapid), "target": None, "met": None,
                 "definition": DEFINITIONS["rapid_tests"]},
                {"name": "rapid_positive_rate", "value": None if rate is None else str(rate),
                 "target": None, "met": None, "definition": DEFINITIONS["rapid_positive_rate"]}]

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "population": self.population,
                "counts": {"batches": self.batches, "by_sampling": dict(self.by_sampling),
                           "residue_batches": self.residue_batches,
                           "evaluation_passed": self.evaluation_passed,
                           "evaluation_failed": self.evaluation_failed,
                           "evaluation_no_limit": self.evaluation_no_limit,
                           "official_failed": self.official_failed,
                           "followed_up": self.followed_up, "rapid": self.rapid,
                           "rapid_positive": self.rapid_positive,
                           "rapid_suspect": self.rapid_suspect},
                "figures": self.figures(),
                "rapid_figures": self.rapid_figures(),
                "plan": None if self.plan_event is None else {
                    "event": self.plan_event, "targets": [r.to_dict() for r in self.plan]},
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


def kpi(ledger: Ledger, *, year: int, population: int | None = None,
        market: str | None = None) -> Kpi:
    """The year's figures over every test (or the tests of one market's stalls). Without
    ``population``, the population of the year's latest ``plan``."""
    if not 2000 <= year <= 2100:
        raise ValidationError(f"expected a year like 2026, got {year}", field="year")
    with ledger.store.reader() as conn:
        found = latest_plan(conn, year)
        rows = TestsSql.year_counts(conn, year, closed=FollowUp.CLOSED, market=market)
    if population is None:
        if found is None:
            raise ValidationError(f"no plan for {year} gives the population; give the "
                                  "population of the area", field="population")
        population = int(found[1]["population"])
    if population <= 0:
        raise ValidationError("population must be a positive number of residents",
                              field="population")
    by_sampling = dict.fromkeys((*SAMPLING_TYPES, "unstated"), 0)
    c = dict.fromkeys(("residue", "ev_pass", "ev_fail", "ev_none", "failed", "closed", "rapid",
                       "rapid_pos", "rapid_suspect"), 0)
    days: dict[str, list[int]] = {}
    done: dict[tuple[str, str | None, str | None], int] = {}
    for day, kind, result, residue, is_closed, sampling, category, stage, n in rows:
        if kind == "rapid":
            c["rapid"] += n
            c["rapid_pos"] += n if result == "positive" else 0
            c["rapid_suspect"] += n if result == "suspect" else 0
            continue
        by_sampling[sampling or "unstated"] += n
        if sampling not in OFFICIAL:
            continue
        done[(sampling, category, stage)] = done.get((sampling, category, stage), 0) + n
        c["residue"] += n if residue else 0
        if result in FAILED:
            c["failed"] += n
            c["closed"] += n if is_closed else 0
        if sampling == "evaluation":
            day_acc = days.setdefault(day, [0, 0, 0])
            day_acc[0] += n
            if result in PASSED:
                c["ev_pass"] += n
                day_acc[1] += n
            elif result in FAILED:
                c["ev_fail"] += n
                day_acc[2] += n
            else:
                c["ev_none"] += n
    plan_rows: tuple[PlanRow, ...] = ()
    if found is not None:
        plan_rows = tuple(
            PlanRow(t["sampling"], t.get("category"), t.get("stage"), int(t["batches"]),
                    sum(n for (s, cat, st), n in done.items()
                        if s == t["sampling"] and t.get("category") in (None, cat)
                        and t.get("stage") in (None, st)))
            for t in found[1]["targets"])
    return Kpi(year, population, by_sampling, c["residue"], c["ev_pass"], c["ev_fail"],
               c["ev_none"], c["failed"], c["closed"], c["rapid"], c["rapid_pos"],
               c["rapid_suspect"], tuple(DayFigures(d, *days[d]) for d in sorted(days)),
               None if found is None else found[0], plan_rows)

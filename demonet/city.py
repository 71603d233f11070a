"""A generated city year (示范城市的一年) on top of a generated county network, with its ground
truth: what the regulator's KPI report must say, counted from what was generated.

``generate_city(net, CityYear(...))`` adds to a :class:`~demonet.generator.GeneratedNetwork`
(after its events have been walked, so its :class:`~demonet.generator.Truth` is complete):

* an operator's ``register`` of a regulator (市场监管局) and its office, a food testing
  laboratory, a supermarket, a school's canteen (``school: true``), a workplace canteen and a
  restaurant;
* the regulator's ``plan`` for the year: the population and batch targets by sampling type,
  food category and stage (docs/contract.md "plan");
* the laboratory's ``lab_test`` results of every sampling type (监督抽检, 评价性抽检, 风险监测,
  委托检验, 企业自检) across the three stages — production at the farms, circulation at the
  stalls, the wholesale market and the supermarket, catering at the canteens and the
  restaurant — spread over the year, a known share failing; failures on a lot at a stall hold
  it, and some of them are followed up by the stall destroying the lot (``dispose``);
* the markets' rapid tests (快检) over the year, apart from official sampling;
* the regulator's ``inspection`` of places, all three results, with ``rectification``
  reports and confirmations closing some;
* on the network's last evening, the wholesale market's deliveries (``ship`` and ``receive``)
  to the supermarket, both canteens and the restaurant, and the canteens serving some of it
  (``sale``), so that a drill on a vegetable lot reaches the school;
* unless ``entries=False``, goods entering from suppliers outside the ledger (``entry``, with
  vouchers) and refusals (``reject``) at the supermarket, the canteens and a market's stall.

Every event passes the ledger's rules. :class:`CityTruth` records every sample, rapid test,
inspection and delivery, and :meth:`CityTruth.figures` computes the KPI report's figures from
those records alone (国家食品安全示范城市评价细则, 2023版; the figures of `tracelib report kpi
--json`, docs/contract.md "HTTP API"), never from a ledger.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tracelib import canonical
from tracelib.keys import SigningKey

from . import names as V
from .generator import CST, GeneratedNetwork, Party, Site, derive_key

__all__ = ["CityTruth", "CityYear", "GeneratedCity", "Inspected", "Sample", "generate_city"]

#: 食品安全抽检 as the evaluation counts it; commissioned and self-tests are not.
OFFICIAL = ("supervision", "evaluation", "monitoring")
SAMPLING_WEIGHTS = (("supervision", 0.36), ("evaluation", 0.34), ("monitoring", 0.14),
                    ("commissioned", 0.08), ("self", 0.08))
#: The plan's food categories (as lab results name them in ``data.category``) by the
#: network's product category, and the residues tested for in each: pesticides and drugs
#: banned for that food all year (GB 2763 and its ban list), so any detection fails and
#: ``ND`` passes.
CATEGORY = {"veg": "蔬菜", "fruit": "水果", "egg": "蛋类", "pork": "畜禽肉", "pig": "畜禽肉"}
ANALYTES = {"蔬菜": ("甲拌磷", "水胺硫磷", "灭线磷"), "水果": ("甲拌磷", "水胺硫磷"),
            "蛋类": ("甲拌磷",), "畜禽肉": ("克伦特罗", "莱克多巴胺")}
COMMODITIES = {"蔬菜": tuple(p.name for p in V.VEGETABLES), "水果": tuple(p.name for p in V.FRUITS),
               "蛋类": tuple(p.name for p in V.EGGS), "畜禽肉": (V.PORK.name,)}
FAIL_VALUES = ("0.52", "0.68", "0.91", "1.3")  # above every limit these residues have
INSPECTION_ITEMS = ("亮证亮照", "进货查验记录", "从业人员健康证明", "索证索票", "环境卫生", "食品贮存")
VOUCHERS_MEAT = ("动物检疫合格证明", "肉品品质检验合格证")
ENTRY_GOODS = (("鲜猪肉", "meat", "chilled"), ("豇豆", "vegetable", "chilled"),
               ("带鱼", "aquatic", "frozen"), ("苹果", "fruit", "ambient"),
               ("鸡蛋", "egg", "ambient"), ("大米", "grain", "ambient"))


@dataclass(frozen=True)
class CityYear:
    """What a city year adds to a network. ``end``: the last day sampled (default: the
    network's last day); samples run from 12 January, after the plan, to it."""

    year: int = 2026
    population: int = 60_000
    #: lab results of every sampling type across the year (official ones and the others)
    samples: int = 300
    fail_rate: float = 0.04
    #: of failures on a lot at a stall: the stall destroys the lot (the follow-up closes)
    disposal_rate: float = 0.6
    rapid_tests: int = 120
    inspections: int = 30
    #: goods entering from suppliers outside the ledger (``entry``) and refusals of goods
    #: without their vouchers (``reject``), recorded in the truth
    entries: bool = True
    end: date | None = None

    def check(self, net: GeneratedNetwork) -> None:
        """Raise ``ValueError`` for a city year this network cannot hold."""
        last = self.end or net.spec.start + timedelta(days=net.spec.days - 1)
        if last.year != self.year:
            raise ValueError(f"the last day sampled ({last}) is not in {self.year}")
        if last < date(self.year, 2, 1):
            raise ValueError(f"a city year needs days to sample: {last} is too early")
        if self.samples < 20:
            raise ValueError(f"need at least 20 samples for every type and stage, got {self.samples}")
        if self.population < 1:
            raise ValueError("population must be positive")


@dataclass(frozen=True)
class Sample:
    """One lab result as generated."""

    event: str
    day: str
    sampling: str
    stage: str
    category: str
    business_type: str
    place: str
    analyte: str
    commodity: str
    failed: bool
    lot: str | None = None
    stall: str | None = None
    #: the failure's follow-up was closed (the stall destroyed the lot)
    disposed: bool = False
    residue: bool = True  # every analyte here is a pesticide or drug residue


@dataclass(frozen=True)
class Inspected:
    event: str
    place: str
    result: str
    #: None (compliant), "open", "reported" or "closed"
    rectification: str | None


@dataclass
class CityTruth:
    """What the city year did, and the figures its KPI report must show."""

    year: int
    population: int
    plan_event: str = ""
    targets: list[dict[str, Any]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    #: rapid test results by outcome: negative, suspect, positive
    rapid: dict[str, int] = field(default_factory=dict)
    inspections: list[Inspected] = field(default_factory=list)
    school: str = ""
    school_name: str = ""
    canteens: tuple[str, ...] = ()
    supermarket: str = ""
    restaurant: str = ""
    #: lot -> places it was delivered to (the wholesale market's deliveries)
    delivered: dict[str, list[str]] = field(default_factory=dict)
    #: a lot received at the school canteen (the drill to try), and its origin lots
    school_lot: str = ""
    school_origins: tuple[str, ...] = ()
    entries: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)

    def official(self) -> list[Sample]:
        return [s for s in self.samples if s.sampling in OFFICIAL]

    def done(self, target: dict[str, Any]) -> int:
        """Official samples counting toward one plan target."""
        return sum(1 for s in self.official() if s.sampling == target["sampling"]
                   and target.get("category") in (None, s.category)
                   and target.get("stage") in (None, s.stage))

    def figures(self) -> dict[str, str | None]:
        """Every figure of ``tracelib report kpi --json`` (``figures`` and ``rapid_figures``)
        by name, as the decimal strings the report gives: counted from the generated records,
        rounded half to even to two places."""
        official = self.official()
        evaluation = [s for s in official if s.sampling == "evaluation"]
        failed = [s for s in official if s.failed]
        ev_failed = sum(1 for s in evaluation if s.failed)
        rapid_total = sum(self.rapid.values())
        out: dict[str, str | None] = {
            "sampling_batches_per_1000": _two(Fraction(len(official) * 1000, self.population)),
            "residue_batches_per_1000": _two(Fraction(sum(s.residue for s in official) * 1000,
                                                      self.population)),
            "evaluation_pass_rate": _rate(len(evaluation) - ev_failed, len(evaluation)),
            "follow_up_rate": _rate(sum(s.disposed for s in failed), len(failed)),
        }
        if self.targets:
            out["plan_completion"] = _rate(
                sum(min(self.done(t), t["batches"]) for t in self.targets),
                sum(t["batches"] for t in self.targets))
        out["rapid_tests"] = str(rapid_total)
        out["rapid_positive_rate"] = _rate(self.rapid.get("positive", 0), rapid_total)
        return out


def _two(x: Fraction) -> str:
    hundredths = round(x * 100)  # Fraction rounds half to even
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def _rate(part: int, whole: int) -> str | None:
    return None if whole == 0 else _two(Fraction(part * 100, whole))


class GeneratedCity:
    """A city year over ``net``: its new parties, places and keys, its events, its truth."""

    def __init__(self, net: GeneratedNetwork, city: CityYear) -> None:
        city.check(net)
        self.net = net
        self.city = city
        seed = net.spec.seed
        self.regulator = Party("amr-city", "云阳县市场监督管理局食品安全抽检监测科", "regulator")
        self.lab = Party("lab-yy01", "云阳县食品药品检验检测中心", "lab")
        self.supermarket = Party("supermarket-yy01", "云阳县万家福超市", "market")
        self.school = Party("canteen-school-yy01", "云阳县实验中学", "stall")
        self.works = Party("canteen-works-yy01", "云阳县人民医院", "stall")
        self.restaurant = Party("restaurant-yy01", "云阳县江畔酒家", "stall")
        self.parties = (self.regulator, self.lab, self.supermarket, self.school, self.works,
                        self.restaurant)
        self.sites = (
            Site("amr-city.office", "食品安全抽检监测科", "office", "amr-city"),
            Site("lab-yy01", "云阳县食品药品检验检测中心实验室", "lab", "lab-yy01",
                 address=f"{V.COUNTY}双江街道"),
            Site("supermarket-yy01", "万家福超市云阳店", "supermarket", "supermarket-yy01",
                 address=f"{V.COUNTY}青龙街道"),
            Site("canteen-school-yy01", "云阳县实验中学食堂", "canteen", "canteen-school-yy01",
                 address=f"{V.COUNTY}双江街道"),
            Site("canteen-works-yy01", "云阳县人民医院职工食堂", "canteen", "canteen-works-yy01",
                 address=f"{V.COUNTY}青龙街道"),
            Site("restaurant-yy01", "江畔酒家", "restaurant", "restaurant-yy01",
                 address=f"{V.COUNTY}双江街道"))
        self.keys: dict[str, SigningKey] = dict(net.keys)
        for p in self.parties:
            self.keys[p.id] = derive_key(seed, p.id)
        self.truth = CityTruth(city.year, city.population)
        self.last = city.end or net.spec.start + timedelta(days=net.spec.days - 1)
        self.latest = datetime.combine(self.last, time(23, 30), CST)

    @property
    def end(self) -> datetime:
        """A time to record the city year at: after every event of it and of the network."""
        return max(self.net.end, self.latest + timedelta(minutes=30))

    def events(self) -> Iterator[dict[str, Any]]:
        """The city year's events, signed, in append order (after the network's). Walk
        ``net.events()`` to its end first: the deliveries and samples on lots read its truth.
        Each call replays the same events and refills :attr:`truth`."""
        truth = self.net.truth
        if not truth.lots():
            raise ValueError("walk the network's events first: the city year reads its truth")
        # The city year's deliveries and disposals are recorded in the network's truth: once
        # per walk of the network's events (each walk starts a new truth).
        if getattr(truth, "_city_walk", None) is truth._bal:
            raise ValueError("walk the network's events again first: this walk already has "
                             "a city year")
        truth._city_walk = truth._bal  # type: ignore[attr-defined]
        truth._loc_type.update({s.id: s.type for s in self.sites})
        self.truth = CityTruth(self.city.year, self.city.population)
        keys = self.keys
        ids = {p: k.key_id for p, k in keys.items()}
        dumps = canonical.dumps
        for doc in _CitySim(self).run():
            sig = keys[doc["actor"]].sign(dumps(doc))
            doc["sig"] = {"key": ids[doc["actor"]], "value": base64.b64encode(sig).decode("ascii")}
            yield doc


def generate_city(net: GeneratedNetwork, city: CityYear) -> GeneratedCity:
    """The city year ``city`` over the generated network ``net``."""
    return GeneratedCity(net, city)


class _CitySim:
    """One run of a city year: the events in append order, recorded in the truth."""

    def __init__(self, gen: GeneratedCity) -> None:
        self.g = gen
        self.net = gen.net
        self.city = gen.city
        self.t = gen.truth
        self.nt = gen.net.truth
        self.world = gen.net._world
        self.rng = random.Random(f"{gen.net.spec.seed}:city:{gen.city.year}")  # noqa: S311 - demo data
        self.n = 0
        self.holder = {s.id: s.holder for s in (*gen.net.locations, *gen.sites)}
        self.names = {s.id: s.name for s in (*gen.net.locations, *gen.sites)}
        self.types = {s.id: s.type for s in (*gen.net.locations, *gen.sites)}

    # -- helpers ------------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.net.spec.seed}-cy{self.city.year}-{self.n:06d}"

    def _event(self, kind: str, prefix: str, moment: datetime, actor: str, location: str,
               data: dict[str, Any], inputs: list[dict[str, str]] | None = None,
               outputs: list[dict[str, str]] | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self._id(prefix), "kind": kind,
                               "time": moment.isoformat(), "actor": actor, "location": location}
        if inputs:
            doc["inputs"] = inputs
        if outputs:
            doc["outputs"] = outputs
        doc["data"] = data
        kinds = self.nt._kinds
        kinds[kind] = kinds.get(kind, 0) + 1
        return doc

    def _at(self, day: date, minute: int) -> datetime:
        return datetime.combine(day, time(0), CST) + timedelta(minutes=minute)

    def _days(self, n: int, first: date, last: date) -> list[date]:
        """``n`` days spread evenly over first..last, in order."""
        span = (last - first).days + 1
        return [first + timedelta(days=i * span // n) for i in range(n)]

    # -- the year -----------------------------------------------------------------------------
    def run(self) -> Iterator[dict[str, Any]]:
        yield self._register()
        samples = self._draw_samples()
        yield self._plan(samples)
        yield from self._deliveries()
        yield from self._lab_tests(samples)
        yield from self._rapid_tests()
        yield from self._inspections()
        if self.city.entries:
            yield from self._entries()

    def _register(self) -> dict[str, Any]:
        g = self.g
        valid_from = f"{self.city.year - 1}-12-01T00:00:00+08:00"
        locations = [s.to_register() for s in g.sites]
        for loc in locations:
            if loc["type"] == "canteen":
                loc["school"] = loc["id"] == g.school.id
        t = self.t
        t.school, t.school_name = g.school.id, self.names[g.school.id]
        t.canteens = (g.school.id, g.works.id)
        t.supermarket, t.restaurant = g.supermarket.id, g.restaurant.id
        return self._event("register", "reg", datetime(self.city.year, 1, 2, 9, 0, tzinfo=CST),
                           self.net.spec.operator, self.net.office, {
            "parties": [p.to_register() for p in g.parties], "locations": locations,
            "keys": [{"party": p.id, "key_id": g.keys[p.id].key_id,
                      "public_key": g.keys[p.id].public.base64(), "valid_from": valid_from}
                     for p in g.parties]})

    def _draw_samples(self) -> list[dict[str, Any]]:
        """Who is sampled, when, how and with what outcome; lots only on the network's days."""
        rng, city = self.rng, self.city
        n = city.samples
        week = [d for d in (self.net.spec.start + timedelta(days=i)
                            for i in range(self.net.spec.days))
                if d.year == city.year and d <= self.g.last]
        first = date(city.year, 1, 12)
        on_lots = max(4, n // 10) if week else 0
        # the year before the network's week (sampled on lots), or all of it when the
        # network's week is not in the year
        start = self.net.spec.start
        before = start - timedelta(days=1) if first < start <= self.g.last else self.g.last
        days = self._days(n - on_lots, first, max(first, before)) + week[-1:] * on_lots
        types = [s for s, _ in SAMPLING_WEIGHTS]
        weights = [w for _, w in SAMPLING_WEIGHTS]
        farms = self.world.farms
        stalls = self.world.stalls
        out = []
        for i, day in enumerate(days):
            # every sampling type and stage at least once, then by weight
            sampling = types[i] if i < len(types) else rng.choices(types, weights)[0]
            stage = ("production", "circulation", "catering")[i % 3] if i < 15 else \
                rng.choices(("production", "circulation", "catering"), (0.25, 0.55, 0.2))[0]
            with_lot = i >= n - on_lots
            if with_lot:
                stage = "circulation"
            entry: dict[str, Any] = {"day": day, "sampling": sampling, "stage": stage,
                                     "failed": rng.random() < city.fail_rate, "lot": with_lot}
            if stage == "production":
                farm = farms[rng.randrange(len(farms))]
                category = CATEGORY[farm.category]
                entry.update(place=farm.site, category=category,
                             business_type="养殖场" if farm.category in ("egg", "pig") else "种植基地",
                             commodity=rng.choice([p for p in farm.products
                                                   if p in COMMODITIES[category]]
                                                  or COMMODITIES[category]))
            elif stage == "circulation" and not with_lot:
                where = rng.random()
                if where < 0.7:
                    stall = stalls[rng.randrange(len(stalls))]
                    category = CATEGORY.get(stall.category, "畜禽肉")
                    entry.update(place=stall.id, stall=stall.id, category=category,
                                 business_type="农贸市场", commodity=rng.choice(COMMODITIES[category]))
                else:
                    place, btype = (self.g.supermarket.id, "超市") if where < 0.85 else \
                        (self.world.wholesale, "批发市场")
                    category = rng.choice(tuple(ANALYTES))
                    entry.update(place=place, category=category, business_type=btype,
                                 commodity=rng.choice(COMMODITIES[category]))
            elif stage == "catering":
                place, btype = rng.choice(((self.g.school.id, "学校食堂"),
                                           (self.g.works.id, "单位食堂"),
                                           (self.g.restaurant.id, "餐馆")))
                category = rng.choice(tuple(ANALYTES))
                entry.update(place=place, category=category, business_type=btype,
                             commodity=rng.choice(COMMODITIES[category]))
            entry["analyte_pick"] = rng.random()
            out.append(entry)
        self._lots_for(out)
        with_lots = [s for s in out if s["lot"]]
        for n, s in enumerate(with_lots):
            # a failure followed up (the lot destroyed) and one not, then by chance
            if n < 2:
                s["failed"] = True
            s["dispose"] = s["failed"] and (n == 0 or (n > 1 and
                                                     rng.random() < city.disposal_rate))
        return out

    def _lots_for(self, samples: list[dict[str, Any]]) -> None:
        """Give each lot sample a distinct unheld lot on hand at a stall (a lot is tested once,
        so no pass clears another result's follow-up); drop those with none to take."""
        nt = self.nt
        held = nt.held()
        candidates = []
        kind_of = {p.name: p.category for p in V.PRODUCTS.values()}
        for lot in nt.lots():
            category = CATEGORY.get(kind_of.get(nt.product(lot), ""), "")
            if nt.product(lot) not in COMMODITIES.get(category, ()):
                continue
            for loc, bal in nt.balance(lot).items():
                if bal.on_hand > 0 and nt.location_type(loc) == "stall" and (loc, lot) not in held:
                    candidates.append((loc, lot, category))
        self.rng.shuffle(candidates)
        used: set[str] = set()
        keep = []
        for s in samples:
            if not s["lot"]:
                keep.append(s)
                continue
            while candidates and candidates[-1][1] in used:
                candidates.pop()
            if not candidates:
                continue
            stall, lot, category = candidates.pop()
            used.add(lot)
            s.update(place=stall, stall=stall, lot=lot, category=category, business_type="农贸市场",
                     commodity=nt.product(lot))
            keep.append(s)
        samples[:] = keep

    def _plan(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """Targets by (sampling, category, stage) for 监督抽检, by category for 评价性抽检, by
        stage for 风险监测: about what was sampled, some rows short of their target."""
        rng = self.rng
        rows: dict[tuple[str, str | None, str | None], int] = {}
        for s in samples:
            sampling = s["sampling"]
            if sampling == "supervision":
                key = (sampling, s["category"], s["stage"])
            elif sampling == "evaluation":
                key = (sampling, s["category"], None)
            elif sampling == "monitoring":
                key = (sampling, None, s["stage"])
            else:
                continue
            rows[key] = rows.get(key, 0) + 1
        targets = []
        for (sampling, category, stage), done in sorted(rows.items(), key=str):
            target: dict[str, Any] = {"sampling": sampling}
            if category is not None:
                target["category"] = category
            if stage is not None:
                target["stage"] = stage
            target["batches"] = max(1, done + rng.choice((-1, 0, 0, 0, 1, 2)))
            targets.append(target)
        self.t.targets = targets
        doc = self._event("plan", "plan", datetime(self.city.year, 1, 10, 9, 0, tzinfo=CST),
                          self.g.regulator.id, "amr-city.office", {
            "year": self.city.year, "population": self.city.population, "area": V.COUNTY,
            "targets": targets})
        self.t.plan_event = doc["id"]
        return doc

    def _deliveries(self) -> Iterator[dict[str, Any]]:
        """Deliveries on the network's last evening, from the wholesale market's unheld lots
        (else a market hub's, a cold store's or a farm's): one lot to the school's canteen and
        the workplace canteen, others to the supermarket and the restaurant; the canteens and
        the restaurant serve some of it."""
        nt, w, rng = self.nt, self.world, self.rng
        held = nt.held()
        # the wholesale market's lots first, then a market hub's, a cold store's or a farm's
        sources = [w.wholesale, *w.markets, w.coldstore, *(f.site for f in w.farms)]
        rank = {loc: i for i, loc in enumerate(sources)}
        on_hand = sorted((rank[loc], -nt.on_hand(lot, loc), lot, loc) for lot in nt.lots()
                          if nt.storage(lot) in ("chilled", "ambient") and not nt.imported(lot)
                          and nt.unit(lot) == "kg"
                          for loc in nt.balance(lot) if loc in rank
                          and (loc, lot) not in held and nt.on_hand(lot, loc) >= 12)
        if not on_hand:
            raise ValueError("no lot on hand to deliver to the canteens: the network is too small")
        g = self.g
        day = self.net.spec.start + timedelta(days=self.net.spec.days - 1)
        plan = [(g.school.id, 0), (g.works.id, 0), (g.supermarket.id, 1 % len(on_hand)),
                (g.restaurant.id, 2 % len(on_hand))]
        taken: dict[tuple[str, str], Decimal] = {}
        minute = 19 * 60
        for dst, index in plan:
            _, minus_have, lot, src = on_hand[index]
            qty = Decimal(rng.randint(3, 6))
            if -minus_have - taken.get((lot, src), Decimal(0)) < qty:
                continue
            taken[(lot, src)] = taken.get((lot, src), Decimal(0)) + qty
            line = {"lot": lot, "qty": str(qty), "unit": "kg"}
            temps = [{"time": self._at(day, minute + 10 * (k + 1)).isoformat(),
                      "celsius": f"{rng.randint(5, 40) / 10:.1f}"} for k in range(2)]
            ship = self._event("ship", "sh", self._at(day, minute), self.holder[src], src,
                               {"to": dst, "vehicle": rng.choice(w.vehicles[self.holder[src]]),
                                "temperatures": temps}, inputs=[line])
            yield ship
            yield self._event("receive", "rc", self._at(day, minute + 40), self.holder[dst], dst,
                              {"from": src, "ship_event": ship["id"]}, inputs=[line])
            bal = nt._bal[lot]
            bal[src][2] += qty
            bal.setdefault(dst, [Decimal(0)] * 4)[0] += qty
            self.t.delivered.setdefault(lot, []).append(dst)
            if self.types[dst] in ("canteen", "restaurant"):
                served = Decimal(rng.randint(1, 2))
                yield self._event("sale", "sa", self._at(day, minute + 70), self.holder[dst], dst,
                                  {"receipt": f"供餐-{self.n:05d}"},
                                  inputs=[{"lot": lot, "qty": str(served), "unit": "kg"}])
                bal[dst][1] += served
            minute += 5
        school = [lot for lot, places in self.t.delivered.items() if g.school.id in places]
        if school:
            self.t.school_lot = school[0]
            self.t.school_origins = tuple(sorted(nt.origins(school[0])))

    def _lab_tests(self, samples: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        lab = self.g.lab.id
        rng = self.rng
        per_day: dict[date, int] = {}
        for s in samples:
            day = s["day"]
            k = per_day[day] = per_day.get(day, 0) + 1
            # the lots' samples on the network's last evening, after the deliveries
            minute = (20 * 60 + k) if s["lot"] else (9 * 60 + 7 * k) % (17 * 60)
            analytes = ANALYTES[s["category"]]
            analyte = analytes[int(s["analyte_pick"] * len(analytes))]
            failed = s["failed"]
            report_no = f"YY{day:%Y%m%d}{k:03d}"
            data: dict[str, Any] = {
                "analyte": analyte, "commodity": s["commodity"],
                "value": rng.choice(FAIL_VALUES) if failed else "ND", "unit": "mg/kg",
                "lab": self.g.lab.name, "report_no": report_no,
                "sample": f"{s['commodity']}-{report_no}", "method": "GB 23200.113-2018",
                "sampling": s["sampling"], "stage": s["stage"], "category": s["category"],
                "business_type": s["business_type"]}
            if s["lot"]:
                data["lot"] = s["lot"]
            if s.get("stall"):
                data["stall"] = s["stall"]
            doc = self._event("lab_test", "lab", self._at(day, minute), lab, lab, data)
            yield doc
            disposed = False
            if failed and s["lot"]:
                if s["dispose"]:
                    qty = self.nt.on_hand(s["lot"], s["stall"])
                    stall = s["stall"]
                    yield self._event("dispose", "ds", self._at(day, minute + 60),
                                      self.holder[stall], stall,
                                      {"reason": "监督抽检不合格, 监督销毁"},
                                      inputs=[{"lot": s["lot"], "qty": str(qty), "unit": "kg"}])
                    self.nt._bal[s["lot"]][stall][3] += qty
                    disposed = True
            self.t.samples.append(Sample(
                doc["id"], day.isoformat(), s["sampling"], s["stage"], s["category"],
                s["business_type"], s["place"], analyte, s["commodity"], failed,
                s["lot"] or None, s.get("stall"), disposed))

    def _rapid_tests(self) -> Iterator[dict[str, Any]]:
        """The markets' rapid tests (快检) over the year, by the market at its stalls."""
        rng, city = self.rng, self.city
        stalls = [s for s in self.world.stalls if s.category in ("veg", "fruit")]
        if not stalls:
            return
        counts = dict.fromkeys(("negative", "suspect", "positive"), 0)
        for i, day in enumerate(self._days(city.rapid_tests, date(city.year, 1, 5), self.g.last)):
            stall = stalls[rng.randrange(len(stalls))]
            roll = rng.random()
            outcome = "positive" if roll < 0.03 else "suspect" if roll < 0.08 else "negative"
            if i < 3:  # each outcome at least once
                outcome = ("positive", "suspect", "negative")[i]
            delta_at = {"negative": rng.choice(("0.742", "0.756", "0.768")), "suspect": "0.452",
                        "positive": "0.300"}[outcome]
            counts[outcome] += 1
            yield self._event("rapid_test", "kj", self._at(day, 6 * 60 + 30 + i % 90),
                              stall.market, stall.id, {
                "sample": f"{rng.choice(stall.products)}-{i + 1:04d}",
                "item": "有机磷和氨基甲酸酯类农药", "method": "GB/T 5009.199-2003",
                "tester": "快检室 王芳", "readings": {"delta_a0": "0.800", "delta_at": delta_at}})
        self.t.rapid = counts

    def _inspections(self) -> Iterator[dict[str, Any]]:
        """The regulator's routine inspections, all three results; rectifications reported
        and confirmed for some, only reported for others, still open for the rest."""
        rng, city, g = self.rng, self.city, self.g
        places = [g.school.id, g.works.id, g.restaurant.id, g.supermarket.id,
                  *rng.sample([s.id for s in self.world.stalls],
                              min(len(self.world.stalls), max(1, city.inspections - 4)))]
        last = self.g.last - timedelta(days=10)
        days = self._days(city.inspections, date(city.year, 2, 1), max(date(city.year, 2, 1), last))
        results = ("compliant", "basically_compliant", "non_compliant")
        later: list[tuple[datetime, dict[str, Any]]] = []
        for i, day in enumerate(days):
            place = places[i % len(places)]
            result = results[i] if i < 3 else rng.choices(results, (0.6, 0.3, 0.1))[0]
            items = [{"name": name, "compliant": True} for name in rng.sample(INSPECTION_ITEMS, 3)]
            data: dict[str, Any] = {"items": items, "result": result,
                                    "inspectors": [{"name": "李明", "badge": "50023500123"},
                                                   {"name": "陈静", "badge": "50023500124"}]}
            if result != "compliant":
                items[1] = {**items[1], "compliant": False, "note": "记录不全"}
                data["findings"] = f"{items[1]['name']}不符合要求"
                data["rectification_deadline"] = (day + timedelta(days=7)).isoformat()
            doc = self._event("inspection", "insp", self._at(day, 9 * 60 + i % 60),
                              g.regulator.id, place, data)
            yield doc
            state = None
            if result != "compliant":
                roll = rng.random() if i >= 3 else (0.0 if i == 1 else 0.9)
                state = "closed" if roll < 0.5 else "reported" if roll < 0.75 else "open"
                if state in ("closed", "reported"):
                    later.append((self._at(day + timedelta(days=3), 15 * 60), self._event(
                        "rectification", "rect", self._at(day + timedelta(days=3), 15 * 60),
                        self.holder[place], place, {"inspection": doc["id"], "step": "report",
                                                    "measures": "已整改并补全记录"})))
                if state == "closed":
                    later.append((self._at(day + timedelta(days=6), 10 * 60), self._event(
                        "rectification", "rect", self._at(day + timedelta(days=6), 10 * 60),
                        g.regulator.id, place, {"inspection": doc["id"], "step": "confirm"})))
            self.t.inspections.append(Inspected(doc["id"], place, result, state))
        yield from (doc for _, doc in sorted(later, key=lambda x: (x[0], x[1]["id"])))

    def _entries(self) -> Iterator[dict[str, Any]]:
        """Goods from suppliers outside the ledger: entries with their vouchers (meat with its
        quarantine and quality certificates; at a market or stall at least one voucher), and
        refusals of goods without them (``CityYear.entries``)."""
        rng, g = self.rng, self.g
        stall = next((s for s in self.world.stalls if s.category == "veg"), self.world.stalls[0])
        # receiving points only: the supermarket, the canteens and a market's stall
        places = [g.supermarket.id, g.school.id, g.works.id, stall.id]
        day = self.g.last
        for i in range(12):
            place = places[i % len(places)]
            product, category, storage = ENTRY_GOODS[i % len(ENTRY_GOODS)]
            issued = (day - timedelta(days=1)).isoformat()
            vouchers: list[dict[str, str]] = []
            if category == "meat":
                vouchers = [{"type": VOUCHERS_MEAT[0], "no": f"DJ{rng.randrange(10**9):09d}",
                             "issuer": "云阳县动物卫生监督所", "issued_at": issued},
                            {"type": VOUCHERS_MEAT[1], "no": f"RP{rng.randrange(10**9):09d}"}]
            else:
                vouchers = [{"type": rng.choice(("合格证", "购货凭证", "检测报告")),
                             "no": f"HG{rng.randrange(10**9):09d}", "issuer": "重庆某供应链公司",
                             "issued_at": issued}]
            lot = f"ENT-{day:%Y%m%d}-{i + 1:03d}"
            qty = str(rng.randint(10, 60))
            doc = self._event("entry", "ent", self._at(day, 5 * 60 + 10 * i), self.holder[place],
                              place, {"supplier": {"name": "重庆某供应链公司",
                                                   "licence": "JY15001000000001"},
                                      "product": product, "category": category,
                                      "imported": False, "storage": storage,
                                      "vouchers": vouchers},
                              outputs=[{"lot": lot, "qty": qty, "unit": "kg"}])
            self.t.entries.append({"event": doc["id"], "place": place, "lot": lot,
                                   "category": category, "vouchers": [v["type"] for v in vouchers]})
            yield doc
        for i, (product, category, reason) in enumerate((("豇豆", "vegetable", "无合格证"),
                                                         ("鲜猪肉", "meat", "无动物检疫合格证明"))):
            place = places[i]
            doc = self._event("reject", "rej", self._at(day, 7 * 60 + i), self.holder[place],
                              place, {"reason": reason, "supplier": {"name": "散户供货商"},
                                      "product": product, "category": category,
                                      "quantity": "50 kg", "vouchers": []})
            self.t.rejects.append({"event": doc["id"], "place": place, "category": category,
                                   "reason": reason})
            yield doc

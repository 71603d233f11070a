"""A deterministic, signed event stream of a county's food trade, with its ground truth.

``generate(NetworkSpec(...))`` builds a world (farms, a designated abattoir, an
importer with its port and import cold store, a cold store, a wholesale market,
farmers' markets and their stalls) and :meth:`GeneratedNetwork.events` walks it
day by day, yielding signed event dicts (docs/contract.md) in append order:

* the operator's ``register`` events (every party, location and key);
* each day, in time order: farms' ``origin`` certificates and the importer's
  containers; farm → cold store / wholesale / market hub / abattoir / stall
  hops; ``slaughter`` (and ``cut``) at the abattoir; cold store → wholesale;
  ``merge`` and ``split`` at the wholesale market; wholesale → stall or →
  market hub → stall; stalls' ``repack`` / ``cut`` / ``split`` / ``merge``; then
  the day's ``sale`` events with a few ``hold`` / ``release``.

Every event respects the ledger's rules (mass balance per location, lot and
unit; receive ≤ ship; holds respected; cold-chain readings within limits except
~2 % of chilled/frozen hops; ~3 % of receipts slightly short; import documents on
every hop of imported pork). :class:`Truth` records what really happened, so
trace and recall answers can be checked against it.

Everything is a pure function of the spec: the world from ``Random(f"{seed}:world")``,
the events from ``Random(f"{seed}:events")``, and each party's Ed25519 key from
``sha256(f"{seed}:{party}")``. The event count lands within a few events of
``spec.events`` (the day's ``sale`` events absorb the difference).
"""

from __future__ import annotations

import base64
import hashlib
import math
import multiprocessing
import random
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import Any

from tracelib import canonical
from tracelib._cores import cpu_count
from tracelib.keys import SigningKey

from . import names as V

__all__ = [
    "Balance", "GeneratedNetwork", "HoldRecord", "NetworkSpec", "Party", "Site", "Truth",
    "derive_key", "generate", "sign_all",
]

CST = timezone(timedelta(hours=8))
ZERO = Decimal(0)
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
HALF = Decimal("0.5")
ONE = Decimal(1)
AVG_SALE = 2.75  # kg: sales are uniform on 0.5-5 kg
COVER_DAYS = 2.2  # a stall orders up to this many days of expected sales
REORDER_DAYS = 1.3  # and orders when it holds less than this
MIN_ORDER = {"veg": 5, "fruit": 8, "egg": 10, "pork": 15, "frozen": 10}
CARCASS_KG_PER_HEAD = (72, 86)
EXCURSION_RATE = 0.025  # of chilled / frozen hops: one reading outside the limit
SHORT_RECEIPT_RATE = 0.03  # of receipts: one line received short of what was shipped
CONTAINER_KG = (20_000, 26_000)


# -- spec and world -------------------------------------------------------------------------

@dataclass(frozen=True)
class NetworkSpec:
    """What to generate. ``events`` is the target total (register events included)."""

    seed: int = 0
    events: int = 10_000
    farms: int = 20
    markets: int = 2
    stalls_per_market: int = 50
    days: int = 7
    start: date = date(2026, 11, 16)
    operator: str = "yunyang-amr"

    def check(self) -> None:
        """Raise ``ValueError`` for a spec the generator cannot honour."""
        if self.farms < 4:
            raise ValueError(f"need at least 4 farms (vegetable, fruit, egg, pig), got {self.farms}")
        if self.markets < 1:
            raise ValueError(f"need at least 1 market, got {self.markets}")
        if self.stalls_per_market < 1:
            raise ValueError(f"need at least 1 stall per market, got {self.stalls_per_market}")
        if self.days < 1:
            raise ValueError(f"need at least 1 day, got {self.days}")
        floor = self.min_events()
        if self.events < floor:
            raise ValueError(f"{self.events} events are too few for this world: its deliveries "
                             f"alone take about {floor}; raise events or shrink the world")

    def min_events(self) -> int:
        """A rough floor: below it, deliveries alone would exceed the budget."""
        stalls = self.markets * self.stalls_per_market
        return 4 * stalls * min(self.days, 3) + 60 * self.days + 10


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    role: str

    def to_register(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role}


@dataclass(frozen=True)
class Site:
    """A registered location."""

    id: str
    name: str
    type: str
    holder: str
    parent: str | None = None
    number: str | None = None
    licences: tuple[tuple[str, str], ...] = ()
    address: str | None = None

    def to_register(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.parent is not None:
            doc["parent"] = self.parent
        doc["holder"] = self.holder
        if self.licences:
            doc["licences"] = dict(self.licences)
        if self.number is not None:
            doc["number"] = self.number
        if self.address is not None:
            doc["address"] = self.address
        return doc


@dataclass(frozen=True)
class _Farm:
    party: str
    site: str
    short: str
    name: str
    category: str  # veg, fruit, egg, pig
    products: tuple[str, ...]
    place: str
    contact: str


@dataclass(frozen=True)
class _Stall:
    id: str  # party and location
    market: str  # market location id (also its distribution hub)
    hub: bool  # supplied through the market's own distribution (统一配送)
    category: str
    short: str  # for lot and receipt codes: m0a017
    products: tuple[str, ...]
    weights: tuple[float, ...]  # share of the stall's sales per product
    weight: float  # share of the market's sales


@dataclass(frozen=True)
class _World:
    spec: NetworkSpec
    parties: tuple[Party, ...]
    sites: tuple[Site, ...]
    farms: tuple[_Farm, ...]
    stalls: tuple[_Stall, ...]
    markets: tuple[str, ...]
    vehicles: Mapping[str, tuple[str, ...]]
    holder: Mapping[str, str]
    short: Mapping[str, str]  # location -> short code used in lot ids
    abattoir: str
    coldstore: str
    import_coldstore: str
    port: str
    wholesale: str
    importer: str
    importer_contact: str


def derive_key(seed: int, party: str) -> SigningKey:
    """A party's demo key: ``SigningKey.from_bytes(sha256(f"{seed}:{party}"))``. Never real."""
    return SigningKey.from_bytes(hashlib.sha256(f"{seed}:{party}".encode()).digest())


def _licence_code(rng: random.Random, prefix: str) -> str:
    """An 18-character 统一社会信用代码-shaped number (invented)."""
    body = "".join(rng.choice(V.PLATE_CHARS) for _ in range(8))
    return f"{prefix}{V.COUNTY_CODE}MA{body}"


def _food_licence(rng: random.Random) -> str:
    return f"JY1{V.COUNTY_CODE}{rng.randrange(10**7):07d}"


def _plate(rng: random.Random, prefix: str) -> str:
    chars = [rng.choice("0123456789") for _ in range(5)]
    for pos in rng.sample(range(5), rng.choice((1, 1, 2))):
        chars[pos] = rng.choice(V.PLATE_LETTERS)
    return f"{prefix}·{''.join(chars)}"


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(V.SURNAMES), rng.choice(V.GIVEN_NAMES)


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"


def _split_counts(total: int, shares: Sequence[float]) -> list[int]:
    """Largest-remainder split of ``total`` by ``shares``, at least 1 each while total allows."""
    raw = [total * s for s in shares]
    counts = [int(x) for x in raw]
    order = sorted(range(len(shares)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[:total - sum(counts)]:
        counts[i] += 1
    for i in range(len(counts)):  # no empty section when there are enough stalls
        if counts[i] == 0:
            donor = max(range(len(counts)), key=lambda j: counts[j])
            if counts[donor] > 1:
                counts[donor] -= 1
                counts[i] = 1
    return counts


def _build_world(spec: NetworkSpec) -> _World:
    rng = random.Random(f"{spec.seed}:world")  # noqa: S311 - reproducible demo data, not secrets
    parties: list[Party] = []
    sites: list[Site] = []
    vehicles: dict[str, tuple[str, ...]] = {}
    short: dict[str, str] = {}

    def fleet(party: str, prefix: str = "渝F", n: int | None = None) -> None:
        vehicles[party] = tuple(_plate(rng, prefix) for _ in range(n or rng.randint(1, 3)))

    # Farms: pig, egg and fruit farms first, vegetables the rest.
    n_pig = max(1, round(spec.farms * 0.15))
    n_egg = max(1, round(spec.farms * 0.10))
    n_fruit = max(1, round(spec.farms * 0.15))
    n_veg = spec.farms - n_pig - n_egg - n_fruit
    categories = ["veg"] * n_veg + ["fruit"] * n_fruit + ["egg"] * n_egg + ["pig"] * n_pig
    offer: dict[str, tuple[V.Product, ...]] = {
        "veg": V.VEGETABLES, "fruit": V.FRUITS, "egg": V.EGGS, "pig": (V.PIGS,)}
    grows: list[list[str]] = [[] for _ in categories]
    for cat in ("veg", "fruit", "egg", "pig"):
        idx = [i for i, c in enumerate(categories) if c == cat]
        offered = offer[cat]
        for j, product in enumerate(offered):  # every product has a grower
            grows[idx[j % len(idx)]].append(product.name)
        for i in idx:
            want = {"veg": rng.randint(3, 5), "fruit": rng.randint(1, 3), "egg": rng.randint(1, 2),
                    "pig": 1}[cat]
            extra = [p.name for p in offered if p.name not in grows[i]]
            rng.shuffle(extra)
            grows[i].extend(extra[:max(0, want - len(grows[i]))])
    farms: list[_Farm] = []
    for i, cat in enumerate(categories):
        town, abbr = V.TOWNS[rng.randrange(len(V.TOWNS))]
        village = rng.choice(V.VILLAGES)
        code = f"{abbr}{i + 1:02d}"
        pid = f"farm-{code}"
        surname, given = _person(rng)
        suffix = rng.choice(V.FARM_SUFFIXES[cat])
        if "合作社" in suffix or "公司" in suffix:
            name = f"云阳县{town}{village}{suffix}" if "合作社" in suffix else f"云阳县{surname}氏{suffix}"
        else:
            name = f"云阳县{town}{surname}{given}{suffix}"
        place = f"{V.COUNTY}{town}{village}"
        farm = _Farm(pid, f"{pid}.base", code, name, cat, tuple(sorted(
            grows[i], key=lambda n: list(V.PRODUCTS).index(n))), place, _phone(rng))
        farms.append(farm)
        parties.append(Party(pid, name, "farm"))
        kind = {"veg": "生产基地", "fruit": "果园", "egg": "养殖场", "pig": "养殖场"}[cat]
        sites.append(Site(farm.site, f"{name}{kind}" if not name.endswith("场") else name, "farm",
                          pid, address=place))
        short[farm.site] = code
        fleet(pid)

    def company(pid: str, name: str, role: str, site: Site, code: str, prefix: str = "渝F",
                n: int | None = None) -> None:
        parties.append(Party(pid, name, role))
        sites.append(site)
        short[site.id] = code
        fleet(pid, prefix, n)

    company("importer-cq01", V.IMPORTER_NAME, "importer",
            Site("port-cq01", V.PORT_NAME, "port", "importer-cq01", address=V.PORT_ADDRESS),
            "cq01", "渝A", 2)
    company("carrier-jg01", V.IMPORT_CARRIER_NAME, "carrier",
            Site("coldstore-jg01", V.IMPORT_COLDSTORE_NAME, "coldstore", "carrier-jg01",
                 licences=(("business", _licence_code(rng, "91")),
                           ("food", _food_licence(rng))),
                 address=f"{V.COUNTY}双江街道"), "jg01", "渝F", 3)
    company("carrier-cq01", V.CARRIER_NAME, "carrier",
            Site("coldstore-cq01", V.COLDSTORE_NAME, "coldstore", "carrier-cq01",
                 licences=(("business", _licence_code(rng, "91")),),
                 address=f"{V.COUNTY}双江街道"), "cq01", "渝F", 3)
    company("abattoir-yy01", V.ABATTOIR_COMPANY, "abattoir",
            Site("abattoir-yy01", V.ABATTOIR_NAME, "abattoir", "abattoir-yy01",
                 licences=(("business", _licence_code(rng, "91")),
                           ("slaughter", f"A{V.COUNTY_CODE}{rng.randrange(1000):03d}")),
                 address=f"{V.COUNTY}人和街道"), "yy01", "渝F", 3)
    company("wholesaler-yy01", V.WHOLESALER_NAME, "wholesaler",
            Site("wholesale-yy01", V.WHOLESALE_NAME, "wholesale_market", "wholesaler-yy01",
                 licences=(("business", _licence_code(rng, "91")),
                           ("food", _food_licence(rng))),
                 address=f"{V.COUNTY}双江街道"), "ws01", "渝F", 3)

    markets: list[str] = []
    for m in range(spec.markets):
        mid = f"market-m{m}"
        mname = f"云阳县{V.MARKET_NAMES[m % len(V.MARKET_NAMES)]}"
        if m >= len(V.MARKET_NAMES):
            mname = f"{mname}（{m // len(V.MARKET_NAMES) + 1}）"
        town = V.MARKET_TOWNS[m % len(V.MARKET_TOWNS)]
        company(mid, f"{mname}管理有限公司", "market",
                Site(mid, mname, "market", mid,
                     licences=(("business", _licence_code(rng, "91")),
                               ("food", _food_licence(rng))),
                     address=f"{V.COUNTY}{town}"), f"m{m}", "渝F", 1)
        markets.append(mid)

    stalls: list[_Stall] = []
    stall_parties: list[Party] = []
    stall_sites: list[Site] = []
    counts = _split_counts(spec.stalls_per_market, [s.share for s in V.SECTIONS])
    base_weight = {"veg": 1.2, "pork": 1.3, "egg": 0.7, "fruit": 0.9, "frozen": 0.6}
    for m, mid in enumerate(markets):
        hub = m % 2 == 1
        for section, count in zip(V.SECTIONS, counts, strict=True):
            for n in range(1, count + 1):
                number = f"{section.letter.upper()}{n:03d}"
                sid = f"stall-m{m}-{section.letter}{n:03d}"
                surname, given = _person(rng)
                cat = section.category
                goods: list[V.Product]
                if cat == "veg":
                    goods = rng.sample(V.VEGETABLES, rng.randint(3, 5))
                elif cat == "fruit":
                    goods = rng.sample(V.FRUITS, rng.randint(2, 4))
                elif cat == "egg":
                    goods = [V.EGGS[0]] + ([V.EGGS[1]] if rng.random() < 0.5 else [])
                elif cat == "pork":
                    goods = [V.PORK]
                else:
                    goods = [V.IMPORTED_PORK]
                raw = [rng.uniform(1, 3) for _ in goods]
                total = sum(raw)
                stalls.append(_Stall(
                    sid, mid, hub, cat, f"m{m}{section.letter}{n:03d}",
                    tuple(p.name for p in goods), tuple(w / total for w in raw),
                    base_weight[cat] * rng.uniform(0.6, 1.4)))
                stall_parties.append(Party(sid, f"{surname}{given}", "stall"))
                nick = rng.choice(("记", "姐", "哥", "氏", "家"))
                stall_sites.append(Site(
                    sid, f"{surname}{nick}{section.goods}", "stall", sid, parent=mid,
                    number=number, licences=(("business", _licence_code(rng, "92")),
                                             ("food", _food_licence(rng)))))
                short[sid] = f"m{m}{section.letter}{n:03d}"
    parties.extend(stall_parties)
    sites.extend(stall_sites)
    holder = {s.id: s.holder for s in sites}
    return _World(spec, tuple(parties), tuple(sites), tuple(farms), tuple(stalls),
                  tuple(markets), vehicles, holder, short, "abattoir-yy01", "coldstore-cq01",
                  "coldstore-jg01", "port-cq01", "wholesale-yy01", "importer-cq01", _phone(rng))


# -- ground truth ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Balance:
    """One lot at one location: what came in, what left, and what is left."""

    received: Decimal
    sold: Decimal
    shipped: Decimal
    consumed: Decimal

    @property
    def on_hand(self) -> Decimal:
        return self.received - self.sold - self.shipped - self.consumed


@dataclass(frozen=True)
class HoldRecord:
    location: str
    lot: str
    qty: Decimal
    hold_event: str
    release_event: str | None


class Truth:
    """What the generated events really did, lot by lot and location by location.

    Complete once :meth:`GeneratedNetwork.events` is exhausted. ``received`` counts
    lots made at a location (origin, slaughter and transform outputs) as received there.
    """

    def __init__(self) -> None:
        self._reset({}, [])

    def _reset(self, location_types: Mapping[str, str], stalls: Sequence[str]) -> None:
        self._loc_type: dict[str, str] = dict(location_types)
        self._stalls: list[str] = list(stalls)
        self._unit: dict[str, str] = {}
        self._product: dict[str, str] = {}
        self._storage: dict[str, str] = {}
        self._parents: dict[str, tuple[str, ...]] = {}
        self._children: dict[str, list[str]] = {}
        self._origin_qty: dict[str, Decimal] = {}
        self._container: dict[str, str] = {}
        # lot -> location -> [received, sold, shipped, consumed]
        self._bal: dict[str, dict[str, list[Decimal]]] = {}
        # (lot, location) -> (events, locations) on the longest path from an origin
        self._depth: dict[tuple[str, str], tuple[int, int]] = {}
        self._sale_events_depth: dict[int, int] = {}
        self._sale_sites_depth: dict[int, int] = {}
        self._holds: dict[tuple[str, str], list[Any]] = {}
        self._hold_log: list[list[Any]] = []
        self._excursions: list[str] = []
        self._short_receipts: list[str] = []
        self._kinds: dict[str, int] = {}

    # -- recording (generator side) -------------------------------------------
    def _make(self, lot: str, product: str, unit: str, storage: str, parents: tuple[str, ...],
              location: str, qty: Decimal, depth: tuple[int, int], *, origin: bool = False,
              container: str | None = None) -> None:
        if lot in self._unit:
            raise AssertionError(f"lot {lot} made twice")
        self._unit[lot] = unit
        self._product[lot] = product
        self._storage[lot] = storage
        self._parents[lot] = parents
        self._children[lot] = []
        for p in parents:
            self._children[p].append(lot)
        if origin:
            self._origin_qty[lot] = qty
        if container is not None:
            self._container[lot] = container
        self._bal[lot] = {location: [qty, ZERO, ZERO, ZERO]}
        self._depth[(lot, location)] = depth

    # -- queries --------------------------------------------------------------
    def lots(self) -> list[str]:
        """Every lot, in the order it was made."""
        return list(self._unit)

    def stalls(self) -> list[str]:
        return list(self._stalls)

    def location_type(self, loc: str) -> str:
        return self._loc_type[loc]

    def locations(self) -> list[str]:
        return list(self._loc_type)

    def unit(self, lot: str) -> str:
        return self._unit[lot]

    def product(self, lot: str) -> str:
        return self._product[lot]

    def storage(self, lot: str) -> str:
        return self._storage[lot]

    def parents(self, lot: str) -> tuple[str, ...]:
        return self._parents[lot]

    def children(self, lot: str) -> list[str]:
        return list(self._children[lot])

    def imported(self, lot: str) -> bool:
        """Whether the lot comes from an imported container."""
        return lot in self._container or any(
            self._container.get(o) is not None for o in self.origins(lot))

    def origin_quantity(self, lot: str) -> Decimal | None:
        """The quantity an ``origin`` event made, for origin lots; else None."""
        return self._origin_qty.get(lot)

    def descendants(self, lot: str) -> list[str]:
        """The lot and every lot made from it (transform / slaughter outputs), recursively."""
        seen = {lot: None}
        queue = deque([lot])
        while queue:
            for child in self._children[queue.popleft()]:
                if child not in seen:
                    seen[child] = None
                    queue.append(child)
        return list(seen)

    def origins(self, lot: str) -> set[str]:
        """The origin lots upstream of ``lot`` (itself included when it is one)."""
        found: set[str] = set()
        stack = [lot]
        seen: set[str] = set()
        while stack:
            cur = stack.pop()
            if cur in seen:
                continue
            seen.add(cur)
            if cur in self._origin_qty:
                found.add(cur)
            stack.extend(self._parents[cur])
        return found

    def balance(self, lot: str) -> dict[str, Balance]:
        """Per location: received (or made), sold, shipped out, consumed, on hand."""
        return {loc: Balance(*b) for loc, b in self._bal[lot].items()}

    def on_hand(self, lot: str, loc: str) -> Decimal:
        b = self._bal[lot].get(loc)
        return ZERO if b is None else b[0] - b[1] - b[2] - b[3]

    def forward(self, lot: str) -> dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]:
        """(location, unit) -> (received, sold, on hand), summed over the lot and its descendants."""
        acc: dict[tuple[str, str], list[Decimal]] = {}
        for item in self.descendants(lot):
            unit = self._unit[item]
            for loc, (r, s, sh, c) in self._bal[item].items():
                row = acc.get((loc, unit))
                if row is None:
                    row = acc[(loc, unit)] = [ZERO, ZERO, ZERO]
                row[0] += r
                row[1] += s
                row[2] += r - s - sh - c
        return {k: (v[0], v[1], v[2]) for k, v in acc.items()}

    def holds(self) -> list[HoldRecord]:
        """Every hold, with the release that ended it (None while still held)."""
        return [HoldRecord(*h) for h in self._hold_log]

    def held(self) -> dict[tuple[str, str], Decimal]:
        """(location, lot) -> quantity, for lots still held at the end."""
        return {k: v[0] for k, v in self._holds.items()}

    def excursions(self) -> list[str]:
        """Ids of ship events with a temperature reading outside the lot's limit."""
        return list(self._excursions)

    def short_receipts(self) -> list[str]:
        """Ids of receive events with a line received short of what was shipped."""
        return list(self._short_receipts)

    def kinds(self) -> dict[str, int]:
        """Events per kind."""
        return dict(self._kinds)

    def depth(self, lot: str, loc: str) -> tuple[int, int]:
        """(events, locations) on the longest path from an origin to the lot's arrival at loc."""
        return self._depth[(lot, loc)]

    def sale_path_events(self) -> dict[int, int]:
        """Histogram: events on the path from origin to sale (both included) -> sales."""
        return dict(sorted(self._sale_events_depth.items()))

    def sale_path_locations(self) -> dict[int, int]:
        """Histogram: locations visited from origin to the stall (both included) -> sales."""
        return dict(sorted(self._sale_sites_depth.items()))


# -- the simulation -------------------------------------------------------------------------

def _fmt(q: Decimal) -> str:
    """A decimal string without exponent or trailing zeros: Decimal("2.50") -> "2.5"."""
    s = f"{q:f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def _tenths(n: int) -> str:
    sign = "-" if n < 0 else ""
    n = abs(n)
    return f"{sign}{n // 10}.{n % 10}"


def _ceil_to(x: float, step: Decimal) -> Decimal:
    return (Decimal(repr(x)) / step).to_integral_value(ROUND_CEILING) * step


class _Phase:
    """Evenly spaced, non-decreasing times for ``n`` events in [start, end) seconds of a day."""

    __slots__ = ("end", "i", "n", "span", "start")

    def __init__(self, start: int, end: int, n: int) -> None:
        self.start, self.end, self.n, self.i = start, end, max(n, 1), 0
        self.span = end - start

    def next(self) -> int:
        sec = self.start + self.span * min(self.i, self.n) // self.n
        self.i += 1
        return sec


@dataclass
class _Shipment:
    id: str
    src: str
    dst: str
    items: list[tuple[str, Decimal]]


@dataclass
class _FarmLot:
    farm: _Farm
    product: str
    dests: list[tuple[str, Decimal]]
    lot: str = ""


@dataclass
class _Order:
    stall: _Stall
    product: str
    qty: Decimal
    route: str  # ws, farm, hub, abattoir


class _Sim:
    """One run of the world: mutable stock, the truth it records, the events it yields."""

    def __init__(self, world: _World, truth: Truth) -> None:
        self.w = world
        self.spec = world.spec
        self.rng = random.Random(f"{world.spec.seed}:events")  # noqa: S311 - demo data
        self.t = truth
        self.stock: dict[str, dict[str, Decimal]] = {s.id: {} for s in world.sites}
        self.held: dict[str, dict[str, Decimal]] = {s.id: {} for s in world.sites}
        self.n_events = 0
        self.n_lots = 0
        self.n_certs = 0
        self.pending: list[_Shipment] = []
        self.arrivals: dict[str, list[str]] = {}
        self.docs: dict[str, dict[str, str]] = {}  # container -> import documents
        self.stall_by_id = {s.id: s for s in world.stalls}
        self.rate: dict[str, float] = {}
        self.last_struct = 0
        self.carried: list[tuple[str, str, str]] = []  # holds to release tomorrow
        self.prefix = f"{world.spec.seed}"
        self.day = world.spec.start
        self.ymd = ""
        self.day_text = ""
        self.valid_from = f"{(world.spec.start - timedelta(days=30)).isoformat()}T00:00:00+08:00"
        self.kinds = truth._kinds

    # -- small helpers ------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        self.n_events += 1
        return f"{prefix}-{self.prefix}-{self.n_events:07d}"

    def _time(self, sec: int) -> str:
        sec = min(sec, 86_399)
        h, rem = divmod(sec, 3600)
        m, s = divmod(rem, 60)
        return f"{self.day_text}T{h:02d}:{m:02d}:{s:02d}+08:00"

    def _new_lot(self, code: str, loc: str) -> str:
        self.n_lots += 1
        return f"{code}-{self.ymd}-{self.w.short[loc]}-{self.n_lots:05d}"

    def _event(self, kind: str, prefix: str, sec: int, loc: str, data: dict[str, Any],
               inputs: list[dict[str, str]] | None = None,
               outputs: list[dict[str, str]] | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self._id(prefix), "kind": kind, "time": self._time(sec),
                               "actor": self.w.holder[loc], "location": loc}
        if inputs:
            doc["inputs"] = inputs
        if outputs:
            doc["outputs"] = outputs
        doc["data"] = data
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        return doc

    def _line(self, lot: str, qty: Decimal) -> dict[str, str]:
        return {"lot": lot, "qty": _fmt(qty), "unit": self.t._unit[lot]}

    def _add(self, loc: str, lot: str, qty: Decimal) -> None:
        st = self.stock[loc]
        st[lot] = st.get(lot, ZERO) + qty

    def _take(self, loc: str, lot: str, qty: Decimal) -> None:
        st = self.stock[loc]
        left = st[lot] - qty
        if left < 0 or qty <= 0 or lot in self.held[loc]:
            raise AssertionError(f"cannot take {qty} of {lot} at {loc} (on hand {st[lot]})")
        if left == 0:
            del st[lot]
        else:
            st[lot] = left

    def _free(self, loc: str, product: str | None = None) -> list[tuple[str, Decimal]]:
        """Unheld lots on hand at loc (of one product), oldest first."""
        held = self.held[loc]
        prod = self.t._product
        return [(lot, q) for lot, q in self.stock[loc].items()
                if lot not in held and (product is None or prod[lot] == product)]

    def _avail(self, loc: str) -> dict[str, Decimal]:
        """Unheld kg on hand at loc, per product."""
        held = self.held[loc]
        prod = self.t._product
        out: dict[str, Decimal] = {}
        for lot, q in self.stock[loc].items():
            if lot not in held:
                p = prod[lot]
                out[p] = out.get(p, ZERO) + q
        return out

    def _bal(self, lot: str, loc: str) -> list[Decimal]:
        per = self.t._bal[lot]
        row = per.get(loc)
        if row is None:
            row = per[loc] = [ZERO, ZERO, ZERO, ZERO]
        return row

    # -- register ---------------------------------------------------------------------------
    def register_events(self) -> Iterator[dict[str, Any]]:
        w = self.w
        office = f"{self.spec.operator}.office"
        site_of: dict[str, list[Site]] = {}
        for s in w.sites:
            site_of.setdefault(s.holder, []).append(s)
        groups: list[list[Party]] = [[]]
        entries = 0
        for p in w.parties:
            size = 2 + len(site_of.get(p.id, []))
            if entries + size > 500:
                groups.append([])
                entries = 0
            groups[-1].append(p)
            entries += size
        day_before = (self.spec.start - timedelta(days=1)).isoformat()
        for n, group in enumerate(groups):
            keys = []
            for p in group:
                key = derive_key(self.spec.seed, p.id)
                keys.append({"party": p.id, "key_id": key.key_id,
                             "public_key": key.public.base64(), "valid_from": self.valid_from})
            self.n_events += 1
            self.kinds["register"] = self.kinds.get("register", 0) + 1
            yield {
                "id": f"reg-{self.prefix}-{n + 1:03d}", "kind": "register",
                "time": f"{day_before}T09:{n // 60:02d}:{n % 60:02d}+08:00",
                "actor": self.spec.operator, "location": office,
                "data": {"parties": [p.to_register() for p in group],
                         "locations": [s.to_register() for p in group for s in site_of.get(p.id, [])],
                         "keys": keys},
            }

    # -- the days -----------------------------------------------------------------------------
    def run(self) -> Iterator[dict[str, Any]]:
        yield from self.register_events()
        spec = self.spec
        self.last_struct = int(2.4 * len(self.w.stalls) + 4 * spec.farms + 20)
        for d in range(spec.days):
            self.day = spec.start + timedelta(days=d)
            self.ymd = self.day.strftime("%Y%m%d")
            self.day_text = self.day.isoformat()
            self.arrivals = {}
            start_count = self.n_events
            days_left = spec.days - d
            budget = (spec.events - self.n_events) / days_left
            sales_plan = max(0.5 * len(self.w.stalls), budget - self.last_struct)
            self._plan_rates(sales_plan)
            orders = self._orders()
            yield from self._day_supply(orders)
            target = spec.events if d == spec.days - 1 else round(start_count + budget)
            before_sales = self.n_events
            yield from self._sales(target)
            self.last_struct = before_sales - start_count + 2

    def _plan_rates(self, sales_plan: float) -> None:
        total = sum(s.weight for s in self.w.stalls)
        self.rate = {s.id: sales_plan * s.weight / total for s in self.w.stalls}

    def _orders(self) -> list[_Order]:
        orders: list[_Order] = []
        rng = self.rng
        for stall in self.w.stalls:
            rate = self.rate[stall.id]
            have = self._avail(stall.id)
            for product, share in zip(stall.products, stall.weights, strict=True):
                expected = rate * share * AVG_SALE
                on_hand = float(have.get(product, ZERO))
                if on_hand >= expected * REORDER_DAYS + 0.5:
                    continue
                qty = max(float(MIN_ORDER[stall.category]), expected * COVER_DAYS - on_hand)
                cat = stall.category
                if cat == "egg":
                    route = "hub"
                elif cat == "pork":
                    route = "abattoir"
                elif cat == "veg" and rng.random() < 0.08:
                    route = "farm"
                else:
                    route = "ws"
                orders.append(_Order(stall, product, _ceil_to(qty, HALF), route))
        return orders

    def _day_supply(self, orders: list[_Order]) -> Iterator[dict[str, Any]]:
        w = self.w
        # P1 (00:20-01:00): harvests, pigs, containers sized to today's orders.
        farm_lots, containers = self._plan_origins(orders)
        yield from self._origins(farm_lots, containers, 20 * 60, 60 * 60)
        # P2/P3 (01:00-02:20): farms ship to cold store, wholesale, hubs, abattoir, stalls.
        plan: list[tuple[str, str, list[tuple[str, Decimal]]]] = []
        for fl in farm_lots:
            for dst, qty in fl.dests:
                plan.append((fl.farm.site, dst, [(fl.lot, qty)]))
        plan = _merge_plan(plan)
        for lot, qty in containers:
            plan.append((w.port, w.import_coldstore, [(lot, qty)]))
        yield from self._ship_phase(plan, 60 * 60, 100 * 60)
        yield from self._receive_phase(100 * 60, 140 * 60)
        # P4 (02:20-02:50): slaughter, and cut some carcasses.
        yield from self._abattoir(140 * 60, 170 * 60)
        # P5/P6 (02:50-03:50): cold stores -> wholesale, abattoir -> pork stalls.
        plan = self._plan_to_wholesale(orders) + self._plan_from(
            w.abattoir, [o for o in orders if o.route == "abattoir"])
        yield from self._ship_phase(plan, 170 * 60, 200 * 60)
        yield from self._receive_phase(200 * 60, 230 * 60)
        # P7 (03:50-04:30): merge and split at the wholesale market.
        deliveries = yield from self._wholesale(orders, 230 * 60, 270 * 60)
        # P8/P9 (04:30-05:30): wholesale -> stalls and hubs; hubs -> egg stalls.
        plan = _group_plan(w.wholesale, deliveries, self.t._container)
        for market in w.markets:
            plan += self._plan_from(market, [o for o in orders if o.route == "hub"
                                             and o.stall.market == market])
        yield from self._ship_phase(plan, 270 * 60, 300 * 60)
        yield from self._receive_phase(300 * 60, 330 * 60)
        # P10/P11 (05:30-06:10): hubs -> their stalls (统一配送).
        plan = []
        for market in w.markets:
            plan += self._plan_from(market, [o for o in orders if o.route == "ws"
                                             and o.stall.hub and o.stall.market == market])
        yield from self._ship_phase(plan, 330 * 60, 350 * 60)
        yield from self._receive_phase(350 * 60, 370 * 60)
        # P12 (06:10-06:50): stalls repack, cut, split, merge leftovers.
        yield from self._stall_prep(370 * 60, 410 * 60)

    # -- P1 origins -----------------------------------------------------------------------------
    def _plan_origins(self, orders: list[_Order]) -> tuple[list[_FarmLot], list[tuple[str, Decimal]]]:
        w, rng = self.w, self.rng
        growers: dict[str, list[_Farm]] = {}
        for f in w.farms:
            for p in f.products:
                growers.setdefault(p, []).append(f)
        lots: dict[tuple[str, str], _FarmLot] = {}

        def lot_for(farm: _Farm, product: str) -> _FarmLot:
            key = (farm.party, product)
            if key not in lots:
                lots[key] = _FarmLot(farm, product, [])
            return lots[key]

        def harvest(product: str, short: float, dests: tuple[str, ...]) -> None:
            farms = growers[product]
            qty = max(30.0, short * rng.uniform(1.2, 1.6))
            k = min(len(farms), 1 + (qty > 400) + (qty > 2000))
            chosen = rng.sample(farms, k)
            parts = [rng.uniform(1, 2) for _ in chosen]
            total = sum(parts)
            for farm, part in zip(chosen, parts, strict=True):
                q = _ceil_to(max(20.0, qty * part / total), Decimal(10))
                lot_for(farm, product).dests.append((rng.choice(dests), q))

        ws_need: dict[str, float] = {}
        hub_need: dict[tuple[str, str], float] = {}
        pork_need = 0.0
        for o in orders:
            if o.route == "ws":
                ws_need[o.product] = ws_need.get(o.product, 0.0) + float(o.qty)
            elif o.route == "hub":
                key = (o.stall.market, o.product)
                hub_need[key] = hub_need.get(key, 0.0) + float(o.qty)
            elif o.route == "abattoir":
                pork_need += float(o.qty)
            else:  # farm direct
                farm = rng.choice(growers[o.product])
                lot_for(farm, o.product).dests.append((o.stall.id, o.qty))
        ws_avail = self._avail(w.wholesale)
        cold_avail = self._avail(w.coldstore)
        containers: list[tuple[str, Decimal]] = []
        for product, need in ws_need.items():
            cat = V.PRODUCTS[product].category
            short = need - float(ws_avail.get(product, ZERO))
            if cat == "veg":
                short -= float(cold_avail.get(product, ZERO))
            if short <= 0:
                continue
            if cat == "frozen":
                jg = float(self._avail(w.import_coldstore).get(product, ZERO))
                if short > jg:
                    qty = max(rng.randint(*CONTAINER_KG), int((short - jg) * 1.5))
                    containers.append(("", Decimal(qty)))
                continue
            if cat == "veg":
                harvest(product, short, (w.coldstore, w.wholesale))
            else:
                harvest(product, short, (w.wholesale,))
        for (market, product), need in hub_need.items():
            short = need - float(self._avail(market).get(product, ZERO))
            if short > 0:
                harvest(product, short, (market,))
        if pork_need > 0:
            short = pork_need - float(sum(self._avail(w.abattoir).values(), ZERO))
            if short > 0:
                heads = max(3, math.ceil(short * rng.uniform(1.15, 1.35) / 78))
                farms = growers[V.PIGS.name]
                k = min(len(farms), 1 + (heads > 12) + (heads > 40))
                chosen = rng.sample(farms, k)
                base, extra = divmod(heads, k)
                for i, farm in enumerate(chosen):
                    n = base + (1 if i < extra else 0)
                    if n > 0:
                        lot_for(farm, V.PIGS.name).dests.append((w.abattoir, Decimal(n)))
        return list(lots.values()), containers

    def _origins(self, farm_lots: list[_FarmLot], containers: list[tuple[str, Decimal]],
                 start: int, end: int) -> Iterator[dict[str, Any]]:
        rng = self.rng
        phase = _Phase(start, end, len(farm_lots) + len(containers))
        for i, (_, qty) in enumerate(containers):
            lot, doc = self._container_origin(phase.next(), qty)
            containers[i] = (lot, qty)
            yield doc
        for fl in farm_lots:
            sec = phase.next()
            product = V.PRODUCTS[fl.product]
            # Merge the destinations of one lot that go to the same place.
            dests: dict[str, Decimal] = {}
            for dst, q in fl.dests:
                dests[dst] = dests.get(dst, ZERO) + q
            fl.dests = list(dests.items())
            qty = sum((q for _, q in fl.dests), ZERO)
            lot = fl.lot = self._new_lot(product.code, fl.farm.site)
            when = self._time(sec)
            self.n_certs += 1
            unit_text = "头" if product.unit == "head" else product.unit
            commitments = list(V.COMMITMENTS)
            if rng.random() < 0.7:
                commitments.append(V.COMMITMENT_EXTRA)
            data = {"product": product.name, "storage": product.storage, "certificate": {
                "no": f"HG{V.COUNTY_CODE}{self.ymd}{self.n_certs:05d}", "product": product.name,
                "quantity": f"{_fmt(qty)} {unit_text}", "producer": fl.farm.name,
                "contact": fl.farm.contact, "origin_place": fl.farm.place, "issued_at": when,
                "commitments": commitments, "basis": rng.choice(V.BASES)}}
            doc = self._event("origin", "og", sec, fl.farm.site, data,
                              outputs=[{"lot": lot, "qty": _fmt(qty), "unit": product.unit}])
            self.t._make(lot, product.name, product.unit, product.storage, (), fl.farm.site, qty,
                         (1, 1), origin=True)
            self._add(fl.farm.site, lot, qty)
            yield doc

    def _container_origin(self, sec: int, qty: Decimal) -> tuple[str, dict[str, Any]]:
        w, rng = self.w, self.rng
        country, plant, reg = rng.choice(V.EXPORTERS)
        cut = rng.choice(V.IMPORT_CUTS)
        product = V.IMPORTED_PORK
        lot = self._new_lot(product.code, w.port)
        box = f"{rng.choice(('MSKU', 'CMAU', 'OOLU', 'TGHU', 'MRKU'))}{rng.randrange(10**7):07d}"
        year = self.day.year
        docs = {
            "customs_declaration": f"{8000 + rng.randrange(100)}{year}{rng.randrange(10**10):010d}",
            "inspection_cert": f"{rng.randrange(10**6):06d}{year}{rng.randrange(10**6):06d}",
            "disinfection_cert": f"XD{V.COUNTY_CODE}{self.ymd}{rng.randrange(1000):03d}",
        }
        self.docs[lot] = docs
        when = self._time(sec)
        data = {"product": product.name, "storage": "frozen", "imported": True,
                "container": box, "origin_country": country, "import_docs": docs,
                "certificate": {
                    "no": f"IMP{self.ymd}{rng.randrange(10**6):06d}", "product": cut,
                    "quantity": f"{_fmt(qty)} kg", "producer": f"{plant}（注册号 {reg}）",
                    "contact": w.importer_contact, "origin_place": country, "issued_at": when,
                    "commitments": list(V.COMMITMENTS), "basis": "commissioned_test"}}
        doc = self._event("origin", "og", sec, w.port, data,
                          outputs=[{"lot": lot, "qty": _fmt(qty), "unit": "kg"}])
        self.t._make(lot, product.name, "kg", "frozen", (), w.port, qty, (1, 1), origin=True,
                     container=lot)
        self._add(w.port, lot, qty)
        return lot, doc

    # -- shipping ------------------------------------------------------------------------------
    def _ship_phase(self, plan: list[tuple[str, str, list[tuple[str, Decimal]]]], start: int,
                    end: int) -> Iterator[dict[str, Any]]:
        phase = _Phase(start, end, len(plan))
        for src, dst, items in plan:
            items = [(lot, q) for lot, q in items if q > 0]
            if items:
                yield self._ship(phase.next(), end, src, dst, items)

    def _ship(self, sec: int, until: int, src: str, dst: str,
              items: list[tuple[str, Decimal]]) -> dict[str, Any]:
        rng, t = self.rng, self.t
        storages = {t._storage[lot] for lot, _ in items}
        storage = "frozen" if "frozen" in storages else "chilled" if "chilled" in storages \
            else "ambient"
        n = rng.randint(1, 3)
        gap = max(0, until - sec)
        temps: list[dict[str, str]] = []
        if storage == "frozen":
            values = [rng.randint(-225, -181) for _ in range(n)]
        elif storage == "chilled":
            values = [rng.randint(5, 40) for _ in range(n)]
        else:
            values = [rng.randint(80, 200) for _ in range(n)]
        excursion = storage != "ambient" and rng.random() < EXCURSION_RATE
        if excursion:
            values[rng.randrange(n)] = (rng.randint(-170, -120) if storage == "frozen"
                                        else rng.randint(52, 90))
        for k, v in enumerate(values):
            temps.append({"time": self._time(sec + gap * (k + 1) // (n + 1)), "celsius": _tenths(v)})
        data: dict[str, Any] = {"to": dst, "vehicle": rng.choice(self.w.vehicles[self.w.holder[src]]),
                                "temperatures": temps}
        container = t._container.get(items[0][0])
        if container is not None:
            data["import_docs"] = dict(self.docs[container])
        lines = []
        for lot, qty in items:
            self._take(src, lot, qty)
            self._bal(lot, src)[2] += qty
            lines.append(self._line(lot, qty))
        doc = self._event("ship", "sh", sec, src, data, inputs=lines)
        if excursion:
            t._excursions.append(doc["id"])
        self.pending.append(_Shipment(doc["id"], src, dst, items))
        return doc

    def _receive_phase(self, start: int, end: int) -> Iterator[dict[str, Any]]:
        pending, self.pending = self.pending, []
        phase = _Phase(start, end, len(pending))
        for shp in pending:
            yield self._receive(phase.next(), shp)

    def _receive(self, sec: int, shp: _Shipment) -> dict[str, Any]:
        rng, t = self.rng, self.t
        short_line = rng.randrange(len(shp.items)) if rng.random() < SHORT_RECEIPT_RATE else -1
        lines = []
        stall = shp.dst in self.stall_by_id
        for i, (lot, qty) in enumerate(shp.items):
            got = qty
            if i == short_line:
                if t._unit[lot] == "head":
                    got = qty - 1 if qty > 1 else qty
                else:
                    got = (qty * Decimal(rng.randint(970, 995)) / 1000).quantize(CENT, ROUND_DOWN)
                    if got <= 0:
                        got = qty
            if got != qty:
                t._short_receipts.append(shp.id)
            self._add(shp.dst, lot, got)
            self._bal(lot, shp.dst)[0] += got
            e, s = t._depth[(lot, shp.src)]
            prev = t._depth.get((lot, shp.dst))
            t._depth[(lot, shp.dst)] = (e + 2, s + 1) if prev is None else max(prev, (e + 2, s + 1))
            lines.append(self._line(lot, got))
            if stall:
                self.arrivals.setdefault(shp.dst, []).append(lot)
        data = {"from": shp.src, "ship_event": shp.id}
        return self._event("receive", "rc", sec, shp.dst, data, inputs=lines)

    def _plan_from(self, src: str,
                   orders: list[_Order]) -> list[tuple[str, str, list[tuple[str, Decimal]]]]:
        """Fill orders from src's unheld stock, oldest lots first, shipping parts of lots.

        A lot held at the destination is not sent there again (its held quantity must
        stay its on-hand quantity until released)."""
        free: dict[str, list[list[Any]]] = {}
        for lot, q in self._free(src):
            free.setdefault(self.t._product[lot], []).append([lot, q])
        deliveries: list[tuple[str, str, Decimal]] = []
        for o in orders:
            want = o.qty
            queue = free.get(o.product, [])
            held_there = self.held[o.stall.id]
            k = 0
            while want > 0 and k < len(queue):
                lot, q = queue[k]
                if lot in held_there:
                    k += 1
                    continue
                take = min(q, want)
                if q - take < ONE:  # do not leave crumbs behind
                    take = q
                deliveries.append((o.stall.id, lot, take))
                want -= take
                queue[k][1] = q - take
                if queue[k][1] <= 0:
                    queue.pop(k)
        return _group_plan(src, deliveries, self.t._container)

    def _plan_to_wholesale(self, orders: list[_Order]) -> list[tuple[str, str, list[tuple[str, Decimal]]]]:
        w, rng = self.w, self.rng
        need: dict[str, Decimal] = {}
        for o in orders:
            if o.route == "ws":
                need[o.product] = need.get(o.product, ZERO) + o.qty
        have = self._avail(w.wholesale)
        plan: list[tuple[str, str, list[tuple[str, Decimal]]]] = []
        cold_items: list[tuple[str, Decimal]] = []
        frozen_items: list[tuple[str, Decimal]] = []
        for product, qty in need.items():
            short = qty - have.get(product, ZERO)
            if short <= 0:
                continue
            cat = V.PRODUCTS[product].category
            if cat == "veg":
                want = _ceil_to(float(short) * rng.uniform(1.0, 1.2), ONE)
                cold_items += self._take_fifo(w.coldstore, product, want)
            elif cat == "frozen":
                want = _ceil_to(float(short) * rng.uniform(1.1, 1.3), Decimal(20))
                frozen_items += self._take_fifo(w.import_coldstore, product, want)
        if cold_items:
            plan.append((w.coldstore, w.wholesale, cold_items))
        by_box: dict[str, list[tuple[str, Decimal]]] = {}
        for lot, q in frozen_items:
            by_box.setdefault(self.t._container[lot], []).append((lot, q))
        plan += [(w.import_coldstore, w.wholesale, items) for items in by_box.values()]
        return plan

    def _take_fifo(self, loc: str, product: str, want: Decimal) -> list[tuple[str, Decimal]]:
        out = []
        for lot, q in self._free(loc, product):
            if want <= 0:
                break
            take = min(q, want)
            if q - take < ONE:
                take = q
            out.append((lot, take))
            want -= take
        return out

    # -- P4 abattoir ------------------------------------------------------------------------
    def _abattoir(self, start: int, end: int) -> Iterator[dict[str, Any]]:
        w, rng, t = self.w, self.rng, self.t
        pigs = [(lot, q) for lot, q in self._free(w.abattoir) if t._unit[lot] == "head"]
        cuts_planned = [rng.random() < 0.25 for _ in pigs]
        phase = _Phase(start, end, len(pigs) + sum(cuts_planned))
        for (lot, heads), cut in zip(pigs, cuts_planned, strict=True):
            sec = phase.next()
            n_out = 1 if heads < 8 else 2
            outs: list[tuple[str, Decimal]] = []
            per = [heads // n_out + (1 if i < heads % n_out else 0) for i in range(n_out)]
            for count in per:
                kg = (Decimal(count) * Decimal(rng.randint(CARCASS_KG_PER_HEAD[0] * 10,
                                                       CARCASS_KG_PER_HEAD[1] * 10)) / 10)
                outs.append((self._new_lot(V.PORK.code, w.abattoir), kg.quantize(TENTH)))
            self._take(w.abattoir, lot, heads)
            self._bal(lot, w.abattoir)[3] += heads
            depth = t._depth[(lot, w.abattoir)]
            serial = self.kinds.get("slaughter", 0) + 1
            data = {"product": V.PORK.name, "storage": "chilled",
                    "quarantine_cert": f"{V.COUNTY_CODE}{self.ymd[2:]}{rng.randrange(10**5):05d}",
                    "meat_inspection_cert": f"RP{V.COUNTY_CODE}{self.ymd}{serial:04d}",
                    "asf_report": f"ASF-{self.ymd}-{serial:03d}"}
            doc = self._event("slaughter", "sl", sec, w.abattoir, data,
                              inputs=[self._line(lot, heads)],
                              outputs=[{"lot": o, "qty": _fmt(q), "unit": "kg"} for o, q in outs])
            for out, q in outs:
                t._make(out, V.PORK.name, "kg", "chilled", (lot,), w.abattoir, q,
                        (depth[0] + 1, depth[1]))
                self._add(w.abattoir, out, q)
            yield doc
            if cut:
                yield self._cut(phase.next(), w.abattoir, outs[0][0], outs[0][1])

    def _cut(self, sec: int, loc: str, lot: str, qty: Decimal) -> dict[str, Any]:
        """分割: a carcass (part) into cuts; bone and trim lost."""
        rng = self.rng
        parts = rng.sample(V.PORK_PARTS, rng.randint(3, 4))
        share = sum(p[2] for p in parts)
        usable = qty * Decimal(rng.randint(92, 98)) / 100
        outs = []
        left = usable.quantize(CENT, ROUND_DOWN)
        for i, (name, code, weight) in enumerate(parts):
            q = left if i == len(parts) - 1 else (usable * weight / share).quantize(CENT, ROUND_DOWN)
            left -= q if i < len(parts) - 1 else 0
            outs.append((f"{V.PORK.code}{code}", name, q))
        outs = [o for o in outs if o[2] > 0]
        doc, _ = self._transform(sec, loc, [(lot, qty)],
                                 [(c, V.PORK.name, q) for c, _, q in outs], "cut",
                                 {"parts": [n for _, n, _ in outs]})
        return doc

    # -- transforms ---------------------------------------------------------------------------
    def _transform(self, sec: int, loc: str, inputs: list[tuple[str, Decimal]],
                   outputs: list[tuple[str, str, Decimal]], process: str,
                   extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
        """Consume inputs at loc and make new lots (code, product, qty): the event, the lots."""
        t = self.t
        lines_in = []
        depth = (0, 0)
        containers = set()
        for lot, qty in inputs:
            self._take(loc, lot, qty)
            self._bal(lot, loc)[3] += qty
            lines_in.append(self._line(lot, qty))
            depth = max(depth, t._depth[(lot, loc)])
            containers.add(t._container.get(lot))
        first = inputs[0][0]
        unit, storage = t._unit[first], t._storage[first]
        container = containers.pop() if len(containers) == 1 else None
        parents = tuple(lot for lot, _ in inputs)
        lines_out = []
        made = []
        for code, product, qty in outputs:
            lot = self._new_lot(code, loc)
            made.append(lot)
            t._make(lot, product, unit, storage, parents, loc, qty, (depth[0] + 1, depth[1]),
                    container=container)
            self._add(loc, lot, qty)
            lines_out.append({"lot": lot, "qty": _fmt(qty), "unit": unit})
            if loc in self.stall_by_id:
                self.arrivals.setdefault(loc, []).append(lot)
        data: dict[str, Any] = {"process": process, "product": t._product[first]}
        if extra:
            data.update(extra)
        doc = self._event("transform", "tf", sec, loc, data, inputs=lines_in, outputs=lines_out)
        return doc, made

    # -- P7 wholesale ------------------------------------------------------------------------
    def _wholesale(self, orders: list[_Order], start: int, end: int
                   ) -> Generator[dict[str, Any], None, list[tuple[str, str, Decimal]]]:
        """Merge small leftovers, then split lots into the day's deliveries (returned)."""
        w, rng, t = self.w, self.rng, self.t
        ws = w.wholesale
        want: dict[str, dict[str, Decimal]] = {}  # product -> destination -> qty
        for o in orders:
            if o.route != "ws":
                continue
            to = o.stall.market if o.stall.hub else o.stall.id
            per = want.setdefault(o.product, {})
            per[to] = per.get(to, ZERO) + o.qty
        # Plan the work first (so event times can be spread), then do it.
        merges: list[list[tuple[str, Decimal]]] = []
        for product in want:
            small = [(lot, q) for lot, q in self._free(ws, product) if q < 40]
            groups: dict[str | None, list[tuple[str, Decimal]]] = {}
            for lot, q in small:
                groups.setdefault(t._container.get(lot), []).append((lot, q))
            for group in groups.values():
                if len(group) >= 2 and rng.random() < 0.6:
                    merges.append(group[:4])
        n_split = sum(1 for p in want if self._free(ws, p))
        phase = _Phase(start, end, len(merges) + 2 * n_split)
        for group in merges:
            product = t._product[group[0][0]]
            total = sum((q for _, q in group), ZERO)
            doc, _ = self._transform(phase.next(), ws, group,
                                     [(V.PRODUCTS[product].code, product, total)], "merge")
            yield doc
        deliveries: list[tuple[str, str, Decimal]] = []
        for product, dests in want.items():
            queue: list[list[Any]] = [[d, q] for d, q in dests.items()]
            for lot, q in self._free(ws, product):
                if not queue:
                    break
                pieces: list[tuple[str, Decimal]] = []
                left = q
                while queue and left > 0:
                    dst: str = queue[0][0]
                    need: Decimal = queue[0][1]
                    take = min(need, left)
                    if left - take < ONE:
                        take = left
                    pieces.append((dst, take))
                    left -= take
                    queue[0][1] = need - take
                    if queue[0][1] <= 0:
                        queue.pop(0)
                if len(pieces) == 1 and left == 0:
                    deliveries.append((pieces[0][0], lot, pieces[0][1]))  # the whole lot goes
                    continue
                code = V.PRODUCTS[product].code
                outs = [(code, product, qty) for _, qty in pieces]
                if left > 0:
                    outs.append((code, product, left))
                doc, made = self._transform(phase.next(), ws, [(lot, q)], outs, "split")
                for (dst, _), piece in zip(pieces, made, strict=False):
                    deliveries.append((dst, piece, t._bal[piece][ws][0]))
                yield doc
        return deliveries

    # -- P12 stalls ---------------------------------------------------------------------------
    def _stall_prep(self, start: int, end: int) -> Iterator[dict[str, Any]]:
        rng, t = self.rng, self.t
        work: list[tuple[str, str, list[tuple[str, Decimal]]]] = []
        for stall in self.w.stalls:
            held = self.held[stall.id]
            st = self.stock[stall.id]
            for lot in dict.fromkeys(self.arrivals.get(stall.id, [])):
                if lot not in st or lot in held:
                    continue
                cat = stall.category
                r = rng.random()
                if cat == "veg" and r < 0.08 and st[lot] >= 1:
                    work.append(("repack", stall.id, [(lot, st[lot])]))
                elif cat == "pork" and r < 0.25 and st[lot] >= 10:
                    work.append(("cut", stall.id, [(lot, st[lot])]))
                elif cat == "fruit" and r < 0.06 and st[lot] >= 4:
                    work.append(("split", stall.id, [(lot, st[lot])]))
            if stall.category in ("veg", "fruit", "egg"):
                small: dict[str, list[tuple[str, Decimal]]] = {}
                fresh = set(self.arrivals.get(stall.id, []))
                for lot, q in self._free(stall.id):
                    if q < 3 and lot not in fresh:
                        small.setdefault(t._product[lot], []).append((lot, q))
                for group in small.values():
                    if len(group) >= 2 and rng.random() < 0.5:
                        work.append(("merge", stall.id, group[:3]))
        phase = _Phase(start, end, len(work))
        for process, loc, inputs in work:
            sec = phase.next()
            lot, qty = inputs[0]
            product = t._product[lot]
            code = V.PRODUCTS[product].code
            if process == "cut":
                doc = self._cut(sec, loc, lot, qty)
            elif process == "repack":
                out = (qty * Decimal(rng.randint(90, 98)) / 100).quantize(CENT, ROUND_DOWN)
                doc, _ = self._transform(sec, loc, inputs, [(code, product, out)], "repack",
                                         {"package": rng.choice(("净菜袋装", "托盘包装", "捆扎"))})
            elif process == "split":
                first = (qty * Decimal(rng.randint(30, 60)) / 100).quantize(CENT, ROUND_DOWN)
                doc, _ = self._transform(sec, loc, inputs, [(code, product, first),
                                                            (code, product, qty - first)],
                                         "split", {"grades": ["精品", "统货"]})
            else:
                total = sum((q for _, q in inputs), ZERO)
                doc, _ = self._transform(sec, loc, inputs, [(code, product, total)], "merge")
            yield doc

    # -- P13 sales, holds and releases ------------------------------------------------------
    def _sales(self, target: int) -> Iterator[dict[str, Any]]:
        """The day's sales (07:00-19:30) up to ``target`` events, with holds and releases."""
        rng, t, w = self.rng, self.t, self.w
        stalls = w.stalls
        room = target - self.n_events > 40
        # Holds: about 1.5 % of stalls a day; 60 % released later today, 25 % tomorrow.
        fates = [rng.random() for _ in range(max(1, round(len(stalls) * 0.015)) if room else 0)]
        hub_hold = room and rng.random() < 0.35
        specials = (len(fates) + sum(1 for f in fates if f < 0.6) + len(self.carried)
                    + (1 if hub_hold else 0))
        n_sales = max(0, target - self.n_events - specials)
        start, span = 7 * 3600, 12 * 3600 + 1800
        total = max(1, n_sales + specials)
        schedule: dict[int, list[tuple[str, Any]]] = {}
        for i, carried in enumerate(self.carried):
            schedule.setdefault(min(n_sales, i * 3), []).append(("release", carried))
        self.carried = []
        for fate in fates:
            at = rng.randrange(max(1, int(n_sales * 0.7)))
            release: int | None = None
            if fate < 0.6:
                release = min(n_sales, at + 1 + rng.randrange(max(1, n_sales // 5)))
            elif fate < 0.85:
                release = -1  # tomorrow
            schedule.setdefault(at, []).append(("hold", release))
        if hub_hold:
            schedule.setdefault(rng.randrange(max(1, n_sales)), []).append(("hub_hold", None))
        cum: list[float] = []
        acc = 0.0
        for stall in stalls:
            acc += stall.weight
            cum.append(acc)
        picks = rng.choices(range(len(stalls)), cum_weights=cum, k=n_sales) if n_sales else []
        stocks = [self.stock[s.id] for s in stalls]
        helds = [self.held[s.id] for s in stalls]
        receipts = [0] * len(stalls)
        bal, depth, units = t._bal, t._depth, t._unit
        ev_hist, site_hist = t._sale_events_depth, t._sale_sites_depth
        prefix, ymd, day_text = self.prefix, self.ymd, self.day_text
        pick = _pick
        randint, random_, bits = rng.randint, rng.random, rng.getrandbits
        n_stalls = len(stalls)
        clock = 0

        def sell(j: int) -> dict[str, Any] | None:
            nonlocal clock
            st, held = stocks[j], helds[j]
            lot = pick(st, held, random_())
            if lot is None:  # sold out here: the shopper buys at another stall
                for step in range(1, n_stalls + 1):
                    jj = (j + step * 7919) % n_stalls
                    lot = pick(stocks[jj], helds[jj], random_())
                    if lot is not None:
                        j, st = jj, stocks[jj]
                        break
                else:
                    return None
            stall = stalls[j]
            on_hand = st[lot]
            qty = Decimal(randint(50, 500)).scaleb(-2)
            if qty >= on_hand:
                qty = on_hand
                del st[lot]
            else:
                st[lot] = on_hand - qty
            bal[lot][stall.id][1] += qty
            e, s = depth[(lot, stall.id)]
            ev_hist[e + 1] = ev_hist.get(e + 1, 0) + 1
            site_hist[s] = site_hist.get(s, 0) + 1
            receipts[j] += 1
            sec = start + span * min(clock, total) // total
            clock += 1
            h, rem = divmod(sec, 3600)
            self.n_events += 1
            qs = f"{qty:f}"
            if "." in qs:
                qs = qs.rstrip("0").rstrip(".")
            pay = "wx" if random_() < 0.65 else "zfb"
            return {"id": f"sa-{prefix}-{self.n_events:07d}", "kind": "sale",
                    "time": f"{day_text}T{h:02d}:{rem // 60:02d}:{rem % 60:02d}+08:00",
                    "actor": stall.id, "location": stall.id,
                    "inputs": [{"lot": lot, "qty": qs, "unit": units[lot]}],
                    "data": {"receipt": f"{stall.short.upper()}-{ymd}-{receipts[j]:04d}",
                             "payment_ref": f"{pay}{ymd}{bits(40):013d}"}}

        sold = 0
        for i in range(n_sales + 1):
            for action, arg in schedule.get(i, ()):
                sec = start + span * min(clock, total) // total
                clock += 1
                doc = self._special(action, arg, sec, schedule, i)
                if doc is not None:
                    yield doc
            if i == n_sales:
                break
            sale = sell(picks[i])
            if sale is not None:
                sold += 1
                yield sale
        # A hold that found no lot, or stalls sold out: top up to the target if stock allows.
        while self.n_events < target:
            sale = sell(rng.randrange(n_stalls))
            if sale is None:
                break
            sold += 1
            yield sale
        self.kinds["sale"] = self.kinds.get("sale", 0) + sold

    def _special(self, action: str, arg: Any, sec: int,
                 schedule: dict[int, list[tuple[str, Any]]], i: int) -> dict[str, Any] | None:
        rng, t = self.rng, self.t
        if action == "release":
            loc, lot, _ = arg
            qty = self.held[loc].pop(lot, None)
            if qty is None:
                return None
            record = t._holds.pop((loc, lot))
            doc = self._event("release", "rl", sec, loc, {"reason": rng.choice(V.RELEASE_REASONS)},
                              inputs=[self._line(lot, qty)])
            record[1][4] = doc["id"]
            return doc
        if action == "hub_hold":
            candidates = [(m, lot) for m in self.w.markets for lot, _ in self._free(m)]
            if not candidates:
                return None
            loc, lot = rng.choice(candidates)
            reason = V.HOLD_REASONS[rng.choice((3, 5))]
            doc = self._hold(sec, loc, lot, reason)
            self.carried.append((loc, lot, reason))
            return doc
        # a stall hold: a stall with another lot to sell meanwhile
        stalls = self.w.stalls
        for _ in range(20):
            stall = stalls[rng.randrange(len(stalls))]
            free = [lot for lot in self.stock[stall.id] if lot not in self.held[stall.id]]
            if len(free) >= 2:
                break
        else:
            return None
        lot = rng.choice(free)
        reason = V.HOLD_REASONS[rng.choice(V.HOLD_REASONS_BY_CATEGORY[stall.category])]
        doc = self._hold(sec, stall.id, lot, reason)
        if arg == -1:
            self.carried.append((stall.id, lot, reason))
        elif arg is not None:
            schedule.setdefault(max(arg, i + 1), []).append(("release", (stall.id, lot, reason)))
        return doc

    def _hold(self, sec: int, loc: str, lot: str, reason: str) -> dict[str, Any]:
        qty = self.stock[loc][lot]
        self.held[loc][lot] = qty
        doc = self._event("hold", "ho", sec, loc, {"reason": reason},
                          inputs=[self._line(lot, qty)])
        record = [loc, lot, qty, doc["id"], None]
        self.t._hold_log.append(record)
        self.t._holds[(loc, lot)] = [qty, record]
        return doc


def _pick(st: dict[str, Decimal], held: dict[str, Decimal], r: float) -> str | None:
    """The lot a stall sells from: mostly its oldest unheld lot, sometimes the next ones."""
    want = 0 if r < 0.6 else 1 if r < 0.85 else 2
    found = None
    n = 0
    for lot in st:
        if lot in held:
            continue
        found = lot
        if n == want:
            return lot
        n += 1
    return found


def _merge_plan(plan: list[tuple[str, str, list[tuple[str, Decimal]]]]
                ) -> list[tuple[str, str, list[tuple[str, Decimal]]]]:
    """One shipment per (source, destination), keeping first-seen order."""
    merged: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    for src, dst, items in plan:
        merged.setdefault((src, dst), []).extend(items)
    return [(src, dst, items) for (src, dst), items in merged.items()]


def _group_plan(src: str, deliveries: list[tuple[str, str, Decimal]],
                containers: Mapping[str, str]) -> list[tuple[str, str, list[tuple[str, Decimal]]]]:
    """Deliveries (destination, lot, qty) as shipments: one per destination and container
    (a shipment of imported goods carries that container's documents), a lot at most once."""
    merged: dict[tuple[str, str | None], dict[str, Decimal]] = {}
    for dst, lot, qty in deliveries:
        per = merged.setdefault((dst, containers.get(lot)), {})
        per[lot] = per.get(lot, ZERO) + qty
    return [(src, dst, list(items.items())) for (dst, _), items in merged.items()]


# -- the public object ------------------------------------------------------------------------

class GeneratedNetwork:
    """A generated world: its keys, its events (lazily, in append order) and their truth."""

    def __init__(self, spec: NetworkSpec, *, sign: bool = True) -> None:
        spec.check()
        self.spec = spec
        self.sign = sign
        self._world = _build_world(spec)
        self.operator_key = derive_key(spec.seed, spec.operator)
        self.keys: dict[str, SigningKey] = {spec.operator: self.operator_key}
        for p in self._world.parties:
            self.keys[p.id] = derive_key(spec.seed, p.id)
        self.parties: tuple[Party, ...] = self._world.parties
        self.locations: tuple[Site, ...] = self._world.sites
        self.truth = Truth()

    @property
    def office(self) -> str:
        return f"{self.spec.operator}.office"

    @property
    def end(self) -> datetime:
        """Midnight (+08:00) after the last day: every event's time is before it."""
        return datetime.combine(self.spec.start + timedelta(days=self.spec.days),
                                datetime.min.time(), CST)

    def _location_types(self) -> dict[str, str]:
        types = {self.office: "office"}
        types.update({s.id: s.type for s in self._world.sites})
        return types

    def events(self, *, workers: int = 1) -> Iterator[dict[str, Any]]:
        """The events in append order (signed unless ``sign=False``), register events first.

        Each call replays the same stream and refills :attr:`truth`. ``workers > 1``
        signs in a process pool (see :func:`sign_all`).
        """
        self.truth._reset(self._location_types(), [s.id for s in self._world.stalls])
        raw = _Sim(self._world, self.truth).run()
        if not self.sign:
            yield from raw
        elif workers > 1:
            yield from sign_all(raw, self.keys, workers)
        else:
            keys = self.keys
            dumps = canonical.dumps
            b64 = base64.b64encode
            ids = {p: k.key_id for p, k in keys.items()}
            for doc in raw:
                actor = doc["actor"]
                sig = keys[actor].sign(dumps(doc))
                doc["sig"] = {"key": ids[actor], "value": b64(sig).decode("ascii")}
                yield doc

    def shape(self) -> dict[str, Any]:
        """Counts of the world (and, after events(), of what happened)."""
        w = self._world
        types: dict[str, int] = {}
        for s in w.sites:
            types[s.type] = types.get(s.type, 0) + 1
        roles: dict[str, int] = {}
        for p in w.parties:
            roles[p.role] = roles.get(p.role, 0) + 1
        t = self.truth
        return {"parties": len(w.parties) + 1, "roles": roles, "locations": len(w.sites) + 1,
                "location_types": types, "lots": len(t._unit), "origin_lots": len(t._origin_qty),
                "kinds": t.kinds(), "sale_path_events": t.sale_path_events(),
                "sale_path_locations": t.sale_path_locations(),
                "holds": len(t._hold_log), "excursions": len(t._excursions),
                "short_receipts": len(t._short_receipts)}


def generate(spec: NetworkSpec, *, sign: bool = True) -> GeneratedNetwork:
    """Build the world of ``spec``; its events are made lazily by ``events()``."""
    return GeneratedNetwork(spec, sign=sign)


# -- parallel signing -------------------------------------------------------------------------

_SIGNERS: dict[str, SigningKey] = {}


def _init_signer(secrets: dict[str, bytes]) -> None:
    _SIGNERS.clear()
    for party, raw in secrets.items():
        _SIGNERS[party] = SigningKey.from_bytes(raw)


def _sign_bodies(items: list[tuple[str, bytes]]) -> list[bytes]:
    return [_SIGNERS[actor].sign(body) for actor, body in items]


def sign_all(events: Iterable[Mapping[str, Any]], keys: Mapping[str, SigningKey],
             workers: int | None = None, *, chunk: int = 2_000) -> Iterator[dict[str, Any]]:
    """Sign events (by their actor's key, over canonical bytes without ``sig``) in a pool
    of ``workers`` processes, yielding them in order; memory stays bounded."""
    if workers is None:
        workers = cpu_count()
    ids = {p: k.key_id for p, k in keys.items()}
    dumps = canonical.dumps
    b64 = base64.b64encode

    def batches() -> Iterator[tuple[list[dict[str, Any]], list[tuple[str, bytes]]]]:
        docs: list[dict[str, Any]] = []
        bodies: list[tuple[str, bytes]] = []
        for event in events:
            doc = {k: v for k, v in event.items() if k != "sig"}
            docs.append(doc)
            bodies.append((doc["actor"], dumps(doc)))
            if len(docs) == chunk:
                yield docs, bodies
                docs, bodies = [], []
        if docs:
            yield docs, bodies

    def attach(docs: list[dict[str, Any]], sigs: list[bytes]) -> Iterator[dict[str, Any]]:
        for doc, sig in zip(docs, sigs, strict=True):
            doc["sig"] = {"key": ids[doc["actor"]], "value": b64(sig).decode("ascii")}
            yield doc

    if workers <= 1:
        for docs, bodies in batches():
            yield from attach(docs, [keys[a].sign(b) for a, b in bodies])
        return
    secrets = {p: k.private_bytes() for p, k in keys.items()}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_signer, initargs=(secrets,)) as pool:
        window: deque[tuple[list[dict[str, Any]], Any]] = deque()
        for docs, bodies in batches():
            window.append((docs, pool.apply_async(_sign_bodies, (bodies,))))
            if len(window) > 2 * workers:
                head, result = window.popleft()
                yield from attach(head, result.get())
        while window:
            head, result = window.popleft()
            yield from attach(head, result.get())

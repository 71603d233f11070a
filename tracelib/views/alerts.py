"""The regulator's alerts: the day's work list (docs/contract.md "Alerts JSON").

:func:`alerts` reads the ledger's current state against a clock ``now`` (an aware
datetime; its own offset is "local time": the service passes its ``TIMEZONE``) and lists
what a regulator should act on, one :class:`Alert` per matter:

* ``follow_up_overdue`` — a failed test (a positive rapid test, a failed lab result) whose
  follow-up is still open more than :attr:`AlertRules.follow_up_hours` after the test
  (every failure is followed up: the demonstration-city target 抽检不合格食品核查处置完成率
  100 %);
* ``held_stock`` — a lot on hold (下架: a hold event, a positive test, a recall's hold) with
  stock still on hand where it is held: it waits for a release, a disposal or a lab result;
* ``shipment_not_received`` — a shipment no ``receive`` has closed more than
  :attr:`AlertRules.receive_hours` after it left;
* ``temperature_excursion`` — a hop with cold-chain readings above the storage's limit
  (GB 31605-2020: frozen −18 °C, chilled 4 °C) taken in the last
  :attr:`AlertRules.excursion_days` days (one alert a hop, since its first such reading);
* ``tests_not_published`` — a market (with stalls) whose day's rapid tests were not in the
  ledger by :attr:`AlertRules.tests_published_by` local time: none at all, or the first one
  recorded later (公示 before opening; the board shows what the ledger holds, so a result
  is published when the ledger records it);
* ``meat_without_slaughter`` — livestock or poultry meat (a product of the 畜禽肉类 group of
  the commodity tree, or named after one: 猪肉, 冻猪肉) on hand at a stall with no
  ``slaughter`` record in its ancestry (生猪定点屠宰: 两章两证一报告). Imported lots are
  left out: their entry inspection and quarantine certificate stands in for slaughter at
  home, and a market cannot receive them without it on record.

Stock past its product's shelf life is not checked: no event records a shelf life or a
best-before date (docs/contract.md "Alerts JSON"), and tracelib does not invent one; the
answer says so in ``not_checked``.

Each alert carries a kind, a severity (``critical`` before ``warning``), a title in Chinese
and in English, the place, lot and party concerned, since when (RFC 3339), and its evidence:
the ids of the events behind it, the lot (for its page and trace) and the market (for its
board). Like every view it builds no URL: the caller links the evidence. No SQL here: the
reads are :class:`tracelib.store.alerts.AlertsSql`'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from functools import cache
from typing import Any

from ..errors import ValidationError
from ..ledger import Ledger
from ..quantity import format_micro
from ..standards.commodities import CommodityTree
from ..store import Connection
from ..store.alerts import AlertsSql
from ..store.states import HoldCause
from ..store.supply import SupplySql
from ..timeutil import FUTURE_SKEW, format_utc, parse_rfc3339, to_micros

__all__ = ["KINDS", "Alert", "AlertRules", "Alerts", "alerts"]

CRITICAL, WARNING = "critical", "warning"
FOLLOW_UP_OVERDUE = "follow_up_overdue"
HELD_STOCK = "held_stock"
SHIPMENT_NOT_RECEIVED = "shipment_not_received"
TEMPERATURE_EXCURSION = "temperature_excursion"
TESTS_NOT_PUBLISHED = "tests_not_published"
MEAT_WITHOUT_SLAUGHTER = "meat_without_slaughter"
#: Every kind of alert, and its severity.
KINDS = {FOLLOW_UP_OVERDUE: CRITICAL, MEAT_WITHOUT_SLAUGHTER: CRITICAL, HELD_STOCK: WARNING,
         SHIPMENT_NOT_RECEIVED: WARNING, TEMPERATURE_EXCURSION: WARNING,
         TESTS_NOT_PUBLISHED: WARNING}
_SEVERITY_ORDER = {CRITICAL: 0, WARNING: 1}
#: The commodity group whose members are meat that comes from designated slaughter.
MEAT_GROUP = "畜禽肉类"
NOT_CHECKED = ({"kind": "past_shelf_life",
                "reason_zh": "账本中没有事件记录保质期, 无法判断库存是否超过保质期",
                "reason_en": "no event records a shelf life or best-before date, so stock "
                             "past its shelf life cannot be told"},)


@dataclass(frozen=True)
class AlertRules:
    """The thresholds of the alerts; each county may set its own."""

    follow_up_hours: int = 24
    receive_hours: int = 24
    tests_published_by: clock_time = clock_time(9, 0)
    excursion_days: int = 7

    def __post_init__(self) -> None:
        for name in ("follow_up_hours", "receive_hours", "excursion_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValidationError(f"{name} must be a whole number of at least 1, got "
                                      f"{value!r}", field=name)

    def to_dict(self) -> dict[str, Any]:
        return {"follow_up_hours": self.follow_up_hours, "receive_hours": self.receive_hours,
                "tests_published_by": self.tests_published_by.strftime("%H:%M"),
                "excursion_days": self.excursion_days}


DEFAULT_RULES = AlertRules()


@dataclass(frozen=True)
class Alert:
    """One matter for the regulator. ``id`` is stable while the matter lasts (a digest of
    its kind and what it is about), so a page can link to it."""

    kind: str
    title_zh: str
    title_en: str
    since: str
    location: str | None = None
    location_name: str | None = None
    lot: str | None = None
    party: str | None = None
    party_name: str | None = None
    market: str | None = None
    events: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    about: tuple[str, ...] = ()  # what makes it this matter and no other (for ``id``)

    @property
    def severity(self) -> str:
        return KINDS[self.kind]

    @property
    def id(self) -> str:
        text = "\x00".join((self.kind, *self.about))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "severity": self.severity,
                "title": {"zh": self.title_zh, "en": self.title_en}, "since": self.since,
                "location": self.location, "location_name": self.location_name,
                "lot": self.lot, "party": self.party, "party_name": self.party_name,
                "evidence": {"events": list(self.events), "lot": self.lot,
                             "market": self.market},
                "details": dict(self.details)}


@dataclass(frozen=True)
class Alerts:
    """The work list at ``now``: most severe first, then oldest first."""

    now: datetime
    rules: AlertRules
    alerts: tuple[Alert, ...]

    def counts(self) -> dict[str, Any]:
        by_kind = dict.fromkeys(KINDS, 0)
        for a in self.alerts:
            by_kind[a.kind] += 1
        return {"total": len(self.alerts),
                "critical": sum(1 for a in self.alerts if a.severity == CRITICAL),
                "warning": sum(1 for a in self.alerts if a.severity == WARNING),
                "by_kind": by_kind}

    def to_dict(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(), "day": self.now.date().isoformat(),
                "rules": self.rules.to_dict(), "counts": self.counts(),
                "alerts": [a.to_dict() for a in self.alerts],
                "not_checked": [dict(n) for n in NOT_CHECKED]}


def _micros(text: str) -> int | None:
    """Microseconds since the epoch of a stored RFC 3339 time (checked at append)."""
    try:  # the common form, parsed by the standard library alone
        return to_micros(datetime.fromisoformat(text))
    except (ValueError, TypeError):  # TypeError: no offset (never stored)
        pass
    try:  # "Z", more than six fraction digits
        return to_micros(parse_rfc3339(text))
    except ValidationError:
        return None


@cache
def _meat_names() -> tuple[frozenset[str], tuple[str, ...]]:
    """Every name of the meat group's members (exact matches) and their Chinese names
    (a product named after one, like 冻猪肉 or 鲜牛肉, is that meat)."""
    tree = CommodityTree.starter()
    members = [c for c in tree if MEAT_GROUP in tree.parents(c.name_zh)]
    exact = frozenset(n for c in members for n in c.names)
    return exact, tuple(sorted({c.name_zh for c in members}, key=len, reverse=True))


def is_meat(product: str | None) -> bool:
    """Whether ``product`` is livestock or poultry meat (the 畜禽肉类 group of the commodity
    tree, or a name ending in one of its members' names)."""
    if not product:
        return False
    exact, names = _meat_names()
    return product in exact or any(product.endswith(n) for n in names)


class _Reader:
    """The reads of one work list, inside one read transaction: names of places and
    parties, and record heads, each fetched once in bulk."""

    def __init__(self, ledger: Ledger, conn: Connection) -> None:
        self.ledger, self.conn = ledger, conn

    def places(self, ids: Iterable[str]) -> dict[str, Any]:
        return self.ledger.store.locations(self.conn, [i for i in ids if i])

    def parties(self, ids: Iterable[str | None]) -> dict[str, Any]:
        return self.ledger.store.parties_by_id(self.conn, [i for i in ids if i])

    def heads(self, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
        return AlertsSql.record_heads(self.conn, list(seqs))


def _place_name(places: Mapping[str, Any], loc: str | None) -> str | None:
    place = places.get(loc) if loc else None
    return place.name if place is not None else None


def _holder(places: Mapping[str, Any], loc: str | None) -> str | None:
    place = places.get(loc) if loc else None
    return place.holder if place is not None else None


def _follow_ups(read: _Reader, now_us: int, rules: AlertRules) -> list[Alert]:
    limit = rules.follow_up_hours * 3_600_000_000
    rows = [r for r in AlertsSql.open_follow_ups(read.conn)
            if (t := _micros(r["time"])) is not None and now_us - t > limit]
    places = read.places({r["stall"] or r["location"] for r in rows})
    out = []
    for r in rows:
        where = r["stall"] or r["location"]
        name = _place_name(places, where) or where
        what = r["item"] if r["kind"] == "rapid" else f"{r['item']} ({r['commodity'] or ''})"
        lot = r["lot"]
        out.append(Alert(
            FOLLOW_UP_OVERDUE,
            f"不合格结果超过 {rules.follow_up_hours} 小时未完成核查处置: {name} 批次 {lot} "
            f"({what} {r['result']})",
            f"Failed test not followed up within {rules.follow_up_hours} h: lot {lot} at "
            f"{name} ({what}, {r['result']})",
            r["time"], where, _place_name(places, where), lot, _holder(places, where),
            market=getattr(places.get(where), "parent", None), events=(r["event_id"],),
            details={"test_kind": r["kind"], "item": r["item"], "result": r["result"],
                     "sample": r["sample"], "commodity": r["commodity"]},
            about=(str(r["seq"]),)))
    return out


def _held(read: _Reader) -> list[Alert]:
    rows = AlertsSql.held_stock(read.conn)
    heads = read.heads(int(r.hold_seq) for r in rows if r.hold_seq is not None)
    places = read.places({r.location for r in rows})
    out = []
    for r in rows:
        head = heads.get(int(r.hold_seq or 0), {})
        name = _place_name(places, r.location) or r.location
        qty = f"{format_micro(r.on_hand)} {r.unit}"
        cause = "test" if r.hold_cause == HoldCause.TEST else "hold"
        out.append(Alert(
            HELD_STOCK,
            f"下架批次仍有库存待处置: {name} 批次 {r.lot} {qty}",
            f"Held lot still in stock: lot {r.lot} at {name}, {qty}",
            head.get("event_time", ""), r.location, _place_name(places, r.location), r.lot,
            _holder(places, r.location),
            market=getattr(places.get(r.location), "parent", None),
            events=tuple(e for e in (head.get("event_id"),) if e),
            details={"on_hand": format_micro(r.on_hand), "unit": r.unit,
                     "reason": r.hold_reason, "cause": cause, "held_by": r.hold_by},
            about=(str(r.hold_seq), r.lot, r.location)))
    return out


def _transit(read: _Reader, now_us: int, rules: AlertRules) -> list[Alert]:
    limit = rules.receive_hours * 3_600_000_000
    rows = AlertsSql.in_transit(read.conn)
    heads = read.heads(s.ship_seq for s in rows)
    late = [(s, heads[s.ship_seq]) for s in rows if s.ship_seq in heads
            and (t := _micros(heads[s.ship_seq]["event_time"])) is not None
            and now_us - t > limit]
    places = read.places({s.to_location for s, _ in late} | {s.from_location for s, _ in late})
    units = {code: row.unit for code, row in SupplySql.lots(read.conn, sorted(
        {s.lot for s, _ in late})).items()}
    out = []
    for s, head in late:
        src = _place_name(places, s.from_location) or s.from_location
        dst = _place_name(places, s.to_location) or s.to_location
        qty = f"{format_micro(s.qty)} {units.get(s.lot, '')}".strip()
        out.append(Alert(
            SHIPMENT_NOT_RECEIVED,
            f"发货超过 {rules.receive_hours} 小时未收货: 批次 {s.lot} {qty}, {src} → {dst}",
            f"Shipment not received after {rules.receive_hours} h: lot {s.lot}, {qty}, "
            f"{src} → {dst}",
            head["event_time"], s.to_location, _place_name(places, s.to_location), s.lot,
            _holder(places, s.to_location),
            market=getattr(places.get(s.to_location), "parent", None), events=(s.ship_event,),
            details={"from": s.from_location, "from_name": _place_name(places, s.from_location),
                     "to": s.to_location, "qty": format_micro(s.qty),
                     "unit": units.get(s.lot), "shipped_by": head["actor"]},
            about=(s.ship_event, s.lot)))
    return out


def _excursions(read: _Reader, now: datetime, rules: AlertRules) -> list[Alert]:
    start = now - timedelta(days=rules.excursion_days)
    start_us, now_us = to_micros(start), to_micros(now)
    # A reading is recorded after it is taken (clocks drift by FUTURE_SKEW at most), so the
    # readings of the window are in the records since its start: a range of the key.
    first = AlertsSql.first_seq_recorded_at(read.conn, format_utc(start - FUTURE_SKEW))
    rows = [r for r in AlertsSql.excursions_from(read.conn, first)
            if (t := _micros(r["time"])) is not None and start_us <= t <= now_us]
    heads = read.heads({int(r["seq"]) for r in rows})
    shipped: dict[str, list[Any]] = {}
    for s in AlertsSql.shipments_of_events(read.conn, sorted(
            {h["event_id"] for h in heads.values()})):
        shipped.setdefault(s.ship_event, []).append(s)
    places = read.places({s.to_location for group in shipped.values() for s in group}
                         | {h["location"] for h in heads.values()})
    by_hop: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_hop.setdefault(int(r["seq"]), []).append(r)
    out = []
    for seq, readings in sorted(by_hop.items()):
        head = heads.get(seq)
        if head is None:
            continue
        hop = shipped.get(head["event_id"], [])
        lots = sorted({s.lot for s in hop})
        to = hop[0].to_location if hop else None
        src = _place_name(places, head["location"]) or head["location"]
        dst = (_place_name(places, to) or to) if to else "?"
        worst = max(readings, key=lambda r: (Decimal(r["celsius"]), -int(r["reading"])))
        limit = worst["limit_celsius"]
        lot_text = ", ".join(lots)
        out.append(Alert(
            TEMPERATURE_EXCURSION,
            f"冷链温度超标: {src} → {dst} 批次 {lot_text} 最高 {worst['celsius']} °C "
            f"(限 {limit} °C)",
            f"Cold-chain temperature excursion: {src} → {dst}, lot {lot_text}, up to "
            f"{worst['celsius']} °C (limit {limit} °C)",
            readings[0]["time"], head["location"], _place_name(places, head["location"]),
            lots[0] if len(lots) == 1 else None, head["actor"],
            events=(head["event_id"],),
            details={"to": to, "to_name": _place_name(places, to), "lots": lots,
                     "storage": worst["storage"], "limit_celsius": limit,
                     "readings": [{"time": r["time"], "celsius": r["celsius"]}
                                  for r in readings]},
            about=(head["event_id"],)))
    return out


def _publication(read: _Reader, now: datetime, rules: AlertRules) -> list[Alert]:
    deadline = datetime.combine(now.date(), rules.tests_published_by, now.tzinfo)
    if now < deadline:
        return []
    day = now.date().isoformat()
    published = AlertsSql.rapid_tests_published(read.conn, day)
    cutoff = format_utc(deadline)
    by = rules.tests_published_by.strftime("%H:%M")
    out = []
    for m in AlertsSql.markets(read.conn):
        first = published.get(m["id"])
        if first is not None and first[0] <= cutoff:
            continue
        late = None if first is None else parse_rfc3339(first[0]).astimezone(now.tzinfo)
        zh_state = "尚未公示" if late is None else f"{late:%H:%M} 才公示"
        en_state = "none published yet" if late is None else f"first published at {late:%H:%M}"
        out.append(Alert(
            TESTS_NOT_PUBLISHED,
            f"{m['name']} {day} 快检结果未在 {by} 前公示 ({zh_state})",
            f"{m['name']}: rapid tests of {day} not published by {by} ({en_state})",
            deadline.isoformat(), m["id"], m["name"], None, m["holder"], market=m["id"],
            events=() if first is None else (first[1],),
            details={"day": day, "deadline": deadline.isoformat(),
                     "first_published_at": None if late is None else late.isoformat()},
            about=(m["id"], day)))
    return out


def _unslaughtered(read: _Reader) -> list[Alert]:
    exact, names = _meat_names()
    bare = AlertsSql.unslaughtered_meat(read.conn, sorted(exact), names)
    heads = read.heads(int(r["seq"]) for r in bare)
    places = read.places({r["location"] for r in bare})
    out = []
    for r in bare:
        head = heads.get(int(r["seq"]), {})
        name = _place_name(places, r["location"]) or r["location"]
        qty = f"{format_micro(int(r['on_hand']))} {r['unit']}"
        out.append(Alert(
            MEAT_WITHOUT_SLAUGHTER,
            f"在售肉品无定点屠宰记录: {name} 批次 {r['lot']} ({r['product']} {qty})",
            f"Meat on sale with no slaughter record: lot {r['lot']} ({r['product']}, {qty}) "
            f"at {name}",
            head.get("event_time", ""), r["location"], _place_name(places, r["location"]),
            r["lot"], _holder(places, r["location"]),
            market=getattr(places.get(r["location"]), "parent", None),
            events=tuple(e for e in (head.get("event_id"),) if e),
            details={"product": r["product"], "on_hand": format_micro(int(r["on_hand"])),
                     "unit": r["unit"], "made_by": r["kind"]},
            about=(r["lot"], r["location"])))
    return out


def alerts(ledger: Ledger, *, now: datetime, rules: AlertRules = DEFAULT_RULES) -> Alerts:
    """The regulator's work list at ``now`` (an aware datetime: its offset is local time),
    from one consistent snapshot of the ledger."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValidationError("now must carry a time zone (local time is its offset)",
                              field="now")
    now_us = to_micros(now)
    with ledger.store.reader() as conn:
        read = _Reader(ledger, conn)
        found = [*_follow_ups(read, now_us, rules), *_unslaughtered(read), *_held(read),
                 *_transit(read, now_us, rules), *_excursions(read, now, rules),
                 *_publication(read, now, rules)]
        named = read.parties({a.party for a in found})
    listed = [replace(a, party_name=named[a.party].name) if a.party in named else a
              for a in found]
    listed.sort(key=lambda a: (_SEVERITY_ORDER[a.severity], _micros(a.since) or 0, a.kind,
                               a.id))
    return Alerts(now, rules, tuple(listed))

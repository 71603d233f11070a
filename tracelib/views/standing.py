"""A producer's standing (生产者信用, its 红黑榜): the page ``/p/<party>`` and ``tracelib
standing PARTY`` (docs/contract.md "Producers' standing").

:func:`standing_view` answers for a producer (a farm, an importer, a wholesaler, an
abattoir):

* ``party``: ``id``, ``name``, ``role``; ``places``: the places it holds, where its lots are
  made.
* ``certificates``: how many origin certificates (食用农产品承诺达标合格证) it issued, and the
  newest ones (number, product, day issued); ``lots_made``: the lots made at its places.
* ``downstream``: its newest lots (at most :attr:`ProducerRules.max_lots`) and the lots
  made from them (at most :attr:`ProducerRules.max_descendants`, ``truncated`` when the
  bound was met): how many of those lots were tested, by how many tests, and how many in
  the window.
* ``failures``: confirmed failures traced back to its certificates (a failing lab result on
  a lot made from one of its lots), newest first: day, product, analyte, value and limit,
  the certificate number and the stall where it was found.
* ``standing``: ``black``, ``red`` or ``none`` by :class:`ProducerRules`.

Certificates are given in full (with the producer's name and contact as printed); what a
shopper may see is :func:`tracelib.views.disclosure.disclose_standing`. None of this
imports Flask.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from ..errors import NotFoundError
from ..ledger import Ledger
from ..store import Connection
from ..store.commitments import CommitmentsSql
from ..store.supply import SupplySql
from ._shared import event_data

__all__ = ["PRODUCER_ROLES", "ProducerRules", "standing_view"]

#: The roles whose lots are made under their own certificates or books.
PRODUCER_ROLES = ("farm", "importer", "wholesaler", "abattoir")


@dataclass(frozen=True)
class ProducerRules:
    """The rules of a producer's 红黑榜, over the last ``window_days`` days (today included):

    * **black** (黑榜): at least one confirmed failure traced back to the producer's
      certificates in the window;
    * **red** (红榜): none, and at least ``red_min_tests`` tests in the window of its lots
      and the lots made from them (the walk's bounds apply);
    * otherwise **none**.
    """

    window_days: int = 90
    red_min_tests: int = 10
    certificates_shown: int = 10
    failures_shown: int = 20
    max_lots: int = 1_000
    max_descendants: int = 20_000

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, got {self.window_days}")
        if self.red_min_tests < 1:
            raise ValueError(f"red_min_tests must be at least 1, got {self.red_min_tests}")


DEFAULT_PRODUCER_RULES = ProducerRules()


def _day(time_text: object) -> str | None:
    return time_text[:10] if isinstance(time_text, str) and len(time_text) >= 10 else None


def standing_view(ledger: Ledger, party_id: str, *, today: date,
                  rules: ProducerRules = DEFAULT_PRODUCER_RULES) -> dict[str, Any]:
    """The standing of ``party_id``. Raises NotFoundError for an unknown party or one that
    is not a producer (:data:`PRODUCER_ROLES`)."""
    store = ledger.store
    since = (today - timedelta(days=rules.window_days - 1)).isoformat()
    with store.reader() as conn:
        party = store.party(conn, party_id)
        if party is None:
            raise NotFoundError(f"unknown party {party_id!r}")
        if party.role not in PRODUCER_ROLES:
            raise NotFoundError(f"{party_id!r} is a {party.role}, not a producer "
                                f"({', '.join(PRODUCER_ROLES)})")
        places = store.locations_held_by(conn, party_id)
        place_ids = [p.id for p in places]
        made, certificates = CommitmentsSql.made_counts(conn, place_ids)
        newest = CommitmentsSql.lots_made_at(conn, place_ids, rules.max_lots + 1)
        more = len(newest) > rules.max_lots
        newest = newest[:rules.max_lots]
        downstream = _downstream(conn, [r["lot"] for r in newest], since,
                                 today.isoformat(), rules, more)
        cert_seqs: list[int] = []
        for r in newest:
            if r["kind"] == "origin" and r["seq"] not in cert_seqs:
                cert_seqs.append(int(r["seq"]))
        cert_seqs = cert_seqs[:rules.certificates_shown]
        broken = CommitmentsSql.of_producer(conn, party_id, rules.failures_shown)
        failed_total, failed_window = CommitmentsSql.counts_of_producer(conn, party_id, since,
                                                                         today.isoformat())
        tests = CommitmentsSql.test_details(conn, [b.test_seq for b in broken])
        bodies = event_data(ledger, conn, cert_seqs + [b.source_seq for b in broken])
        source_lots = _products(conn, [b.source_lot for b in broken])
        stalls = store.locations(conn, [b.stall for b in broken if b.stall])
        markets = store.locations(conn, [s.parent for s in stalls.values() if s.parent])
    newest_certs = []
    for seq in cert_seqs:
        record = bodies.get(seq, {})
        cert = dict(record.get("data", {}).get("certificate", {}))
        cert.update(seq=seq, event=record.get("id"), day=_day(record.get("time")))
        newest_certs.append(cert)
    failures = []
    for b in broken:
        test = tests.get(b.test_seq, {})
        source = bodies.get(b.source_seq, {})
        stall = stalls.get(b.stall) if b.stall else None
        market = markets.get(stall.parent) if stall is not None and stall.parent else None
        doc: dict[str, Any] = {
            "day": b.day, "test_seq": b.test_seq, "event": test.get("event_id"),
            "product": source_lots.get(b.source_lot), "commodity": test.get("commodity"),
            "analyte": b.analyte, "value_mg_kg": test.get("value_mg_kg"),
            "limit_mg_kg": test.get("limit_mg_kg"), "source_kind": b.source_kind,
            "certificate_no": b.certificate_no, "source_lot": b.source_lot,
            "tested_lot": b.tested_lot,
            "stall": ({"id": stall.id, "name": stall.name,
                       "number": stall.details.get("number"),
                       "market_name": market.name if market else None}
                      if stall is not None else None)}
        if b.source_kind == "entry":
            supplier = source.get("data", {}).get("supplier") or {}
            doc["supplier"] = {k: supplier[k] for k in ("name", "licence") if k in supplier}
        failures.append(doc)
    if failed_window:
        standing = "black"
    elif downstream["tests_window"] >= rules.red_min_tests:
        standing = "red"
    else:
        standing = "none"
    return {
        "party": {"id": party.id, "name": party.name, "role": party.role},
        "places": [{"id": p.id, "name": p.name, "type": p.type} for p in places],
        "certificates": {"count": certificates, "newest": newest_certs},
        "lots_made": made,
        "downstream": downstream,
        "failures": failures,
        "failures_total": failed_total,
        "failures_window": failed_window,
        "standing": standing,
        "rules": asdict(rules),
        "today": today.isoformat(),
    }


def _products(conn: Connection, codes: list[str]) -> dict[str, str | None]:
    """Each lot's product."""
    return {code: row.product for code, row in SupplySql.lots(conn, sorted(set(codes))).items()}


def _downstream(conn: Connection, lots: list[str], since: str, until: str,
                rules: ProducerRules, truncated: bool) -> dict[str, Any]:
    """The producer's newest lots and the lots made from them, and their tests."""
    seen = set(lots)
    frontier = list(lots)
    while frontier:
        found = [c for c in CommitmentsSql.children(conn, frontier) if c not in seen]
        room = rules.max_descendants - len(seen)
        if len(set(found)) > room:
            found = sorted(set(found))[:max(room, 0)]
            truncated = True
        seen.update(found)
        frontier = list(dict.fromkeys(found))
    tests = CommitmentsSql.tests_of(conn, sorted(seen))
    tested = {lot for lot, _, _, _ in tests}
    window = [t for t in tests if since <= t[1] <= until]
    return {"lots": len(seen), "lots_tested": len(tested), "tests": len(tests),
            "tests_window": len(window),
            "lab_tests_window": sum(1 for t in window if t[2] == "lab"),
            "truncated": truncated}

"""A drill that follows lots across three ledgers (docs/contract.md "Peers and entries from
another ledger"): city A with an import port, city B and a wholesale market C, each a
service on its own HTTP server (werkzeug, threads of this process), each registering the
other two as peers.

Set-up (untimed): in A, ``FAMILIES`` imported lots, each split in two at the port and the
halves shipped to B's and C's receiving points; A signs a checkpoint. B and C bring each
half in with a ``peer_entry`` citing A (built from A's records and proofs), move part of it
to a shop, receive it there and sell some; each signs a checkpoint.

Figure: ``federation.drill``, the median wall time of ``follow_drill`` from A over the
imported lots (each once): A's answer read locally, B's and C's through their APIs, every
answer's checkpoint verified against the key A registered for the peer, every record
against its checkpoint, each crossing against the ship record it cites. Target: median
≤ 150 ms (issue 19, "Must show").
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from . import workload
from ._core import Context, Row, benchmark, figure, info, median, percentile

FAMILIES = 30
DRILL_MEDIAN_MS = 150.0
ORIGINS = {"a": "tracelib/bench-city-a", "b": "tracelib/bench-city-b",
           "c": "tracelib/bench-wholesale-c"}
VALID = "2026-01-01T00:00:00+08:00"


class _City:
    def __init__(self, folder: Path, name: str, seed: int) -> None:
        from tracelib.ledger import Ledger

        self.origin = ORIGINS[name]
        self.key = workload._party_key(seed, f"operator-{name}")
        self.db = folder / f"{name}.db"
        self.ledger = Ledger.create(f"sqlite:///{self.db}", operator_key=self.key,
                                    operator="operator", origin=self.origin,
                                    now=workload.BENCH_NOW - timedelta(days=1),
                                    blobs=folder / f"{name}.blobs")
        self.keys: dict[str, Any] = {}
        self.count = 0

    def sign(self, actor: str, body: dict[str, Any]) -> dict[str, Any]:
        from tracelib.events import sign_event

        self.count += 1
        doc = {"id": f"{body['kind']}-{self.count:05d}",
               "time": (workload.BENCH_NOW - timedelta(hours=6)
                        + timedelta(seconds=self.count)).isoformat(),
               "actor": actor, **body}
        return sign_event(doc, self.key if actor == "operator" else self.keys[actor])

    def add(self, *docs: dict[str, Any]) -> None:
        self.ledger.append(list(docs), now=workload.BENCH_NOW)

    def register(self, parties: list[tuple[str, str, str, str | None]],
                 extra: tuple[dict[str, Any], ...] = ()) -> None:
        from tracelib.keys import SigningKey

        for party, *_ in parties:
            self.keys[party] = SigningKey.generate()
        self.add(self.sign("operator", {"kind": "register", "location": "operator.office",
                                        "data": {
            "parties": [{"id": p, "name": p, "role": r} for p, r, _, _ in parties],
            "locations": [{"id": p, "name": p, "type": t, "holder": p,
                           **({"parent": parent} if parent else {})}
                          for p, _, t, parent in parties] + list(extra),
            "keys": [{"party": p, "key_id": self.keys[p].key_id,
                      "public_key": self.keys[p].public.base64(), "valid_from": VALID}
                     for p, *_ in parties]}}))

    @property
    def vkey(self) -> str:
        from tracelib.note import NoteVerifier

        return NoteVerifier.for_key(self.origin, self.key.public).to_string()


def _build(folder: Path, seed: int, families: int) -> dict[str, _City]:
    from tracelib.events import sign_event
    from tracelib.federation import LedgerPeer, peer_entry_event

    a, b, c = (_City(folder, n, seed) for n in "abc")
    a.register([("importer-a", "importer", "port", None)],
               ({"id": "b-market", "name": "B market", "type": "wholesale_market",
                 "peer": b.origin},
                {"id": "c-wholesale", "name": "C wholesale", "type": "wholesale_market",
                 "peer": c.origin}))
    b.register([("b-market", "market", "wholesale_market", None),
                ("b-stall", "stall", "stall", "b-market")])
    c.register([("c-wholesale", "wholesaler", "wholesale_market", None),
                ("c-shop", "stall", "supermarket", None)])
    for i in range(families):
        lot = f"IMP-{i:04d}"
        a.add(a.sign("importer-a", {"kind": "origin", "location": "importer-a",
                                    "outputs": [{"lot": lot, "qty": "400", "unit": "kg"}],
                                    "data": {"certificate": {
                                        "no": f"C-{lot}", "product": "冻牛肉",
                                        "producer": "importer", "origin_place": "port",
                                        "issued_at": VALID, "commitments": ["x"],
                                        "basis": "self_test"}}}),
              a.sign("importer-a", {"kind": "transform", "location": "importer-a",
                                    "inputs": [{"lot": lot, "qty": "400", "unit": "kg"}],
                                    "outputs": [{"lot": f"{lot}-B", "qty": "250", "unit": "kg"},
                                                {"lot": f"{lot}-C", "qty": "150", "unit": "kg"}],
                                    "data": {"process": "split"}}),
              a.sign("importer-a", {"kind": "ship", "location": "importer-a",
                                    "inputs": [{"lot": f"{lot}-B", "qty": "250", "unit": "kg"}],
                                    "data": {"to": "b-market"}}),
              a.sign("importer-a", {"kind": "ship", "location": "importer-a",
                                    "inputs": [{"lot": f"{lot}-C", "qty": "150", "unit": "kg"}],
                                    "data": {"to": "c-wholesale"}}))
    a.ledger.sign_checkpoint(a.key, now=workload.BENCH_NOW)
    ships: dict[str, list[str]] = {"b": [], "c": []}
    for i in range(families):
        ships["b"].append(f"ship-{4 * i + 4:05d}")
        ships["c"].append(f"ship-{4 * i + 5:05d}")
    for one, name, place, shop, moved in ((b, "b", "b-market", "b-stall", "40"),
                                          (c, "c", "c-wholesale", "c-shop", "30")):
        for other in (a, b, c):
            if other is not one:
                one.add(one.sign("operator", {"kind": "register", "location": "operator.office",
                                              "data": {"peers": [{"origin": other.origin,
                                                                  "vkey": other.vkey,
                                                                  "url": "http://127.0.0.1:1"}]}}))
        for i, ship in enumerate(ships[name]):
            lot = f"IMP-{i:04d}-{name.upper()}"
            one.count += 1
            doc = peer_entry_event(one.ledger, LedgerPeer(a.ledger), ship_event=ship,
                                   location=place, actor=place, product="冻牛肉",
                                   event_id=f"pentry-{one.count:05d}",
                                   now=workload.BENCH_NOW - timedelta(hours=2))
            moving = one.sign(place, {"kind": "ship", "location": place,
                                      "inputs": [{"lot": lot, "qty": moved, "unit": "kg"}],
                                      "data": {"to": shop}})
            one.add(sign_event(doc, one.keys[place]), moving,
                    one.sign(shop, {"kind": "receive", "location": shop,
                                    "inputs": [{"lot": lot, "qty": moved, "unit": "kg"}],
                                    "data": {"from": place, "ship_event": moving["id"]}}),
                    one.sign(shop, {"kind": "sale", "location": shop,
                                    "inputs": [{"lot": lot, "qty": "10", "unit": "kg"}],
                                    "data": {"receipt": f"R-{i}"}}))
        one.ledger.sign_checkpoint(one.key, now=workload.BENCH_NOW)
    return {"a": a, "b": b, "c": c}


@benchmark("federation.drill", description="a drill followed across three ledgers served "
           "over HTTP (A local, B and C through their APIs), every answer verified",
           provides=("federation.drill",))
def federation_drill(ctx: Context) -> list[Row]:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            """No line per request: the drill's requests would flood the bench's output."""

    from tracelib.events import sign_event
    from tracelib.federation import follow_drill
    from tracelib.keys import Keystore
    from tracelib_service import create_app
    from tracelib_service.tokens import issue_token

    folder = Path(tempfile.mkdtemp(prefix="tracelib-federation-"))
    servers = []
    apps = []
    try:
        with ctx.step("federation: three ledgers (set-up)", total=1) as advance:
            cities = _build(folder, ctx.options.seed, FAMILIES)
            advance(1)
        urls, tokens = {}, {}
        for name, one in cities.items():
            store = Keystore(folder / f"keys-{name}")
            store.save("operator", one.key)
            app = create_app({"DB": f"sqlite:///{one.db}", "KEYSTORE": str(store.path),
                              "BLOBS": str(folder / f"{name}.blobs"),
                              "NOW": workload.BENCH_NOW, "COUNT_SCANS": False})
            apps.append(app)
            tokens[one.origin] = issue_token(app, "operator", scopes=("read:all",))
            app.logger.setLevel(logging.WARNING)
            logging.getLogger("tracelib_service").setLevel(logging.WARNING)
            server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            urls[one.origin] = f"http://127.0.0.1:{server.server_port}"
        a = cities["a"]
        for other in (cities["b"], cities["c"]):
            a.add(sign_event({"id": f"peer-{other.origin}", "kind": "register",
                              "time": workload.BENCH_NOW.isoformat(), "actor": "operator",
                              "location": "operator.office",
                              "data": {"peers": [{"origin": other.origin, "vkey": other.vkey,
                                                  "url": urls[other.origin]}]}}, a.key))
        follow_drill(a.ledger, "IMP-0000", tokens=tokens)  # warm: imports, connections
        samples = []
        ledgers = 0
        for i in range(FAMILIES):
            began = time.perf_counter()
            drill = follow_drill(a.ledger, f"IMP-{i:04d}", tokens=tokens)
            samples.append((time.perf_counter() - began) * 1000)
            ledgers = len(drill.parts)
            if len(drill.crossings) != 2:
                raise RuntimeError(f"drill of IMP-{i:04d} found {len(drill.crossings)} "
                                   "crossings, not 2")
        sizes = ", ".join(f"{o.origin} {o.ledger.size}" for o in cities.values())
    finally:
        for server in servers:
            server.shutdown()
        for app in apps:
            app.extensions["tracelib"].close()
        for one in locals().get("cities", {}).values():
            one.ledger.close()
        shutil.rmtree(folder, ignore_errors=True)
    return [figure("federation.drill", median(samples), "ms", target=DRILL_MEDIAN_MS, op="<=",
                   notes=f"median of {len(samples)} drills from A, each through {ledgers} "
                         f"ledgers (2 crossings); ledger sizes {sizes}; servers in this "
                         "process"),
            info("federation.drill.p99", percentile(samples, 99), "ms",
                 notes="the same drills, 99th percentile")]

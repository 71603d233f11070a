"""Who may sign each kind of event, and where (docs/contract.md "Authority"): every rule both
ways — allowed and refused — through the library (``Ledger.append``), the API
(``POST /api/v1/events`` with the actor's own token) and the CLI (``tracelib append``), and the
reproductions of unauthorised recalls, releases and retests."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import NOW
from tests.helpers import Network, Supply, supply_certificate, supply_snapshot
from tracelib.errors import ValidationError
from tracelib.events import sign_event
from tracelib.keys import SigningKey
from tracelib.kinds import KINDS, Signers
from tracelib.ledger import Ledger
from tracelib.recalls import recall
from tracelib.store.schema import lots, stock

LOT, CHILD, OTHER, PIG = "LOT-1", "LOT-1-A", "LOT-2", "PIG-1"
ENZYME = {"item": "有机磷和氨基甲酸酯类农药", "method": "GB/T 5009.199-2003", "tester": "王芳"}
EXTRA = (  # party, role, location, location type
    ("regulator-1", "regulator", "regulator-1.office", "office"),
    ("lab-1", "lab", "lab-1", "lab"),
    ("farm-2", "farm", "farm-2.field", "farm"),
    ("farm-dy02", "farm", "farm-dy02.base", "farm"),
)
PLAN = {"year": 2026, "population": 50_000,
        "targets": [{"sampling": "evaluation", "category": "蔬菜", "batches": 100}]}
_APART = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner).parameters else {}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    field: str | None = None
    message: str = ""


class World:
    """The supply network of :class:`tests.helpers.Supply` plus a regulator, a lab and two
    more farms, with stock: LOT-1 (farm-1) at stall-a01, LOT-1-A split from it at the
    wholesale market, LOT-2 (farm-2) at stall-a02, and a pig lot at the abattoir."""

    def __init__(self, net: Network, channel: str, tmp_path: Path, db_url: str) -> None:
        self.sup = Supply.build(net)
        self.net = net
        self.channel = channel
        self.tmp = tmp_path
        self.db_url = db_url
        parties, locations, keys = [], [], []
        for party, role, loc, loc_type in EXTRA:
            key = SigningKey.generate()
            net.keys[party] = key
            self.sup.holders[loc] = party
            parties.append({"id": party, "name": party, "role": role})
            locations.append({"id": loc, "name": party, "type": loc_type, "holder": party})
            keys.append({"party": party, "key_id": key.key_id, "public_key": key.public.base64(),
                         "valid_from": "2026-01-01T00:00:00+08:00"})
        net.append_as("operator", {"kind": "register", "location": "operator.office",
                                   "data": {"parties": parties, "locations": locations,
                                            "keys": keys}})
        s = self.sup
        s.add(s.origin(LOT, "100"), *s.move("farm-1.field", "stall-a01", [(LOT, "40")]),
              *s.move("farm-1.field", "wholesale-1", [(LOT, "30")]),
              s.transform("wholesale-1", [(LOT, "30")], [(CHILD, "30")]),
              s.origin(OTHER, "50", location="farm-2.field"),
              *s.move("farm-2.field", "stall-a02", [(OTHER, "20")]),
              s.origin(PIG, "10", "head"),
              *s.move("farm-1.field", "abattoir-1", [(PIG, "10", "head")]))
        self._app: Any = None
        self._files = 0

    @property
    def ledger(self) -> Ledger:
        return self.net.ledger

    # -- events -------------------------------------------------------------------------------
    def ev(self, actor: str, kind: str, location: str, *, inputs: Any = (), outputs: Any = (),
           **data: Any) -> dict[str, Any]:
        return self.sup.event(kind, location, inputs=inputs, outputs=outputs, data=data,
                              actor=actor)

    def hold(self, actor: str, location: str = "stall-a01", lot: str = LOT) -> dict[str, Any]:
        return self.ev(actor, "hold", location, inputs=[(lot, "1")], reason="待查验")

    def release(self, actor: str, location: str = "stall-a01", lot: str = LOT,
                **data: Any) -> dict[str, Any]:
        return self.ev(actor, "release", location, inputs=[(lot, "1")], reason="解除", **data)

    def recall(self, actor: str, location: str, lot: str = LOT) -> dict[str, Any]:
        return self.ev(actor, "recall", location, inputs=[(lot, "1")], reason="召回")

    def rapid(self, actor: str, location: str = "stall-a01", *, delta_at: str = "0.300",
              lot: str = LOT, **data: Any) -> dict[str, Any]:
        return self.ev(actor, "rapid_test", location, sample="豇豆", lot=lot, commodity="豇豆",
                       readings={"delta_a0": "0.800", "delta_at": delta_at}, **ENZYME, **data)

    def lab(self, actor: str, location: str = "lab-1", *, value: str = "0.01",
            **data: Any) -> dict[str, Any]:
        return self.ev(actor, "lab_test", location, analyte="毒死蜱", commodity="芹菜",
                       value=value, unit="mg/kg", lab="检测中心", report_no="R-1", lot=LOT,
                       stall="stall-a01", **data)

    def inspect(self, actor: str, location: str = "stall-a01") -> dict[str, Any]:
        return self.sup.event("inspection", location, actor=actor, id="insp-1", data={
            "items": [{"name": "进货查验记录", "compliant": False}], "result": "non_compliant",
            "findings": "无购货凭证", "rectification_deadline": "2026-12-31",
            "inspectors": [{"name": "李明"}]})

    def rectify(self, actor: str, step: str, location: str = "stall-a01") -> dict[str, Any]:
        return self.ev(actor, "rectification", location, inspection="insp-1", step=step,
                       measures="已整改")

    def register(self, **data: Any) -> dict[str, Any]:
        return self.ev("operator", "register", "operator.office", **data)

    # -- the three ways in -------------------------------------------------------------------
    def submit(self, doc: dict[str, Any]) -> Outcome:
        """Append one signed event the way the channel under test does."""
        if self.channel == "api":
            return self._api(doc)
        if self.channel == "cli":
            return self._cli(doc)
        try:
            self.ledger.append([doc], now=NOW)
        except ValidationError as e:
            return Outcome(False, e.field, e.message)
        return Outcome(True)

    def _api(self, doc: dict[str, Any]) -> Outcome:
        from tracelib_service import create_app
        from tracelib_service.tokens import issue_token

        if self._app is None:
            (self.tmp / "keys").mkdir(exist_ok=True)
            self._app = create_app({"TESTING": True, "DB": self.db_url,
                                    "KEYSTORE": str(self.tmp / "keys"), "NOW": NOW})
        token = issue_token(self._app, doc["actor"])
        r = self._app.test_client().post(
            "/api/v1/events", data=json.dumps([doc], ensure_ascii=False),
            headers={"Authorization": f"Bearer {token}"}, content_type="application/json")
        if r.status_code == 201:
            return Outcome(True)
        assert r.status_code == 422, r.get_data(as_text=True)
        return Outcome(False, r.json["field"], r.json["detail"])

    def _cli(self, doc: dict[str, Any]) -> Outcome:
        from tracelib_cli.main import cli

        self._files += 1
        path = self.tmp / f"events-{self._files}.jsonl"
        path.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
        result = CliRunner(**_APART).invoke(cli, ["--db", self.db_url, "--keystore",
                                                  str(self.tmp / "keys"), "append", str(path)])
        if result.exit_code == 0:
            return Outcome(True)
        assert result.exit_code == 1, (result.output, result.exception)
        _, _, message = result.stderr.strip().partition("field '")
        field, _, rest = message.partition("'")
        return Outcome(False, field or None, rest)

    def close(self) -> None:
        if self._app is not None:
            self._app.extensions["tracelib"].close()

    # -- state ----------------------------------------------------------------------------------
    def hold_of(self, lot: str = LOT, location: str = "stall-a01") -> tuple[Any, Any]:
        with self.ledger.store.engine.connect() as conn:
            row = conn.execute(select(stock.c.hold_seq, stock.c.hold_by).where(
                stock.c.lot == lot, stock.c.location == location)).one()
        return row.hold_seq, row.hold_by

    def recalled_by(self, lot: str = LOT) -> str | None:
        with self.ledger.store.engine.connect() as conn:
            value: str | None = conn.execute(select(lots.c.recalled_by)
                                             .where(lots.c.lot == lot)).scalar_one()
        return value


# The library on both databases; the API and the CLI (which serve SQLite files) on SQLite.
WAYS = [("library", "sqlite"), pytest.param(("library", "postgres"), marks=pytest.mark.postgres),
        ("api", "sqlite"), ("cli", "sqlite")]


@pytest.fixture(params=WAYS, ids=lambda w: "-".join(w) if isinstance(w, tuple) else str(w))
def world(request: pytest.FixtureRequest, tmp_path: Path,
          operator_key: SigningKey) -> Iterator[World]:
    channel, store = request.param
    url = (f"sqlite:///{tmp_path / 'ledger.db'}" if store == "sqlite"
           else str(request.getfixturevalue("pg_url")))
    ledger = Ledger.create(url, operator_key=operator_key, operator="operator", now=NOW)
    net = Network.build(ledger, operator_key, now=NOW)
    w = World(net, channel, tmp_path, url)
    try:
        yield w
    finally:
        w.close()
        ledger.close()


Step = Callable[[World], dict[str, Any]]


def _ship_x(w: World) -> dict[str, Any]:
    return w.sup.event("ship", "farm-1.field", inputs=[(LOT, "5")], data={"to": "stall-a02"},
                       id="ship-x")


# name → (events appended first, the event tried, None (allowed) or (field, words in the error))
CASES: dict[str, tuple[list[Step], Step, tuple[str, str] | None]] = {
    # register: the operator only; nobody else gets the operator's role; a role does not change
    "register by the operator": (
        [], lambda w: w.register(parties=[{"id": "farm-3", "name": "三号农场", "role": "farm"}]),
        None),
    "register by a farm": (
        [], lambda w: w.ev("farm-1", "register", "farm-1.field",
                           parties=[{"id": "farm-4", "name": "x", "role": "regulator"}]),
        ("actor", "farm-1 (farm) may not sign a register event: only the operator")),
    "register of a second operator": (
        [], lambda w: w.register(parties=[{"id": "farm-9", "name": "x", "role": "operator"}]),
        ("data.parties[0].role", "only the ledger's operator 'operator' has the role operator")),
    "register changing a farm into a regulator": (
        [], lambda w: w.register(parties=[{"id": "farm-1", "name": "x", "role": "regulator"}]),
        ("data.parties[0].role", "registered as farm; its role cannot change to regulator")),
    # origin: producers at a place they hold
    "origin by a farm": ([], lambda w: w.sup.origin("NEW-1", "5"), None),
    "origin by an importer": ([], lambda w: w.sup.origin("NEW-2", "5", location="port-1"), None),
    "origin by a wholesaler (collector)": (
        [], lambda w: w.sup.origin("NEW-3", "5", location="wholesale-1"), None),
    "origin by a stall": (
        [], lambda w: w.sup.origin("NEW-4", "5", location="stall-a01"),
        ("actor", "stall-a01 (stall) may not sign a origin event: only a farm, an importer or "
                  "a wholesaler")),
    "origin at another farm": (
        [], lambda w: w.sup.event("origin", "farm-2.field", outputs=[("NEW-5", "5")],
                                  data={"certificate": supply_certificate("NEW-5")}, actor="farm-1"),
        ("actor", "'farm-1' does not hold 'farm-2.field'")),
    # slaughter: an abattoir at its plant
    "slaughter by the abattoir": (
        [], lambda w: w.sup.slaughter([(PIG, "10", "head")], [("PK-1", "500")]), None),
    "slaughter by a farm": (
        [], lambda w: w.sup.slaughter([(PIG, "1", "head")], [("PK-2", "50")],
                                      location="farm-1.field"),
        ("actor", "farm-1 (farm) may not sign a slaughter event: only an abattoir")),
    # ship: the holder of the place the stock leaves, or a carrier picking up there
    "ship by the holder": ([], lambda w: w.sup.ship("farm-1.field", "stall-a02", [(LOT, "5")]),
                           None),
    "ship by a carrier picking up": (
        [], lambda w: w.ev("carrier-1", "ship", "farm-1.field", inputs=[(LOT, "5")],
                           to="coldstore-1"), None),
    "ship by a stall from a farm": (
        [], lambda w: w.ev("stall-a02", "ship", "farm-1.field", inputs=[(LOT, "5")],
                           to="stall-a02"),
        ("actor", "'stall-a02' does not hold 'farm-1.field'")),
    "ship by the market from its stall": (
        [], lambda w: w.ev("market-1", "ship", "stall-a01", inputs=[(LOT, "5")],
                           to="stall-a02"),
        ("actor", "'market-1' does not hold 'stall-a01'")),
    # receive: the holder of the destination
    "receive by the destination": (
        [_ship_x],
        lambda w: w.ev("stall-a02", "receive", "stall-a02", inputs=[(LOT, "5")],
                       **{"from": "farm-1.field", "ship_event": "ship-x"}), None),
    "receive by the carrier at a stall": (
        [_ship_x],
        lambda w: w.ev("carrier-1", "receive", "stall-a02", inputs=[(LOT, "5")],
                       **{"from": "farm-1.field", "ship_event": "ship-x"}),
        ("actor", "'carrier-1' does not hold 'stall-a02'")),
    "receive by the stall's market": (
        [_ship_x],
        lambda w: w.ev("market-1", "receive", "stall-a02", inputs=[(LOT, "5")],
                       **{"from": "farm-1.field", "ship_event": "ship-x"}),
        ("actor", "'market-1' does not hold 'stall-a02'")),
    # transform, sale, dispose: the holder of the place with the stock
    "transform by the holder": (
        [], lambda w: w.sup.transform("stall-a01", [(LOT, "10")], [("CUT-1", "10")]), None),
    "transform by the market at its stall": (
        [], lambda w: w.ev("market-1", "transform", "stall-a01", inputs=[(LOT, "10")],
                           outputs=[("CUT-2", "10")], process="cut"),
        ("actor", "'market-1' does not hold 'stall-a01'")),
    "sale by the stall": ([], lambda w: w.sup.sale("stall-a01", [(LOT, "1")]), None),
    "sale of another stall's stock": (
        [], lambda w: w.ev("stall-a02", "sale", "stall-a01", inputs=[(LOT, "1")], receipt="R"),
        ("actor", "'stall-a02' does not hold 'stall-a01'")),
    "sale by the market at its stall": (
        [], lambda w: w.ev("market-1", "sale", "stall-a01", inputs=[(LOT, "1")], receipt="R"),
        ("actor", "'market-1' does not hold 'stall-a01'")),
    "dispose by the holder": (
        [], lambda w: w.ev("stall-a01", "dispose", "stall-a01", inputs=[(LOT, "1")],
                           reason="变质"), None),
    "dispose by a farm at a stall": (
        [], lambda w: w.ev("farm-1", "dispose", "stall-a01", inputs=[(LOT, "1")], reason="x"),
        ("actor", "'farm-1' does not hold 'stall-a01'")),
    # hold: the holder, its market, a regulator, the operator
    "hold by the stall": ([], lambda w: w.hold("stall-a01"), None),
    "hold by the stall's market": ([], lambda w: w.hold("market-1"), None),
    "hold by a regulator": ([], lambda w: w.hold("regulator-1"), None),
    "hold by a farm at a stall": (
        [], lambda w: w.hold("farm-1"), ("actor", "'farm-1' does not hold 'stall-a01'")),
    "hold by another market at a stall": (
        [], lambda w: w.hold("market-2"), ("actor", "'market-2' does not hold 'stall-a01'")),
    # release of a hold placed by a hold event: its placer or a regulator
    "release by the market of its own hold": (
        [lambda w: w.hold("market-1")], lambda w: w.release("market-1"), None),
    "release by the stall of its market's hold": (
        [lambda w: w.hold("market-1")], lambda w: w.release("stall-a01"),
        ("inputs[0].lot", "stall-a01 (stall) may not release the hold on LOT-1 at stall-a01")),
    "release by the stall of its own hold": (
        [lambda w: w.hold("stall-a01")], lambda w: w.release("stall-a01"), None),
    "release by the market of the stall's hold": (
        [lambda w: w.hold("stall-a01")], lambda w: w.release("market-1"),
        ("inputs[0].lot", "only the party that placed it (stall-a01) or a regulator")),
    "release by a regulator of a market's hold": (
        [lambda w: w.hold("market-1")], lambda w: w.release("regulator-1"), None),
    # tests: a market at its own stalls, a lab, a regulator; never the stall tested
    "rapid test by the market at its stall": ([], lambda w: w.rapid("market-1"), None),
    "rapid test by a lab naming the stall": (
        [], lambda w: w.rapid("lab-1", "lab-1", stall="stall-a01"), None),
    "rapid test by a regulator": ([], lambda w: w.rapid("regulator-1"), None),
    "rapid test by the stall of its own goods": (
        [], lambda w: w.rapid("stall-a01", delta_at="0.700"),
        ("actor", "stall-a01 (stall) may not sign a rapid_test event: only a market, a lab or "
                  "a regulator")),
    "rapid test by another market at a stall": (
        [], lambda w: w.rapid("market-2"), ("actor", "'market-2' does not hold 'stall-a01'")),
    "rapid test by another market naming a stall": (
        [], lambda w: w.rapid("market-2", "market-2", stall="stall-a01"),
        ("data.stall", "market-2 (market) tests only at its own stalls; stall-a01 is in "
                       "market-1")),
    "rapid test by a lab that holds the stall": (
        [lambda w: w.register(locations=[{"id": "stall-l1", "name": "检测所门市", "type": "stall",
                                          "parent": "market-1", "holder": "lab-1"}])],
        lambda w: w.rapid("lab-1", "lab-1", stall="stall-l1"),
        ("data.stall", "lab-1 (lab) may not test the goods of its own stall stall-l1")),
    "lab test by a lab": ([], lambda w: w.lab("lab-1"), None),
    "lab test by the stall": (
        [], lambda w: w.lab("stall-a01", "stall-a01"),
        ("actor", "stall-a01 (stall) may not sign a lab_test event")),
    # a test's hold: lifted by a tester's negative retest or passing lab result, or a regulator
    "release of a test hold by the stall": (
        [lambda w: w.rapid("market-1")], lambda w: w.release("stall-a01"),
        ("inputs[0].lot", "may not release the hold a test put on LOT-1 at stall-a01")),
    "release of a test hold by the market that tested": (
        [lambda w: w.rapid("market-1")], lambda w: w.release("market-1"),
        ("inputs[0].lot", "market-1 (market) may not release the hold a test put on LOT-1")),
    "release of a test hold by a regulator": (
        [lambda w: w.rapid("market-1")], lambda w: w.release("regulator-1"), None),
    "negative retest by the market": (
        [lambda w: w.rapid("market-1")],
        lambda w: w.rapid("market-1", delta_at="0.700", retest=True), None),
    "negative retest by the stall": (
        [lambda w: w.rapid("market-1")],
        lambda w: w.rapid("stall-a01", delta_at="0.700", retest=True),
        ("actor", "stall-a01 (stall) may not sign a rapid_test event")),
    "passing lab result from a lab": ([lambda w: w.rapid("market-1")], lambda w: w.lab("lab-1"),
                                      None),
    # recall: a regulator or the operator, or voluntarily the maker of the lot or an ancestor
    "recall by the operator": ([], lambda w: w.recall("operator", "operator.office"), None),
    "recall by a regulator": ([], lambda w: w.recall("regulator-1", "regulator-1.office"), None),
    "recall by the farm that made the lot": (
        [], lambda w: w.recall("farm-1", "farm-1.field"), None),
    "recall by the farm of a lot made from its lot": (
        [], lambda w: w.recall("farm-1", "farm-1.field", CHILD), None),
    "recall by the wholesaler of the lot it made": (
        [], lambda w: w.recall("wholesale-1", "wholesale-1", CHILD), None),
    "recall by the wholesaler of the lot it made its lot from": (
        [], lambda w: w.recall("wholesale-1", "wholesale-1", LOT),
        ("inputs[0].lot", "wholesale-1 (wholesaler) may not recall LOT-1")),
    "recall by another farm": (
        [], lambda w: w.recall("farm-2", "farm-2.field"),
        ("inputs[0].lot", "farm-2 (farm) may not recall LOT-1: only a regulator, the operator, "
                          "or the party that made it or one of its ancestors")),
    "recall by a stall of a competitor's lot": (
        [], lambda w: w.recall("stall-a02", "stall-a02"),
        ("inputs[0].lot", "stall-a02 (stall) may not recall LOT-1")),
    # lifting a recall: a regulator, the operator, or the party that recalled it
    "lift of the operator's recall by the farm that made the lot": (
        [lambda w: w.recall("operator", "operator.office")],
        lambda w: w.release("farm-1", "farm-1.field", scope="recall"),
        ("inputs[0].lot", "farm-1 (farm) may not lift a recall of LOT-1: only a regulator, the "
                          "operator, or the party that recalled it (operator)")),
    "lift of the operator's recall by a regulator": (
        [lambda w: w.recall("operator", "operator.office")],
        lambda w: w.release("regulator-1", "regulator-1.office", scope="recall"), None),
    "lift of a regulator's recall by the operator": (
        [lambda w: w.recall("regulator-1", "regulator-1.office")],
        lambda w: w.release("operator", "operator.office", scope="recall"), None),
    "lift of a voluntary recall by the farm that recalled it": (
        [lambda w: w.recall("farm-1", "farm-1.field")],
        lambda w: w.release("farm-1", "farm-1.field", scope="recall"), None),
    "lift of a farm's voluntary recall by a stall": (
        [lambda w: w.recall("farm-1", "farm-1.field")],
        lambda w: w.release("stall-a01", scope="recall"),
        ("inputs[0].lot", "stall-a01 (stall) may not lift a recall of LOT-1")),
    # inspection: a regulator, at the place inspected; rectification: the place reports (or its
    # market for its stall), a regulator confirms
    "inspection by a regulator at a stall": ([], lambda w: w.inspect("regulator-1"), None),
    "inspection by the stall's market": (
        [], lambda w: w.inspect("market-1"),
        ("actor", "market-1 (market) may not sign a inspection event: only a regulator")),
    "rectification reported by the stall": (
        [lambda w: w.inspect("regulator-1")], lambda w: w.rectify("stall-a01", "report"), None),
    "rectification reported by the stall's market": (
        [lambda w: w.inspect("regulator-1")], lambda w: w.rectify("market-1", "report"), None),
    "rectification reported by another stall": (
        [lambda w: w.inspect("regulator-1")], lambda w: w.rectify("stall-a02", "report"),
        ("actor", "'stall-a02' does not hold 'stall-a01'")),
    "rectification confirmed by a regulator": (
        [lambda w: w.inspect("regulator-1")], lambda w: w.rectify("regulator-1", "confirm"),
        None),
    "rectification confirmed by the stall": (
        [lambda w: w.inspect("regulator-1")], lambda w: w.rectify("stall-a01", "confirm"),
        ("data.step", "stall-a01 (stall) may not confirm a rectification: only a regulator")),
    # drill: the operator or a regulator
    "drill by the operator": (
        [], lambda w: w.ev("operator", "drill", "operator.office", question="q", lot=LOT,
                           answer_digest="0" * 64), None),
    "drill by a regulator": (
        [], lambda w: w.ev("regulator-1", "drill", "regulator-1.office", question="q", lot=LOT,
                           answer_digest="0" * 64), None),
    "drill by a farm": (
        [], lambda w: w.ev("farm-1", "drill", "farm-1.field", question="q", lot=LOT,
                           answer_digest="0" * 64),
        ("actor", "farm-1 (farm) may not sign a drill event: only the operator or a regulator")),
    # plan: a regulator only, anywhere
    "plan by a regulator": (
        [], lambda w: w.ev("regulator-1", "plan", "regulator-1.office", **PLAN), None),
    "plan by a regulator away from its office": (
        [], lambda w: w.ev("regulator-1", "plan", "stall-a01", **PLAN), None),
    "plan by a market": (
        [], lambda w: w.ev("market-1", "plan", "market-1", **PLAN),
        ("actor", "market-1 (market) may not sign a plan event: only a regulator")),
    "plan by the operator": (
        [], lambda w: w.ev("operator", "plan", "operator.office", **PLAN),
        ("actor", "may not sign a plan event: only a regulator")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_who_may_sign(world: World, case: str) -> None:
    prepare, attempt, refusal = CASES[case]
    if prepare:
        world.sup.add(*(step(world) for step in prepare))
    doc = attempt(world)
    before = supply_snapshot(world.ledger)
    outcome = world.submit(doc)
    if refusal is None:
        assert outcome.ok, outcome
        assert world.ledger.size == before["size"] + 1
    else:
        field, words = refusal
        assert not outcome.ok and outcome.field == field and words in outcome.message, outcome
        assert supply_snapshot(world.ledger) == before  # nothing stored
    assert world.ledger.verify(workers=1).ok


# -- what the rules change, and the reproductions --------------------------------------------

def test_a_tester_s_negative_retest_lifts_the_test_hold_and_the_stall_may_sell(
        world: World) -> None:
    world.sup.add(world.rapid("market-1"))
    assert world.hold_of() == (world.ledger.size - 1, "market-1")  # the tester placed it
    assert world.submit(world.sup.sale("stall-a01", [(LOT, "1")])).ok is False
    assert world.submit(world.rapid("market-1", delta_at="0.700", retest=True)).ok
    assert world.hold_of() == (None, None)
    assert world.submit(world.sup.sale("stall-a01", [(LOT, "1")])).ok


def test_a_recall_remembers_who_signed_it_until_it_is_lifted(world: World) -> None:
    assert world.submit(world.recall("farm-1", "farm-1.field")).ok
    assert world.recalled_by() == "farm-1"
    assert world.submit(world.recall("regulator-1", "regulator-1.office")).ok
    assert world.recalled_by() == "regulator-1"  # now only a regulator or the operator lifts it
    refused = world.submit(world.release("farm-1", "farm-1.field", scope="recall"))
    assert not refused.ok and "(regulator-1)" in refused.message
    assert world.submit(world.release("regulator-1", "regulator-1.office", scope="recall")).ok
    assert world.recalled_by() is None


def test_reproduction_a_farm_cannot_lift_the_operator_s_recall(world: World) -> None:
    """After the operator's `tracelib recall LOT`, a farm's token posted a release with scope
    recall at its own base: 201, the recall was lifted everywhere and a stall sold the lot."""
    result = recall(world.ledger, LOT, key=world.net.operator_key, reason="抽检不合格",
                    now=NOW)
    assert LOT in result.recalled_lots
    body = {"kind": "release", "actor": "farm-dy02", "location": "farm-dy02.base",
            "inputs": [{"lot": LOT, "qty": "0.000001", "unit": "kg"}],
            "data": {"reason": "no", "scope": "recall"}}
    doc = sign_event({"id": "release-by-farm", "time": "2026-11-22T09:00:00+08:00", **body},
                     world.net.keys["farm-dy02"])
    outcome = world.submit(doc)
    assert not outcome.ok and outcome.field == "inputs[0].lot"
    assert ("farm-dy02 (farm) may not lift a recall of LOT-1: only a regulator, the operator, "
            "or the party that recalled it (operator)") in outcome.message
    assert world.recalled_by() == "operator"
    sale = world.submit(world.sup.sale("stall-a01", [(LOT, "1")]))
    assert not sale.ok and "is recalled" in sale.message


def test_reproduction_a_stall_cannot_recall_a_competitor_s_lot(world: World) -> None:
    """A stall recalled a lot of another stall that it never held: 201, and the competitor's
    page showed the recall."""
    outcome = world.submit(world.recall("stall-a01", "stall-a01", OTHER))
    assert not outcome.ok and outcome.field == "inputs[0].lot"
    assert "stall-a01 (stall) may not recall LOT-2" in outcome.message
    assert world.recalled_by(OTHER) is None
    assert world.submit(world.sup.sale("stall-a02", [(OTHER, "1")])).ok


def test_reproduction_a_stall_cannot_release_the_hold_its_positive_test_put_on(
        world: World) -> None:
    world.sup.add(world.rapid("market-1"))  # positive: held at stall-a01
    outcome = world.submit(world.release("stall-a01"))
    assert not outcome.ok and outcome.field == "inputs[0].lot"
    assert "may not release the hold a test put on LOT-1" in outcome.message
    assert world.hold_of()[1] == "market-1"
    assert not world.submit(world.sup.sale("stall-a01", [(LOT, "1")])).ok


def test_reproduction_a_stall_cannot_clear_a_hold_with_its_own_retest(world: World) -> None:
    world.sup.add(world.rapid("market-1"))
    outcome = world.submit(world.rapid("stall-a01", delta_at="0.700", retest=True))
    assert not outcome.ok and outcome.field == "actor"
    assert world.hold_of()[1] == "market-1"  # still held
    assert not world.submit(world.sup.sale("stall-a01", [(LOT, "1")])).ok


# -- the declarations -------------------------------------------------------------------------

def test_every_kind_declares_who_may_sign_it() -> None:
    """Each built-in kind fills in its own declaration (none is the everybody-anywhere
    default), and the event reference says it in words."""
    for name, spec in KINDS.items():
        assert isinstance(spec.signers, Signers)
        assert spec.signers != Signers(), name
        assert spec.signers.describe().endswith("."), name
    page = (Path(__file__).resolve().parents[1] / "docs" / "events.md").read_text("utf-8")
    assert page.count("**Who may sign**") == len(KINDS)


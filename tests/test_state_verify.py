"""``verify`` covers every derived table users see, and ``reindex`` repairs them.

Each forgery below is a direct edit of the database, as an attacker with write access
would make it, of a table that pages, traces and rules read: before, ``verify`` said OK
while the pages showed the forged rows and the rules went by them. Now ``verify`` names the
table, the row, the column and the record that should have produced the row, and
``reindex`` rebuilds the tables from the records, after which the ledger verifies and the
pages and rules tell the truth again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select, update

from tests.conftest import NOW
from tests.helpers import Network, Supply, forge_row, rechain
from tests.test_testing import ENZYME
from tracelib.errors import SignatureError, ValidationError
from tracelib.events import sign_event
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger
from tracelib.replay import CHAIN, DERIVED, OUTSIDE, TABLES, derived_tables
from tracelib.store.schema import keys, locations, lot_edges, lots, metadata, records, stock
from tracelib.store.schema import test_results as results_table
from tracelib.views.find import find
from tracelib.views.stall import stall_view
from tracelib.views.tracing import trace
from tracelib_cli.main import cli
from tracelib_service.stall import PROOF_PATH
from tracelib_service.state import metadata as service_metadata


def _rapid(sup: Supply, lot: str, stall: str, delta_at: str) -> dict[str, Any]:
    """A rapid test by market-1 at ``stall`` (0.300: positive, 0.760: negative)."""
    return sup.event("rapid_test", stall, actor="market-1", data={
        **ENZYME, "sample": "S", "lot": lot,
        "readings": {"delta_a0": "0.800", "delta_at": delta_at}})


@dataclass
class Scene:
    sup: Supply
    seqs: dict[str, int]

    @property
    def ledger(self) -> Ledger:
        return self.sup.ledger


def build_scene(network: Network) -> Scene:
    """Lots on two stalls, a split, a positive and a negative rapid test (the positive
    holds LOT-A at stall-a01), and a recall of one of the split's lots."""
    sup = Supply.build(network)
    seqs: dict[str, int] = {}

    def add(name: str, *events: dict[str, Any]) -> None:
        seqs[name] = sup.add(*events)[-1].seq

    add("origins", sup.origin("LOT-A", "100"), sup.origin("LOT-B", "100"))
    add("to-a01", *sup.move("farm-1.field", "stall-a01", [("LOT-A", "40")]))
    add("to-a02", *sup.move("farm-1.field", "stall-a02", [("LOT-B", "40")]))
    add("split", sup.transform("farm-1.field", [("LOT-A", "20")],
                               [("LOT-A1", "10"), ("LOT-A2", "10")]))
    add("a1-to-a01", *sup.move("farm-1.field", "stall-a01", [("LOT-A1", "5")]))
    add("positive", _rapid(sup, "LOT-A", "stall-a01", "0.300"))
    add("negative", _rapid(sup, "LOT-B", "stall-a02", "0.760"))
    add("recall", sup.recall("operator.office", [("LOT-A1", "10")]))
    assert network.ledger.verify(workers=1).ok
    return Scene(sup, seqs)


@pytest.fixture
def scene(network: Network) -> Scene:
    return build_scene(network)


def _run(ledger: Ledger, *statements: Any) -> None:
    with ledger.store.engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def _stall(ledger: Ledger, stall: str) -> dict[str, Any]:
    return stall_view(ledger, stall, today=NOW.date(), proof_url=PROOF_PATH)


def _refused(scene: Scene, event: dict[str, Any], match: str,
             error: type[Exception] = ValidationError) -> bool:
    """Whether appending ``event`` is refused with ``match`` in the message (nothing is
    stored either way that matters: a refused append stores nothing)."""
    try:
        scene.sup.add(event)
    except error as e:
        return match in str(e)
    return False


# -- the forgeries of the issue -----------------------------------------------------------------

@dataclass(frozen=True)
class Forgery:
    name: str
    table: str
    forge: Callable[[Scene], None]
    # What users see, true of the honest ledger and false of the forged one.
    truth: Callable[[Scene], bool]
    seq: str | None = None  # the scene's record that should have produced the forged row
    # ``truth`` only reads (pages, traces): it is shown false before the repair too. (One
    # that appends is not run on the forged ledger: an accepted append there would be a
    # record the rules refuse, which no reindex can repair.)
    reads_only: bool = False
    column: str | None = None  # the forged column verify names, where one is


def _certificates_found(scene: Scene, number: str) -> list[str]:
    """The lots the console's Find shows for a certificate number."""
    return [m.lot or "" for m in find(scene.ledger, number) if m.kind == "certificate"]


def _attacker_key_for_stall(scene: Scene) -> None:
    attacker = SigningKey.generate()
    scene.sup.net.keys["attacker"] = attacker
    _run(scene.ledger, update(keys).where(keys.c.party == "stall-a01")
         .values(public_key=attacker.public.raw))


def _forged_sale_refused(scene: Scene) -> bool:
    attacker = scene.sup.net.keys.get("attacker") or SigningKey.generate()
    real = scene.sup.net.keys["stall-a01"]
    doc = scene.sup.event("sale", "stall-a01", inputs=[("LOT-A1", "1")],
                          data={"receipt": "R-forged"}, sign=False)
    signed = sign_event(doc, attacker)
    signed["sig"]["key"] = real.key_id  # the stall's key id, the attacker's signature
    return _refused(scene, signed, "signature does not verify", SignatureError)


FORGERIES = [
    Forgery("hold removed from stock", "stock",
            lambda s: _run(s.ledger, update(stock).where(
                stock.c.lot == "LOT-A", stock.c.location == "stall-a01").values(
                hold_seq=None, hold_reason=None, hold_cause=None)),
            lambda s: ("LOT-A" in [h["lot"] for h in _stall(s.ledger, "stall-a01")["holds"]]
                       and _refused(s, s.sup.sale("stall-a01", [("LOT-A", "1")]), "on hold")),
            seq="positive"),
    Forgery("positive test result changed to negative", "test_results",
            lambda s: _run(s.ledger, update(results_table).where(
                results_table.c.seq == s.seqs["positive"]).values(result="negative")),
            lambda s: [t["result"] for t in stall_view(
                s.ledger, "stall-a01", today=date(2026, 11, 20), proof_url=PROOF_PATH)["tests"]]
            == ["positive"],
            seq="positive", reads_only=True),
    Forgery("location name changed", "locations",
            lambda s: _run(s.ledger, update(locations).where(
                locations.c.id == "stall-a01").values(name="假冒摊位")),
            lambda s: _stall(s.ledger, "stall-a01")["stall"]["name"] == "张记蔬菜",
            reads_only=True),
    Forgery("location holder changed", "locations",
            lambda s: _run(s.ledger, update(locations).where(
                locations.c.id == "stall-a01").values(holder="stall-a02")),
            lambda s: _refused(s, s.sup.event("sale", "stall-a01", inputs=[("LOT-A1", "1")],
                                              actor="stall-a02", data={"receipt": "R-x"}),
                               "does not hold")),
    Forgery("lot_edges rows deleted", "lot_edges",
            lambda s: _run(s.ledger, delete(lot_edges)),
            lambda s: set(trace(s.ledger, "LOT-A").downstream_lots) == {"LOT-A1", "LOT-A2"},
            seq="split", reads_only=True),
    Forgery("on-hand raised by 1,000 kg", "stock",
            lambda s: _run(s.ledger, update(stock).where(
                stock.c.lot == "LOT-B", stock.c.location == "stall-a02").values(
                on_hand=stock.c.on_hand + 1_000_000_000)),
            lambda s: _refused(s, s.sup.sale("stall-a02", [("LOT-B", "1000")]), "on hand"),
            seq="to-a02"),
    Forgery("recalled lot's flag cleared", "lots",
            lambda s: _run(s.ledger, update(lots).where(lots.c.lot == "LOT-A1")
                           .values(recalled_seq=None)),
            lambda s: _refused(s, s.sup.sale("stall-a01", [("LOT-A1", "1")]), "recalled"),
            seq="recall"),
    Forgery("certificate number changed", "lots",
            lambda s: _run(s.ledger, update(lots).where(lots.c.lot == "LOT-A")
                           .values(certificate_no="HGZ-LOT-B")),
            lambda s: (_certificates_found(s, "HGZ-LOT-A") == ["LOT-A"]
                       and _certificates_found(s, "HGZ-LOT-B") == ["LOT-B"]),
            reads_only=True, column="certificate_no"),
    Forgery("keys table pointed at another key", "keys",
            _attacker_key_for_stall, _forged_sale_refused),
]


@pytest.mark.parametrize("forgery", FORGERIES, ids=[f.name for f in FORGERIES])
def test_a_forged_derived_table_fails_verify_and_reindex_repairs_it(
        scene: Scene, forgery: Forgery) -> None:
    ledger = scene.ledger
    size = ledger.size
    if forgery.reads_only:
        assert forgery.truth(scene)
    forgery.forge(scene)
    if forgery.reads_only:
        assert not forgery.truth(scene), "the forgery does not change what users see"
    report = ledger.verify(workers=1)
    assert not report.ok
    assert report.table == forgery.table, report.problem
    assert report.problem is not None and f"table {forgery.table}, row (" in report.problem
    if forgery.seq is not None:
        assert report.bad_seq == scene.seqs[forgery.seq], report.problem
    if forgery.column is not None:
        assert report.column == forgery.column, report.problem
    ledger.reindex()
    assert ledger.size == size
    repaired = ledger.verify(workers=1)
    assert repaired.ok, repaired.problem
    assert forgery.truth(scene), "pages or rules still read the forged table"
    assert ledger.verify(workers=1).ok


def test_verify_names_the_row_and_column(scene: Scene) -> None:
    _run(scene.ledger, update(stock).where(stock.c.lot == "LOT-B",
                                           stock.c.location == "stall-a02")
         .values(on_hand=stock.c.on_hand + 1_000_000_000))
    report = scene.ledger.verify(workers=1)
    assert (report.table, report.column) == ("stock", "on_hand")
    assert report.row is not None
    assert (report.row["lot"], report.row["location"]) == ("LOT-B", "stall-a02")
    assert report.problem is not None
    assert "column on_hand is 1040000000 where the records give 40000000" in report.problem
    assert report.to_dict()["table"] == "stock"


def test_verify_names_a_missing_row_and_a_row_no_record_produced(scene: Scene) -> None:
    ledger = scene.ledger
    _run(ledger, delete(lot_edges).where(lot_edges.c.child == "LOT-A2"))
    report = ledger.verify(workers=1)
    assert report.table == "lot_edges" and report.column is None
    assert report.problem is not None and "row missing (produced by seq" in report.problem
    assert report.bad_seq == scene.seqs["split"]
    ledger.reindex()
    _run(ledger, insert(lot_edges).values(parent="LOT-B", child="LOT-A1", seq=5))
    report = ledger.verify(workers=1)
    assert report.table == "lot_edges" and report.bad_seq is None
    assert report.problem is not None and "row not produced by any record" in report.problem
    assert report.row == {"parent": "LOT-B", "child": "LOT-A1"}


def test_a_signed_record_the_rules_refuse_is_named_by_its_seq(scene: Scene) -> None:
    """A record written into the chain directly, signed with the stall's real key and
    chained correctly, but selling stock the stall does not have: only the rules catch it."""
    ledger = scene.ledger
    size = ledger.size
    with ledger.store.engine.connect() as conn:
        prev = bytes(conn.execute(select(records.c.hash)
                                  .where(records.c.seq == size - 1)).scalar_one())
    oversale = scene.sup.sale("stall-a02", [("LOT-B", "1000")])
    _run(ledger, insert(records).values(**forge_row(size, prev, oversale,
                                                    "2026-11-22T06:00:00.000000Z")))
    rechain(ledger, size)
    report = ledger.verify(workers=1)
    assert not report.ok and report.bad_seq == size
    assert report.problem is not None and "refuse" in report.problem


def test_limits_table_forged_or_switched_is_found(network: Network) -> None:
    from tracelib.limit_tables import load_table
    from tracelib.standards._common import data_text
    from tracelib.store.schema import limit_tables, meta

    ledger = network.ledger
    csv_text = data_text("pesticide_mrl.csv").read()
    loaded = load_table(ledger, csv_text, "starter-copy", key=network.operator_key, now=NOW)
    assert ledger.verify(workers=1).ok
    # The table's text is in the signed limits event: a stored copy edited (even with its
    # SHA-256 made to match) is not what the record gives.
    forged = csv_text + "\n"
    _run(ledger, update(limit_tables).values(
        csv=forged, sha256=hashlib.sha256(forged.encode()).hexdigest()))
    report = ledger.verify(workers=1)
    assert report.table == "limit_tables" and report.column == "sha256"
    assert report.bad_seq == loaded.seq, report.problem
    _run(ledger, update(limit_tables).values(csv=csv_text, sha256=loaded.sha256))
    _run(ledger, delete(meta).where(meta.c.name == "limits_version"))
    report = ledger.verify(workers=1)
    assert report.table == "meta" and report.row == {"name": "limits_version"}
    ledger.reindex()
    assert ledger.verify(workers=1).ok


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_forgeries_found_and_repaired_on_postgresql(scene: Scene) -> None:
    ledger = scene.ledger
    assert ledger.store.dialect == "postgresql"
    _run(ledger, delete(lot_edges),
         update(lots).where(lots.c.lot == "LOT-A1").values(recalled_seq=None))
    report = ledger.verify()
    assert report.table == "lots" and report.bad_seq == scene.seqs["recall"], report.problem
    ledger.reindex()
    assert ledger.verify().ok
    assert set(trace(ledger, "LOT-A").downstream_lots) == {"LOT-A1", "LOT-A2"}
    assert _refused(scene, scene.sup.sale("stall-a01", [("LOT-A1", "1")]), "recalled")


# -- the CLI ------------------------------------------------------------------------------------

@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_verify_names_the_table_and_reindex_repairs(scene: Scene, db_url: str) -> None:
    _run(scene.ledger, update(locations).where(locations.c.id == "stall-a01")
         .values(holder="stall-a02"))
    runner = CliRunner()
    failed = runner.invoke(cli, ["--db", db_url, "verify", "--workers", "1"])
    assert failed.exit_code == 1
    assert "table locations, row (id='stall-a01'): column holder is 'stall-a02'" in failed.output
    repaired = runner.invoke(cli, ["--db", db_url, "reindex"])
    assert repaired.exit_code == 0, repaired.output
    assert f"rebuilt from {scene.ledger.size} records" in repaired.output
    ok = runner.invoke(cli, ["--db", db_url, "verify", "--workers", "1"])
    assert ok.exit_code == 0 and "every derived table verified" in ok.output


# -- which tables are ledger state -------------------------------------------------------------

def test_every_table_is_declared_ledger_state_or_not() -> None:
    in_schema = set(metadata.tables) | set(service_metadata.tables) | {"alembic_version"}
    assert in_schema == set(TABLES), "declare each table in tracelib.replay.TABLES"
    assert set(TABLES.values()) == {CHAIN, DERIVED, OUTSIDE}
    assert {t.name for t in derived_tables()} == {n for n, r in TABLES.items() if r == DERIVED}


def test_docs_list_every_declared_table() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "integrity.md").read_text("utf-8")
    for name in TABLES:
        assert f"`{name}`" in page, name


def test_from_canonical_validates_as_from_stored(scene: Scene) -> None:
    """Verify's replay rebuilds events from bodies its workers proved canonical: the same
    events as the strict path, and the same schema refusals."""
    from tracelib import canonical
    from tracelib.events import Event

    with scene.ledger.store.engine.connect() as conn:
        rows = conn.execute(select(records.c.body, records.c.key_id, records.c.signature)
                            .order_by(records.c.seq)).all()
    for body, key_id, signature in rows:
        fast = Event.from_canonical(bytes(body), key_id, bytes(signature))
        assert fast == Event.from_stored(bytes(body), key_id, bytes(signature))
    doc = canonical.loads(bytes(rows[-1][0]))
    doc["inputs"][0]["qty"] = "-1"
    bad = canonical.dumps(doc)
    for parse in (Event.from_canonical, Event.from_stored):
        with pytest.raises(ValidationError) as raised:
            parse(bad, rows[-1][1], bytes(rows[-1][2]))
        assert raised.value.field == "inputs[0].qty"


def test_records_appended_while_verify_runs_are_replayed_before_comparing(
        scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger in use: records appended after verify read the size are in the tables it
    compares at the end, so their rows are replayed too (no false alarm)."""
    from tracelib.replay import ScratchReplay

    compare = ScratchReplay.compare

    def append_then_compare(self: ScratchReplay) -> Any:
        scene.sup.add(scene.sup.origin("LOT-LATE", "5"))
        return compare(self)

    monkeypatch.setattr(ScratchReplay, "compare", append_then_compare)
    size = scene.ledger.size
    report = scene.ledger.verify(workers=1)
    assert report.ok, report.problem
    assert report.size == size and scene.ledger.size == size + 1

"""Ledgers that hand lots to each other (docs/contract.md "Peers and entries from another
ledger"): peers, the citing entry accepted and refused on each check, B witnessing A,
verify and replay re-checking every citation, and the drill that follows a lot."""

from __future__ import annotations

import base64
import copy
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tracelib import canonical
from tracelib.errors import NotFoundError, ValidationError
from tracelib.events import sign_event
from tracelib.federation import LedgerPeer, PeerError, follow_drill, peers_of
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger
from tracelib.note import CosignatureVerifier, NoteVerifier, cosign_note
from tracelib.store.schema import peer_checkpoints, peer_citations
from tracelib.views.tracing import trace

from .federation_net import (
    NOW,
    A,
    B,
    C,
    City,
    Federation,
    build,
    city,
    enter,
    moves_of,
    sell_in,
    ship_from_a,
    truth_for,
)
from .helpers import forge_row, rechain, record_rows


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Federation]:
    federation = build(tmp_path)
    yield federation
    federation.close()


@pytest.fixture
def shipped(fed: Federation) -> dict[str, dict[str, Any]]:
    return ship_from_a(fed)


def _on_hand(ledger: Ledger, lot: str, place: str) -> int:
    found = trace(ledger, lot, back=False)
    return sum(loc.on_hand for loc in found.locations if loc.location == place)


# -- peers --------------------------------------------------------------------------------

def test_peers_are_registered_by_the_operator(fed: Federation) -> None:
    assert [(p.origin, p.vkey) for p in peers_of(fed.b.ledger)] == [
        (A, fed.a.vkey), (C, fed.c.vkey)]


@pytest.mark.parametrize(("peer", "message"), [
    ({"vkey": "not a key"}, "not a C2SP verifier key"),
    ({"origin": "tracelib/elsewhere"}, "not the peer's origin"),
    ({"url": "ftp://example.org"}, "http:// or https://"),
])
def test_a_bad_peer_is_refused(fed: Federation, peer: dict[str, str], message: str) -> None:
    entry = {"origin": A, "vkey": fed.a.vkey, "url": "https://a.example.org", **peer}
    size = fed.b.ledger.size
    with pytest.raises(ValidationError, match=message):
        fed.b.add(fed.b.sign("operator", {"kind": "register", "location": "operator.office",
                                          "data": {"peers": [entry]}}))
    assert fed.b.ledger.size == size


def test_only_the_operator_registers_a_peer(fed: Federation) -> None:
    with pytest.raises(ValidationError, match="may not sign a register"):
        fed.b.add(fed.b.sign("b-market", {"kind": "register", "location": "b-market",
                                          "data": {"peers": [{"origin": "tracelib/x",
                                                              "vkey": fed.a.vkey,
                                                              "url": "https://x.org"}]}}))


# -- the citing entry ---------------------------------------------------------------------

def test_a_cited_ship_enters_and_verify_and_replay_recheck_it(
        fed: Federation, shipped: dict[str, dict[str, Any]]) -> None:
    b = fed.b
    receipt = b.add(enter(b, LedgerPeer(fed.a.ledger), shipped["b"]["id"], "b-market"))[0]
    assert _on_hand(b.ledger, "IMP-1-B", "b-market") == 250_000_000
    with b.ledger.store.reader() as conn:
        cited = conn.execute(select(peer_citations)).mappings().all()
        remembered = conn.execute(select(peer_checkpoints)).mappings().one()
    assert [(r["origin"], r["ship_event"], r["seq"]) for r in cited] == [
        (A, shipped["b"]["id"], receipt.seq)]
    assert remembered["size"] == fed.a.ledger.latest_checkpoint().size  # type: ignore[union-attr]
    b.checkpoint()
    report = b.ledger.verify(workers=1)
    assert report.ok, report.problem
    b.ledger.reindex()
    assert b.ledger.verify(workers=1).ok


class _Cosigned(LedgerPeer):
    """A's answers with its checkpoint cosigned by ``witness`` (as A serves it once the
    witness answered its add-checkpoint)."""

    def __init__(self, ledger: Ledger, witness: SigningKey | None) -> None:
        super().__init__(ledger)
        self.witness = witness

    def checkpoint_note(self) -> str:
        note = super().checkpoint_note()
        if self.witness is None:
            return note
        text = note[:note.index("\n\n") + 1]
        return note + cosign_note(text, "county-w1", self.witness, 1_796_000_000)


def test_a_peer_registered_with_a_witness_policy_needs_its_cosignatures(
        fed: Federation, shipped: dict[str, dict[str, Any]]) -> None:
    """docs/contract.md "Peers and entries from another ledger": a peer registered with a
    C2SP tlog-policy is accepted only with cosignatures meeting its quorum."""
    b = fed.b
    witness = SigningKey.generate()
    vkey = CosignatureVerifier.for_key("county-w1", witness.public).to_string()
    policy = f"witness w1 {vkey}\nquorum w1\n"
    b.add(b.sign("operator", {"kind": "register", "location": "operator.office", "data": {
        "peers": [{"origin": A, "vkey": fed.a.vkey, "url": "https://a.example.org",
                   "policy": policy}]}}))
    assert [p.policy for p in peers_of(b.ledger) if p.origin == A] == [policy]
    size = b.ledger.size
    with pytest.raises(ValidationError, match="not witnessed as its registration asks"):
        b.add(enter(b, _Cosigned(fed.a.ledger, None), shipped["b"]["id"], "b-market"))
    with pytest.raises(ValidationError, match="not witnessed"):  # a stranger's cosignature
        b.add(enter(b, _Cosigned(fed.a.ledger, SigningKey.generate()), shipped["b"]["id"],
                    "b-market"))
    assert b.ledger.size == size
    b.add(enter(b, _Cosigned(fed.a.ledger, witness), shipped["b"]["id"], "b-market"))
    assert _on_hand(b.ledger, "IMP-1-B", "b-market") == 250_000_000
    b.checkpoint()
    assert b.ledger.verify(workers=1).ok


def test_a_peer_policy_that_does_not_parse_is_refused(fed: Federation) -> None:
    with pytest.raises(ValidationError, match="not a C2SP tlog-policy"):
        fed.b.add(fed.b.sign("operator", {"kind": "register", "location": "operator.office",
                                          "data": {"peers": [{
                                              "origin": A, "vkey": fed.a.vkey,
                                              "url": "https://a.example.org",
                                              "policy": "quorum nobody\n"}]}}))


def _b64_edit(text: str, edit: Callable[[dict[str, Any]], None]) -> str:
    doc = canonical.loads(base64.b64decode(text))
    edit(doc)
    return base64.b64encode(canonical.dumps(doc)).decode()


def _resigned(note: str) -> str:
    """The note's text signed under A's name by a key A never registered."""
    from tracelib.note import sign_note

    return sign_note(note.split("\n\n")[0] + "\n", A, SigningKey.generate())


def _flip(hexes: list[str]) -> list[str]:
    return [("0" if hexes[0][0] != "0" else "1") + hexes[0][1:], *hexes[1:]]


MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown peer": (lambda d: d["data"].update(peer="tracelib/nowhere"), "unknown peer"),
    "note not signed by the peer": (
        lambda d: d["data"]["citation"].update(checkpoint=_resigned(
            d["data"]["citation"]["checkpoint"])),
        "not signed by the registered key"),
    "ship proof tampered": (
        lambda d: d["data"]["citation"].update(ship_proof=_flip(d["data"]["citation"]["ship_proof"])),
        "inclusion proof .* does not verify"),
    "ship record tampered": (
        lambda d: d["data"]["citation"].update(ship_record=_b64_edit(
            d["data"]["citation"]["ship_record"],
            lambda r: r["event"]["inputs"][0].update(qty="260"))),
        "inclusion proof .* does not verify"),
    "key record of another party": (
        lambda d: d["data"]["citation"].update(
            key_record=d["data"]["citation"]["ship_record"],
            key_proof=d["data"]["citation"]["ship_proof"]),
        "not a register"),
    "seq not the record's": (lambda d: d["data"].update(ship_seq=d["data"]["ship_seq"] - 1),
                             "does not verify"),
    "another quantity": (lambda d: d["outputs"][0].update(qty="200"),
                         "the outputs must be the lots and quantities shipped"),
    "another event id": (lambda d: d["data"].update(ship_event="a-ship-004"),
                         "not 'a-ship-004'"),
}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_a_bad_citation_is_refused_and_stores_nothing(
        fed: Federation, shipped: dict[str, dict[str, Any]], case: str) -> None:
    b = fed.b
    good = enter(b, LedgerPeer(fed.a.ledger), shipped["b"]["id"], "b-market")
    doc = copy.deepcopy({k: v for k, v in good.items() if k != "sig"})
    edit, message = MUTATIONS[case]
    edit(doc)
    size = b.ledger.size
    with pytest.raises(ValidationError, match=message):
        b.add(sign_event(doc, b.keys["b-market"]))
    assert b.ledger.size == size
    with b.ledger.store.reader() as conn:
        assert conn.execute(select(peer_citations)).first() is None


def test_a_ship_to_another_receiving_point_is_refused(
        fed: Federation, shipped: dict[str, dict[str, Any]]) -> None:
    c = fed.c
    # C's wholesaler tries to bring in the ship that went to B.
    with pytest.raises(ValidationError, match="the ship went to 'b-market'"):
        c.add(enter(c, LedgerPeer(fed.a.ledger), shipped["b"]["id"], "c-wholesale"))


def test_a_ship_enters_once(fed: Federation, shipped: dict[str, dict[str, Any]]) -> None:
    b = fed.b
    b.add(enter(b, LedgerPeer(fed.a.ledger), shipped["b"]["id"], "b-market"))
    again = enter(b, LedgerPeer(fed.a.ledger), shipped["b"]["id"], "b-market")
    again = sign_event({**{k: v for k, v in again.items() if k != "sig"},
                        "outputs": [{"lot": "IMP-1-B2", "qty": "250", "unit": "kg"}]},
                       b.keys["b-market"])
    with pytest.raises(ValidationError, match="already entered"):
        b.add(again)


def test_only_the_receiving_point_signs_the_entry(
        fed: Federation, shipped: dict[str, dict[str, Any]]) -> None:
    b = fed.b
    with pytest.raises(ValidationError, match="does not hold 'b-market'"):
        b.add(enter(b, LedgerPeer(fed.a.ledger), shipped["b"]["id"], "b-market",
                    actor="b-stall"))


# -- B witnesses A -----------------------------------------------------------------------

def test_b_follows_a_as_it_grows(fed: Federation, shipped: dict[str, dict[str, Any]]) -> None:
    """The second citation of A carries the consistency proof from the checkpoint B cited
    first, and B then remembers the newer one."""
    b, s = fed.b, fed.supply
    b.add(enter(b, LedgerPeer(fed.a.ledger), shipped["b"]["id"], "b-market"))
    first = fed.a.ledger.latest_checkpoint()
    s.add(s.origin("IMP-2", "10", location="port-1"))
    later = s.ship("port-1", "b-market", [("IMP-2", "10")])
    s.add(later)
    second = fed.a.checkpoint()
    assert first is not None and second.size > first.size
    doc = enter(b, LedgerPeer(fed.a.ledger), later["id"], "b-market")
    assert doc["data"]["citation"]["consistency"]
    b.add(doc)
    with b.ledger.store.reader() as conn:
        remembered = conn.execute(select(peer_checkpoints)).mappings().one()
    assert (remembered["size"], bytes(remembered["root"])) == (second.size, second.root)


def test_a_rolled_back_or_forked_peer_is_refused(
        fed: Federation, shipped: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """B remembers A's newest checkpoint it cited and refuses an older one (A rolled back)
    or one of another history under A's origin and key (A forked)."""
    a, b, s = fed.a, fed.b, fed.supply
    s.add(s.origin("IMP-2", "10", location="port-1"))
    extra = s.ship("port-1", "b-market", [("IMP-2", "10")])
    s.add(extra)
    old = a.checkpoint()
    for name in (f"{tmp_path / 'city-a.db'}{x}" for x in ("", "-wal", "-shm")):
        if Path(name).exists():
            shutil.copy(name, tmp_path / ("fork.db" + name.rsplit(".db", 1)[1]))
    s.add(s.origin("IMP-3", "10", location="port-1"))
    a.checkpoint()
    b.add(enter(b, LedgerPeer(a.ledger), shipped["b"]["id"], "b-market"))
    cited = a.ledger.latest_checkpoint()
    assert cited is not None
    # Rolled back: A shows its older checkpoint, in which the extra ship is.
    rolled = _cite_at(enter(b, LedgerPeer(a.ledger), extra["id"], "b-market"), a.ledger,
                      old.note, old.size)
    with pytest.raises(ValidationError, match=f"size {old.size}, older than size {cited.size}"):
        b.add(sign_event(rolled, b.keys["b-market"]))
    # Forked: the same prefix, then another history, signed with A's key.
    fork = Ledger.open(tmp_path / "fork.db", blobs=tmp_path / "fork.blobs")
    try:
        for n in range(3):
            fork.append([sign_event({"id": f"fork-{n}", "kind": "register",
                                     "time": NOW.isoformat(), "actor": "operator",
                                     "location": "operator.office",
                                     "data": {"parties": [{"id": f"p{n}", "name": "x",
                                                           "role": "farm"}]}},
                                    a.operator_key)], now=NOW)
        signed = fork.sign_checkpoint(a.operator_key, now=NOW)
        forked = _cite_at(enter(b, LedgerPeer(a.ledger), extra["id"], "b-market"), fork,
                          signed.note, signed.size)
        forked["data"]["citation"]["consistency"] = [
            h.hex() for h in fork.consistency_proof(cited.size, signed.size).proof]
    finally:
        fork.close()
    assert signed.size > cited.size
    with pytest.raises(ValidationError, match="is not consistent with size"):
        b.add(sign_event(forked, b.keys["b-market"]))


def _cite_at(signed: dict[str, Any], ledger: Ledger, note: str, size: int) -> dict[str, Any]:
    """The entry ``signed`` (unsigned again) citing ``ledger``'s checkpoint ``note``."""
    doc = {k: v for k, v in signed.items() if k != "sig"}
    cite = doc["data"]["citation"]
    key_seq = canonical.loads(base64.b64decode(cite["key_record"]))["seq"]
    cite.update(checkpoint=note,
                ship_proof=[h.hex() for h in ledger.inclusion_proof(doc["data"]["ship_seq"],
                                                                    size).proof],
                key_proof=[h.hex() for h in ledger.inclusion_proof(key_seq, size).proof])
    cite.pop("consistency", None)
    return doc


# -- verify re-checks every citation --------------------------------------------------------

def test_verify_refuses_a_citation_written_around_the_rules(
        fed: Federation, shipped: dict[str, dict[str, Any]]) -> None:
    """An insider with the database and the receiving party's key writes a peer_entry whose
    proof does not verify straight into the records (chain and tree rebuilt): verify's
    replay runs the citation rules again and names the record."""
    b = fed.b
    good = enter(b, LedgerPeer(fed.a.ledger), shipped["b"]["id"], "b-market")
    doc = {k: v for k, v in good.items() if k != "sig"}
    doc["data"]["citation"]["ship_proof"] = _flip(doc["data"]["citation"]["ship_proof"])
    forged = sign_event(doc, b.keys["b-market"])
    rows = record_rows(b.ledger)
    from sqlalchemy import insert

    from tracelib.store.schema import records

    row = forge_row(len(rows), bytes(rows[-1]["hash"]), forged,
                    recorded_at="2026-11-22T12:00:01.000000Z")
    with b.ledger.store.engine.begin() as conn:
        conn.execute(insert(records), [row])
    rechain(b.ledger, len(rows))
    report = b.ledger.verify(workers=1)
    assert not report.ok
    assert report.bad_seq == len(rows)
    assert "inclusion proof" in (report.problem or "")


def test_verify_notices_an_edited_remembered_checkpoint(
        fed: Federation, shipped: dict[str, dict[str, Any]]) -> None:
    b = fed.b
    b.add(enter(b, LedgerPeer(fed.a.ledger), shipped["b"]["id"], "b-market"))
    with b.ledger.store.engine.begin() as conn:
        conn.execute(update(peer_checkpoints).values(size=1))
    report = b.ledger.verify(workers=1)
    assert not report.ok and report.table == "peer_checkpoints"


# -- the drill that follows the lot ---------------------------------------------------------

def _sources(fed: Federation) -> dict[str, LedgerPeer]:
    return {c.origin: LedgerPeer(c.ledger) for c in (fed.a, fed.b, fed.c)}


@pytest.mark.parametrize(("home", "lot"), [(A, "IMP-1"), (B, "IMP-1-B"), (C, "IMP-1-C")])
def test_the_followed_drill_equals_the_ground_truth(
        fed: Federation, shipped: dict[str, dict[str, Any]], home: str, lot: str) -> None:
    sell_in(fed)
    drill = follow_drill(fed.cities[home].ledger, lot, sources=_sources(fed))
    family, moves = truth_for((home, lot))
    assert drill.family() == family
    assert moves_of(drill) == moves
    assert not drill.unfollowed
    crossing = {(c.source, c.ship_event, c.target) for c in drill.crossings}
    expected = {(A, "a-ship-003", B), (A, "a-ship-004", C)}
    assert crossing == (expected if lot == "IMP-1" else
                        {x for x in expected if x[2] == home})


class _Tampering(LedgerPeer):
    def __init__(self, ledger: Ledger, edit: Callable[[dict[str, Any]], None]) -> None:
        super().__init__(ledger)
        self.edit = edit

    def lot_records(self, lot: str) -> dict[str, Any] | None:
        answer = super().lot_records(lot)
        assert answer is not None
        self.edit(answer)
        return answer


def _edit_record(answer: dict[str, Any]) -> None:
    item = next(r for r in answer["records"]
                if canonical.loads(base64.b64decode(r["record"]))["event"]["kind"] == "ship")
    item["record"] = _b64_edit(item["record"], lambda r: r["event"]["data"].update(to="elsewhere"))


def _edit_proof(answer: dict[str, Any]) -> None:
    answer["records"][0]["proof"] = _flip(answer["records"][0]["proof"])


def _edit_note(answer: dict[str, Any]) -> None:
    other = SigningKey.generate()
    from tracelib.note import sign_note

    text = answer["checkpoint"].split("\n\n")[0] + "\n"
    answer["checkpoint"] = sign_note(text, A, other)


@pytest.mark.parametrize(("edit", "message"), [
    (_edit_record, "record .* does not verify"), (_edit_proof, "record .* does not verify"),
    (_edit_note, "its checkpoint does not verify")])
def test_a_tampered_answer_fails_the_drill_naming_the_peer(
        fed: Federation, shipped: dict[str, dict[str, Any]],
        edit: Callable[[dict[str, Any]], None], message: str) -> None:
    sell_in(fed)
    sources: dict[str, Any] = _sources(fed)
    sources[A] = _Tampering(fed.a.ledger, edit)
    with pytest.raises(PeerError, match=f"peer '{A}': {message}"):
        follow_drill(fed.b.ledger, "IMP-1-B", sources=sources)


def test_a_drill_of_an_unknown_lot_is_refused(fed: Federation) -> None:
    with pytest.raises(NotFoundError):
        follow_drill(fed.a.ledger, "NOPE", sources=_sources(fed))


def test_a_ledger_without_peers_drills_alone(tmp_path: Path) -> None:
    alone = city(tmp_path, "tracelib/alone")
    try:
        assert peers_of(alone.ledger) == []
        assert NoteVerifier.parse(alone.vkey).name == "tracelib/alone"
    finally:
        alone.ledger.close()


# -- the CLI ------------------------------------------------------------------------------

def _cli(fed: Federation, tmp_path: Path, *args: str) -> Any:
    from click.testing import CliRunner

    from tracelib.keys import Keystore
    from tracelib_cli.main import cli

    store = Keystore(tmp_path / "keys-b")
    if not store.has_party("operator"):
        store.save("operator", fed.b.operator_key)
        store.save("b-market", fed.b.keys["b-market"])
    return CliRunner().invoke(cli, ["--db", str(tmp_path / "city-b.db"), "--keystore",
                                    str(store.path), "--blobs", str(tmp_path / "city-b.blobs"),
                                    *args])


def test_the_cli_registers_lists_and_prints_peers(fed: Federation, tmp_path: Path) -> None:
    printed = _cli(fed, tmp_path, "peer", "vkey")
    assert printed.exit_code == 0, printed.output
    assert printed.output.strip() == fed.b.vkey
    other = SigningKey.generate()
    vkey = NoteVerifier.for_key("tracelib/city-d", other.public).to_string()
    added = _cli(fed, tmp_path, "peer", "add", "tracelib/city-d", vkey, "https://d.example.cn")
    assert added.exit_code == 0, added.output
    listed = _cli(fed, tmp_path, "peer", "list", "--json")
    assert "tracelib/city-d" in [p["origin"] for p in json.loads(listed.output)]
    witness = CosignatureVerifier.for_key("county-w1", SigningKey.generate().public)
    policy = tmp_path / "policy.txt"
    policy.write_text(f"witness w1 {witness.to_string()}\nquorum w1\n", encoding="utf-8")
    again = _cli(fed, tmp_path, "peer", "add", "tracelib/city-d", vkey, "https://d.example.cn",
                 "--policy", str(policy))
    assert again.exit_code == 0, again.output
    listed = _cli(fed, tmp_path, "peer", "list", "--json")
    assert [p["policy"] for p in json.loads(listed.output)
            if p["origin"] == "tracelib/city-d"] == [policy.read_text(encoding="utf-8")]


@pytest.mark.parametrize(("args", "message"), [
    (("peer", "add", "tracelib/city-d", "not-a-key", "https://d.example.cn"),
     "not a C2SP verifier key"),
    (("peer", "receive", "--peer", "tracelib/nowhere", "--ship", "s", "--at", "b-market",
      "--product", "x"), "unknown peer 'tracelib/nowhere'"),
    (("peer", "receive", "--peer", A, "--ship", "s", "--at", "b-market", "--product", "x"),
     f"peer '{A}' at http://127.0.0.1:1 does not answer"),
    (("peer", "notify", "--peer", A, "--recall", "genesis-operator"), "not a recall"),
    (("peer", "receive", "--peer", A, "--ship", "s", "--at", "b-market", "--product", "x",
      "--peer-token", "no-equals-sign"), "ORIGIN=TOKEN"),
])
def test_the_cli_refuses_in_one_line(fed: Federation, tmp_path: Path, args: tuple[str, ...],
                                     message: str) -> None:
    size = fed.b.ledger.size
    result = _cli(fed, tmp_path, *args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert fed.b.ledger.size == size


@pytest.mark.postgres
def test_a_peer_entry_on_postgresql_verifies(fed: Federation, tmp_path: Path,
                                             pg_url: str) -> None:
    """The same citation appended to a ledger on PostgreSQL, replayed by verify."""
    shipped = ship_from_a(fed)
    key = SigningKey.generate()
    ledger = Ledger.create(pg_url, operator_key=key, operator="operator", origin=B,
                           now=NOW, blobs=tmp_path / "pg.blobs")
    try:
        on_pg = City(B, ledger, key)
        on_pg.register([("b-market", "B市农产品批发市场", "market")],
                       [{"id": "b-market", "name": "B市农产品批发市场",
                         "type": "wholesale_market", "holder": "b-market"}])
        on_pg.add_peer(fed.a)
        on_pg.add(enter(on_pg, LedgerPeer(fed.a.ledger), shipped["b"]["id"], "b-market"))
        on_pg.checkpoint()
        report = ledger.verify(workers=1)
        assert report.ok, report.problem
        with ledger.store.reader() as conn:
            assert conn.execute(select(peer_citations.c.ship_event)).scalars().all() == [
                shipped["b"]["id"]]
    finally:
        ledger.close()


def test_the_picture_draws_each_ledger_as_a_region_whatever_the_names(
        fed: Federation, shipped: dict[str, dict[str, Any]]) -> None:
    import xml.dom.minidom

    from tracelib.federation import federation_picture
    from tracelib.report.federation import (
        FederationEdge,
        FederationPicture,
        Region,
        render_federation_svg,
    )

    sell_in(fed)
    drill = follow_drill(fed.a.ledger, "IMP-1", sources=_sources(fed))
    picture = federation_picture(drill)
    assert [r.origin for r in picture.regions] == [A, B, C]  # home first
    assert {e.target for e in picture.edges if e.crossing} == {(B, "b-market"),
                                                                (C, "c-wholesale")}
    hostile = FederationPicture("L<1>&", (Region("x/<a>&\x01", ("p\"1", "p<2>")),),
                                (FederationEdge(("x/<a>&\x01", "p\"1"), ("x/<a>&\x01", "p<2>"),
                                                "5 kg <&>"),))
    doc = xml.dom.minidom.parseString(render_federation_svg(hostile).encode("utf-8"))
    assert len(doc.getElementsByTagName("g")) == 1

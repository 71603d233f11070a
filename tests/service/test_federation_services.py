"""Three ledgers — city A with its import port, city B, wholesale market C — as three
services on real HTTP servers: a lot imported and split in A enters B through B's API and C
through the CLI, each fetching the citation from A's API; the drill followed from either end
equals the ground truth across all three; a tampered answer of A fails the drill, naming A
(docs/contract.md "Peers and entries from another ledger")."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from tests.federation_net import (
    NOW,
    A,
    B,
    C,
    City,
    Federation,
    build,
    move_and_sell,
    moves_of,
    ship_from_a,
    truth_for,
)
from tracelib import canonical
from tracelib.errors import PeerError
from tracelib.federation import HttpPeer, follow_drill
from tracelib.keys import Keystore
from tracelib_cli.main import cli
from tracelib_service import create_app
from tracelib_service.tokens import issue_token

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _serve(app: Wsgi) -> tuple[BaseWSGIServer, str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def _keystore(tmp_path: Path, one: City) -> Keystore:
    store = Keystore(tmp_path / f"keys-{one.origin.split('/')[1]}")
    store.save("operator", one.operator_key)
    for party, key in one.keys.items():
        store.save(party, key)
    return store


class Tampering:
    """A proxy in front of A's service that edits what it answers about a lot's records."""

    def __init__(self, app: Flask, edit: Callable[[dict[str, Any]], None]) -> None:
        self.app = app
        self.edit = edit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").endswith("/records"):
            return self.app(environ, start_response)
        response = self.app.test_client().get(
            environ["PATH_INFO"], headers={"Authorization": environ.get("HTTP_AUTHORIZATION",
                                                                        "")})
        doc = response.get_json()
        self.edit(doc)
        body = json.dumps(doc).encode()
        start_response(f"{response.status_code} OK", [("Content-Type", "application/json"),
                                                      ("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    fed = build(tmp_path)
    apps: dict[str, Flask] = {}
    servers: list[BaseWSGIServer] = []
    urls: dict[str, str] = {}
    stores: dict[str, Keystore] = {}
    for one in (fed.a, fed.b, fed.c):
        stores[one.origin] = _keystore(tmp_path, one)
        app = create_app({"TESTING": True, "DB": str(tmp_path / f"{one.origin.split('/')[1]}.db"),
                          "KEYSTORE": str(stores[one.origin].path), "NOW": NOW,
                          "BLOBS": str(tmp_path / f"{one.origin.split('/')[1]}.blobs")})
        apps[one.origin] = app
        server, urls[one.origin] = _serve(app)
        servers.append(server)
    # Each operator gives the other two a read:all token for its API; re-registering a
    # peer with its real URL replaces the one registered before.
    readers = {o: issue_token(app, "operator", scopes=("read:all",)) for o, app in apps.items()}
    for one in (fed.a, fed.b, fed.c):
        for other in (fed.a, fed.b, fed.c):
            if other is not one:
                one.add_peer(other, urls[other.origin])
        apps[one.origin].config["PEER_TOKENS"] = " ".join(
            f"{o}={t}" for o, t in readers.items() if o != one.origin)
    yield {"fed": fed, "apps": apps, "urls": urls, "readers": readers, "stores": stores,
           "tmp": tmp_path}
    for server in servers:
        server.shutdown()
    for app in apps.values():
        app.extensions["tracelib"].close()
    fed.close()


def _trade(world: dict[str, Any]) -> Federation:
    """A ships to B and C; B enters through its API, C through the CLI; both sell."""
    fed: Federation = world["fed"]
    shipped = ship_from_a(fed)
    b_app: Flask = world["apps"][B]
    token = issue_token(b_app, "b-market", scopes=("write",))
    response = b_app.test_client().post(
        "/api/v1/peers/receive", headers={"Authorization": f"Bearer {token}"},
        json={"peer": A, "ship_event": shipped["b"]["id"], "location": "b-market",
              "product": "冻牛肉", "storage": "frozen"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["outputs"] == [{"lot": "IMP-1-B", "qty": "250", "unit": "kg"}]
    tmp = world["tmp"]
    result = CliRunner().invoke(cli, [
        "--db", str(tmp / "wholesale-c.db"), "--keystore", str(world["stores"][C].path),
        "--blobs", str(tmp / "wholesale-c.blobs"), "peer", "receive", "--peer", A,
        "--ship", shipped["c"]["id"], "--at", "c-wholesale", "--product", "冻牛肉",
        "--peer-token", f"{A}={world['readers'][A]}"])
    assert result.exit_code == 0, result.output
    assert "IMP-1-C 150 kg" in result.output
    fed.c.count += 1  # the CLI's entry took an event of C
    move_and_sell(fed)
    return fed


def test_three_services_hand_a_lot_over_and_the_drill_follows_it(
        world: dict[str, Any]) -> None:
    fed = _trade(world)
    tokens = world["readers"]
    for home, lot in ((A, "IMP-1"), (C, "IMP-1-C"), (B, "IMP-1-B")):
        drill = follow_drill(fed.cities[home].ledger, lot, tokens=tokens)
        family, moves = truth_for((home, lot))
        assert drill.family() == family, home
        assert moves_of(drill) == moves, home
        assert not drill.unfollowed
    for one in (fed.a, fed.b, fed.c):
        assert one.ledger.verify(workers=1).ok


def test_the_cli_drill_follows_and_draws_the_ledgers_as_regions(world: dict[str, Any]) -> None:
    fed = _trade(world)
    tmp = world["tmp"]
    out = tmp / "drill-a"
    result = CliRunner().invoke(cli, [
        "--db", str(tmp / "city-a.db"), "--keystore", str(world["stores"][A].path),
        "--blobs", str(tmp / "city-a.blobs"), "drill", "IMP-1", "--follow", "--no-record",
        "--out", str(out), *[f"--peer-token={o}={t}" for o, t in world["readers"].items()]])
    assert result.exit_code == 0, result.output
    assert "followed across 3 ledgers" in result.output
    summary = json.loads((out / "federation.json").read_text("utf-8"))
    assert [p["origin"] for p in summary["ledgers"]] == sorted([A, B, C])
    svg = (out / "federation.svg").read_text("utf-8")
    assert svg.count('class="region"') == 3
    assert svg.count('class="crossing"') == 2
    assert fed.a.ledger.size > 0


def _flip_first_proof(doc: dict[str, Any]) -> None:
    first = doc["records"][0]["proof"][0]
    doc["records"][0]["proof"][0] = ("0" if first[0] != "0" else "1") + first[1:]


def _change_a_ship(doc: dict[str, Any]) -> None:
    for item in doc["records"]:
        record = canonical.loads(base64.b64decode(item["record"]))
        if record["event"]["kind"] == "ship":
            record["event"]["inputs"][0]["qty"] = "1"
            item["record"] = base64.b64encode(canonical.dumps(record)).decode()
            return


@pytest.mark.parametrize("edit", [_flip_first_proof, _change_a_ship])
def test_a_tampered_answer_from_a_fails_the_drill(world: dict[str, Any],
                                                  edit: Callable[[dict[str, Any]], None]) -> None:
    fed = _trade(world)
    server, url = _serve(Tampering(world["apps"][A], edit))
    try:
        sources = {A: HttpPeer(url, A, world["readers"][A])}
        with pytest.raises(PeerError, match=f"peer '{A}': record .* does not verify"):
            follow_drill(fed.b.ledger, "IMP-1-B", sources=sources, tokens=world["readers"])
    finally:
        server.shutdown()


def test_receiving_an_unknown_peer_or_ship_is_refused(world: dict[str, Any]) -> None:
    fed: Federation = world["fed"]
    ship_from_a(fed)
    b_app: Flask = world["apps"][B]
    token = issue_token(b_app, "b-market", scopes=("write",))
    client = b_app.test_client()
    size = fed.b.ledger.size
    unknown_peer = client.post("/api/v1/peers/receive",
                               headers={"Authorization": f"Bearer {token}"},
                               json={"peer": "tracelib/nowhere", "ship_event": "a-ship-003",
                                     "location": "b-market", "product": "冻牛肉"})
    assert unknown_peer.status_code == 422
    unknown_ship = client.post("/api/v1/peers/receive",
                               headers={"Authorization": f"Bearer {token}"},
                               json={"peer": A, "ship_event": "no-such-ship",
                                     "location": "b-market", "product": "冻牛肉"})
    assert unknown_ship.status_code == 502
    assert A in unknown_ship.get_json()["detail"]
    no_token = client.post("/api/v1/peers/receive", json={"peer": A})
    assert no_token.status_code == 401
    assert fed.b.ledger.size == size


def test_a_recall_in_a_notifies_b_whose_regulator_recalls_in_b(world: dict[str, Any]) -> None:
    from tests.service.console_scene import sign_in
    from tracelib.federation import peer_notices

    fed = _trade(world)
    b_app: Flask = world["apps"][B]
    courier = issue_token(b_app, "operator", scopes=("write",))
    c_courier = issue_token(world["apps"][C], "operator", scopes=("write",))
    tmp = world["tmp"]

    def in_a(*args: str) -> Any:
        return CliRunner().invoke(cli, [
            "--db", str(tmp / "city-a.db"), "--keystore", str(world["stores"][A].path),
            "--blobs", str(tmp / "city-a.blobs"), *args, "--peer-token", f"{B}={courier}",
            "--peer-token", f"{C}={c_courier}"])

    # A's regulator (here its operator) recalls; B and C, where shipments went, are told.
    recalled = in_a("recall", "IMP-1", "--reason", "抽检不合格: 兽药残留", "--notify-peers")
    assert recalled.exit_code == 0, recalled.output
    assert f"peer ledger notified: {B} (shipments a-ship-003)" in recalled.output
    assert f"peer ledger notified: {C} (shipments a-ship-004)" in recalled.output
    recall_event = peer_notices(fed.b.ledger)[0].recall_event
    assert [n.recall_event for n in peer_notices(fed.c.ledger)] == [recall_event]
    again = in_a("peer", "notify", "--peer", B, "--recall", recall_event)
    assert again.exit_code == 0, again.output
    assert len(peer_notices(fed.b.ledger)) == 1
    not_a_recall = in_a("peer", "notify", "--peer", B, "--recall", "a-ship-003")
    assert not_a_recall.exit_code == 1 and "not a recall" in not_a_recall.output

    # B's console shows the notice, with a way to recall the lot B holds.
    regulator = issue_token(b_app, "operator", scopes=("read:all", "write"))
    web = b_app.test_client()
    sign_in(web, regulator)
    page = web.get("/console/").get_data(as_text=True)
    assert "其他账本的召回通知" in page and recall_event in page
    assert "抽检不合格: 兽药残留" in page
    assert 'class="recall-here" href="/console/recall?lot=IMP-1-B' in page
    english = web.get("/console/?lang=en").get_data(as_text=True)
    assert "Recall notices from other ledgers" in english and "其他账本的召回通知" not in english

    # B recalls in B, signed by B's own regulator (here its operator).
    answer = b_app.test_client().post("/api/v1/recalls",
                                      headers={"Authorization": f"Bearer {regulator}"},
                                      json={"lot": "IMP-1-B", "reason": f"{A} {recall_event}"})
    assert answer.status_code == 201, answer.get_json()
    assert "IMP-1-B" in answer.get_json()["recalled_lots"]


def test_a_tampered_notice_is_refused_and_kept_nowhere(world: dict[str, Any]) -> None:
    from tracelib.federation import peer_notices, recall_notice
    from tracelib.recalls import recall

    fed = _trade(world)
    result = recall(fed.a.ledger, "IMP-1", key=fed.a.operator_key, reason="召回", now=NOW)
    fed.a.checkpoint()
    event = next(r.event_id for r in result.receipts if r.event_id.startswith("recall"))
    notice = recall_notice(fed.a.ledger, event)
    first = notice["proof"][0]
    notice["proof"][0] = ("0" if first[0] != "0" else "1") + first[1:]
    b_app: Flask = world["apps"][B]
    token = issue_token(b_app, "operator", scopes=("write",))
    answer = b_app.test_client().post("/api/v1/peers/notices", json=notice,
                                      headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422
    assert "inclusion proof" in answer.get_json()["detail"]
    assert peer_notices(fed.b.ledger) == []


def test_a_recall_through_the_api_tells_the_peer_ledgers_in_the_background(
        world: dict[str, Any]) -> None:
    """A regulator's recall through A's API (not only the CLI's ``--notify-peers``) tells B
    and C, where shipments went, once the recall is in a signed checkpoint."""
    from tracelib.federation import peer_notices
    from tracelib_service.background import wait_for_background

    fed = _trade(world)
    a_app: Flask = world["apps"][A]
    couriers = {o: issue_token(world["apps"][o], "operator", scopes=("write",)) for o in (B, C)}
    a_app.config["PEER_TOKENS"] = " ".join(f"{o}={t}" for o, t in couriers.items())
    regulator = issue_token(a_app, "operator", scopes=("read:all", "write"))
    answer = a_app.test_client().post("/api/v1/recalls",
                                      headers={"Authorization": f"Bearer {regulator}"},
                                      json={"lot": "IMP-1", "reason": "抽检不合格"})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["notified_peers"] == sorted([B, C])
    wait_for_background(a_app)
    recalled = {n.recall_event for n in peer_notices(fed.b.ledger)}
    assert recalled and recalled == {n.recall_event for n in peer_notices(fed.c.ledger)}
    assert all(fed.a.ledger.record_for_event(e).kind == "recall" for e in recalled)

"""The tile log under /log/ (C2SP tlog-tiles; docs/contract.md "Tile log"): the log read
through the tile API alone, cache headers, scopes on entry bundles, bad paths, and
`tracelib log export` served by a plain static server answering the same bytes."""

from __future__ import annotations

import http.server
import os
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import NOW
from tests.helpers import origin_event
from tracelib import merkle
from tracelib.errors import ProofError
from tracelib.keys import Keystore, SigningKey
from tracelib.note import NoteVerifier
from tracelib.record import Record
from tracelib.tiles import TILE_WIDTH, TileReader, tiles_for_size
from tracelib_cli.main import cli
from tracelib_service.tokens import issue_token

from .conftest import STALL, Scene

IMMUTABLE = "public, max-age=31536000, immutable"
GROWTH = 2300  # with the scene's records: several level-0 tiles, a level-1 tile, ragged edge


@pytest.fixture
def grown(scene: Scene, operator_key: SigningKey) -> int:
    """The scene's ledger grown past 2,300 records and checkpointed (a size that is not a
    multiple of 256), then a few more records that no checkpoint covers yet."""
    led = scene.ledger
    led.append([origin_event(scene.net, f"LOT-G-{i:05d}") for i in range(GROWTH)],
               now=scene.net.now)
    size = led.sign_checkpoint(operator_key, now=NOW).size
    assert size % TILE_WIDTH and size > 8 * TILE_WIDTH
    led.append([origin_event(scene.net, f"LOT-H-{i:05d}") for i in range(7)], now=scene.net.now)
    return size


@pytest.fixture
def tokens(app: Flask, regulators: dict[str, str]) -> dict[str, str]:
    return {"regulator": regulators["amr-1"],
            "stall": issue_token(app, STALL, scopes=("read:own",))}


def _fetcher(client: FlaskClient, headers: dict[str, str], seen: list[str]) -> Any:
    def fetch(path: str) -> bytes:
        seen.append(path)
        response = client.get(f"/log/{path}", headers=headers)
        assert response.status_code == 200, (path, response.get_json())
        return response.data
    return fetch


def test_the_log_read_through_tiles_alone(grown: int, client: FlaskClient,
                                          tokens: dict[str, str], operator_key: SigningKey,
                                          scene: Scene) -> None:
    """An auditor who knows only the operator's key and /log/: the checkpoint verifies, the
    root recomputed from the tiles is the checkpoint's, and random records are included."""
    seen: list[str] = []
    verifier = NoteVerifier.for_key(scene.ledger.origin, operator_key.public)
    fetch = _fetcher(client, {"Authorization": f"Bearer {tokens['regulator']}"}, seen)
    reader = TileReader.open(fetch, [verifier], origin=scene.ledger.origin)
    assert reader.size == grown
    reader.check_root()
    rng = random.Random(19)
    for index in rng.sample(range(grown), 20):
        entry = reader.entry(index)
        # The entry is the record's bytes (checked here against the library, not the API).
        assert entry == Record.leaf_bytes(scene.ledger.record(index))
    assert seen[0] == "checkpoint"
    assert all(p == "checkpoint" or p.startswith("tile/") for p in seen)
    assert any(p.startswith("tile/1/") for p in seen)
    # And the root really is the tree's: the same as the ledger's own, by another path.
    assert reader.root() == scene.ledger.root(grown)


def test_a_forged_tile_is_caught(grown: int, client: FlaskClient, operator_key: SigningKey,
                                 scene: Scene) -> None:
    verifier = NoteVerifier.for_key(scene.ledger.origin, operator_key.public)

    def fetch(path: str) -> bytes:
        body = client.get(f"/log/{path}").data
        return bytes([body[0] ^ 1]) + body[1:] if path.startswith("tile/1/") else body

    with pytest.raises(ProofError):
        TileReader.open(fetch, [verifier]).check_root()


def test_headers_and_content_types(grown: int, client: FlaskClient) -> None:
    checkpoint = client.get("/log/checkpoint")
    assert checkpoint.status_code == 200
    assert checkpoint.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert checkpoint.headers["Cache-Control"] == "public, max-age=5"
    assert checkpoint.text.split("\n")[1] == str(grown)
    again = client.get("/log/checkpoint", headers={"If-None-Match": checkpoint.headers["ETag"]})
    assert again.status_code == 304
    full = client.get("/log/tile/0/000")
    assert full.status_code == 200 and len(full.data) == 8192
    assert full.headers["Content-Type"] == "application/octet-stream"
    assert full.headers["Cache-Control"] == IMMUTABLE
    assert full.headers["Access-Control-Allow-Origin"] == "*"
    edge = tiles_for_size(grown)
    partial_tile = next(t for t in edge if t.level == 0 and t.partial)
    response = client.get(f"/log/{partial_tile.path()}")
    assert response.status_code == 200 and len(response.data) == 32 * partial_tile.width
    assert response.headers["Cache-Control"] == "public, max-age=5"
    assert client.head("/log/tile/0/000").status_code == 200


def test_entry_bundles_need_read_all(grown: int, client: FlaskClient,
                                     tokens: dict[str, str]) -> None:
    anonymous = client.get("/log/tile/entries/000")
    assert anonymous.status_code == 401
    assert anonymous.headers["Content-Type"] == "application/problem+json"
    stall = client.get("/log/tile/entries/000",
                       headers={"Authorization": f"Bearer {tokens['stall']}"})
    assert stall.status_code == 403
    assert stall.get_json()["code"] == "insufficient_scope"
    regulator = client.get("/log/tile/entries/000",
                           headers={"Authorization": f"Bearer {tokens['regulator']}"})
    assert regulator.status_code == 200
    assert regulator.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert client.get("/log/tile/entries/000",
                      headers={"Authorization": "Bearer tlk_nonsense"}).status_code == 401


def test_entry_bundles_public_when_the_operator_says_so(grown: int, db_url: str,
                                                        keystore: Keystore) -> None:
    from tracelib_service import create_app

    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                      "NOW": NOW, "PUBLIC_ENTRIES": True})
    try:
        response = app.test_client().get("/log/tile/entries/000")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == IMMUTABLE
    finally:
        app.extensions["tracelib"].close()


BAD_PATHS = [
    ("tile/0/0000", 400),
    ("tile/0/x000/001", 400),
    ("tile/00/000", 400),
    ("tile/64/000", 400),
    ("tile/0/000.p/0", 400),
    ("tile/0/000.p/256", 400),
    ("tile/0/000.p/abc", 400),
    ("tile/0/x999/x999/x999/x999/x999/x999/999", 400),
    ("tile/x/000", 400),
    ("tile/entries/000.p/00", 400),
    ("tile/0/", 400),            # no tile named
    ("tile/0/099", 404),         # past the newest checkpoint's tree
    ("tile/1/001", 404),
    ("tile/7/000.p/1", 404),
    ("tile/63/000.p/1", 404),
    ("tile/entries/099", 404),
    ("tiles/0/000", 404),
    ("tile/0/000.p/255", 200),   # an older checkpoint's partial tile: a prefix, still served
]


def test_bad_paths_are_problems_not_errors(grown: int, client: FlaskClient,
                                           tokens: dict[str, str]) -> None:
    regulator = {"Authorization": f"Bearer {tokens['regulator']}"}
    for path, status in BAD_PATHS:
        if path.startswith("tile/entries"):  # the scope is checked before the path
            assert client.get(f"/log/{path}").status_code == 401, path
        headers = regulator if path.startswith("tile/entries") else {}
        response = client.get(f"/log/{path}", headers={**headers, "Accept": "*/*"})
        assert response.status_code == status, (path, response.get_data(as_text=True)[:300])
        if status != 200:
            assert response.headers["Content-Type"] == "application/problem+json", path


def test_the_partial_tile_past_the_checkpoint_is_not_served(grown: int,
                                                            client: FlaskClient) -> None:
    edge = next(t for t in tiles_for_size(grown) if t.level == 0 and t.partial)
    assert client.get(f"/log/{edge.path()}").status_code == 200
    wider = edge.as_width(edge.width + 1)  # the records are there, no checkpoint covers them
    assert client.get(f"/log/{wider.path()}").status_code == 404


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain static file server (the standard library's) over a folder."""
    folder = tmp_path / "static-log"
    folder.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _static_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
    return body


def test_export_served_by_a_static_server_is_byte_identical(
        grown: int, app: Flask, client: FlaskClient, tokens: dict[str, str],
        static_server: tuple[Path, str]) -> None:
    folder, base = static_server
    runner = CliRunner()
    args = ["--db", app.config["DB"], "--keystore", app.config["KEYSTORE"], "log", "export",
            str(folder), "--entries"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    tiles = tiles_for_size(grown)
    bundles = tiles_for_size(grown, entries=True)
    assert f"wrote {len(tiles)} hash tiles, {len(bundles)} entry bundles" in result.output
    headers = {"Authorization": f"Bearer {tokens['regulator']}"}
    paths = ["checkpoint", *(t.path() for t in tiles + bundles)]
    written = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert written == sorted(paths)
    for path in paths:
        served = client.get(f"/log/{path}", headers=headers)
        assert served.status_code == 200, path
        assert _static_get(f"{base}/{path}") == served.data, path
    # Incremental: a second run rewrites nothing but the checkpoint.
    again = runner.invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert "wrote 0 hash tiles, 0 entry bundles" in again.output
    assert f"{len(paths) - 1} already there were kept" in again.output
    with pytest.raises(urllib.error.HTTPError):
        _static_get(f"{base}/tile/0/099")


def test_export_without_a_checkpoint_fails_in_one_line(tmp_path: Path) -> None:
    from tracelib.ledger import Ledger

    db = f"sqlite:///{tmp_path / 'empty.db'}"
    Ledger.create(db, operator_key=SigningKey.generate(), operator="operator",
                  now=NOW).close()
    result = CliRunner().invoke(cli, ["--db", db, "log", "export", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: the log has no signed checkpoint yet"]


def test_export_refuses_a_file_and_an_unwritable_folder(grown: int, app: Flask,
                                                        tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    result = CliRunner().invoke(cli, ["--db", app.config["DB"], "log", "export", str(target)])
    assert result.exit_code == 2 and "is a file" in result.output  # a usage error
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere: nothing to refuse
        return
    result = CliRunner().invoke(cli, ["--db", app.config["DB"], "log", "export", str(locked)])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot write ") and result.output.count("\n") == 1


def test_leaf_hash_of_an_entry_is_the_records_hash(grown: int, client: FlaskClient,
                                                   tokens: dict[str, str],
                                                   scene: Scene) -> None:
    from tracelib.tiles import decode_bundle

    body = client.get("/log/tile/entries/001",
                      headers={"Authorization": f"Bearer {tokens['regulator']}"}).data
    entries = decode_bundle(body)
    assert len(entries) == TILE_WIDTH
    assert [merkle.leaf_hash(e) for e in entries] == [
        scene.ledger.record(seq).hash for seq in range(256, 512)]


def test_kept_tiles_stay_within_their_limit() -> None:
    from tracelib.tiles import Tile
    from tracelib_service.log import KeptTiles

    kept = KeptTiles(3 * 8192)
    for n in range(5):
        kept.put(Tile(0, n), bytes([n]) * 8192)
    assert kept.weight == 3 * 8192
    assert kept.get(Tile(0, 0)) is None and kept.get(Tile(0, 1)) is None
    assert kept.get(Tile(0, 2)) == b"\x02" * 8192  # now the most recently used
    kept.put(Tile(0, 5), b"\x05" * 8192)
    assert kept.get(Tile(0, 3)) is None and kept.get(Tile(0, 2)) is not None


def test_a_kept_tile_is_answered_without_the_database(grown: int, client: FlaskClient,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import tracelib.views.tile_log as tile_log

    first = client.get("/log/tile/0/001")
    assert first.status_code == 200

    def no_reads(*args: Any) -> list[bytes]:
        raise AssertionError("a kept tile was read from the database again")

    monkeypatch.setattr(tile_log.TilesSql, "hashes", no_reads)
    again = client.get("/log/tile/0/001")
    assert again.status_code == 200 and again.data == first.data


def test_a_bundle_too_long_to_carry_is_a_problem(scene: Scene, operator_key: SigningKey,
                                                 client: FlaskClient,
                                                 tokens: dict[str, str]) -> None:
    big = scene.net.event("operator", {"kind": "register", "location": "operator.office",
                                       "data": {"parties": [
                                           {"id": f"coop-{i:03d}", "role": "farm",
                                            "name": "云阳县" + "蔬菜专业合作社" * 60}
                                           for i in range(160)]}})
    seq = scene.ledger.append([big], now=scene.net.now)[0].seq
    size = scene.ledger.sign_checkpoint(operator_key, now=NOW).size
    response = client.get(f"/log/tile/entries/000.p/{size}",
                          headers={"Authorization": f"Bearer {tokens['regulator']}"})
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "validation" and f"record {seq} is" in problem["detail"]
    assert client.get(f"/log/tile/0/000.p/{size}").status_code == 200

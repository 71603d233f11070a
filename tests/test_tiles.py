"""C2SP tlog-tiles: tile paths both ways, the tiles of a tree, entry bundles, tile contents
read from the stored subtree hashes, and the tile reader (tracelib.tiles)."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest

from tests.helpers import origin_event
from tracelib import merkle
from tracelib.errors import NotFoundError, ProofError, ValidationError
from tracelib.keys import SigningKey
from tracelib.note import Checkpoint
from tracelib.tiles import (
    TILE_WIDTH,
    Tile,
    TileReader,
    decode_bundle,
    encode_bundle,
    encode_index,
    parse_path,
    split_hashes,
    tile_width,
    tiles_for_size,
)
from tracelib.views.tile_log import entry_bundle, hash_tile, newest_checkpoint, read_tile

# C2SP tlog-tiles "Merkle Tree": index 1234067 is x001/x234/067.
PATHS = [
    (Tile(0, 1234067), "tile/0/x001/x234/067"),
    (Tile(0, 0), "tile/0/000"),
    (Tile(1, 5), "tile/1/005"),
    (Tile(2, 999), "tile/2/999"),
    (Tile(0, 1000), "tile/0/x001/000"),
    (Tile(0, 1000000), "tile/0/x001/x000/000"),
    (Tile(0, 7, 17), "tile/0/007.p/17"),
    (Tile(63, 0, 1), "tile/63/000.p/1"),
    (Tile(3, 1234067, 255), "tile/3/x001/x234/067.p/255"),
    (Tile(0, 0, entries=True), "tile/entries/000"),
    (Tile(0, 1234067, 112, entries=True), "tile/entries/x001/x234/067.p/112"),
    (Tile(0, 2**64 // 256 - 1), "tile/0/x072/x057/x594/x037/x927/935"),
]


@pytest.mark.parametrize(("tile", "path"), PATHS)
def test_paths_both_ways(tile: Tile, path: str) -> None:
    assert tile.path() == path
    assert parse_path(path) == tile


@pytest.mark.parametrize("index", [0, 1, 999, 1000, 999999, 1000000, 123456789012])
def test_index_encoding_round_trips(index: int) -> None:
    encoded = encode_index(index)
    elements = encoded.split("/")
    assert all(len(e) == 4 and e[0] == "x" for e in elements[:-1])
    assert len(elements[-1]) == 3
    assert int("".join(e.lstrip("x") for e in elements)) == index


@pytest.mark.parametrize("path", [
    "tile/00/000",            # leading zero in L
    "tile/64/000",            # L above 63
    "tile/-1/000",
    "tile/0/00",              # two digits
    "tile/0/0000",
    "tile/0/x000/001",        # superfluous leading element
    "tile/0/001/002",         # first element without x
    "tile/0/x001/x002",       # last element with x
    "tile/0/000.p/0",         # width 0
    "tile/0/000.p/256",       # width of a full tile
    "tile/0/000.p/017",       # leading zero in W
    "tile/0/000.p/",
    "tile/0/000.p",
    "tile/0/000.q/5",
    "tile/0/000/",
    "tile/entries/x000/000",
    "tile/entries",
    "tile/0",
    "tiles/0/000",
    "tile/a/000",
    "tile/0/x00a/000",
    "tile/0/x001/x002/x003/x004/x005/x006/x007/008",  # past 2**64 tiles
    "tile/0/x072/x057/x594/x037/x927/936",  # tile 2**56 starts past any 64-bit tree
    "",
])
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(ValidationError):
        parse_path(path)


def test_tiles_of_the_specs_example_trees() -> None:
    # C2SP tlog-tiles "Partial Tiles": size 70,000 is 273 full level-0 tiles, one partial
    # of width 112, one full level-1 tile, a partial of width 17, and a partial level-2
    # tile of width 1; size 256 is one full level-0 tile and a level-1 tile of width 1.
    tiles = tiles_for_size(70000)
    level0 = [t for t in tiles if t.level == 0]
    assert len(level0) == 274 and sum(not t.partial for t in level0) == 273
    assert level0[-1] == Tile(0, 273, 112)
    assert [t for t in tiles if t.level == 1] == [Tile(1, 0), Tile(1, 1, 17)]
    assert [t for t in tiles if t.level == 2] == [Tile(2, 0, 1)]
    assert len(tiles) == 274 + 2 + 1
    assert tiles_for_size(256) == [Tile(0, 0), Tile(1, 0, 1)]
    assert tiles_for_size(0) == []
    assert tiles_for_size(1) == [Tile(0, 0, 1)]
    assert tiles_for_size(70000, entries=True)[-1] == Tile(0, 273, 112, entries=True)
    assert len(tiles_for_size(70000, entries=True)) == 274
    for tile in tiles:
        assert tile_width(tile, 70000) == tile.width
    assert tile_width(Tile(0, 274), 70000) == 0
    assert tile_width(Tile(3, 0), 70000) == 0
    assert tile_width(Tile(63, 0), 2**64 - 1) == 0


def test_bundles_round_trip_and_refuse_what_they_cannot_carry() -> None:
    entries = [b"", b"a", bytes(range(256)) * 10, b"\xff" * 65535]
    data = encode_bundle(entries)
    assert data[:2] == b"\x00\x00" and data[2:5] == b"\x00\x01a"
    assert decode_bundle(data) == entries
    with pytest.raises(ValidationError, match="65535"):
        encode_bundle([b"x" * 65536])
    with pytest.raises(ProofError, match="truncated"):
        decode_bundle(data[:-1])
    with pytest.raises(ProofError, match="truncated"):
        decode_bundle(b"\x00")
    with pytest.raises(ProofError, match="wrong length"):
        split_hashes(b"\x00" * 33, 1)


def _memory_log(leaves: list[bytes], size: int) -> dict[str, bytes]:
    """The tiles and bundles of a tree of ``size`` entries, computed the slow way from the
    RFC 6962 definition: hash i of tile n at level l is MTH(D[(n·256+i)·256**l : …])."""
    hashes = [merkle.leaf_hash(e) for e in leaves]
    files = {}
    for tile in tiles_for_size(size):
        span = TILE_WIDTH ** tile.level
        files[tile.path()] = b"".join(
            merkle.root(hashes[(tile.first + i) * span:(tile.first + i + 1) * span])
            for i in range(tile.width))
    for tile in tiles_for_size(size, entries=True):
        files[tile.path()] = encode_bundle(leaves[tile.first:tile.first + tile.width])
    return files


@pytest.mark.parametrize("size", [1, 255, 256, 257, 511, 70 * 256 + 3])
def test_reader_recomputes_the_root_and_proves_inclusion(size: int) -> None:
    rng = random.Random(size)
    leaves = [rng.randbytes(rng.randrange(0, 80)) for _ in range(size)]
    files = _memory_log(leaves, size)
    fetched: list[str] = []

    def fetch(path: str) -> bytes:
        fetched.append(path)
        return files[path]

    want = merkle.root([merkle.leaf_hash(e) for e in leaves])
    reader = TileReader(fetch, Checkpoint("example.org/log", size, want))
    assert reader.root() == want
    reader.check_root()
    for index in {0, size - 1, rng.randrange(size)}:
        assert reader.entry(index) == leaves[index]
    assert all(p.startswith("tile/") for p in fetched)


def test_reader_refuses_a_tile_that_does_not_match() -> None:
    size = 300
    leaves = [bytes([i % 256, i // 256]) for i in range(size)]
    files = _memory_log(leaves, size)
    root = merkle.root([merkle.leaf_hash(e) for e in leaves])
    bad = dict(files)
    bad["tile/1/000.p/1"] = b"\x01" + files["tile/1/000.p/1"][1:]
    with pytest.raises(ProofError, match="do not match"):
        TileReader(bad.__getitem__, Checkpoint("o", size, root)).check_root()
    # The root of 300 reads level-1 tile 0 only; a forged level-0 tile fails inclusion.
    bad = dict(files)
    bad["tile/0/000"] = b"\x01" + files["tile/0/000"][1:]
    forged = TileReader(bad.__getitem__, Checkpoint("o", size, root))
    forged.check_root()
    with pytest.raises(ProofError):
        forged.entry(0)
    bad = dict(files)
    bad["tile/entries/001.p/44"] = encode_bundle([b"forged", *leaves[257:300]])
    with pytest.raises(ProofError, match="level-0 tile"):
        TileReader(bad.__getitem__, Checkpoint("o", size, root)).entry(256)
    with pytest.raises(ProofError, match="wrong length"):
        TileReader({**files, "tile/1/000.p/1": b"short"}.__getitem__,
                   Checkpoint("o", size, root)).root()


# --------------------------------------------------------------------------- from a ledger


@pytest.fixture
def tiled(network: Any, operator_key: SigningKey) -> Any:
    """A ledger of 600 records (two full level-0 tiles and a partial one, a partial
    level-1 tile), checkpointed at 600, then 50 more records not yet checkpointed."""
    led = network.ledger
    led.append([origin_event(network, f"LOT-T-{i:04d}") for i in range(598)], now=network.now)
    led.sign_checkpoint(operator_key, now=network.now)
    led.append([origin_event(network, f"LOT-U-{i:04d}") for i in range(50)], now=network.now)
    return led


def test_tiles_from_stored_hashes_equal_independent_hashes(tiled: Any) -> None:
    led = tiled
    size = newest_checkpoint(led).size
    assert size == 600
    records = [led.record(seq) for seq in range(size)]
    entries = [r.leaf_bytes() for r in records]
    assert [merkle.leaf_hash(e) for e in entries] == [r.hash for r in records]
    expected = _memory_log(entries, size)
    assert sorted(expected) == sorted(t.path() for t in tiles_for_size(size)
                                      + tiles_for_size(size, entries=True))
    for tile in [*tiles_for_size(size), *tiles_for_size(size, entries=True)]:
        body = entry_bundle(led, tile) if tile.entries else hash_tile(led, tile)
        assert body == expected[tile.path()], tile.path()
        assert read_tile(led, tile, size) == body
    assert len(hash_tile(led, Tile(0, 0))) == 8192
    # An older checkpoint's partial tile is a prefix of today's tile.
    assert hash_tile(led, Tile(0, 2, 10)) == expected["tile/0/002.p/88"][:320]
    assert hashlib.sha256(hash_tile(led, Tile(1, 0, 2))).digest() == hashlib.sha256(
        expected["tile/1/000.p/2"]).digest()


def test_tiles_beyond_the_newest_checkpoint_are_not_found(tiled: Any) -> None:
    for tile in (Tile(0, 2, 89), Tile(0, 2), Tile(0, 3, 1), Tile(1, 0, 3), Tile(2, 0, 1),
                 Tile(0, 2, 89, entries=True), Tile(0, 3, 1, entries=True)):
        with pytest.raises(NotFoundError):
            entry_bundle(tiled, tile) if tile.entries else hash_tile(tiled, tile)


def test_no_checkpoint_no_tiles(network: Any) -> None:
    with pytest.raises(NotFoundError, match="no signed checkpoint"):
        hash_tile(network.ledger, Tile(0, 0, 1))


def test_a_record_too_long_for_a_bundle_is_named_not_cut(network: Any, operator_key: SigningKey,
                                                         tmp_path: Any) -> None:
    """C2SP tlog-tiles bundles carry entries of at most 65,535 bytes; a register event of
    many parties is longer. Its bundle is refused naming the record; the hash tiles are
    whole, and the export writes every other bundle and says which it could not."""
    from click.testing import CliRunner

    from tracelib_cli.main import cli

    led = network.ledger
    led.append([origin_event(network, f"LOT-B-{i:04d}") for i in range(300)], now=network.now)
    big = network.event("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": f"coop-{i:03d}", "name": "云阳县" + "蔬菜专业合作社" * 60,
                     "role": "farm"} for i in range(160)]}})
    seq = led.append([big], now=network.now)[0].seq
    assert len(led.record(seq).leaf_bytes()) > 65535
    size = led.sign_checkpoint(operator_key, now=network.now).size
    bundle = Tile(0, seq // TILE_WIDTH, tile_width(Tile(0, seq // TILE_WIDTH), size),
                  entries=True)
    with pytest.raises(ValidationError, match=f"record {seq} is"):
        entry_bundle(led, bundle)
    assert len(entry_bundle(led, Tile(0, 0, entries=True))) > 0
    leaves = [led.record(i).hash for i in range(size)]
    assert hash_tile(led, Tile(0, 1, size - 256)) == b"".join(leaves[256:size])
    out = tmp_path / "export"
    result = CliRunner().invoke(cli, ["--db", led.store.url, "log", "export", str(out),
                                      "--entries"])
    assert result.exit_code == 0, result.output
    assert "wrote 3 hash tiles, 1 entry bundles" in result.output  # 0, 1.p/47, level 1
    assert f"warning: {bundle.path()} cannot be served: record {seq}" in result.output
    assert (out / "checkpoint").exists() and not (out / bundle.path()).exists()

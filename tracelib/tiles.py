"""C2SP tlog-tiles: the ledger's Merkle tree as static tiles, and a client reading it.

The tile log (docs/contract.md "Tile log") serves the same RFC 9162 tree the proofs
endpoints serve, in the shape of c2sp.org/tlog-tiles:

* ``checkpoint`` — the newest signed checkpoint (C2SP tlog-checkpoint, signed-note);
* ``tile/<L>/<N>[.p/<W>]`` — a *hash tile*: 256 (or ``W``) consecutive Merkle Tree Hashes of
  tree level ``8·L`` (C2SP tlog-tiles "Merkle Tree"): hash ``i`` of tile ``N`` at level ``L``
  is ``MTH(D[(N·256 + i)·256**L : (N·256 + i + 1)·256**L])``;
* ``tile/entries/<N>[.p/<W>]`` — an *entry bundle*: the leaves of level-0 tile ``N``, each a
  big-endian uint16 length then the entry's bytes (C2SP tlog-tiles "Log entries"). An entry
  is a record's bytes (:func:`tracelib.record.record_bytes`), whose RFC 9162 leaf hash is
  the record's ``hash``.

This module is pure: path encoding and parsing (:class:`Tile`, :func:`parse_path`), which
tiles a tree of a given size has (:func:`tiles_for_size`, :func:`tile_width`), the bundle
format (:func:`encode_bundle`, :func:`decode_bundle`), and :class:`TileReader`, which reads
a checkpoint's tree through nothing but a ``fetch(path) -> bytes`` function: it recomputes
the root from the tiles and proves an entry's inclusion (docs/integrity.md "Checking the
log from its tiles"). Invalid paths and malformed tiles raise
:class:`~tracelib.errors.ValidationError` and :class:`~tracelib.errors.ProofError`.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from tracelib import merkle
from tracelib.errors import ProofError, ValidationError
from tracelib.note import Checkpoint, NoteVerifier, open_note

__all__ = [
    "CHECKPOINT_PATH",
    "MAX_ENTRY_BYTES",
    "MAX_TILE_INDEX",
    "MAX_TILE_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Fetch",
    "Tile",
    "TileReader",
    "decode_bundle",
    "encode_bundle",
    "encode_index",
    "parse_path",
    "split_hashes",
    "tile_width",
    "tiles_for_size",
]

#: Tree levels a tile spans (C2SP tlog-tiles: "a tile represents the entire subtree of
#: height 8").
TILE_HEIGHT = 8
#: Hashes in a full tile, and entries in a full bundle: 2**TILE_HEIGHT (8,192 bytes of hashes).
TILE_WIDTH = 1 << TILE_HEIGHT
#: The highest tile level a path may name (C2SP tlog-tiles: ``<L>`` is 0 to 63).
MAX_TILE_LEVEL = 63
#: The largest entry a bundle can carry: its length is a big-endian uint16 (C2SP
#: tlog-tiles "Log entries").
MAX_ENTRY_BYTES = 0xFFFF
#: Tree sizes are 64-bit (C2SP tlog-checkpoint): no tile of any level starts past 2**64.
MAX_TILE_INDEX = 2**64 // TILE_WIDTH
#: Where the checkpoint is, relative to the log's prefix (C2SP tlog-tiles "Checkpoints").
CHECKPOINT_PATH = "checkpoint"

Fetch = Callable[[str], bytes]
"""``fetch(path) -> body`` for a path relative to the log's prefix (``tile/0/000``)."""

_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_ELEMENT = re.compile(r"[0-9]{3}\Z")
_LENGTH = struct.Struct(">H")


# --------------------------------------------------------------------------- paths


def encode_index(index: int) -> str:
    """``N`` as zero-padded 3-digit path elements, every one but the last prefixed with ``x``
    (C2SP tlog-tiles "Merkle Tree": 1234067 → ``x001/x234/067``; 5 → ``005``)."""
    if type(index) is not int or index < 0:
        raise ValidationError(f"tile index must be an int >= 0, got {index!r}", field="path")
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    elements = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*(f"x{e}" for e in elements[:-1]), elements[-1]])


@dataclass(frozen=True)
class Tile:
    """One resource of the tile log: a hash tile of ``level`` (tree level ``8·level``), or
    the entry bundle matching level-0 tile ``index`` (``entries``).

    Invariants: ``0 <= level <= 63`` (0 for a bundle), ``index >= 0`` and
    ``1 <= width <= 256``; ``width < 256`` is a partial tile (C2SP tlog-tiles "Partial
    Tiles"). Hash ``i`` is the node ``(8·level, 256·index + i)`` of :mod:`tracelib.merkle`.
    """

    level: int
    index: int
    width: int = TILE_WIDTH
    entries: bool = False

    def __post_init__(self) -> None:
        for name in ("level", "index", "width"):
            value = getattr(self, name)
            if type(value) is not int:
                raise ValidationError(f"tile {name} must be an int, got {value!r}", field="path")
        if not 0 <= self.level <= MAX_TILE_LEVEL:
            raise ValidationError(f"tile level must be 0 to {MAX_TILE_LEVEL}, got {self.level}",
                                  field="path")
        if self.entries and self.level != 0:
            raise ValidationError(f"an entry bundle has no level, got {self.level}",
                                  field="path")
        if not 0 <= self.index < MAX_TILE_INDEX:
            raise ValidationError(f"tile index must be 0 to {MAX_TILE_INDEX - 1} (trees have "
                                  f"fewer than 2**64 entries), got {self.index}", field="path")
        if not 1 <= self.width <= TILE_WIDTH:
            raise ValidationError(f"tile width must be 1 to {TILE_WIDTH}, got {self.width}",
                                  field="path")

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def tree_level(self) -> int:
        """The Merkle tree level of the tile's hashes (``8·level``)."""
        return TILE_HEIGHT * self.level

    @property
    def first(self) -> int:
        """Index, at :attr:`tree_level`, of the tile's first hash."""
        return self.index * TILE_WIDTH

    def path(self) -> str:
        """The path relative to the log's prefix (C2SP tlog-tiles), e.g. ``tile/1/x001/002``
        or ``tile/entries/000.p/17``."""
        head = "tile/entries" if self.entries else f"tile/{self.level}"
        tail = f".p/{self.width}" if self.partial else ""
        return f"{head}/{encode_index(self.index)}{tail}"

    def as_width(self, width: int) -> Tile:
        return Tile(self.level, self.index, width, self.entries)


def _parse_decimal(text: str, what: str) -> int:
    """A decimal ASCII integer with no leading zeroes (C2SP tlog-tiles ``<L>`` and ``<W>``)."""
    if len(text) > 3 or not _DECIMAL.match(text):
        raise ValidationError(f"tile {what} {text[:20]!r} is not a decimal number without "
                              "leading zeroes", field="path")
    return int(text)


def parse_path(path: str) -> Tile:
    """The tile a path names: ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``
    (relative to the log's prefix; a leading ``/`` is not part of it).

    Strict, so that one tile has exactly one path: ``<L>`` and ``<W>`` without leading
    zeroes, every element of ``<N>`` three digits, all but the last with an ``x``, and no
    superfluous leading ``x000`` element. ValidationError otherwise."""
    if not isinstance(path, str):
        raise ValidationError(f"tile path must be a str, got {type(path).__name__}",
                              field="path")
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise ValidationError(f"not a tile path: {path[:80]!r} (expected tile/<L>/<N> or "
                              "tile/entries/<N>)", field="path")
    entries = parts[1] == "entries"
    level = 0 if entries else _parse_decimal(parts[1], "level")
    rest = parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        width = _parse_decimal(rest[-1], "width")
        if not 1 <= width < TILE_WIDTH:
            raise ValidationError(f"partial tile width must be 1 to {TILE_WIDTH - 1}, got "
                                  f"{width}", field="path")
        rest = [*rest[:-2], rest[-2][:-2]]
    if not rest or len(rest) > 7:  # 7 elements hold every index below 10**21 > 2**64
        raise ValidationError(f"tile index of {path[:80]!r} has {len(rest)} path elements",
                              field="path")
    digits = []
    for n, element in enumerate(rest):
        last = n == len(rest) - 1
        body = element if last else element[1:] if element.startswith("x") else None
        if body is None or not _ELEMENT.match(body):
            raise ValidationError(f"tile index element {element[:20]!r} is not "
                                  f"{'3 digits' if last else 'x and 3 digits'}", field="path")
        digits.append(body)
    if len(digits) > 1 and digits[0] == "000":
        raise ValidationError(f"tile index of {path[:80]!r} has a superfluous leading "
                              "x000 element", field="path")
    tile = Tile(level, int("".join(digits)), width, entries)
    if tile.path() != path:  # belt and braces: one tile, one path
        raise ValidationError(f"tile path {path[:80]!r} is not canonical: expected "
                              f"{tile.path()!r}", field="path")
    return tile


# --------------------------------------------------------------------------- tiles of a tree


def tile_width(tile: Tile, size: int) -> int:
    """How many hashes of ``tile``'s position the tree of ``size`` leaves holds: 256 for a
    full tile, 1-255 for the partial right edge, 0 for none (C2SP tlog-tiles "Partial
    Tiles": level ``l`` holds ``floor(size / 256**l)`` hashes). ``tile.width`` is ignored."""
    if type(size) is not int or size < 0:
        raise ValidationError(f"tree size must be an int >= 0, got {size!r}", field="size")
    if tile.tree_level >= size.bit_length():  # no perfect node that high
        return 0
    hashes = size >> tile.tree_level
    return max(0, min(TILE_WIDTH, hashes - tile.first))


def tiles_for_size(size: int, *, entries: bool = False) -> list[Tile]:
    """Every hash tile (or, with ``entries``, every entry bundle) of the tree of ``size``
    leaves, level by level from 0, each level left to right: the full tiles, then the
    partial one at the right edge if any (C2SP tlog-tiles "Partial Tiles": size 70,000 has
    273 full and one partial (112) level-0 tile, a full and a partial (17) level-1 tile, and
    a partial (1) level-2 tile)."""
    if type(size) is not int or size < 0:
        raise ValidationError(f"tree size must be an int >= 0, got {size!r}", field="size")
    out: list[Tile] = []
    for level in range(0, 1 if entries else MAX_TILE_LEVEL + 1):
        hashes = size >> (TILE_HEIGHT * level) if TILE_HEIGHT * level < 64 else 0
        if not hashes:
            break
        full, rest = divmod(hashes, TILE_WIDTH)
        out.extend(Tile(level, n, TILE_WIDTH, entries) for n in range(full))
        if rest:
            out.append(Tile(level, full, rest, entries))
    return out


def split_hashes(data: bytes, width: int) -> list[bytes]:
    """The ``width`` hashes of a tile's body; ProofError if the body is not ``32·width``
    bytes (C2SP tlog-tiles: a full tile is exactly 8,192 bytes)."""
    want = width * merkle.HASH_SIZE
    if not isinstance(data, bytes) or len(data) != want:
        got = len(data) if isinstance(data, (bytes, bytearray)) else type(data).__name__
        raise ProofError(f"tile has wrong length: expected {want} bytes, got {got}")
    return [data[i:i + merkle.HASH_SIZE] for i in range(0, want, merkle.HASH_SIZE)]


# --------------------------------------------------------------------------- entry bundles


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """Entries as a bundle: each a big-endian uint16 length, then its bytes (C2SP
    tlog-tiles "Log entries"). ValidationError for an entry longer than 65,535 bytes,
    which the format cannot carry."""
    out = bytearray()
    for n, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_BYTES:
            raise ValidationError(f"entry {n} of the bundle is {len(entry)} bytes; an entry "
                                  f"bundle carries at most {MAX_ENTRY_BYTES} (C2SP tlog-tiles "
                                  "uint16 lengths)", field="entries")
        out += _LENGTH.pack(len(entry))
        out += entry
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; ProofError if it is truncated or has trailing bytes."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ProofError(f"entry bundle is truncated: a length at byte {pos} needs 2 "
                             f"bytes, got {len(data) - pos}")
        (length,) = _LENGTH.unpack_from(data, pos)
        pos += 2
        if pos + length > len(data):
            raise ProofError(f"entry bundle is truncated: entry {len(out)} needs {length} "
                             f"bytes, got {len(data) - pos}")
        out.append(bytes(data[pos:pos + length]))
        pos += length
    return out


# --------------------------------------------------------------------------- reading a log


def _perfect_root(hashes: Sequence[bytes]) -> bytes:
    """MTH of a power-of-two count of hashes (RFC 9162 §2.1.1 node hashing)."""
    layer = list(hashes)
    while len(layer) > 1:
        layer = [merkle.node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


@dataclass
class TileReader:
    """A checkpoint's tree, read through tiles alone (C2SP tlog-tiles), for auditors.

    ``fetch`` answers a path relative to the log's prefix. Every node hash is computed from
    the tiles of the checkpoint's size (full tiles, or the partial tile of exactly the width
    the size requires), so :meth:`root` equal to ``checkpoint.root`` shows the tiles are
    the tree the checkpoint signs; :meth:`entry` then checks an entry against both.
    """

    fetch: Fetch
    checkpoint: Checkpoint
    _tiles: dict[Tile, list[bytes]] = field(default_factory=dict, repr=False)
    _bundles: dict[Tile, list[bytes]] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, fetch: Fetch, verifiers: Sequence[NoteVerifier], *,
             origin: str | None = None) -> TileReader:
        """Fetch ``checkpoint``, verify its signature by one of ``verifiers`` (C2SP
        signed-note) and its origin line when given (SignatureError, ValidationError)."""
        raw = fetch(CHECKPOINT_PATH)
        try:
            note = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValidationError("checkpoint is not UTF-8 (C2SP signed-note)") from e
        text, _names = open_note(note, verifiers)
        checkpoint = Checkpoint.parse(text)
        if origin is not None and checkpoint.origin != origin:
            raise ValidationError(f"checkpoint origin mismatch: expected {origin!r}, got "
                                  f"{checkpoint.origin!r}", field="origin")
        return cls(fetch, checkpoint)

    @property
    def size(self) -> int:
        return self.checkpoint.size

    def tile(self, level: int, index: int) -> list[bytes]:
        """The hashes of tile ``(level, index)`` at the width the checkpoint's size gives."""
        want = Tile(level, index)
        width = tile_width(want, self.size)
        if width == 0:
            raise ProofError(f"tile {want.path()} is not in the tree of size {self.size}")
        tile = want.as_width(width)
        found = self._tiles.get(tile)
        if found is None:
            found = split_hashes(self.fetch(tile.path()), width)
            self._tiles[tile] = found
        return found

    def node(self, level: int, index: int) -> bytes:
        """The hash of the perfect node ``(level, index)`` (:data:`tracelib.merkle.NodeId`):
        ``2**(level mod 8)`` hashes of one tile of level ``level // 8``, hashed up."""
        if (index + 1) << level > self.size:
            raise ProofError(f"node ({level}, {index}) is not in the tree of size {self.size}")
        tile_level, above = divmod(level, TILE_HEIGHT)
        first = index << above  # at tree level 8·tile_level
        hashes = self.tile(tile_level, first // TILE_WIDTH)
        offset = first % TILE_WIDTH
        return _perfect_root(hashes[offset:offset + (1 << above)])

    def root(self) -> bytes:
        """MTH(D[size]) from the tiles (RFC 9162 §2.1.1, folded over
        :func:`tracelib.merkle.root_plan`)."""
        if self.size == 0:
            return merkle.EMPTY_ROOT
        return merkle.fold([self.node(*n) for n in merkle.root_plan(self.size)])

    def check_root(self) -> None:
        """ProofError unless the tiles' root is the checkpoint's root."""
        got = self.root()
        if got != self.checkpoint.root:
            raise ProofError(f"tiles do not match the checkpoint: expected root "
                             f"{self.checkpoint.root.hex()[:16]}…, computed {got.hex()[:16]}…")

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[size]), assembled from tile hashes."""
        plan = merkle.inclusion_proof_plan(index, self.size)
        return merkle.build_proof(plan, {n: self.node(*n) for n in merkle.plan_nodes(plan)})

    def entry(self, index: int) -> bytes:
        """Entry ``index`` from its bundle, checked: its RFC 9162 leaf hash is the level-0
        tile's hash, and that hash's inclusion proof leads to the checkpoint's root
        (RFC 9162 §2.1.3.2). ProofError otherwise."""
        if not 0 <= index < self.size:
            raise ProofError(f"entry {index} is not in the tree of size {self.size}")
        want = Tile(0, index // TILE_WIDTH, entries=True)
        bundle = want.as_width(tile_width(want, self.size))
        entries = self._bundles.get(bundle)
        if entries is None:
            entries = decode_bundle(self.fetch(bundle.path()))
            if len(entries) != bundle.width:
                raise ProofError(f"entry bundle {bundle.path()} has wrong number of entries: "
                                 f"expected {bundle.width}, got {len(entries)}")
            self._bundles[bundle] = entries
        data = entries[index % TILE_WIDTH]
        leaf = merkle.leaf_hash(data)
        if leaf != self.node(0, index):
            raise ProofError(f"entry {index} does not hash to its level-0 tile hash")
        merkle.verify_inclusion(leaf, index, self.size, self.inclusion_proof(index),
                                self.checkpoint.root)
        return data

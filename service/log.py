"""The tile log, ``/log/`` (C2SP tlog-tiles; docs/contract.md "Tile log"): the newest
checkpoint, the Merkle tree's hash tiles and the records' entry bundles, as static-looking
resources any HTTP cache or plain file server can hold.

* ``GET /log/checkpoint`` — the newest signed checkpoint as a C2SP signed note
  (``text/plain; charset=utf-8``), written by
  :func:`tracelib.views.tile_log.served_checkpoint_note`; short-lived.
* ``GET /log/tile/<L>/<N>[.p/<W>]`` — a hash tile; public (hashes only).
* ``GET /log/tile/entries/<N>[.p/<W>]`` — an entry bundle of the records' bytes; needs a
  token with ``read:all`` (records carry parties' personal data), or nothing when the
  operator sets ``PUBLIC_ENTRIES`` (docs/operations.md).

A hash tile, once served, is kept in the worker's memory (``TILE_CACHE_MB``, least
recently used dropped first): the bytes at a tile path never change, so a kept tile is
answered without reading the database.

Full tiles and bundles never change: ``Cache-Control: public, max-age=31536000, immutable``
(``private`` for a bundle behind a token). Partial ones may be replaced by the full tile:
``max-age=5``. A malformed path is a 400 problem, a tile the newest checkpoint's tree does
not hold a 404.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import Blueprint, Flask, Response, current_app

from tracelib.errors import ValidationError
from tracelib.tiles import Tile, parse_path
from tracelib.views.tile_log import entry_bundle, hash_tile, served_checkpoint_note

from .access import READ_ALL, current_principal, require
from .extension import ledger
from .httputil import conditional
from .problems import BadInput

__all__ = ["CHECKPOINT_CACHE", "FULL_TILE_CACHE", "PARTIAL_TILE_CACHE", "KeptTiles", "bp",
           "kept_tiles", "served_checkpoint_note"]

bp = Blueprint("log", __name__, url_prefix="/log")

#: C2SP tlog-tiles "Merkle Tree"/"Log entries": these endpoints are immutable, so their
#: caching headers SHOULD be long-lived.
FULL_TILE_CACHE = "public, max-age=31536000, immutable"
#: A partial tile is replaced by the full one as the log grows (C2SP tlog-tiles "Partial
#: Tiles": logs MAY delete it then); a few seconds, like the checkpoint.
PARTIAL_TILE_CACHE = "public, max-age=5"
#: C2SP tlog-tiles "Checkpoints": mutable, so no caching beyond a few seconds.
CHECKPOINT_CACHE = "public, max-age=5"
_OCTETS = "application/octet-stream"


class KeptTiles:
    """This worker's hash tiles by path, least recently used first, within ``limit`` bytes.

    Sound without invalidation: a tile is kept only after the newest checkpoint's tree was
    found to hold it, and the bytes at a tile path, full or partial, are the same in every
    later tree (C2SP tlog-tiles: tiles are immutable; the ledger only appends)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.weight = 0
        self._items: OrderedDict[Tile, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tile: Tile) -> bytes | None:
        with self._lock:
            found = self._items.get(tile)
            if found is not None:
                self._items.move_to_end(tile)
            return found

    def put(self, tile: Tile, body: bytes) -> None:
        with self._lock:
            if tile in self._items or len(body) > self.limit:
                return
            self._items[tile] = body
            self.weight += len(body)
            while self.weight > self.limit:
                _, dropped = self._items.popitem(last=False)
                self.weight -= len(dropped)


def kept_tiles(app: Flask) -> KeptTiles:
    found = app.extensions.get("tracelib_kept_tiles")
    if found is None:
        limit = int(float(app.config["TILE_CACHE_MB"]) * 1024 * 1024)
        found = app.extensions.setdefault("tracelib_kept_tiles", KeptTiles(limit))
    assert isinstance(found, KeptTiles)
    return found


def _tile(path: str, *, entries: bool) -> Tile:
    try:
        tile = parse_path(path)
    except ValidationError as e:
        raise BadInput(str(e), field="path") from e
    if tile.entries != entries:  # /log/tile/entries/… never reaches the hash tile route
        raise BadInput(f"{path!r} is not a {'bundle' if entries else 'hash tile'} path",
                       field="path")
    return tile


def _octets(body: bytes, tile: Tile, *, private: bool = False) -> Response:
    response = current_app.response_class(body, mimetype=_OCTETS)
    cache = PARTIAL_TILE_CACHE if tile.partial else FULL_TILE_CACHE
    response.headers["Cache-Control"] = cache.replace("public", "private") if private else cache
    return response


@bp.get("/checkpoint")
def checkpoint() -> Response:
    response = current_app.response_class(served_checkpoint_note(ledger()),
                                          mimetype="text/plain")  # charset=utf-8 added
    response = conditional(response, vary=())
    response.headers["Cache-Control"] = CHECKPOINT_CACHE
    return response


@bp.get("/tile/<path:path>", endpoint="hash_tile")
def hash_tile_view(path: str) -> Response:
    tile = _tile(f"tile/{path}", entries=False)
    kept = kept_tiles(current_app)
    body = kept.get(tile)
    if body is None:
        body = hash_tile(ledger(), tile)
        kept.put(tile, body)
    return _octets(body, tile)


@bp.get("/tile/entries/<path:path>", endpoint="entry_bundle")
def entry_bundle_view(path: str) -> Response:
    public = bool(current_app.config["PUBLIC_ENTRIES"])
    if public:
        current_principal()  # a token sent is still checked: a bad one is a 401 everywhere
    else:
        require(READ_ALL)  # 401 without a token, 403 without read:all
    tile = _tile(f"tile/entries/{path}", entries=True)
    return _octets(entry_bundle(ledger(), tile), tile, private=not public)

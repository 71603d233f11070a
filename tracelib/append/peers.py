"""Peers, their cited checkpoints and citations as seen inside one append transaction: read
through a cache, written when the engine flushes, so a later event of the same batch sees
what an earlier one registered or cited."""

from __future__ import annotations

from sqlalchemy import Connection

from ..store.peers import PeerCheckpoint, PeerCitation, PeerRow, PeersSql

__all__ = ["PeerState"]


class PeerState:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._peers: dict[str, PeerRow | None] = {}
        self._checkpoints: dict[str, PeerCheckpoint | None] = {}
        self._citations: dict[tuple[str, str], PeerCitation | None] = {}
        self._new_peers: dict[str, PeerRow] = {}
        self._new_checkpoints: dict[str, PeerCheckpoint] = {}
        self._new_citations: list[PeerCitation] = []

    def peer(self, origin: str) -> PeerRow | None:
        if origin not in self._peers:
            self._peers[origin] = PeersSql.peer(self.conn, origin)
        return self._peers[origin]

    def put_peer(self, row: PeerRow) -> None:
        self._peers[row.origin] = row
        self._new_peers[row.origin] = row

    def checkpoint(self, origin: str) -> PeerCheckpoint | None:
        if origin not in self._checkpoints:
            self._checkpoints[origin] = PeersSql.checkpoint(self.conn, origin)
        return self._checkpoints[origin]

    def put_checkpoint(self, row: PeerCheckpoint) -> None:
        self._checkpoints[row.origin] = row
        self._new_checkpoints[row.origin] = row

    def citation(self, origin: str, ship_event: str) -> PeerCitation | None:
        key = (origin, ship_event)
        if key not in self._citations:
            self._citations[key] = PeersSql.citation(self.conn, origin, ship_event)
        return self._citations[key]

    def add_citation(self, row: PeerCitation) -> None:
        self._citations[(row.origin, row.ship_event)] = row
        self._new_citations.append(row)

    def flush(self) -> None:
        PeersSql.write(self.conn, self._new_peers.values(), self._new_checkpoints.values(),
                       self._new_citations)
        self._new_peers.clear()
        self._new_checkpoints.clear()
        self._new_citations.clear()

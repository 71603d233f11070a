"""SQL for the peers tables: the ledgers this one accepts lots from, the newest checkpoint
of each that was cited, and the peer shipments cited (docs/contract.md "Peers and entries
from another ledger")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from .bulk import insert_rows
from .schema import peer_checkpoints, peer_citations, peer_notices, peers

__all__ = ["PeerCheckpoint", "PeerCitation", "PeerNotice", "PeerRow", "PeersSql"]


@dataclass(frozen=True)
class PeerRow:
    """A registered peer: its C2SP checkpoint origin line, verifier key and API base URL, and
    the witness policy its checkpoints must meet (C2SP tlog-policy text; None: none)."""

    origin: str
    vkey: str
    url: str
    seq: int
    policy: str | None = None


@dataclass(frozen=True)
class PeerCheckpoint:
    """The newest checkpoint of ``origin`` cited here, by the ``peer_entry`` at ``seq``."""

    origin: str
    size: int
    root: bytes
    seq: int


@dataclass(frozen=True)
class PeerCitation:
    """The peer ``ship`` ``ship_event`` (its seq there ``ship_seq``) entered here at ``seq``."""

    origin: str
    ship_event: str
    ship_seq: int
    seq: int


@dataclass(frozen=True)
class PeerNotice:
    """A recall in the peer ``origin`` (its ``recall`` event ``recall_event``, record
    ``recall_seq`` there), proven in the peer's checkpoint ``checkpoint``."""

    origin: str
    recall_event: str
    recall_seq: int
    lots: str  # JSON: the recall's inputs
    reason: str
    recall_time: str
    checkpoint: str
    received_at: str


class PeersSql:
    @staticmethod
    def peer(conn: Connection, origin: str) -> PeerRow | None:
        row = conn.execute(select(peers).where(peers.c.origin == origin)).mappings().first()
        return None if row is None else PeerRow(row["origin"], row["vkey"], row["url"],
                                                int(row["seq"]), row["policy"])

    @staticmethod
    def all_peers(conn: Connection) -> list[PeerRow]:
        rows = conn.execute(select(peers).order_by(peers.c.origin)).mappings()
        return [PeerRow(r["origin"], r["vkey"], r["url"], int(r["seq"]), r["policy"])
                for r in rows]

    @staticmethod
    def checkpoint(conn: Connection, origin: str) -> PeerCheckpoint | None:
        row = conn.execute(select(peer_checkpoints)
                           .where(peer_checkpoints.c.origin == origin)).mappings().first()
        return None if row is None else PeerCheckpoint(row["origin"], int(row["size"]),
                                                       bytes(row["root"]), int(row["seq"]))

    @staticmethod
    def citation(conn: Connection, origin: str, ship_event: str) -> PeerCitation | None:
        row = conn.execute(select(peer_citations).where(
            peer_citations.c.origin == origin,
            peer_citations.c.ship_event == ship_event)).mappings().first()
        return None if row is None else PeerCitation(row["origin"], row["ship_event"],
                                                     int(row["ship_seq"]), int(row["seq"]))

    @staticmethod
    def citation_at(conn: Connection, seq: int) -> PeerCitation | None:
        """The citation made by the ``peer_entry`` at ``seq``, if it is one."""
        row = conn.execute(select(peer_citations)
                           .where(peer_citations.c.seq == seq)).mappings().first()
        return None if row is None else PeerCitation(row["origin"], row["ship_event"],
                                                     int(row["ship_seq"]), int(row["seq"]))

    @staticmethod
    def write(conn: Connection, new_peers: Iterable[PeerRow],
              checkpoints: Iterable[PeerCheckpoint], citations: Iterable[PeerCitation]) -> None:
        """Replace the peers and remembered checkpoints given, add the citations."""
        for table, rows in ((peers, [vars(p) for p in new_peers]),
                            (peer_checkpoints, [vars(c) for c in checkpoints])):
            if rows:
                conn.execute(delete(table).where(table.c.origin.in_([r["origin"]
                                                                      for r in rows])))
                insert_rows(conn, table, rows)
        insert_rows(conn, peer_citations, [vars(c) for c in citations])

    @staticmethod
    def notice(conn: Connection, origin: str, recall_event: str) -> PeerNotice | None:
        row = conn.execute(select(peer_notices).where(
            peer_notices.c.origin == origin,
            peer_notices.c.recall_event == recall_event)).mappings().first()
        return None if row is None else PeerNotice(**dict(row))

    @staticmethod
    def add_notice(conn: Connection, notice: PeerNotice) -> None:
        insert_rows(conn, peer_notices, [vars(notice)])

    @staticmethod
    def notices(conn: Connection, limit: int = 100) -> list[PeerNotice]:
        """The newest notices first (by the time they were received)."""
        rows = conn.execute(select(peer_notices).order_by(peer_notices.c.received_at.desc(),
                                                          peer_notices.c.recall_event)
                            .limit(limit)).mappings()
        return [PeerNotice(**dict(r)) for r in rows]

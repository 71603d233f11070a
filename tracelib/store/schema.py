"""The ledger's tables (SQLAlchemy Core). Rows never leave the store package as ORM objects.

Every column holding a value of an event is as wide as the event schema lets that value be
(:mod:`tracelib.bounds`): what the schema accepts fits on SQLite and on PostgreSQL alike.
Values the ledger computes (a decimal rendered by :class:`decimal.Decimal`) are ``Text``."""

from __future__ import annotations

from sqlalchemy import (
                        BigInteger,
                        Column,
                        Index,
                        Integer,
                        LargeBinary,
                        MetaData,
                        SmallInteger,
                        String,
                        Table,
                        Text,
                        text,
)

from ..bounds import (
    MAX_BLOB_NAME,
    MAX_ID,
    MAX_KIND,
    MAX_LABEL,
    MAX_NUMBER,
    MAX_TEXT,
    MAX_TIME_TEXT,
    MAX_UNIT,
)
from .states import FollowUp

__all__ = ["checkpoint_cosignatures", "checkpoints", "epcis_event_ids", "epcis_id_cursor",
           "keys", "locations", "meta", "metadata", "nodes", "parties", "records", "witnesses"]

metadata = MetaData()

# On SQLite an INTEGER PRIMARY KEY is the rowid itself: no second index for seq.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

records = Table(
    "records", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=False),
    Column("event_id", String(MAX_ID), nullable=False, unique=True),
    Column("kind", String(MAX_KIND), nullable=False),
    Column("actor", String(MAX_ID), nullable=False),
    Column("location", String(MAX_ID), nullable=False),
    Column("event_time", String(40), nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),  # RFC 9162 leaf hash of the record
    Column("body", LargeBinary, nullable=False),  # RFC 8785 bytes of the event without sig
    Column("key_id", String(16), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("recorded_at", String(32), nullable=False),
)
Index("ix_records_kind", records.c.kind, records.c.seq)
# The EPCIS query's eventTime ranges (tracelib.store.epcis) read an index over the existing
# columns created by revision 0021, of the instant in UTC: on SQLite (kind,
# julianday(upper(event_time))), on PostgreSQL (kind, tracelib_utc(event_time)).

#: The EPCIS event hash IDs of the ledger's events (docs/contract.md "EPCIS query"): a cache
#: filled from the records in seq order, not ledger state (docs/integrity.md).
epcis_event_ids = Table(
    "epcis_event_ids", metadata,
    Column("hash_id", String(100), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)
Index("ix_epcis_event_ids_seq", epcis_event_ids.c.seq)

#: How far :data:`epcis_event_ids` has read (``indexed``: the records below that seq), the
#: directory stamp and the base URL its names were built with.
epcis_id_cursor = Table(
    "epcis_id_cursor", metadata,
    Column("name", String(16), primary_key=True),
    Column("indexed", BigInteger, nullable=False),
    Column("stamp", BigInteger, nullable=False),
    Column("base", Text, nullable=False),
)

# Perfect subtree hashes of level >= 1: (level, idx) covers leaves [idx << level, (idx+1) << level).
nodes = Table(
    "nodes", metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

# Signed tree heads: C2SP tlog-checkpoint bodies as C2SP signed notes.
checkpoints = Table(
    "checkpoints", metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

parties = Table(
    "parties", metadata,
    Column("id", String(MAX_ID), primary_key=True),
    Column("name", String(MAX_TEXT), nullable=False),
    Column("role", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

locations = Table(
    "locations", metadata,
    Column("id", String(MAX_ID), primary_key=True),
    Column("name", String(MAX_TEXT), nullable=False),
    Column("type", String(32), nullable=False),
    Column("parent", String(MAX_ID)),
    Column("holder", String(MAX_ID)),
    Column("details", Text, nullable=False),  # JSON: licences, stall number, address
    Column("seq", BigInteger, nullable=False),
)
Index("ix_locations_parent", locations.c.parent)

keys = Table(
    "keys", metadata,
    Column("key_id", String(16), primary_key=True),
    Column("party", String(MAX_ID), nullable=False, index=True),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("valid_from_us", BigInteger, nullable=False),
    Column("registered_seq", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger),
    Column("revoked_seq", BigInteger),
)

meta = Table(
    "meta", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# -- supply-chain indexes (kept in the append transaction) ----------------------
# Quantities are exact integers of micro-units (qty × 10**6): events carry at most
# six decimals (tracelib.events), so sums never round.

lots = Table(
    "lots", metadata,
    Column("lot", String(MAX_ID), primary_key=True),
    Column("unit", String(MAX_UNIT), nullable=False),
    Column("product", String(MAX_TEXT)),
    Column("storage", String(16)),  # frozen | chilled | ambient
    Column("gtin", String(14)),
    Column("seq", BigInteger, nullable=False),  # the record that made the lot
    Column("kind", String(MAX_KIND), nullable=False),  # origin | slaughter | transform
    Column("location", String(MAX_ID), nullable=False),  # where the lot code was assigned
    Column("imported", SmallInteger, nullable=False),
    Column("import_docs", Text, nullable=False),  # JSON list of import documents on record
    Column("recalled_seq", BigInteger),  # set while a recall is in force
    Column("recalled_by", String(200)),  # who signed that recall (who may lift it)
    # An origin's lots: the number of the certificate they were made with (the origin
    # event's data.certificate.no, docs/contract.md "origin"), which Find looks up.
    Column("certificate_no", String(MAX_NUMBER)),
    # On SQLite a rowid table: a new lot's row is appended in rowid order, and only the
    # narrow index on the code (sqlite_autoindex_lots_1) takes an insert at a random place.
    # Rows kept in the code's B-tree (WITHOUT ROWID) made that random insert one into
    # wide leaves: 1,000,000 origin events appended at 10,187/s that way, 11,163/s this way.
)

# Only origin lots have a certificate number: the others take no room in its index.
_CERTIFIED = lots.c.certificate_no.is_not(None)
Index("ix_lots_certificate_no", lots.c.certificate_no, sqlite_where=_CERTIFIED,
      postgresql_where=_CERTIFIED)
# The lots made at a place, by the record that made them: a producer's lots and
# certificates (docs/contract.md "Producers' standing"). The seq rises, so a new lot's entry
# goes at the end of its place's range.
Index("ix_lots_location_seq", lots.c.location, lots.c.seq)

lot_edges = Table(
    "lot_edges", metadata,
    Column("parent", String(MAX_ID), primary_key=True),
    Column("child", String(MAX_ID), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)
Index("ix_lot_edges_child", lot_edges.c.child)

# The records that touched a lot after the one that made it (that one is lots.seq: a new lot's
# row here would be one more insert at a random place in a large index for every lot made).
lot_events = Table(
    "lot_events", metadata,
    Column("lot", String(MAX_ID), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

# Keyed by the record that made the lot (lots.seq) before the lot code: a new lot's stock
# row goes at the end of the key order, not at a random place among a million lot codes
# (at 900,000 records, an origin event's stock row cost the writer 48 µs keyed by lot code).
# A lot's rows are found through ``lots`` (lot code → seq), which an append reads first.
stock = Table(
    "stock", metadata,
    Column("lot_seq", BigInteger, primary_key=True, autoincrement=False),  # lots.seq
    Column("lot", String(MAX_ID), primary_key=True),
    Column("location", String(MAX_ID), primary_key=True),
    Column("unit", String(MAX_UNIT), nullable=False),
    Column("received", BigInteger, nullable=False),  # made or received here
    Column("sold", BigInteger, nullable=False),
    Column("shipped", BigInteger, nullable=False),
    Column("consumed", BigInteger, nullable=False),  # transformed or slaughtered here
    Column("on_hand", BigInteger, nullable=False),
    Column("hold_seq", BigInteger),  # the hold in force here, if any
    Column("hold_reason", Text),
    Column("hold_cause", String(10)),  # tracelib.store.supply.HoldCause, while held
    Column("hold_by", String(200)),  # who placed the hold in force (who may release it)
    sqlite_with_rowid=False,  # the key order is append order: rows live in the key B-tree
)
# What is on hand at a location (a stall's page, the drill's places to visit). Partial, and
# ordered by lot_seq within a location: a sold-out lot leaves it, a new lot joins its
# location's end.
Index("ix_stock_on_hand", stock.c.location, stock.c.lot_seq,
      sqlite_where=stock.c.on_hand > 0, postgresql_where=stock.c.on_hand > 0)
# Held stock still on hand, for the regulator's alerts (tracelib.views.alerts): partial, so
# it holds only the few rows a hold is in force on, whatever the size of the stock table.
_HELD_ON_HAND = text("hold_seq IS NOT NULL AND on_hand > 0")
Index("ix_stock_held", stock.c.hold_seq, sqlite_where=_HELD_ON_HAND,
      postgresql_where=_HELD_ON_HAND)

shipments = Table(
    "shipments", metadata,
    Column("ship_event", String(MAX_ID), primary_key=True),
    Column("lot", String(MAX_ID), primary_key=True),
    Column("ship_seq", BigInteger, nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("from_location", String(MAX_ID), nullable=False),
    Column("to_location", String(MAX_ID), nullable=False),
    Column("received_qty", BigInteger),
    Column("receive_seq", BigInteger),
    Column("discrepancy", BigInteger),  # received − shipped, when not zero
    # A hop refused at its destination (docs/contract.md "reject"): the reject's reason; the
    # reject's record closes the hop (receive_seq) with received_qty 0.
    Column("reject_reason", Text),
)
Index("ix_shipments_lot", shipments.c.lot)
# Shipments not yet received, for the regulator's alerts: partial, so a receipt takes the
# row out and the index stays as small as what is on the road.
_IN_TRANSIT = text("receive_seq IS NULL")
Index("ix_shipments_in_transit", shipments.c.ship_seq, sqlite_where=_IN_TRANSIT,
      postgresql_where=_IN_TRANSIT)

excursions = Table(
    "excursions", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("reading", Integer, primary_key=True, autoincrement=False),
    Column("time", String(MAX_TIME_TEXT), nullable=False),
    Column("celsius", String(16), nullable=False),  # -?\d{1,3}(.\d{1,2})? (kinds.ship)
    Column("limit_celsius", String(16), nullable=False),
    Column("storage", String(16), nullable=False),
)

# -- test results (rapid tests and lab results) ---------------------------------

test_results = Table(
    "test_results", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=False),
    Column("event_id", String(MAX_ID), nullable=False),
    Column("kind", String(16), nullable=False),  # rapid | lab
    Column("stall", String(MAX_ID)),
    Column("location", String(MAX_ID), nullable=False),
    Column("lot", String(MAX_ID)),
    Column("day", String(10), nullable=False),  # local date of the test (its own offset)
    Column("time", String(40), nullable=False),
    Column("item", String(MAX_LABEL), nullable=False),  # test item or analyte
    Column("method", String(MAX_LABEL)),
    Column("sample", String(MAX_LABEL)),
    Column("commodity", String(MAX_LABEL)),
    Column("rate", String(16)),  # enzyme inhibition %, when computed
    Column("result", String(16), nullable=False),  # negative|suspect|positive or pass|fail|no_limit
    Column("value_mg_kg", Text),
    Column("limit_mg_kg", Text),
    Column("table_version", String(100)),
    Column("retest", SmallInteger, nullable=False),
    Column("residue", SmallInteger, nullable=False),  # a pesticide / vet-drug residue test
    Column("follow_up", String(16)),  # held → lab_confirmed | cleared | released | disposed
    Column("follow_up_seq", BigInteger),
    Column("explanation", Text),
    # lab results: official sampling or not, where, what (docs/contract.md "lab_test")
    Column("sampling", String(16)),  # supervision|evaluation|monitoring|commissioned|self
    Column("stage", String(16)),  # production | circulation | catering
    Column("category", String(MAX_LABEL)),  # the plan's food category
    Column("business_type", String(MAX_LABEL)),
)
Index("ix_test_results_stall_day", test_results.c.stall, test_results.c.day)
# The KPI report's year of figures, read from the index alone (covering).
Index("ix_test_results_day_figures", test_results.c.day, test_results.c.kind,
      test_results.c.result, test_results.c.residue, test_results.c.follow_up,
      test_results.c.sampling, test_results.c.category, test_results.c.stage)
# A lot's results, and its open follow-ups (follow_up = 'held') without reading the rest.
Index("ix_test_results_lot_follow_up", test_results.c.lot, test_results.c.follow_up)
# Failures whose follow-up is open (tracelib.store.states.FollowUp.OPEN), for the regulator's
# alerts: partial, so closing a follow-up takes the row out.
_FOLLOW_UP_OPEN = text(f"follow_up = '{FollowUp.OPEN}'")
Index("ix_test_results_open", test_results.c.seq, sqlite_where=_FOLLOW_UP_OPEN,
      postgresql_where=_FOLLOW_UP_OPEN)

# -- inspections (日常监督检查) and their rectifications ---------------------------

inspections = Table(
    "inspections", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=False),
    Column("event_id", String(MAX_ID), nullable=False, unique=True),
    Column("location", String(MAX_ID), nullable=False),  # the inspected place
    Column("actor", String(MAX_ID), nullable=False),  # the regulator that signed it
    Column("day", String(10), nullable=False),  # local date of the inspection (its own offset)
    Column("time", String(MAX_TIME_TEXT), nullable=False),
    Column("result", String(32), nullable=False),  # compliant|basically_compliant|non_compliant
    Column("deadline", String(10)),  # the rectification deadline, when not compliant
    # open | reported | closed (tracelib.store.states.Rectification); NULL when compliant
    Column("rectification", String(16)),
    Column("reported_seq", BigInteger),  # the holder's latest rectification report
    Column("closed_seq", BigInteger),  # the regulator's confirmation that closed it
)
# The latest inspection of a place, for the stall page's 公示栏.
Index("ix_inspections_location_seq", inspections.c.location, inspections.c.seq)

# -- producers' broken commitments (docs/contract.md "Producers' standing") -------

# One row per confirmed failure (a failing lab_test) and lot it came from that was made by an
# origin certificate (or an entry's vouchers): the certificate's commitment is broken.
broken_commitments = Table(
    "broken_commitments", metadata,
    Column("test_seq", BigInteger, primary_key=True, autoincrement=False),  # the lab_test
    Column("source_lot", String(MAX_ID), primary_key=True),  # the origin (or entry) lot
    Column("source_seq", BigInteger, nullable=False),  # the record that made it (lots.seq)
    Column("source_kind", String(MAX_KIND), nullable=False),  # origin | entry
    Column("tested_lot", String(MAX_ID), nullable=False),  # the lot the lab test sampled
    Column("certificate_no", String(MAX_NUMBER)),  # 合格证 (or voucher) number, if any
    Column("producer", String(MAX_ID)),  # the party holding the place the lot was made
    Column("location", String(MAX_ID), nullable=False),  # where the source lot was made
    Column("stall", String(MAX_ID)),  # the stall where the failure was found
    Column("analyte", String(MAX_LABEL), nullable=False),
    Column("day", String(10), nullable=False),  # local date of the lab test
)
# A producer's failures traced back, newest first (the producer page, tracelib standing).
Index("ix_broken_commitments_producer", broken_commitments.c.producer,
      broken_commitments.c.test_seq)
# -- attachments: the blobs events cite (docs/contract.md "Attachments") ----------

attachments = Table(
    "attachments", metadata,
    Column("name", String(MAX_BLOB_NAME), primary_key=True),  # sha256:<64 hex>
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # the citing record
    Column("actor", String(MAX_ID), nullable=False),  # who signed the citing event
    Column("location", String(MAX_ID), nullable=False),  # where it happened
)

# -- limits tables (GB 2763 versions loaded by the user) -------------------------

limit_tables = Table(
    "limit_tables", metadata,
    Column("version", String(100), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("csv", Text, nullable=False),
    Column("loaded_at", String(32), nullable=False),  # the time of the `limits` event
    Column("seq", BigInteger),  # the `limits` event that loaded it
)

# -- EPCIS named queries and subscriptions (docs/contract.md "EPCIS subscriptions") ------
# Not ledger state (tracelib.replay.TABLES: outside): who asked to be told what, and how far
# each delivery has gone. The records never read them and verify does not compare them.

epcis_queries = Table(
    "epcis_queries", metadata,
    Column("name", String(MAX_ID), primary_key=True),
    Column("params", Text, nullable=False),  # JSON: {parameter: [values]}
    Column("owner", String(MAX_ID), nullable=False),  # the party whose token created it
    Column("reach", String(16), nullable=False),  # all | market | own: that token's read scope
    Column("token", String(64)),  # SHA-256 (hex) of that token; NULL: made by the CLI
    Column("created_at", String(32), nullable=False),
)

epcis_subscriptions = Table(
    "epcis_subscriptions", metadata,
    Column("id", String(36), primary_key=True),  # a random UUID
    Column("query_name", String(MAX_ID), nullable=False),
    Column("dest", Text, nullable=False),  # the webhook URL
    Column("secret", Text, nullable=False),  # the subscriber's signatureToken (HMAC key)
    Column("stream", SmallInteger, nullable=False),
    Column("report_if_empty", SmallInteger, nullable=False),
    Column("owner", String(MAX_ID), nullable=False),  # the party whose token subscribed
    Column("reach", String(16), nullable=False),  # all | market | own
    Column("token", String(64)),  # SHA-256 (hex) of that token
    Column("cursor", BigInteger, nullable=False),  # the last record seq delivered or passed
    Column("next_attempt", BigInteger, nullable=False),  # µs since the epoch (UTC)
    Column("failures", Integer, nullable=False),  # failed attempts since the last success
    Column("last_error", Text),
    Column("delivered", BigInteger, nullable=False),  # events acknowledged (2xx), in all
    Column("last_notified", String(32)),  # when the receiver last answered 2xx
    Column("created_at", String(32), nullable=False),
)
Index("ix_epcis_subscriptions_query", epcis_subscriptions.c.query_name)

epcis_deliveries = Table(
    "epcis_deliveries", metadata,
    Column("subscription_id", String(36), primary_key=True),
    Column("last_seq", BigInteger, primary_key=True, autoincrement=False),  # the new cursor
    Column("first_seq", BigInteger, nullable=False),
    Column("events", Integer, nullable=False),
    Column("status", SmallInteger, nullable=False),  # the receiver's HTTP status
    Column("delivered_at", String(32), nullable=False),
)

epcis_delivery_lease = Table(
    "epcis_delivery_lease", metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(MAX_ID), nullable=False),
    Column("expires", BigInteger, nullable=False),  # µs since the epoch (UTC)
)

# -- EPCIS capture jobs (not ledger state: what a capture answered, docs/integrity.md) -----

epcis_captures = Table(
    "epcis_captures", metadata,
    Column("id", String(64), primary_key=True),  # the captureID
    Column("party", String(MAX_ID)),  # whose token captured (None: the operator's CLI)
    Column("behaviour", String(16), nullable=False),  # rollback | proceed
    Column("created_at", String(MAX_TIME_TEXT), nullable=False),
    Column("finished_at", String(MAX_TIME_TEXT)),  # None while running
    Column("success", SmallInteger, nullable=False),
    Column("events", Integer, nullable=False),  # events in the document
    Column("stored", Integer, nullable=False),  # events stored by this capture
    Column("errors", Text, nullable=False),  # JSON: the RFC 9457 problems, per event
)

# -- Witnesses (docs/contract.md "Witnesses") ---------------------------------------------
# ``witnesses``: the witnesses the operator registered (``register`` events'
# ``data.witnesses``), ledger state re-derived by replay. ``checkpoint_cosignatures``: the
# C2SP tlog-cosignature lines witnesses returned for the ledger's checkpoints; not ledger
# state (evidence from outside, each line verifiable on its own, checked by `verify --policy`).

witnesses = Table(
    "witnesses", metadata,
    Column("name", String(MAX_ID), primary_key=True),
    Column("vkey", Text, nullable=False),  # C2SP vkey, type 0x04 (Ed25519 cosignature/v1)
    Column("url", Text, nullable=False),  # its tlog-witness submission prefix
    Column("seq", BigInteger, nullable=False),  # the register record that set this row
)

checkpoint_cosignatures = Table(
    "checkpoint_cosignatures", metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),  # the checkpoint's
    Column("witness", String(MAX_ID), primary_key=True),  # the registered witness's name
    Column("key_id", String(8), nullable=False),  # hex, C2SP tlog-cosignature key ID
    Column("timestamp", BigInteger, nullable=False),  # POSIX seconds, as cosigned
    Column("line", Text, nullable=False),  # the whole note signature line
)


# -- peers: other ledgers whose lots enter this one (docs/contract.md "Peers and entries
# from another ledger") ----------------------------------------------------------------

#: The peer ledgers the operator registered: their checkpoint origin line, C2SP verifier key
#: and API base URL (the last ``register`` naming a peer wins).
peers = Table(
    "peers", metadata,
    Column("origin", String(MAX_TEXT), primary_key=True),
    Column("vkey", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),  # the register event
    Column("policy", Text, nullable=True),  # C2SP tlog-policy its checkpoints must meet
)

#: Per peer, the newest of its checkpoints a ``peer_entry`` cited: a later citation must cite
#: a checkpoint consistent with it (this ledger is the peer's witness).
peer_checkpoints = Table(
    "peer_checkpoints", metadata,
    Column("origin", String(MAX_TEXT), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("seq", BigInteger, nullable=False),  # the peer_entry that cited it
)

#: Every peer ``ship`` a ``peer_entry`` cited: each enters once.
peer_citations = Table(
    "peer_citations", metadata,
    Column("origin", String(MAX_TEXT), primary_key=True),
    Column("ship_event", String(MAX_ID), primary_key=True),
    Column("ship_seq", BigInteger, nullable=False),  # the ship's seq in the peer's ledger
    Column("seq", BigInteger, nullable=False, unique=True),  # the peer_entry here
)

#: Recall notices received from peers (docs/contract.md "Peers and entries from another
#: ledger"): a peer's ``recall`` record with its inclusion proof in the peer's checkpoint,
#: verified on receipt. Not ledger state: the regulator's own ``recall`` here is.
peer_notices = Table(
    "peer_notices", metadata,
    Column("origin", String(MAX_TEXT), primary_key=True),
    Column("recall_event", String(MAX_ID), primary_key=True),
    Column("recall_seq", BigInteger, nullable=False),  # its seq in the peer's ledger
    Column("lots", Text, nullable=False),  # JSON: the recall's inputs
    Column("reason", Text, nullable=False),
    Column("recall_time", String(MAX_TIME_TEXT), nullable=False),
    Column("checkpoint", Text, nullable=False),  # the peer's signed note it was proven in
    Column("received_at", String(MAX_TIME_TEXT), nullable=False),
)

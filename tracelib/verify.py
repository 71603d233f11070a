"""Re-derive a whole ledger from its stored bytes, in constant memory, on every core.

Lesson of immudb CVE-2022-36111: check every link relied on, not only the ends.
For every record: the seq is the next one, ``prev`` is the previous record's
hash, the stored hash is the leaf hash of the record's bytes, the body is
canonical and agrees with the indexed columns, the signing key belonged to the
actor and was valid when the record was made (key history re-derived from the
``register`` events themselves, not from the keys index), and the signature
verifies. Every stored subtree hash is recomputed, and so is the root at every
stored checkpoint, whose signed note must verify against an operator key.

The records are split into chunks aligned to 2**13 leaves (the last few cut into
aligned pieces of 2**10, so that the workers run out of work together); workers check
chunks independently (each returns its compact range and checks the subtree hashes
inside it) and the parent merges the ranges in order, checking the chain across chunk
boundaries, the subtree hashes the merges complete, and the checkpoints.

Signature checks are the floor of the cost, so everything else in a worker is kept
well below one: the records are read as plain driver rows, a chunk's subtree hashes
are computed level by level, and a record's body is decided by a fast path — its
layout (the text outside its strings and its member names) matching one already
proven canonical, else the canonical check done in C — that only ever accepts what
the full check accepts. Any record the fast path does not accept goes through the
full check, which says what is wrong with it.
"""

from __future__ import annotations

import hashlib
import json
import json.scanner
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import canonical, merkle
from ._cores import cpu_count
from ._lifeline import die_with_parent
from .blobs import BlobStore
from .directory import KeyRecord
from .errors import IntegrityError, TracelibError
from .keys import VerifyKey, key_id
from .note import Checkpoint, NoteVerifier, open_note
from .record import GENESIS_PREV, record_bytes
from .store import Store
from .store.attachments import AttachmentsSql
from .timeutil import parse_rfc3339, to_micros

if TYPE_CHECKING:
    from .replay import ScratchReplay

__all__ = ["CHUNK_LEVEL", "VerifiedLedger", "VerifyReport", "verify_ledger"]


class VerifiedLedger(Protocol):
    """What verify needs of a ledger (:class:`tracelib.ledger.Ledger` has it)."""

    @property
    def store(self) -> Store: ...
    @property
    def operator(self) -> str: ...
    @property
    def origin(self) -> str: ...


CHUNK_LEVEL = 13
CHUNK = 1 << CHUNK_LEVEL
# The last chunks, one per worker, are checked in pieces of 2**TAIL_LEVEL leaves: with
# whole chunks (~1 s each) one worker idled for half a chunk on average while the other
# finished the last one.
TAIL_LEVEL = 10
# Signatures are checked in runs of this many records, after the rest of their checks:
# back to back, Ed25519 verify keeps more of its code and tables in the core's caches
# (measured in-process: 98.6 against 99.5 µs a signature interleaved with the other checks,
# beside 95-96 µs for one message and key verified over and over).
SIGNATURE_RUN = 256
# tracelib.timeutil.format_utc: fixed width, so text order is time order.
_RECORD_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
_LEAF = b"\x00"  # RFC 9162 §2.1.1 leaf prefix
_NODE = b"\x01"  # RFC 9162 §2.1.1 interior node prefix

@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify_ledger`. ``bad_seq`` is the first bad record."""

    ok: bool
    size: int
    records_checked: int
    checkpoints_checked: int
    seconds: float
    bad_seq: int | None = None
    problem: str | None = None
    #: For a derived row that differs from what the records give: its table, its primary
    #: key and the column (None when the whole row is missing or extra).
    table: str | None = None
    row: dict[str, Any] | None = None
    column: str | None = None
    #: Attachments (docs/integrity.md "Attachments"): the cited blobs present and rehashed,
    #: how many cited blobs are not in the blob store (reported, not a failure) and the
    #: first few of their names.
    blobs_checked: int = 0
    blobs_missing: int = 0
    missing_blobs: tuple[str, ...] = ()

    def raise_for_problem(self) -> None:
        if not self.ok:
            raise IntegrityError(self.problem or "verification failed", seq=self.bad_seq)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "size": self.size, "records_checked": self.records_checked,
                "checkpoints_checked": self.checkpoints_checked,
                "seconds": round(self.seconds, 3), "bad_seq": self.bad_seq,
                "problem": self.problem, "table": self.table,
                "row": None if self.row is None else {
                    k: v.hex() if isinstance(v, bytes) else v for k, v in self.row.items()},
                "column": self.column, "blobs_checked": self.blobs_checked,
                "blobs_missing": self.blobs_missing, "missing_blobs": list(self.missing_blobs)}


#: How many missing blobs a report names (it counts them all).
MISSING_SHOWN = 5


def check_attachments(store: Store, blobs: BlobStore, report: VerifyReport) -> VerifyReport:
    """``report`` with the attachments checked: every blob the attachments table names that
    is in ``blobs`` is rehashed, file by file in chunks (a mismatch fails, naming the blob and
    the first record citing it); the missing are counted, and the first few named, without
    failing: blob presence is not ledger state (docs/integrity.md "Attachments")."""
    started = time.perf_counter()
    checked = missing = 0
    shown: list[str] = []
    with store.reader() as conn:
        for name, seq in AttachmentsSql.names(conn):
            health = blobs.check(name)
            if health == "missing":
                missing += 1
                if len(shown) < MISSING_SHOWN:
                    shown.append(name)
                continue
            checked += 1
            if health == "corrupt":
                return replace(report, ok=False, seconds=report.seconds + time.perf_counter()
                               - started, table="attachments", row={"name": name, "seq": seq},
                               problem=f"blob {name} (cited by seq {seq}) in the blob store "
                                       f"{blobs.root} does not hash to its name: the file was "
                                       "changed or damaged", blobs_checked=checked,
                               blobs_missing=missing, missing_blobs=tuple(shown))
    return replace(report, seconds=report.seconds + time.perf_counter() - started,
                   blobs_checked=checked, blobs_missing=missing, missing_blobs=tuple(shown))


@dataclass
class _Chunk:
    start: int
    end: int
    count: int = 0
    first_prev: bytes | None = None
    last_hash: bytes | None = None
    first_time: str | None = None
    last_time: str | None = None
    hashes: list[bytes] = field(default_factory=list)
    partials: dict[int, list[bytes]] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)


# Per-process state of a verification worker.
_STATE: dict[str, Any] = {}
# Public keys kept loaded per worker (as keys.verify_batch's cache).
_LOADED_KEYS_MAX = 8192

# The indexed columns (the last five of the scan) and the event members they repeat.
_INDEXED = (("event_id", "id"), ("kind", "kind"), ("actor", "actor"),
            ("location", "location"), ("event_time", "time"))


def _init_worker(url: str, keys: dict[str, KeyRecord], operator: str,
                 parent: int | None = None) -> None:
    if parent is not None:  # a pool worker: it ends when the verifying process dies
        die_with_parent(parent)
    _STATE.clear()
    _STATE.update(url=url, keys=keys, operator=operator, store=None, signature_checks={})


def _store() -> Store:
    if _STATE.get("store") is None:
        _STATE["store"] = Store(_STATE["url"])
    store: Store = _STATE["store"]
    return store


Task = tuple[int, int, int, tuple[int, ...]]  # start, end, level, checkpoint sizes inside


def _check_chunk(task: Task) -> _Chunk:
    """Check records [start, end) and the subtree hashes of levels 1..level that lie inside
    them (``start`` is a multiple of 2**level, and ``end - start`` at most that).

    Every record goes through the same checks in the same order; the problems found at the
    first bad record, and the first bad signature before it, are reported (the parent
    takes the least). A record that passes :func:`_event_ok` needs no more; any other is
    explained by :func:`_check_event`."""
    start, end, chunk_level, checkpoint_sizes = task
    keys: dict[str, KeyRecord] = _STATE["keys"]
    operator: str = _STATE["operator"]
    checks: dict[str, Callable[[bytes, bytes], None]] = _STATE["signature_checks"]
    out = _Chunk(start, end)
    problems = out.problems
    leaves: list[bytes] = []
    bad_signature: int | None = None  # only the first bad signature counts
    signed: list[tuple[Callable[[bytes, bytes], None], bytes, bytes, int]] = []
    record_us: dict[str, int | None] = {}
    store = _store()
    expected = start
    prev: bytes | None = None
    last_time: str | None = None
    sha256 = hashlib.sha256
    match_time = _RECORD_TIME.match

    with store.reader() as conn:
        for row in Store.scan_records(conn, start, end):
            seq, stored_prev, stored_hash, body, kid, signature, recorded = row[:7]
            seq = int(seq)
            if seq != expected:
                problems.append((expected, f"record missing: expected seq {expected}, "
                                           f"found seq {seq} next"))
                break
            try:
                if not (type(stored_prev) is type(stored_hash) is type(body)
                        is type(signature) is bytes):
                    stored_prev, stored_hash = bytes(stored_prev), bytes(stored_hash)
                    body, signature = bytes(body), bytes(signature)
                leaf_bytes = record_bytes(seq, stored_prev, body, kid, signature, recorded)
            except (TypeError, ValueError, AttributeError) as e:  # e.g. a non-ASCII key id
                problems.append((seq, f"record columns are malformed: {e}"))
                break
            recorded = str(recorded)
            # Records of one append share their time: its form is checked once.
            if recorded != last_time and not match_time(recorded):
                problems.append((seq, f"record time {recorded!r} is not in the ledger's "
                                      "form YYYY-MM-DDTHH:MM:SS.ffffffZ"))
                break
            if prev is None:
                out.first_prev, out.first_time = stored_prev, recorded
            else:
                if last_time is not None and recorded < last_time:
                    problems.append((seq, f"record time goes backwards: {recorded} after "
                                          f"{last_time}"))
                if stored_prev != prev:
                    problems.append((seq, f"chain broken: prev hash expected {prev.hex()}, "
                                          f"found {stored_prev.hex()}"))
            leaf = sha256(_LEAF + leaf_bytes).digest()  # RFC 9162 §2.1.1 leaf hash
            if leaf != stored_hash:
                problems.append((seq, f"record hash mismatch: stored {stored_hash.hex()}, "
                                      f"the record's bytes hash to {leaf.hex()}"))
            if _event_ok(seq, row, body, keys, operator, record_us):
                problem = None
            else:
                problem = _check_event(seq, row, body, keys, operator)
            if problem is not None:
                problems.append((seq, problem))
            else:
                check = checks.get(kid)
                if check is None:
                    if len(checks) >= _LOADED_KEYS_MAX:  # constant memory whatever the keys
                        checks.clear()
                    check = checks[kid] = _signature_check(keys[kid].public_key)
                signed.append((check, signature, body, seq))
                if len(signed) >= SIGNATURE_RUN and bad_signature is None:
                    bad_signature = _first_bad_signature(signed)
                    signed.clear()
            leaves.append(leaf)
            prev = stored_hash
            last_time = recorded
            expected = seq + 1
            if problems:
                break
        if signed and bad_signature is None:
            bad_signature = _first_bad_signature(signed)
        out.last_time = last_time
        if not problems and expected < end:
            problems.append((expected, f"record missing: expected seq {expected}, "
                                       "found none"))
        levels = _subtrees(leaves)
        # The stored subtree hashes, level by level: equal lists say all is well; any
        # difference is then located by _first_bad_node.
        if not problems and any(store.node_hashes(conn, level, start, end) != levels[level]
                                for level in range(1, min(chunk_level, len(levels) - 1) + 1)):
            stored = store.nodes_in_range(conn, chunk_level, start, end)
            bad = _first_bad_node(start, levels, stored)
            if bad is not None:
                problems.append(bad)
    if bad_signature is not None:
        problems.append((bad_signature, "signature does not verify"))
    out.count = expected - start
    out.last_hash = prev
    out.hashes = _compact(start, expected, levels)
    out.partials = {size: _compact(start, size, levels)
                    for size in checkpoint_sizes if size <= expected}
    return out


def _first_bad_signature(signed: list[tuple[Callable[[bytes, bytes], None], bytes, bytes, int]]
                         ) -> int | None:
    """The seq of the first record in ``signed`` whose signature does not verify."""
    for check, signature, body, seq in signed:
        try:
            check(signature, body)
        except (InvalidSignature, ValueError, TypeError):  # as keys.verify_batch
            return seq
    return None


def _signature_check(public_key: bytes) -> Callable[[bytes, bytes], None]:
    """``check(signature, message)``, raising unless the Ed25519 signature (RFC 8032 §5.1.7)
    verifies with ``public_key``; raising ValueError for every message when the key bytes
    are not a usable key (as :func:`tracelib.keys.verify_batch` counts them)."""
    try:
        return Ed25519PublicKey.from_public_bytes(public_key).verify
    except (ValueError, TypeError) as e:
        error = ValueError(str(e))

        def refuse(signature: bytes, message: bytes) -> None:
            raise error

        return refuse


def _subtrees(leaves: list[bytes]) -> list[list[bytes]]:
    """Every perfect subtree hash over ``leaves`` (which start at a multiple of the largest
    power of two not above their number), level by level: ``levels[k][i]`` is node
    ``(k, (start >> k) + i)``."""
    sha256 = hashlib.sha256
    levels = [leaves]
    level = leaves
    while len(level) > 1:
        level = [sha256(_NODE + level[i] + level[i + 1]).digest()  # RFC 9162 §2.1.1
                 for i in range(0, len(level) - 1, 2)]
        levels.append(level)
    return levels


def _compact(start: int, end: int, levels: list[list[bytes]]) -> list[bytes]:
    """The compact range [start, end) (``merkle.decompose``) from :func:`_subtrees`."""
    return [levels[level][index - (start >> level)]
            for level, index in merkle.decompose(start, end)]


def _first_bad_node(start: int, levels: list[list[bytes]],
                    stored: dict[merkle.NodeId, bytes]) -> tuple[int, str] | None:
    """The first recomputed subtree whose stored hash differs, first in the order appending
    the leaves completes them: by last leaf, then level."""
    first: tuple[int, int, int, bytes, bytes | None] | None = None
    for level in range(1, len(levels)):
        base = start >> level
        for i, digest in enumerate(levels[level]):
            found = stored.get((level, base + i))
            if found != digest:
                last = ((base + i + 1) << level) - 1
                if first is None or (last, level) < first[:2]:
                    first = (last, level, base + i, digest, found)
                break
    if first is None:
        return None
    _, level, index, digest, found = first
    return _node_problem(level, index, digest, found)


class _Undecided(ValueError):
    """The fast canonical check cannot decide; the full one (canonical.loads/dumps) must."""


def _safe_int(text: str) -> int:
    n = int(text)
    if not -canonical.MAX_SAFE_INTEGER <= n <= canonical.MAX_SAFE_INTEGER:
        raise _Undecided(text)
    return n


def _undecided(text: str) -> Any:
    raise _Undecided(text)


# typeshed wants a make_scanner for the context; any object with a decoder's attributes does.
_SCAN_JSON = json.scanner.make_scanner(json.JSONDecoder(  # type: ignore[arg-type]
    parse_float=_undecided, parse_int=_safe_int, parse_constant=_undecided))
# The serializer of canonical.dumps's fast path (RFC 8785 for the values it is used on).
_ENCODE = canonical._ENCODER.encode


def _canonical_event(body: bytes) -> dict[str, Any] | None:
    """The event when ``body`` is certainly an object in its own RFC 8785 form (then
    ``canonical.loads(body)`` returns it and ``canonical.dumps`` of it gives ``body``
    back), else None: undecided, not necessarily bad.

    The same check done in C: strict UTF-8, :mod:`json` with floats, NaN/Infinity and
    unsafe integers refused, then the serializer of ``canonical.dumps`` must give back
    exactly the stored text. Equal text also rules out duplicate keys (they would collapse,
    RFC 7493 §2.3), whitespace, needless escapes, lone surrogates (they would come out
    unescaped) and trailing bytes. Left to the full check: non-BMP characters (RFC 8785
    §3.2.3 sorts keys by UTF-16 code units, the serializer by code points) and more than
    ``canonical.MAX_DEPTH`` brackets."""
    if (b"\xf0" in body or b"\xf1" in body or b"\xf2" in body or b"\xf3" in body
            or b"\xf4" in body):  # RFC 3629 §4: lead bytes of the four-byte (non-BMP) forms
        return None
    if body.count(b"{") + body.count(b"[") > canonical.MAX_DEPTH:
        return None
    try:
        text = body.decode("utf-8")
        doc, _ = _SCAN_JSON(text, 0)
    except (ValueError, RecursionError, StopIteration):  # not JSON, or _Undecided
        return None
    if type(doc) is not dict or _ENCODE(doc) != text:
        return None
    return doc


# -- the indexed members of a canonical body, found without parsing it ----------------------
# Most bodies repeat the layout of one seen before: the same members in the same order, only
# other strings. Split at its quotes, a body without backslashes or control characters is
# the text outside strings (even pieces) and the strings themselves (odd pieces); when the
# outside text and the member names equal those of a body already proven canonical, this
# body is canonical too, and its members are at the same pieces.

_FIELDS = ("id", "kind", "actor", "location", "time")
# The escape character and the control characters: the only characters RFC 8785 §3.2.2.2
# writes otherwise than as themselves inside strings.
_NOT_PLAIN = bytes(range(0x20)) + b"\\"
_SHAPES_MAX = 4096


@dataclass(frozen=True)
class _Shape:
    """The layout of a canonical body split at its quotes: ``count`` pieces, ``names(pieces)``
    its member names (which must equal ``names_found``), ``fields(pieces)`` its
    :data:`_FIELDS` values."""

    count: int
    names: Callable[[list[str]], Any]
    names_found: Any
    fields: Callable[[list[str]], Any]


# Outside text of the bodies seen -> the layouts proven canonical with it (per process).
_SHAPES: dict[str, list[_Shape]] = {}


def _doc_fields(doc: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(doc.get(name) for name in _FIELDS)


def _shape(pieces: list[str], doc: dict[str, Any]) -> _Shape | None:
    """The layout of ``pieces``, a canonical body without backslashes or control characters
    split at its quotes, and ``doc``, its event; None when its :data:`_FIELDS` are not all
    top-level strings."""
    name_at: list[int] = []
    value_at: dict[str, int] = {}
    depth = 0
    for i in range(1, len(pieces), 2):
        outside = pieces[i - 1]
        depth += (outside.count("{") + outside.count("[")
                  - outside.count("}") - outside.count("]"))
        if pieces[i + 1].startswith(":"):  # a member name (RFC 8259 §4)
            name_at.append(i)
            if depth == 1 and pieces[i + 1] == ":" and pieces[i] in _FIELDS:
                value_at[pieces[i]] = i + 2  # a top-level member whose value is a string
    if len(value_at) != len(_FIELDS):
        return None
    fields = itemgetter(*(value_at[name] for name in _FIELDS))
    names = itemgetter(*name_at)
    if fields(pieces) != _doc_fields(doc):  # pragma: no cover - by the construction above
        return None
    return _Shape(len(pieces), names, names(pieces), fields)


def _event_fields(body: bytes) -> tuple[Any, ...] | None:
    """The body's :data:`_FIELDS` when ``body`` is certainly an object in its own RFC 8785
    form (see :func:`_canonical_event`), else None: undecided, not necessarily bad.

    Why a known layout suffices: the body is valid UTF-8 without backslashes or control
    characters, so its quotes delimit strings that RFC 8785 §3.2.2.2 writes as they are. It
    has as many pieces as a canonical body, the same text outside strings (numbers and
    literals included) and the same member names: it is that body with other strings, so it
    is canonical too, with the same members in the same (sorted) order at the same depths."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(body.translate(None, _NOT_PLAIN)) != len(body):
        doc = _canonical_event(body)
        return None if doc is None else _doc_fields(doc)
    pieces = text.split('"')
    outside = '"'.join(pieces[0::2])
    shapes = _SHAPES.get(outside)
    if shapes is not None:
        for shape in shapes:
            if len(pieces) == shape.count and shape.names(pieces) == shape.names_found:
                return tuple(shape.fields(pieces))
    doc = _canonical_event(body)
    if doc is None:
        return None
    learned = _shape(pieces, doc)
    if learned is not None:
        if shapes is None:
            if len(_SHAPES) >= _SHAPES_MAX:
                _SHAPES.clear()
            _SHAPES[outside] = [learned]
        elif len(shapes) < 8:
            shapes.append(learned)
    return _doc_fields(doc)


# The usual event time form, which parse_rfc3339 hands to datetime.fromisoformat as it is.
_PLAIN_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}\Z")
_fromisoformat = datetime.fromisoformat


def _event_ok(seq: int, row: Any, body: bytes, keys: dict[str, KeyRecord], operator: str,
              record_us: dict[str, int | None]) -> bool:
    """True when :func:`_check_event` would find nothing wrong (then the record's signature
    is checked with its key); False when it might. Cheaper: the canonical form is checked
    by layout or in C, plain event times skip the general parser, record times are parsed
    once. ``record_us`` caches record time -> microseconds (None: does not parse)."""
    fields = _event_fields(body)
    if fields is None:
        return False
    _, _, _, _, key_id, _, recorded, event_id, kind, actor, location, event_time = row
    if fields != (event_id, kind, actor, location, event_time):
        return False
    if type(event_time) is not str or not _PLAIN_TIME.match(event_time):
        return False
    try:
        _fromisoformat(event_time)
    except ValueError:
        return False
    if recorded in record_us:
        time_us = record_us[recorded]
    else:
        try:
            time_us = to_micros(parse_rfc3339(recorded, field="recorded_at"))
        except TracelibError:
            time_us = None
        if len(record_us) >= 64:
            record_us.clear()
        record_us[recorded] = time_us
    key = keys.get(key_id)
    return (time_us is not None and key is not None and seq != 0
            and (kind != "register" or actor == operator)
            and key.problem_at(actor=actor, seq=seq, time_us=time_us) is None)


def _check_event(seq: int, row: Any, body: bytes, keys: dict[str, KeyRecord],
                 operator: str) -> str | None:
    """What is wrong with one record's body, its columns or its key, if anything (the
    record's signature is then checked with that key)."""
    try:
        doc = canonical.loads(body)
        if canonical.dumps(doc) != body:
            return "stored event bytes are not canonical (RFC 8785)"
        for i, (column, name) in enumerate(_INDEXED, 7):
            if doc.get(name) != row[i]:
                return (f"indexed {column} {row[i]!r} does not match the event's "
                        f"{name} {doc.get(name)!r}")
        parse_rfc3339(doc["time"])
        recorded_us = to_micros(parse_rfc3339(row[6], field="recorded_at"))
    except TracelibError as e:
        return f"stored event does not parse: {e}"
    key = keys.get(row[4])
    if key is None:
        return f"signed with key {row[4]}, which no register event before it registers"
    if seq == 0:
        if doc["kind"] != "register" or doc["actor"] != operator or key.registered_seq != 0:
            return "the genesis record must be the operator's self-signed register event"
    else:
        if doc["kind"] == "register" and doc["actor"] != operator:
            return (f"register events are signed by the operator {operator!r}, "
                    f"not {doc['actor']!r}")
        problem = key.problem_at(actor=doc["actor"], seq=seq, time_us=recorded_us)
        if problem is not None:
            return problem
    return None


def _node_problem(level: int, index: int, expected: bytes,
                  found: bytes | None) -> tuple[int, str]:
    first, last = index << level, ((index + 1) << level) - 1
    got = "missing" if found is None else found.hex()
    return (last, f"subtree hash (level {level}, index {index}) over seq {first}..{last}: "
                  f"expected {expected.hex()}, found {got}")


def _key_history(store: Store, size: int,
                 operator: str) -> tuple[dict[str, KeyRecord], list[tuple[int, str]]]:
    """Keys and revocations as the operator's register events themselves say (not the keys
    index). As at append, a key is registered once and revoked once; register events by
    anyone but the operator change nothing (their own records are reported as bad)."""
    keys: dict[str, KeyRecord] = {}
    with store.reader() as conn:
        for row in store.iter_record_rows(conn, 0, size, kind="register"):
            seq = int(row["seq"])
            try:
                doc = canonical.loads(bytes(row["body"]))
                if doc.get("kind") != "register" or doc.get("actor") != operator:
                    continue
                data = doc.get("data", {})
                for item in data.get("keys", []):
                    raw = VerifyKey.from_base64(item["public_key"]).raw
                    if key_id(raw) in keys:
                        continue
                    valid_from = to_micros(parse_rfc3339(item["valid_from"]))
                    keys[key_id(raw)] = KeyRecord(key_id(raw), item["party"], raw, valid_from, seq)
                for item in data.get("revoke", []):
                    old = keys[item["key_id"]]
                    if old.revoked_seq is not None:
                        continue
                    at = to_micros(parse_rfc3339(item["revoked_at"]))
                    keys[old.key_id] = KeyRecord(old.key_id, old.party, old.public_key,
                                                 old.valid_from_us, old.registered_seq, at, seq)
            except (TracelibError, KeyError, TypeError, AttributeError):
                continue  # the record's own check reports it
    return keys, []


def verify_ledger(ledger: VerifiedLedger, *, workers: int | None = None,
                  progress: Callable[[int], None] | None = None,
                  state: bool = True) -> VerifyReport:
    """Re-derive the whole ledger; report the first bad seq and what is wrong.

    With ``state`` (the default), the records are also replayed through the append rules
    into a scratch database while the workers check them, and every derived table is then
    compared with the ledger's (:mod:`tracelib.replay`): the first differing table, row and
    column are reported, with the record that should have produced the row."""
    if not state:
        return _verify(ledger, workers, progress, None)
    # Imported here: the workers never need the append rules.
    from .replay import ScratchReplay

    with ScratchReplay(ledger.store, ledger.operator) as replay:
        return _verify(ledger, workers, progress, replay)


def _verify(ledger: VerifiedLedger, workers: int | None,
            progress: Callable[[int], None] | None, replay: ScratchReplay | None
            ) -> VerifyReport:
    started = time.perf_counter()
    store = ledger.store
    workers = cpu_count() if workers is None else max(1, workers)
    with store.reader() as conn:
        size = store.size(conn)
        by_size = {int(c["size"]): c for c in store.all_checkpoints(conn)}
        tasks = _tasks(size, sorted(by_size), workers)
        # The subtree hashes the parent's merges complete: above the chunk level, and in
        # the tail (cut into smaller pieces) above the pieces' level.
        high_nodes = store.nodes_above(conn, CHUNK_LEVEL)
        tail = next((start for start, _, level, _ in tasks if level == TAIL_LEVEL), size)
        high_nodes.update(store.nodes_in_range(conn, CHUNK_LEVEL, tail, size,
                                               min_level=TAIL_LEVEL + 1))
    keys, _ = _key_history(store, size, ledger.operator)
    operator_keys = [k for k in keys.values() if k.party == ledger.operator]
    for cp_size in sorted(by_size):
        if cp_size > size:
            return _report(False, size, size, 0, started, size,
                           f"checkpoint at size {cp_size} but the ledger holds only {size} "
                           "records: records were removed from the end")
    in_memory = store.url in ("sqlite://", "sqlite:///:memory:")
    tree = merkle.CompactRange(0, 0)
    checked = cps_checked = 0
    last: bytes = GENESIS_PREV
    last_time = ""
    for chunk in _run(tasks, store.url, keys, ledger.operator,
                      1 if in_memory or len(tasks) < 2 else workers):
        problems = list(chunk.problems)
        if chunk.first_prev is not None and chunk.first_prev != last:
            problems.append((chunk.start, f"chain broken: prev hash expected {last.hex()}, "
                                          f"found {chunk.first_prev.hex()}"))
        if chunk.first_time is not None and chunk.first_time < last_time:
            problems.append((chunk.start, f"record time goes backwards: {chunk.first_time} "
                                          f"after {last_time}"))
        for cp_size, partial in sorted(chunk.partials.items()):
            if any(seq < cp_size for seq, _ in problems):
                break
            head = tree.copy()
            head.merge(merkle.CompactRange(chunk.start, cp_size, partial))
            # A checkpoint verifies with an operator key registered before its size and
            # not revoked by then.
            usable = [NoteVerifier.for_key(ledger.origin, VerifyKey.from_bytes(k.public_key))
                      for k in operator_keys if k.registered_seq < cp_size
                      and (k.revoked_seq is None or k.revoked_seq >= cp_size)]
            problem = _check_checkpoint(by_size[cp_size], head.root(), ledger.origin, usable)
            if problem:
                problems.append((cp_size - 1, problem))
            cps_checked += 1
        if not problems:
            bad_nodes: list[tuple[int, str]] = []

            def visit(level: int, index: int, digest: bytes,
                      sink: list[tuple[int, str]] = bad_nodes) -> None:
                found = high_nodes.get((level, index))
                # Every node a merge completes lies above its task's level (the workers
                # checked those up to it): high_nodes holds them all.
                if found != digest and not sink:
                    sink.append(_node_problem(level, index, digest, found))

            tree.merge(merkle.CompactRange(chunk.start, chunk.end, chunk.hashes), visit)
            problems.extend(bad_nodes)
        checked += chunk.count
        if progress is not None:
            progress(chunk.count)
        if problems:
            seq, message = min(problems)
            return _report(False, size, checked, cps_checked, started, seq, message)
        if replay is not None:
            # The parent replays this chunk while the workers check the next ones.
            try:
                replay.replay(chunk.start, chunk.start + chunk.count)
            except IntegrityError as e:  # replay.ReplayError: a record the rules refuse
                return _report(False, size, checked, cps_checked, started, e.seq,
                               str(e).removeprefix(f"seq {e.seq}: "))
        last = chunk.last_hash or last
        last_time = chunk.last_time or last_time
    if replay is not None:
        try:
            difference = replay.compare()
        except IntegrityError as e:  # a record appended since verify began, refused
            return _report(False, size, checked, cps_checked, started, e.seq,
                           str(e).removeprefix(f"seq {e.seq}: "))
        if difference is not None:
            return replace(_report(False, size, checked, cps_checked, started,
                                   difference.seq, difference.problem),
                           table=difference.table, row=difference.row,
                           column=difference.column)
    return _report(True, size, checked, cps_checked, started, None, None)


def _tasks(size: int, checkpoint_sizes: list[int], workers: int) -> list[Task]:
    """The chunks of [0, size) to check, in order: aligned chunks of :data:`CHUNK` leaves,
    the last ``workers`` of them (and the partial one at the end) cut into aligned pieces of
    2**:data:`TAIL_LEVEL`; each with the checkpoint sizes that end inside it."""
    tail = max(0, size - size % CHUNK - workers * CHUNK)
    bounds = [(start, CHUNK_LEVEL) for start in range(0, tail, CHUNK)]
    bounds += [(start, TAIL_LEVEL) for start in range(tail, size, 1 << TAIL_LEVEL)]
    tasks: list[Task] = []
    for start, level in bounds:
        end = min(start + (1 << level), size)
        tasks.append((start, end, level,
                      tuple(s for s in checkpoint_sizes if start < s <= end)))
    return tasks


def _run(tasks: list[Task], url: str, keys: dict[str, KeyRecord],
         operator: str, workers: int) -> Iterator[_Chunk]:
    if workers == 1:
        _init_worker(url, keys, operator)
        try:
            yield from map(_check_chunk, tasks)
        finally:
            store = _STATE.get("store")
            if store is not None:
                store.close()
            _STATE.clear()
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(url, keys, operator, os.getpid())) as pool:
        yield from pool.imap(_check_chunk, tasks, chunksize=1)


def _check_checkpoint(row: dict[str, Any], root: bytes, origin: str,
                      verifiers: list[NoteVerifier]) -> str | None:
    size = int(row["size"])
    if bytes(row["root"]) != root:
        return (f"checkpoint at size {size}: stored root {bytes(row['root']).hex()}, "
                f"recomputed {root.hex()}")
    try:
        text, _ = open_note(row["note"], verifiers)
        body = Checkpoint.parse(text)
    except TracelibError as e:
        return f"checkpoint at size {size}: signed note does not verify: {e}"
    if (body.origin, body.size, body.root) != (origin, size, root):
        return (f"checkpoint at size {size}: note says origin {body.origin!r}, size {body.size}, "
                f"root {body.root.hex()}; expected {origin!r}, {size}, {root.hex()}")
    return None


def _report(ok: bool, size: int, checked: int, cps: int, started: float, seq: int | None,
            problem: str | None) -> VerifyReport:
    return VerifyReport(ok, size, checked, cps, time.perf_counter() - started, seq, problem)

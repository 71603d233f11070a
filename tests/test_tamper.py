"""Tamper evidence: every change to the stored ledger is reported by ``verify()`` with the
first bad seq (hash chain, RFC 9162 tree; immudb CVE-2022-36111: check every link, not just the ends).

Rows are edited directly in the database, as an attacker with write access would; some
cases go further and re-hash the chain and the stored subtrees so that only the
signature, key or checkpoint checks are left to catch them.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete, insert, select, text, update

from tests.conftest import NOW
from tests.helpers import Network, forge_row, origin_event, rechain
from tracelib import canonical
from tracelib.events import sign_event
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger
from tracelib.note import sign_note
from tracelib.store.schema import checkpoints, keys, nodes, records
from tracelib.verify import CHUNK

SIZE = 300
CHECKPOINTS = (150, 300)


def build(network: Network) -> Network:
    """A ledger of SIZE records with checkpoints at 150 and at 300 (the last record)."""
    ledger = network.ledger
    ledger.append([origin_event(network, f"LOT-T{i}") for i in range(150 - ledger.size)],
                  now=NOW)
    ledger.sign_checkpoint(network.operator_key, now=NOW)
    ledger.append([origin_event(network, f"LOT-T{i}") for i in range(150, SIZE)], now=NOW)
    ledger.sign_checkpoint(network.operator_key, now=NOW)
    assert ledger.size == SIZE
    return network


# --- editing rows ----------------------------------------------------------------------------

def _run(ledger: Ledger, *statements: Any) -> None:
    with ledger.store.engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def _row(ledger: Ledger, seq: int) -> dict[str, Any]:
    with ledger.store.engine.connect() as conn:
        return dict(conn.execute(select(records).where(records.c.seq == seq)).mappings().one())


def _set(ledger: Ledger, at: int, **values: Any) -> None:
    _run(ledger, update(records).where(records.c.seq == at).values(**values))


def _shift(ledger: Ledger, start: int, by: int) -> None:
    """Renumber records seq >= start by ``by`` (in two steps: seq is a primary key)."""
    far = 10_000_000
    _run(ledger, update(records).where(records.c.seq >= start).values(seq=records.c.seq + far),
         update(records).where(records.c.seq >= far).values(seq=records.c.seq - far + by))


def delete_records(first: int, last: int | None = None) -> Tamper:
    def tamper(net: Network) -> None:
        _run(net.ledger, delete(records).where(records.c.seq >= first,
                                               records.c.seq <= (last or first)))
    return tamper


def swap(a: int, b: int) -> Tamper:
    def tamper(net: Network) -> None:
        ra, rb = _row(net.ledger, a), _row(net.ledger, b)
        content = [c for c in ra if c != "seq"]
        _set(net.ledger, a, event_id="swap-temp")
        _set(net.ledger, b, **{c: ra[c] for c in content})
        _set(net.ledger, a, **{c: rb[c] for c in content})
    return tamper


def insert_forged(at: int, *, well_formed: bool) -> Tamper:
    """Insert a record at ``at``, shifting the rest up. Well formed: signed by its actor's
    real key and chained to ``at - 1`` (the attacker holds a party's key)."""
    def tamper(net: Network) -> None:
        ledger = net.ledger
        prev = bytes(_row(ledger, at - 1)["hash"])
        row = forge_row(at, prev, origin_event(net, "LOT-FORGED"))
        if not well_formed:
            row["hash"] = bytes(_row(ledger, at)["hash"])
        _shift(ledger, at, 1)
        _run(ledger, insert(records).values(**row))
    return tamper


def column(at: int, **values: Any) -> Tamper:
    def tamper(net: Network) -> None:
        _set(net.ledger, at, **values)
    return tamper


def resign(seq: int, signer: Callable[[Network], SigningKey]) -> Tamper:
    """Replace a record's signature with a *valid* signature over its body by another key,
    then re-hash the chain and every stored subtree so only the key check can catch it."""
    def tamper(net: Network) -> None:
        key = signer(net)
        body = bytes(_row(net.ledger, seq)["body"])
        _set(net.ledger, seq, key_id=key.key_id, signature=key.sign(body))
        rechain(net.ledger, seq)
    return tamper


Rewrite = Callable[[Network, dict[str, Any]], tuple[bytes, SigningKey | None]]


def rewrite_body(seq: int, make: Rewrite) -> Tamper:
    """Replace a record's body (signed again when ``make`` names a key) and re-hash the
    chain and subtrees from there."""
    def tamper(net: Network) -> None:
        body, key = make(net, canonical.loads(bytes(_row(net.ledger, seq)["body"])))
        values: dict[str, Any] = {"body": body}
        if key is not None:
            values.update(key_id=key.key_id, signature=key.sign(body))
        _set(net.ledger, seq, **values)
        rechain(net.ledger, seq)
    return tamper


def _spaced(_: Network, doc: dict[str, Any]) -> tuple[bytes, SigningKey | None]:
    """The same event, not canonical (the old signature is over the canonical form)."""
    return json.dumps(doc, sort_keys=True, indent=1).encode(), None


def _resigned_other_qty(net: Network, doc: dict[str, Any]) -> tuple[bytes, SigningKey | None]:
    """Another quantity, signed again by the actor's real key."""
    doc = {**doc, "outputs": [{**doc["outputs"][0], "qty": "9999"}]}
    return canonical.dumps(doc), net.keys["farm-1"]


def recorded_at_then_rechain(seq: int, value: str) -> Tamper:
    def tamper(net: Network) -> None:
        _set(net.ledger, seq, recorded_at=value)
        rechain(net.ledger, seq)
    return tamper


def set_node(level: int, idx: int, digest: bytes | None) -> Tamper:
    def tamper(net: Network) -> None:
        where = (nodes.c.level == level) & (nodes.c.idx == idx)
        if digest is None:
            _run(net.ledger, delete(nodes).where(where))
        else:
            _run(net.ledger, update(nodes).where(where).values(hash=digest))
    return tamper


def checkpoint_root(size: int) -> Tamper:
    def tamper(net: Network) -> None:
        _run(net.ledger, update(checkpoints).where(checkpoints.c.size == size)
             .values(root=b"\x5a" * 32))
    return tamper


def checkpoint_note(size: int, make: Callable[[Network, str], str]) -> Tamper:
    def tamper(net: Network) -> None:
        where = checkpoints.c.size == size
        with net.ledger.store.engine.connect() as conn:
            note = conn.execute(select(checkpoints.c.note).where(where)).scalar_one()
        _run(net.ledger, update(checkpoints).where(where).values(note=make(net, note)))
    return tamper


def _flip_sig_char(_: Network, note: str) -> str:
    head, sig_line = note.rstrip("\n").rsplit("\n", 1)
    i = len(sig_line) - 10
    ch = "A" if sig_line[i] != "A" else "B"
    return f"{head}\n{sig_line[:i]}{ch}{sig_line[i + 1:]}\n"


def _stranger_signed(net: Network, note: str) -> str:
    text = note.split("\n\n", 1)[0] + "\n"
    return sign_note(text, net.ledger.origin, SigningKey.generate())


def _replayed_note_of_300(net: Network, _: str) -> str:
    latest = net.ledger.latest_checkpoint()
    assert latest is not None and latest.size == 300
    return latest.note


def forged_register_at_end(make: Callable[[Network], dict[str, Any]]) -> Tamper:
    """Append a register event straight into the tables (bypassing append's rules) with a
    correct chain link and rebuilt subtree hashes: only verify's rules can catch it."""
    def tamper(net: Network) -> None:
        ledger = net.ledger
        prev = bytes(_row(ledger, SIZE - 1)["hash"])
        _run(ledger, insert(records).values(**forge_row(SIZE, prev, make(net))))
        rechain(ledger, SIZE)
    return tamper


def _register_by_farm(net: Network) -> dict[str, Any]:
    evil = SigningKey.generate()
    return net.event("farm-1", {"kind": "register", "location": "farm-1.field", "data": {
        "keys": [{"party": "carrier-1", "key_id": evil.key_id, "public_key": evil.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"}]}})


def _farm_key_reclaimed_by_farm(net: Network) -> dict[str, Any]:
    """A non-operator register that claims farm-1's existing key for another party: were it
    trusted, every earlier farm-1 record would look signed by someone else's key."""
    farm = net.keys["farm-1"]
    return net.event("farm-1", {"kind": "register", "location": "farm-1.field", "data": {
        "keys": [{"party": "carrier-1", "key_id": farm.key_id, "public_key": farm.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"}]}})


def _register_as_operator_signed_by_farm(net: Network) -> dict[str, Any]:
    return net.event("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": "evil", "name": "E", "role": "farm"}]}}, key=net.keys["farm-1"])


def key_index_then_append(net: Network) -> None:
    """The keys index (not the chain) is edited to give farm-1 an attacker's key; append
    trusts the index, so the event goes in, but verify re-derives keys from the chain."""
    evil = SigningKey.generate()
    _run(net.ledger, insert(keys).values(key_id=evil.key_id, party="farm-1",
                                         public_key=evil.public.raw, valid_from_us=0,
                                         registered_seq=1))
    net.ledger.append([sign_event(origin_event(net, "LOT-EVIL", sign=False), evil)], now=NOW)


Tamper = Callable[[Network], None]

# (case id, tamper, expected first bad seq)
CASES: list[tuple[str, Tamper, int]] = [
    ("delete-middle", delete_records(100), 100),
    ("delete-range", delete_records(100, 119), 100),
    ("delete-genesis", delete_records(0), 0),
    ("delete-last-with-checkpoint", delete_records(299), 299),
    ("swap-distant", swap(50, 200), 50),
    ("swap-adjacent", swap(77, 78), 77),
    ("insert-well-formed", insert_forged(100, well_formed=True), 101),
    ("insert-naive", insert_forged(100, well_formed=False), 100),
    ("move-last-away", column(299, seq=350), 299),
    ("prev-points-two-back", lambda n: _set(n.ledger, 100, prev_hash=_row(n.ledger, 98)["hash"]),
     100),
    ("kind-column", column(100, kind="register"), 100),
    ("kind-column-of-register", column(1, kind="origin"), 1),
    ("actor-column", column(100, actor="carrier-1"), 100),
    ("location-column", column(100, location="coldstore-1"), 100),
    ("event-time-column", column(100, event_time="2026-11-22T08:00:00+08:00"), 100),
    ("event-id-column", column(100, event_id="ev-renamed"), 100),
    ("signature-by-another-party", resign(100, lambda n: n.keys["carrier-1"]), 100),
    ("signature-by-operator", resign(100, lambda n: n.operator_key), 100),
    ("signature-by-unregistered-key", resign(100, lambda n: SigningKey.generate()), 100),
    ("signature-by-unregistered-key-late", resign(299, lambda n: SigningKey.generate()), 299),
    ("body-not-canonical", rewrite_body(100, _spaced), 100),
    ("body-resigned-by-actor-caught-by-checkpoint", rewrite_body(200, _resigned_other_qty), 299),
    ("history-rewritten-caught-by-checkpoint", rewrite_body(20, _resigned_other_qty), 149),
    ("record-time-later-than-the-next",
     recorded_at_then_rechain(20, "2026-11-22T07:00:00.000000Z"), 21),
    ("record-time-earlier-than-the-last",
     recorded_at_then_rechain(20, "2026-11-22T05:00:00.000000Z"), 20),
    ("record-time-not-in-the-ledger-form",
     recorded_at_then_rechain(20, "2026-11-22T07:00:00Z"), 20),
    ("last-record-time-caught-by-checkpoint",
     recorded_at_then_rechain(299, "2026-11-22T07:00:00.000000Z"), 299),
    ("node-level-1", set_node(1, 0, b"\x11" * 32), 1),
    ("node-level-3", set_node(3, 5, b"\x33" * 32), 47),
    ("node-level-7", set_node(7, 1, b"\x77" * 32), 255),
    ("node-missing", set_node(3, 5, None), 47),
    ("checkpoint-root", checkpoint_root(150), 149),
    ("checkpoint-root-last", checkpoint_root(300), 299),
    ("checkpoint-note-signature", checkpoint_note(150, _flip_sig_char), 149),
    ("checkpoint-note-by-stranger", checkpoint_note(150, _stranger_signed), 149),
    ("checkpoint-note-replayed", checkpoint_note(150, _replayed_note_of_300), 149),
    ("register-by-non-operator", forged_register_at_end(_register_by_farm), SIZE),
    ("register-reclaims-a-key", forged_register_at_end(_farm_key_reclaimed_by_farm), SIZE),
    ("register-as-operator-signed-by-party",
     forged_register_at_end(_register_as_operator_signed_by_farm), SIZE),
    ("key-index-edited", key_index_then_append, SIZE),
]


# --- templates: the ledger is built once per database and copied for each case ---------------

@dataclass(frozen=True)
class Template:
    url: str
    operator_key: SigningKey
    keys: dict[str, SigningKey]


def _make_template(url: str) -> Template:
    key = SigningKey.generate()
    with Ledger.create(url, operator_key=key, now=NOW) as ledger:
        net = build(Network.build(ledger, key, now=NOW))
        assert ledger.verify().ok
        return Template(url, key, dict(net.keys))


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("tamper") / "template.db"
    return _make_template(f"sqlite:///{path}")


def _schema_of(url: str) -> str:
    schema = url.rsplit("search_path%3D", 1)[-1]
    assert schema.startswith("t_"), url
    return schema


@pytest.fixture(scope="module")
def pg_template(pg_server: str) -> Iterator[Template]:
    schema = f"t_tmpl_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_server)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in pg_server else "?"
        yield _make_template(f"{pg_server}{sep}options=-csearch_path%3D{schema}")
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _copy_schema(pg_server: str, source: str, target: str) -> None:
    admin = create_engine(pg_server)
    try:
        with admin.begin() as conn:
            tables = conn.execute(text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = :s AND table_type = 'BASE TABLE'"), {"s": source}).scalars()
            for table in list(tables):
                conn.execute(text(f'CREATE TABLE "{target}"."{table}" '
                                  f'(LIKE "{source}"."{table}" INCLUDING ALL)'))
                conn.execute(text(f'INSERT INTO "{target}"."{table}" '
                                  f'SELECT * FROM "{source}"."{table}"'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def copied(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Network]:
    """A fresh copy of the SIZE-record template ledger on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        tmpl: Template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ledger.db"
        shutil.copy(tmpl.url.removeprefix("sqlite:///"), path)
        url = f"sqlite:///{path}"
    else:
        tmpl = request.getfixturevalue("pg_template")
        url = request.getfixturevalue("pg_url")
        _copy_schema(request.getfixturevalue("pg_server"), _schema_of(tmpl.url),
                     _schema_of(url))
    with Ledger.open(url) as ledger:
        yield Network(ledger, tmpl.operator_key, NOW, dict(tmpl.keys))


@pytest.mark.parametrize(("tamper", "bad_seq"), [pytest.param(t, s, id=i) for i, t, s in CASES])
def test_tamper_is_detected(copied: Network, tamper: Tamper, bad_seq: int) -> None:
    assert copied.ledger.size == SIZE
    tamper(copied)
    report = copied.ledger.verify()
    assert not report.ok
    assert report.bad_seq == bad_seq, report.problem
    assert report.problem


def test_untampered_copy_verifies(copied: Network) -> None:
    report = copied.ledger.verify()
    assert (report.ok, report.size, report.checkpoints_checked) == (True, SIZE, len(CHECKPOINTS))


def test_truncation_below_a_checkpoint_is_reported(copied: Network) -> None:
    _run(copied.ledger, delete(records).where(records.c.seq >= 120))
    report = copied.ledger.verify()
    assert (report.ok, report.bad_seq) == (False, 120)
    assert "checkpoint at size 150" in (report.problem or "")


# --- Hypothesis: flip any byte of any stored column ------------------------------------------

@pytest.fixture(scope="module")
def flip_ledger(sqlite_template: Template,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    path = tmp_path_factory.mktemp("flip") / "ledger.db"
    shutil.copy(sqlite_template.url.removeprefix("sqlite:///"), path)
    with Ledger.open(f"sqlite:///{path}") as ledger:
        assert ledger.verify().ok
        yield ledger
        assert ledger.verify().ok  # every example restored what it changed


BYTES_COLUMNS = ("body", "prev_hash", "hash", "signature")
TEXT_COLUMNS = ("key_id", "recorded_at")


@st.composite
def flips(draw: st.DrawFn) -> tuple[int, str, float, Any]:
    seq = draw(st.integers(0, SIZE - 1))
    name = draw(st.sampled_from(BYTES_COLUMNS + TEXT_COLUMNS))
    where = draw(st.floats(0, 1, exclude_max=True))
    change = (draw(st.integers(1, 255)) if name in BYTES_COLUMNS
              else draw(st.characters(exclude_categories=("Cs",), exclude_characters="\x00")))
    return seq, name, where, change


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flip=flips())
def test_flip_any_byte_is_detected(flip_ledger: Ledger, flip: tuple[int, str, float, Any]) -> None:
    seq, name, where, change = flip
    original = _row(flip_ledger, seq)[name]
    if name in BYTES_COLUMNS:
        value: Any = bytearray(original)
        i = int(where * len(value))
        value[i] ^= change
        value = bytes(value)
    else:
        i = int(where * len(original))
        if original[i] == change:
            change = "Z" if change != "Z" else "Y"
        value = original[:i] + change + original[i + 1:]
    _set(flip_ledger, seq, **{name: value})
    try:
        report = flip_ledger.verify()
    finally:
        _set(flip_ledger, seq, **{name: original})
    assert not report.ok
    assert report.bad_seq == seq, (name, i, report.problem)


# --- a ledger of more than two verify chunks, checked by two worker processes -------------------

BIG = 17_000


@pytest.fixture(scope="module")
def big_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SigningKey]:
    """17,000 records (three verify chunks), checkpoints at 8192 (a chunk boundary) and at
    the end; appended in batches."""
    path = tmp_path_factory.mktemp("big") / "template.db"
    key = SigningKey.generate()
    with Ledger.create(f"sqlite:///{path}", operator_key=key, now=NOW) as ledger:
        net = Network.build(ledger, key, now=NOW)
        lots = iter(range(BIG))
        for target in (CHUNK, BIG):
            while ledger.size < target:
                count = min(2500, target - ledger.size)
                ledger.append([origin_event(net, f"LOT-B{next(lots)}") for _ in range(count)],
                              now=NOW)
            ledger.sign_checkpoint(key, now=NOW)
        assert ledger.size == BIG
    return path, key


@pytest.fixture
def big(big_template: tuple[Path, SigningKey], tmp_path: Path) -> Iterator[Network]:
    path = tmp_path / "big.db"
    shutil.copy(big_template[0], path)
    with Ledger.open(f"sqlite:///{path}") as ledger:
        yield Network(ledger, big_template[1], NOW)


def _flip(column_name: str, seq: int) -> Tamper:
    def tamper(net: Network) -> None:
        value = bytearray(_row(net.ledger, seq)[column_name])
        value[len(value) // 2] ^= 0x01
        _set(net.ledger, seq, **{column_name: bytes(value)})
    return tamper


def _relink(seq: int) -> Tamper:
    """Break only the link into ``seq``: re-hash it and everything after it, so that the
    chain check across the chunk boundary is the one check left to catch it."""
    def tamper(net: Network) -> None:
        _set(net.ledger, seq, prev_hash=b"\x42" * 32)
        rechain(net.ledger, seq)
        _run(net.ledger, delete(checkpoints).where(checkpoints.c.size > seq))
    return tamper


BIG_CASES: list[tuple[str, Tamper, int]] = [
    ("second-chunk-signature", _flip("signature", CHUNK + 1000), CHUNK + 1000),
    ("node-above-chunk-level", set_node(14, 0, b"\x14" * 32), 2 * CHUNK - 1),
    # Inside chunk 0: checked by the worker when chunk 0 is whole (one worker), by the
    # parent's merge of tail pieces when it is cut (two workers: 17,000 is all tail).
    ("node-inside-first-chunk", set_node(12, 0, b"\x12" * 32), 4095),
    ("node-missing-in-tail", set_node(11, 7, None), 16383),
    ("checkpoint-at-chunk-boundary", checkpoint_root(CHUNK), CHUNK - 1),
]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_big_ledger_verifies_in_parallel(big: Network, workers: int) -> None:
    report = big.ledger.verify(workers=workers)
    assert (report.ok, report.size, report.records_checked, report.checkpoints_checked) == (
        True, BIG, BIG, 2)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(("tamper", "bad_seq"), [pytest.param(t, s, id=i)
                                                 for i, t, s in BIG_CASES])
def test_big_ledger_tamper_in_parallel(big: Network, tamper: Tamper, bad_seq: int,
                                       workers: int) -> None:
    """With one worker the ledger is checked as a whole chunk and tail pieces; with two,
    as tail pieces only (see verify._tasks)."""
    tamper(big)
    report = big.ledger.verify(workers=workers)
    assert (report.ok, report.bad_seq) == (False, bad_seq), report.problem


@pytest.mark.slow
def test_chunk_boundary_link(big: Network) -> None:
    """Only the link from the last record of chunk 1 into the first of chunk 2 is broken
    (the rest re-hashed, later checkpoints dropped): each chunk is sound on its own, so the
    parent's cross-chunk check is the one that must see it."""
    _relink(CHUNK)(big)
    report = big.ledger.verify(workers=2)
    assert (report.ok, report.bad_seq) == (False, CHUNK), report.problem
    assert "chain broken" in (report.problem or "")

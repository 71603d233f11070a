"""The shortcuts inside ``verify()`` against the checks they stand for.

verify's worker decides most records on a fast path (the canonical form checked in C or by a
known layout, the subtree hashes computed level by level) and explains the rest with the full
checks. A shortcut may only ever *accept* what the full check accepts; these properties pin
that, with :mod:`tracelib.canonical` and :class:`tracelib.merkle.CompactRange` as oracles.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from tests.conftest import NOW
from tests.helpers import Network, origin_event, rechain
from tracelib import canonical, merkle, verify
from tracelib.errors import ValidationError
from tracelib.events import sign_event
from tracelib.ledger import Ledger
from tracelib.store.schema import records

FIELDS = ("id", "kind", "actor", "location", "time")

# As tests/test_canonical.py: characters that stress RFC 8785 (non-BMP keys sort differently
# by UTF-16 code unit, controls and the specials need escapes) and JSON's own delimiters.
_TRICKY = ["\U0001f600", "\U00010000", "\ue000", "\uffff", "\u2028", "\x00", "\x1f", "\x7f",
           '"', "\\", "/", ":", ",", "{", "[", " ", "a", "é", "豇"]
_chars = st.one_of(st.characters(codec="utf-8"), st.sampled_from(_TRICKY))
_text = st.text(alphabet=_chars, max_size=10)
_keys = st.one_of(_text, st.sampled_from([*FIELDS, "data", "outputs", "qty"]))
_scalars = st.one_of(st.none(), st.booleans(),
                     st.integers(-canonical.MAX_SAFE_INTEGER, canonical.MAX_SAFE_INTEGER), _text)
_json = st.recursive(_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=5)), max_leaves=20)
_objects = st.dictionaries(_keys, _json, max_size=6)


def _event_strategy(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.one_of(text, st.sampled_from([*FIELDS, "data", "outputs", "qty"]))
    values = st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), text),
        lambda children: st.one_of(st.lists(children, max_size=4),
                                   st.dictionaries(keys, children, max_size=4)), max_leaves=12)
    return st.fixed_dictionaries({name: text for name in FIELDS}, optional={
        "data": values, "outputs": st.lists(st.dictionaries(keys, text, max_size=3),
                                            max_size=3)})


_events = _event_strategy(_text)
# Events whose strings need no escapes: the bodies a layout is learned from.
_plain_events = _event_strategy(st.text(alphabet=st.characters(
    codec="utf-8", exclude_characters='"\\', exclude_categories=("Cc",)), max_size=10))


def _canonical(body: bytes) -> bool:
    """The full check: ``canonical.dumps(canonical.loads(body)) == body``."""
    try:
        return canonical.dumps(canonical.loads(body)) == body
    except ValidationError:
        return False


def _check_fast_paths(body: bytes) -> None:
    """Whatever a fast path accepts is canonical, and it reads the event as loads does."""
    doc = verify._canonical_event(body)
    if doc is not None:
        assert _canonical(body), body
        assert doc == canonical.loads(body)
    fields = verify._event_fields(body)
    if fields is not None:
        assert _canonical(body), body
        loaded = canonical.loads(body)
        assert isinstance(loaded, dict)
        assert fields == tuple(loaded.get(name) for name in FIELDS)


def _variants(doc: dict[str, Any]) -> list[bytes]:
    """The same object written in ways RFC 8785 does not allow (and in the one it does)."""
    first = next(iter(doc), None)
    dup = (b"" if first is None else
           b"{" + json.dumps(first).encode() + b":null," + canonical.dumps(doc)[1:])
    return [
        canonical.dumps(doc),
        json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
            "utf-8", "surrogatepass"),  # code-point key order
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass"),  # insertion order
        json.dumps(doc, sort_keys=True).encode(),  # whitespace, \u escapes
        json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1).encode(
            "utf-8", "surrogatepass"),
        canonical.dumps(doc) + b" ",
        dup,
        canonical.dumps(doc).replace(b'"', b'"\\u0061', 1),
        canonical.dumps(doc).replace(b":0", b":-0").replace(b":1", b":1.0"),
    ]


@settings(max_examples=300, deadline=None)
@given(_objects)
def test_fast_canonical_checks_accept_only_canonical_bodies(doc: dict[str, Any]) -> None:
    for body in _variants(doc):
        _check_fast_paths(body)


@settings(max_examples=300, deadline=None)
@given(_events)
def test_canonical_events_take_the_fast_path(doc: dict[str, Any]) -> None:
    """Every canonical object is decided by a fast path unless it has non-BMP characters
    (RFC 8785 §3.2.3 key order) or too many brackets."""
    body = canonical.dumps(doc)
    fields = verify._event_fields(body)
    if any(lead in body for lead in (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")):
        return
    assert fields == tuple(doc[name] for name in FIELDS)
    assert verify._event_fields(body) == fields  # a second time from the learned layout


def _replace_strings(body: bytes, values: list[str], *, names: bool) -> bytes:
    """``body`` with its member names (``names``) or its string values (not ``names``)
    replaced by ``values`` in turn, written raw between the quotes (so possibly not JSON)."""
    if b"\\" in body:  # quotes inside strings: no simple split
        return body
    pieces = body.decode("utf-8").split('"')
    for n, i in enumerate(range(1, len(pieces), 2)):
        is_name = pieces[i + 1].startswith(":")
        if values and is_name == names:
            pieces[i] = values[n % len(values)]
    return '"'.join(pieces).encode("utf-8", "surrogatepass")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_plain_events, st.lists(_text, min_size=1, max_size=6), st.booleans(),
       st.integers(0, 1000), st.sampled_from([b" ", b"\n", b",", b"0", b"-", b"{", b'"']))
def test_a_learned_layout_accepts_only_canonical_bodies(
        doc: dict[str, Any], values: list[str], names: bool, at: int, extra: bytes) -> None:
    """Learn a layout from a canonical event, then offer bodies that share its outside text
    (other strings, other member names, raw quotes, backslashes and controls) or nearly do."""
    body = canonical.dumps(doc)
    verify._event_fields(body)
    replaced = _replace_strings(body, values, names=names)
    at %= len(body)
    for candidate in (replaced, body[:at] + extra + body[at:], body[:at] + body[at + 1:],
                      replaced[:at] + extra + replaced[at:]):
        _check_fast_paths(candidate)


@settings(max_examples=200, deadline=None)
@given(_events, st.data())
def test_flipped_bytes_are_never_accepted_as_canonical(doc: dict[str, Any],
                                                       data: st.DataObject) -> None:
    body = canonical.dumps(doc)
    verify._event_fields(body)
    i = data.draw(st.integers(0, len(body) - 1))
    flipped = bytearray(body)
    flipped[i] ^= data.draw(st.integers(1, 255))
    _check_fast_paths(bytes(flipped))


def test_layouts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "_SHAPES", {})
    monkeypatch.setattr(verify, "_SHAPES_MAX", 4)
    for n in range(10):
        doc = {name: "x" for name in FIELDS} | {f"extra{n}": "y"}
        assert verify._event_fields(canonical.dumps(doc)) == ("x",) * 5
        assert len(verify._SHAPES) <= 4


# --- the subtree hashes of a chunk, level by level ------------------------------------------

def _reference(start: int, leaves: list[bytes]) -> tuple[list[tuple[int, int, bytes]],
                                                          merkle.CompactRange]:
    visited: list[tuple[int, int, bytes]] = []
    tree = merkle.CompactRange(start, start)
    tree.extend(leaves, lambda level, index, digest: visited.append((level, index, digest)))
    return visited, tree


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3), st.integers(0, 300), st.data())
def test_subtrees_match_a_compact_range(chunk: int, count: int, data: st.DataObject) -> None:
    start = chunk * verify.CHUNK
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    leaves = [rng.randbytes(32) for _ in range(count)]
    visited, tree = _reference(start, leaves)
    levels = verify._subtrees(leaves)
    assert verify._compact(start, start + count, levels) == tree.hashes
    for size in range(start, start + count + 1, 7):
        partial = merkle.CompactRange(start, start)
        partial.extend(leaves[:size - start])
        assert verify._compact(start, size, levels) == partial.hashes
    stored = {(level, index): digest for level, index, digest in visited}
    assert verify._first_bad_node(start, levels, stored) is None
    if not visited:
        return
    # Damage a few stored nodes: the one reported is the first appending meets.
    damaged = data.draw(st.lists(st.sampled_from(visited), min_size=1, max_size=3))
    for level, index, _ in damaged:
        if data.draw(st.booleans()):
            stored.pop((level, index), None)
        else:
            stored[(level, index)] = b"\x5a" * 32
    first = next((lv, ix, d) for lv, ix, d in visited if stored.get((lv, ix)) != d)
    assert verify._first_bad_node(start, levels, stored) == verify._node_problem(
        first[0], first[1], first[2], stored.get((first[0], first[1])))


# --- whole ledgers: what only the body checks can catch ---------------------------------------

def _body_of(ledger: Ledger, seq: int) -> dict[str, Any]:
    with ledger.store.engine.connect() as conn:
        body = conn.execute(select(records.c.body).where(records.c.seq == seq)).scalar_one()
    doc: dict[str, Any] = canonical.loads(bytes(body))
    return doc


def _store_body(net: Network, seq: int, body: bytes) -> None:
    """Store ``body`` at ``seq`` signed by its actor's real key (an attacker holding it) and
    re-hash the chain; no checkpoint covers the last records, so only the body check is left."""
    key = net.keys["farm-1"]
    with net.ledger.store.engine.begin() as conn:
        conn.execute(update(records).where(records.c.seq == seq).values(
            body=body, signature=key.sign(body)))
    rechain(net.ledger, seq)


def _append_origins(net: Network, count: int) -> int:
    net.ledger.append([origin_event(net, f"LOT-V{i}") for i in range(count)], now=NOW)
    return net.ledger.size - 1


@pytest.mark.parametrize(("make", "problem"), [
    (lambda doc: json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1).encode(),
     "stored event bytes are not canonical (RFC 8785)"),
    (lambda doc: canonical.dumps(doc).replace(b'{"actor"', b'{"actor":"x","actor"', 1),
     "stored event does not parse: field 'actor': duplicate object key 'actor' "
     "(RFC 7493 §2.3)"),
    (lambda doc: canonical.dumps(doc).replace(b'"kind":"origin"', b'"kind":"\\u006frigin"'),
     "stored event bytes are not canonical (RFC 8785)"),
])
def test_a_validly_signed_body_must_be_canonical(network: Network, make: Any,
                                                 problem: str) -> None:
    last = _append_origins(network, 20)
    _store_body(network, last, make(_body_of(network.ledger, last)))
    report = network.ledger.verify()
    assert (report.ok, report.bad_seq, report.problem) == (False, last, problem)


def test_strings_needing_escapes_or_outside_the_bmp_verify(network: Network) -> None:
    """Canonical bodies off the layout path (escapes, controls, non-BMP) still verify."""
    ledger = network.ledger
    for n, text in enumerate(('say "hi"', "back\\slash", "tab\there\nline", "emoji \U0001f600",
                              "\u2028")):
        event = origin_event(network, f"LOT-E{n}", sign=False)
        event["data"]["certificate"]["producer"] = text
        ledger.append([sign_event(event, network.keys["farm-1"])], now=NOW)
    _append_origins(network, 5)
    report = ledger.verify()
    assert report.ok, report.problem


def test_event_columns_are_checked_on_the_fast_path(network: Network) -> None:
    """A record whose body learned the layout, then one with the same layout whose indexed
    column disagrees: the fast path declines it and the full check names the column."""
    last = _append_origins(network, 10)
    with network.ledger.store.engine.begin() as conn:
        conn.execute(update(records).where(records.c.seq == last).values(location="elsewhere"))
    rechain(network.ledger, last)
    report = network.ledger.verify()
    assert (report.ok, report.bad_seq) == (False, last)
    assert report.problem is not None and report.problem.startswith("indexed location")


def test_events_signed_for_the_same_layout_by_a_stranger_fail(network: Network) -> None:
    from tracelib.keys import SigningKey

    last = _append_origins(network, 10)
    doc = _body_of(network.ledger, last)
    stranger = SigningKey.generate()
    body = canonical.dumps(doc)
    with network.ledger.store.engine.begin() as conn:
        conn.execute(update(records).where(records.c.seq == last).values(
            key_id=stranger.key_id, signature=stranger.sign(body)))
    rechain(network.ledger, last)
    report = network.ledger.verify()
    assert (report.ok, report.bad_seq) == (False, last)
    assert report.problem == (f"signed with key {stranger.key_id}, which no register event "
                              "before it registers")


def test_a_bad_signature_is_reported_on_the_fast_path(network: Network) -> None:
    last = _append_origins(network, 10)
    body = canonical.dumps(_body_of(network.ledger, last - 3))
    with network.ledger.store.engine.begin() as conn:
        conn.execute(update(records).where(records.c.seq == last - 3).values(
            signature=network.keys["carrier-1"].sign(body)))
    rechain(network.ledger, last - 3)
    report = network.ledger.verify()
    assert (report.ok, report.bad_seq, report.problem) == (
        False, last - 3, "signature does not verify")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 6 * verify.CHUNK + 5000), st.integers(1, 4), st.data())
def test_tasks_cover_the_ledger_in_aligned_pieces(size: int, workers: int,
                                                  data: st.DataObject) -> None:
    """Chunks of the verify plan: contiguous from 0 to size, each aligned to its own size
    (2**level, the last one shorter), whole chunks until the tail of about one chunk per
    worker, and each checkpoint size in exactly the chunk it ends in."""
    sizes = sorted(data.draw(st.sets(st.integers(1, max(1, size)), max_size=20)))
    tasks = verify._tasks(size, sizes, workers)
    position = 0
    for start, end, level, inside in tasks:
        assert start == position and start % (1 << level) == 0
        assert 0 < end - start <= 1 << level and (end - start == 1 << level or end == size)
        assert level in (verify.CHUNK_LEVEL, verify.TAIL_LEVEL)
        assert inside == tuple(s for s in sizes if start < s <= end)
        position = end
    assert position == size
    tail = [t for t in tasks if t[2] == verify.TAIL_LEVEL]
    assert sum(t[1] - t[0] for t in tail) == min(size, size % verify.CHUNK
                                                 + workers * verify.CHUNK)

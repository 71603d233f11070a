"""The append pipeline: documents validated and signature-checked in the pool, one chunk
ahead of the writer, and the writer's Event rebuilt from its own copy of the document."""

from __future__ import annotations

import gc
import os
import pickle
import threading
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest

from tracelib._gcpause import cyclic_gc_paused
from tracelib.append import CHUNK, pipeline
from tracelib.append import sigpool as _sigpool
from tracelib.errors import SignatureError, ValidationError
from tracelib.events import Event
from tracelib.keys import SigningKey, public_key_object
from tracelib.ledger import Ledger

from .helpers import Network, origin_event


def _docs(network: Network, n: int, prefix: str) -> list[dict[str, Any]]:
    return [origin_event(network, f"{prefix}-{i}") for i in range(n)]


def test_pool_parts_rebuild_the_same_event(network: Network) -> None:
    docs = _docs(network, 3, "P")
    keys = {network.keys["farm-1"].key_id: network.keys["farm-1"].public.raw}
    for doc, (parts, problem, ok) in zip(docs, _sigpool.prepare_batch(docs, keys), strict=True):
        assert problem is None and ok is True
        assert parts is not None and not isinstance(parts, Event)
        assert _sigpool.assemble(doc, parts) == Event.from_dict(doc)


def test_event_pickles_to_an_equal_event(network: Network) -> None:
    event = Event.from_dict(origin_event(network, "PK-1"))
    copy = pickle.loads(pickle.dumps(event))
    assert copy == event and copy.outputs[0].qty == event.outputs[0].qty
    assert copy.body == event.body and copy.sig == event.sig


@pytest.mark.parametrize("wrap", [dict, OrderedDict, MappingProxyType],
                         ids=["dict", "OrderedDict", "mappingproxy"])
def test_a_pooled_batch_of_any_mapping_type_appends(network: Network, wrap: Any) -> None:
    # Plain dicts travel to the pool as marshal bytes, other mappings by pickle: both must
    # give the same records (a batch above the inline limit goes to the pool).
    n = _sigpool.INLINE_LIMIT * 2 + 3
    ledger = network.ledger
    before = ledger.size
    docs = [wrap(d) for d in _docs(network, n, f"M{wrap.__name__}")]
    receipts = ledger.append(docs, now=network.now)
    assert [r.seq for r in receipts] == list(range(before, before + n))
    assert ledger.record(before + n - 1).event() == Event.from_dict(dict(docs[-1]))
    assert ledger.verify().ok


def test_a_bad_signature_deep_in_a_pooled_batch_names_its_line(network: Network) -> None:
    docs = _docs(network, CHUNK + 50, "BS")
    bad = CHUNK + 7
    forged = dict(docs[bad])
    forged["sig"] = dict(docs[bad - 1]["sig"])  # a real signature, over another event
    docs[bad] = forged
    before = network.ledger.size
    with pytest.raises(SignatureError) as caught:
        network.ledger.append(docs, now=network.now)
    assert caught.value.line == bad + 1 and caught.value.event_id == forged["id"]
    assert network.ledger.size == before


def test_an_invalid_document_in_the_second_chunk_rejects_the_batch(network: Network) -> None:
    docs = _docs(network, CHUNK + 20, "IV")
    docs[CHUNK + 3] = {**docs[CHUNK + 3], "outputs": [{"lot": "X", "qty": "-1", "unit": "kg"}]}
    before = network.ledger.size
    with pytest.raises(ValidationError) as caught:
        network.ledger.append(docs, now=network.now)
    assert caught.value.line == CHUNK + 4 and caught.value.field == "outputs[0].qty"
    assert network.ledger.size == before


def test_append_pauses_the_cyclic_collector_only_when_asked_and_restores_it(
        network: Network, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library in someone else's process leaves their garbage collector alone unless the
    caller opts in (``pause_gc=True``, as ``tracelib append`` does)."""
    seen: list[bool] = []
    ledger: Ledger = network.ledger
    original = pipeline._admit

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_admit", spy)
    assert gc.isenabled()
    ledger.append([origin_event(network, "GC-0")], now=network.now)
    assert seen == [True] and gc.isenabled()
    ledger.append([origin_event(network, "GC-1")], now=network.now, pause_gc=True)
    assert seen == [True, False] and gc.isenabled()
    gc.disable()  # a caller that runs with the collector off keeps it off
    try:
        ledger.append([origin_event(network, "GC-2")], now=network.now, pause_gc=True)
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(ValidationError):  # and a failed append restores it too
        ledger.append([{"kind": "nonsense"}], now=network.now, pause_gc=True)
    assert gc.isenabled()


def test_overlapping_pauses_re_enable_only_when_the_last_one_ends() -> None:
    assert gc.isenabled()
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with cyclic_gc_paused():
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    entered.wait(5)
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other append is still running
    release.set()
    thread.join(5)
    assert gc.isenabled()


def _gc_state_during_prepare(payload: bytes, keys: dict[str, bytes]) -> tuple[bool, bytes, bool]:
    """In a signature worker: whether the collector runs during and after a batch."""
    seen: list[bool] = []
    real = _sigpool.prepare_batch

    def spy(items: Any, keys: dict[str, bytes], seeds: Any = None) -> Any:
        seen.append(gc.isenabled())
        return real(items, keys, seeds)

    _sigpool.prepare_batch = spy
    try:
        out = _sigpool._prepare_marshalled(payload, keys)
    finally:
        _sigpool.prepare_batch = real
    return seen[0], out, gc.isenabled()


def test_signature_workers_pause_the_collector_per_batch() -> None:
    """A worker's batch (thousands of parsed documents) runs with the cyclic collector
    paused, and the worker's collector is back on afterwards."""
    import marshal

    during, out, after = _sigpool.pool().submit(
        _gc_state_during_prepare, marshal.dumps([{"kind": "nonsense"}]), {}).result(timeout=60)
    assert (during, after) == (False, True)
    (parts, problem, sig_ok), = marshal.loads(out)
    assert parts is None and problem is not None and sig_ok is None


def test_signature_workers_yield_to_the_writer() -> None:
    """The pool's workers run WORKER_NICE steps below the process that started them."""
    mine = os.nice(0)
    theirs = _sigpool.pool().submit(os.nice, 0).result(timeout=60)
    assert theirs == min(19, mine + _sigpool.WORKER_NICE) > mine


def test_the_last_chunk_comes_back_in_halving_pieces() -> None:
    chunks = [list(range(0, 1000)), list(range(1000, 2000)), list(range(2000, 2600))]
    pieces = list(_sigpool._tapered(iter(chunks)))
    assert [len(p) for p in pieces] == [1000, 1000, 300, 150, 75, 75]
    assert [x for p in pieces for x in p] == list(range(2600))
    assert [len(p) for p in _sigpool._tapered(iter([[1, 2, 3]]))] == [1, 1, 1]
    assert list(_sigpool._tapered(iter([]))) == []


def test_a_tapered_append_prepares_every_piece_in_the_pool(network: Network,
                                                           monkeypatch: Any) -> None:
    # Pieces of the last chunk are smaller than the inline limit, but they belong to a
    # large append: they go to the pool like the rest (the writer stays free).
    inline: list[int] = []
    real = _sigpool.prepare_batch

    def spy(items: Any, keys: Any, seeds: Any = None) -> Any:
        inline.append(len(items))
        return real(items, keys, seeds)

    monkeypatch.setattr(_sigpool, "prepare_batch", spy)
    docs = _docs(network, CHUNK + 300, "TP")
    before = network.ledger.size
    receipts = network.ledger.append(docs, now=network.now)
    assert [r.seq for r in receipts] == list(range(before, before + len(docs)))
    assert inline == []  # the spy runs only in this process: nothing was prepared inline
    small = _docs(network, 3, "TS")
    network.ledger.append(small, now=network.now)
    assert inline == [3]  # a small append alone is prepared inline
    assert network.ledger.verify().ok


def test_workers_keep_loaded_public_keys_between_batches(network: Network) -> None:
    key = network.keys["farm-1"]
    docs = _docs(network, 2, "KC")
    public_key_object.cache_clear()
    keys = {key.key_id: key.public.raw}
    assert [ok for _, _, ok in _sigpool.prepare_batch(docs, keys)] == [True, True]
    assert public_key_object.cache_info().currsize == 1  # loaded once for both events
    assert [ok for _, _, ok in _sigpool.prepare_batch(docs, keys)] == [True, True]
    assert public_key_object.cache_info().misses == 1  # and kept for the next batch
    forged = {**docs[1], "sig": docs[0]["sig"]}
    assert [ok for _, _, ok in _sigpool.prepare_batch([forged], keys)] == [False]


@pytest.mark.parametrize("n", [3, _sigpool.INLINE_LIMIT * 2 + 3], ids=["inline", "pooled"])
def test_signatures_made_here_are_checked_by_making_them_again(network: Network, n: int) -> None:
    """``signed_here``: the caller's own keys check its signatures by signing again (RFC 8032
    signing is deterministic); a bad signature is refused all the same, and a key that is not
    the registered one (another public key under a claimed id) is not used."""
    ledger = network.ledger
    farm = network.keys["farm-1"]
    size = ledger.size
    good = _docs(network, n, f"SH{n}")
    receipts = ledger.append(good, now=network.now, signed_here={farm.key_id: farm})
    assert len(receipts) == n and ledger.size == size + n
    forged = _docs(network, n, f"SF{n}")
    forged[-1]["sig"] = {**forged[-1]["sig"], "value": forged[0]["sig"]["value"]}
    for own in ({farm.key_id: farm}, {farm.key_id: SigningKey.generate()}, None):
        with pytest.raises(SignatureError, match="does not verify"):
            ledger.append(forged, now=network.now, signed_here=own)
    assert ledger.size == size + n and ledger.verify().ok


def test_a_signature_made_again_decides_as_the_verify_does(network: Network) -> None:
    farm = network.keys["farm-1"]
    docs = _docs(network, 2, "RS")
    keys = {farm.key_id: farm.public.raw}
    seeds = {farm.key_id: farm.private_bytes()}
    assert [ok for _, _, ok in _sigpool.prepare_batch(docs, keys, seeds)] == [True, True]
    docs[1]["sig"] = {**docs[1]["sig"], "value": docs[0]["sig"]["value"]}
    assert [ok for _, _, ok in _sigpool.prepare_batch(docs, keys, seeds)] == [True, False]

"""Ed25519 verification spread over the machine's cores (a process pool).

Signature checks dominate both append and verify (≈ 70 µs each, one core, against
about a microsecond for a SHA-256 chaining), so they run in worker processes while
the caller carries on with hashing and SQL.
"""

from __future__ import annotations

import atexit
import itertools
import marshal
import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from .._cores import cpu_count
from .._gcpause import cyclic_gc_paused
from .._lifeline import die_with_parent
from ..events import Event, Signature
from ..keys import SigningKey, public_key_object, verify_batch
from ..timeutil import parse_rfc3339

__all__ = ["SignatureJob", "assemble", "prepare_batch", "prepare_stream"]

_POOL: ProcessPoolExecutor | None = None
_POOL_PID: int | None = None
# Below this many signatures a batch is verified in the calling process.
INLINE_LIMIT = 256
# The workers run at a lower priority than the process that submits to them: an append's
# writer is its serial path (it applies, hashes and inserts each chunk while the workers
# prepare the next ones), and when the three contend for two cores the writer should not
# be the one kept waiting. Measured on 150,000-event appends, 2 cores: 6,100-6,450
# events/s with equal priority, 6,450-7,300/s with the workers at nice 5-19.
WORKER_NICE = 5


def pool() -> ProcessPoolExecutor:
    global _POOL, _POOL_PID
    if _POOL is None or _POOL_PID != os.getpid():
        _POOL = ProcessPoolExecutor(max_workers=cpu_count(),
                                    mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_init_worker, initargs=(os.getpid(),))
        _POOL_PID = os.getpid()
        atexit.register(_POOL.shutdown, wait=False, cancel_futures=True)
    return _POOL


def _init_worker(parent: int) -> None:
    """Start a pool worker: it ends when its parent dies (a SIGKILLed ``tracelib append``
    or service worker leaves no workers behind), and runs at :data:`WORKER_NICE`."""
    die_with_parent(parent)
    os.nice(WORKER_NICE)


class SignatureJob:
    """Failing indexes of one batch of (public key, message, signature) items."""

    def __init__(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> None:
        self._futures: list[tuple[int, Future[list[int]]]] = []
        self._inline: list[int] | None = None
        if len(items) < INLINE_LIMIT or cpu_count() == 1:
            self._inline = verify_batch(items)
            return
        step = -(-len(items) // cpu_count())
        for start in range(0, len(items), step):
            future = pool().submit(verify_batch, list(items[start:start + step]))
            self._futures.append((start, future))

    def failures(self) -> list[int]:
        if self._inline is not None:
            return self._inline
        bad: list[int] = []
        for start, future in self._futures:
            bad.extend(start + i for i in future.result())
        return sorted(bad)


# -- preparing appends in the pool --------------------------------------------------------
# Parsing and validating an event (marshmallow's compiled loaders, RFC 8785) costs about a
# third of checking its signature, and the writer must stay single-threaded; so incoming dicts are parsed,
# validated and signature-checked in the pool, one chunk ahead of the writer.

# What the pool sends back for one incoming item: for a document, not the Event (pickling
# it back costs as much as parsing it) but the parts the writer cannot cheaply derive from
# its own copy of the document; see :func:`assemble`.
Accepted = tuple[bytes, "str | None", "bytes | None"]  # canonical body, sig key id, sig bytes
Problem = tuple[str, "str | None", "str | None"]  # message, field, event id
Prepared = tuple[Event | Accepted | None, "Problem | None", "bool | None"]


def prepare_batch(items: Sequence[object], keys: dict[str, bytes],
                  seeds: dict[str, bytes] | None = None) -> list[Prepared]:
    """For each item: the validated Event's parts (or the error's message, field and event
    id), and whether its signature verified with the given key of its key id (None: key not
    given).

    ``seeds`` holds, for some key ids, the 32-byte seed of the private key whose public key
    ``keys`` gives (a caller that signed the events itself): such a signature is checked by
    making it again and comparing — Ed25519 signing is deterministic (RFC 8032 §5.1.6), so
    the one valid signature of the body under that key comes out — about a third of the
    cost of verifying it."""
    from cryptography.exceptions import InvalidSignature

    from ..errors import ValidationError

    out: list[Prepared] = []
    signers: dict[str, SigningKey] = {}
    for item in items:
        try:
            if isinstance(item, Event):
                body, sig = item.body, item.sig
            else:
                _loaded, _moment, body, sig = Event.validate(item)
        except ValidationError as e:
            out.append((None, (e.message, e.field, e.event_id), None))
            continue
        ok: bool | None = None
        if sig is not None and seeds is not None and sig.key in seeds:
            if sig.key not in signers:
                signers[sig.key] = SigningKey.from_bytes(seeds[sig.key])
            ok = signers[sig.key].sign(body) == sig.value
        elif sig is not None and sig.key in keys:
            # Loaded keys stay cached in the worker between batches (keys.verify_batch's
            # cache): a market's batch is signed with hundreds of keys.
            try:
                public_key_object(keys[sig.key]).verify(sig.value, body)
                ok = True
            except InvalidSignature:
                ok = False
        if isinstance(item, Event):
            out.append((item, None, ok))
        else:
            out.append(((body, None if sig is None else sig.key,
                         None if sig is None else sig.value), None, ok))
    return out


def _prepare_marshalled(payload: bytes, keys: dict[str, bytes],
                        seeds: dict[str, bytes] | None = None) -> bytes:
    """:func:`prepare_batch` over documents sent and returned as :mod:`marshal` bytes: for
    plain JSON-like data it is an order of magnitude cheaper to write than pickle, and the
    writer process, which does the writing, is the one that must not wait."""
    with cyclic_gc_paused():
        return marshal.dumps(prepare_batch(marshal.loads(payload), keys, seeds))  # noqa: S302


def assemble(item: object, prepared: Event | Accepted) -> Event:
    """The Event of an incoming item from what :func:`prepare_batch` made of it."""
    if type(prepared) is not tuple:
        assert isinstance(prepared, Event)
        return prepared
    assert isinstance(item, Mapping)
    body, key_id, value = prepared
    sig = None if key_id is None or value is None else Signature(key_id, value)
    return Event.assemble(item, parse_rfc3339(item["time"], field="time"), body, sig)


TAIL_SHARES = (2, 4, 8)  # the last chunk's pieces: ½, ¼, ⅛, and the rest (⅛)


def _tapered(chunks: Iterator[list[object]]) -> Iterator[list[object]]:
    """The chunks, with the last one cut into halving pieces (½, ¼, ⅛, ⅛): the writer
    must apply the last piece alone, after the pool is done, so a small one leaves a core
    idle for less time. On 10,000-event appends the writer otherwise spent ~70 ms of ~900
    on the final 1,000 events with the pool idle."""
    held = next(chunks, None)
    if held is None:
        return
    for following in chunks:
        yield held
        held = following
    cut = 0
    for share in TAIL_SHARES:
        end = min(len(held), cut + max(1, len(held) // share))
        if end > cut:
            yield held[cut:end]
        cut = end
    if cut < len(held):
        yield held[cut:]


#: A chunk's keys for the pool: public keys by key id, and the seeds of those the caller
#: signed with itself (:func:`prepare_batch`).
ChunkKeys = tuple[dict[str, bytes], "dict[str, bytes] | None"]


def prepare_stream(chunks: Iterator[list[object]],
                   keys_for: Callable[[list[object]], ChunkKeys]
                   ) -> Iterator[tuple[list[object], list[Prepared]]]:
    """Prepare chunks in the pool, keeping up to two chunks in flight ahead of the caller.
    A stream that is one small chunk (or any stream on a one-core machine) is prepared
    inline. Order is kept; the last chunk comes back in pieces (:func:`_tapered`)."""
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    every = itertools.chain([first], [] if second is None else [second], chunks)
    if cpu_count() == 1 or (second is None and len(first) < INLINE_LIMIT):
        for chunk in every:
            yield chunk, prepare_batch(chunk, *keys_for(chunk))
        return
    stream = _tapered(every)
    # Per chunk: the chunk, its keys, and its parts with their futures.
    pending: deque[tuple[list[object], ChunkKeys,
                         list[tuple[list[object], Future[Any]]]]] = deque()

    def submit(chunk: list[object]) -> None:
        keys = keys_for(chunk)
        step = -(-len(chunk) // cpu_count())
        futures: list[tuple[list[object], Future[Any]]] = []
        for i in range(0, len(chunk), step):
            part = chunk[i:i + step]
            try:
                payload = marshal.dumps(part)
            except ValueError:  # Events, or mappings that are not plain dicts
                futures.append((part, pool().submit(prepare_batch, part, *keys)))
            else:
                futures.append((part, pool().submit(_prepare_marshalled, payload, *keys)))
        pending.append((chunk, keys, futures))

    for chunk in itertools.islice(stream, 2):
        submit(chunk)
    while pending:
        chunk, keys, futures = pending.popleft()
        following = next(stream, None)
        if following is not None:
            submit(following)
        done: list[Prepared] = []
        for part, future in futures:
            try:
                result = future.result()
            except (TypeError, pickle.PicklingError):
                # Items that cannot travel to the pool (a mapping type pickle does not
                # know) are prepared here instead.
                result = prepare_batch(part, *keys)
            done.extend(marshal.loads(result) if isinstance(result, bytes)  # noqa: S302
                        else result)
        yield chunk, done

"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and compact ranges.

Hashing (RFC 9162 §2.1.1, identical to RFC 6962 §2.1):

* empty tree ``MTH({}) = SHA-256()``                          (:data:`EMPTY_ROOT`)
* leaf       ``MTH({d}) = SHA-256(0x00 || d)``                (:func:`leaf_hash`)
* node       ``SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))``, k the largest power
  of two < n                                                  (:func:`node_hash`)

Everything past :func:`leaf_hash` works on leaf *hashes*, never on raw entries.

Storage model: the ledger keeps the hashes of *perfect* subtrees only. A
:data:`NodeId` ``(level, index)`` names the perfect subtree of ``2**level`` leaves
covering ``[index << level, (index + 1) << level)``; level 0 is a leaf hash. Any
range ``[begin, end)`` is covered by a unique left-to-right list of maximal
perfect subtrees (:func:`decompose`); the hash of a "ragged" subtree is the
right-to-left :func:`fold` of its decomposition. Proofs are therefore *planned*
as lists of node ids (:func:`inclusion_proof_plan`, :func:`consistency_proof_plan`),
fetched in one query (:func:`plan_nodes`) and assembled (:func:`build_proof`).

Every failure of a verifier, and every invalid argument anywhere in this module,
raises :class:`~tracelib.errors.ProofError` and nothing else.

Note (RFC 9162 §2.1.3): an inclusion or consistency proof binds the leaf
*index* but not, on its own, the tree *size*: e.g. the proof for leaf 0 in a
tree of 3 also "verifies" against the size-3 root when claimed with size 4. A
root is only meaningful together with the size it was signed with (a checkpoint).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from tracelib.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "NodeId",
    "Visitor",
    "build_proof",
    "consistency_proof",
    "consistency_proof_plan",
    "decompose",
    "fold",
    "inclusion_proof",
    "inclusion_proof_plan",
    "leaf_hash",
    "node_hash",
    "plan_nodes",
    "root",
    "root_from_consistency",
    "root_from_inclusion",
    "root_plan",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash (SHA-256)."""

NodeId = tuple[int, int]
"""``(level, index)``: the perfect subtree over ``[index << level, (index + 1) << level)``."""

Visitor = Callable[[int, int, bytes], None]
"""``visit(level, index, hash)``: each perfect node (level >= 1) a compact range completes."""

_sha256 = hashlib.sha256
_LEAF = b"\x00"  # RFC 9162 §2.1.1 leaf prefix
_NODE = b"\x01"  # RFC 9162 §2.1.1 interior node prefix

EMPTY_ROOT: bytes = _sha256(b"").digest()
"""MTH of the empty tree: ``SHA-256()`` (RFC 9162 §2.1.1)."""


# --------------------------------------------------------------------------- helpers


def _short(h: bytes) -> str:
    """Abbreviated hex for messages."""
    return h.hex()[:16] + "…"


def _check_hash(what: str, h: object) -> bytes:
    """Return ``h`` if it is a ``bytes`` of :data:`HASH_SIZE`; ProofError otherwise."""
    if not isinstance(h, bytes):
        raise ProofError(f"{what} must be bytes, got {type(h).__name__}")
    if len(h) != HASH_SIZE:
        raise ProofError(f"{what} has wrong length: expected {HASH_SIZE} bytes, got {len(h)}")
    return h


def _check_int(what: str, n: object) -> int:
    """Return ``n`` if it is a non-negative ``int`` (not ``bool``); ProofError otherwise."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise ProofError(f"{what} must be an int, got {type(n).__name__}")
    if n < 0:
        raise ProofError(f"{what} must be >= 0, got {n}")
    return n


def _check_proof(what: str, proof: object) -> Sequence[bytes]:
    """Return ``proof`` if it is a sequence of 32-byte ``bytes``; ProofError otherwise."""
    if not isinstance(proof, (list, tuple)):
        if isinstance(proof, (str, bytes, bytearray, memoryview)) or not isinstance(
            proof, Sequence
        ):
            raise ProofError(f"{what} must be a sequence of bytes, got {type(proof).__name__}")
        proof = list(proof)
    for i, p in enumerate(proof):
        if not isinstance(p, bytes):
            raise ProofError(f"{what} element {i} must be bytes, got {type(p).__name__}")
        if len(p) != HASH_SIZE:
            raise ProofError(
                f"{what} element {i} has wrong length: expected {HASH_SIZE} bytes, got {len(p)}"
            )
    return proof


# --------------------------------------------------------------------------- hashing


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)`` (RFC 9162 §2.1.1)."""
    return _sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)`` (RFC 9162 §2.1.1)."""
    return _sha256(_NODE + left + right).digest()


def fold(hashes: Sequence[bytes]) -> bytes:
    """Hash of a ragged subtree from its decomposition, folding right to left.

    ``fold([a, b, c]) == node_hash(a, node_hash(b, c))``; ``fold([x]) == x``.
    Correct because the decomposition of ``[begin, end)`` under one node has
    strictly decreasing sizes, exactly the RFC 9162 §2.1.1 split at k.
    """
    if not hashes:
        raise ProofError("fold needs at least one hash, got none")
    it = reversed(hashes)
    acc = next(it)
    for h in it:
        acc = _sha256(_NODE + h + acc).digest()
    return acc


# --------------------------------------------------------------------------- node plans


def decompose(begin: int, end: int) -> list[NodeId]:
    """The maximal perfect subtrees exactly covering ``[begin, end)``, left to right.

    Invariant: levels strictly increase (left part), then strictly decrease
    (right part) (Trillian ``compact.Decompose``); the nodes are contiguous,
    aligned and inside the range.
    """
    _check_int("begin", begin)
    _check_int("end", end)
    if end < begin:
        raise ProofError(f"range is reversed: expected begin <= end, got [{begin}, {end})")
    if begin == 0:
        left, right = 0, end
    else:
        xbegin = begin - 1
        # Paths to leaves begin-1 and end diverge at bit d; only nodes below it are in range.
        mask = (1 << ((xbegin ^ end).bit_length() - 1)) - 1
        left, right = ~xbegin & mask, end & mask
    out: list[NodeId] = []
    pos = begin
    while left:  # ascending levels
        level = (left & -left).bit_length() - 1
        out.append((level, pos >> level))
        pos += 1 << level
        left &= left - 1
    while right:  # descending levels
        level = right.bit_length() - 1
        out.append((level, pos >> level))
        pos += 1 << level
        right ^= 1 << level
    return out


def root_plan(size: int) -> list[NodeId]:
    """Nodes whose :func:`fold` is MTH(D[size]) (``decompose(0, size)``)."""
    return decompose(0, size)


def _path_plan(level: int, index: int, size: int) -> list[list[NodeId]]:
    """Audit path of perfect node ``(level, index)`` in the tree of ``size`` leaves, bottom-up.

    Requires ``(index + 1) << level <= size`` or ``index << level < size``.
    Mirrors RFC 9162 §2.1.3.1 PATH: the ``inner`` siblings below the point where
    the node's path and the last leaf's path diverge, then the ``border`` left
    siblings above it (the bits set in ``index >> inner``).
    """
    inner = (index ^ ((size - 1) >> level)).bit_length()
    plan: list[list[NodeId]] = []
    for i in range(inner):
        lvl = level + i
        sib = (index >> i) ^ 1
        sib_end = (sib + 1) << lvl
        if sib_end <= size:
            plan.append([(lvl, sib)])
        else:  # the ragged right edge: MTH(D[sib << lvl : size])
            plan.append(decompose(sib << lvl, size))
    rest = index >> inner
    lvl = level + inner
    while rest:
        if rest & 1:
            plan.append([(lvl, rest ^ 1)])
        rest >>= 1
        lvl += 1
    return plan


def inclusion_proof_plan(index: int, size: int) -> list[list[NodeId]]:
    """RFC 9162 §2.1.3.1 PATH(index, D[size]) as node lists, bottom-up.

    Element ``i`` of the proof is ``fold`` of the hashes of ``plan[i]``.
    At most one element (the ragged right edge) has more than one node.
    """
    _check_int("index", index)
    _check_int("size", size)
    if index >= size:
        raise ProofError(f"leaf index out of range: expected index < size {size}, got {index}")
    return _path_plan(0, index, size)


def consistency_proof_plan(size1: int, size2: int) -> list[list[NodeId]]:
    """RFC 9162 §2.1.4.1 PROOF(size1, D[size2]) as node lists (same convention).

    Empty when ``size1 == size2``. ``size1 == 0`` is refused (nothing to prove).
    The proof is the largest perfect node ending at ``size1`` (omitted when
    ``size1`` is a power of two: the verifier knows it as root1), then that
    node's audit path in the tree of ``size2``.
    """
    _check_int("size1", size1)
    _check_int("size2", size2)
    if size2 < size1:
        raise ProofError(f"tree shrank: expected size2 >= size1 {size1}, got {size2}")
    if size1 == 0:
        raise ProofError("consistency proof from an empty tree proves nothing: expected "
                         "size1 >= 1, got 0")
    if size1 == size2:
        return []
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    path = _path_plan(level, index, size2)
    if index == 0:  # size1 is a power of two: SUBPROOF(m, D[m], true) = {}
        return path
    return [[(level, index)], *path]


def plan_nodes(plan: Sequence[Sequence[NodeId]]) -> set[NodeId]:
    """Every node id a plan needs (one store query)."""
    return {node for element in plan for node in element}


def build_proof(plan: Sequence[Sequence[NodeId]], hashes: Mapping[NodeId, bytes]) -> list[bytes]:
    """Assemble a proof from a plan and the fetched node hashes (ProofError if one is missing)."""
    out: list[bytes] = []
    for element in plan:
        try:
            out.append(fold([hashes[node] for node in element]))
        except KeyError as e:
            raise ProofError(f"node hash missing: expected node {e.args[0]!r} in hashes") from e
    return out


# --------------------------------------------------------------------------- in-memory helpers


def _check_leaves(size: int, leaves: Sequence[bytes]) -> None:
    if len(leaves) < size:
        raise ProofError(f"not enough leaves: expected at least {size}, got {len(leaves)}")


def _node_hashes(nodes: Iterable[NodeId], leaves: Sequence[bytes]) -> dict[NodeId, bytes]:
    """Hashes of perfect nodes computed from in-memory leaf hashes (O(2**level) each)."""
    out: dict[NodeId, bytes] = {}
    for level, index in nodes:
        lo = index << level
        layer = [_check_hash(f"leaf hash {lo + j}", h)
                 for j, h in enumerate(leaves[lo:lo + (1 << level)])]
        while len(layer) > 1:
            layer = [_sha256(_NODE + layer[j] + layer[j + 1]).digest()
                     for j in range(0, len(layer), 2)]
        out[(level, index)] = layer[0]
    return out


def inclusion_proof(index: int, size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[size]) over in-memory leaf hashes ``leaves[:size]`` (RFC 9162 §2.1.3.1)."""
    plan = inclusion_proof_plan(index, size)
    _check_leaves(size, leaves)
    return build_proof(plan, _node_hashes(plan_nodes(plan), leaves))


def consistency_proof(size1: int, size2: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(size1, D[size2]) over in-memory leaf hashes ``leaves[:size2]`` (RFC 9162 §2.1.4.1)."""
    plan = consistency_proof_plan(size1, size2)
    _check_leaves(size2, leaves)
    return build_proof(plan, _node_hashes(plan_nodes(plan), leaves))


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf *hashes* (RFC 9162 §2.1.1); :data:`EMPTY_ROOT` for none."""
    cr = CompactRange()
    cr.extend(leaves)
    return cr.root()


# --------------------------------------------------------------------------- verification


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for ``leaf_hash`` at ``index`` in a tree of ``size``.

    Equivalent to the RFC 9162 §2.1.3.2 loop: ``inner`` low bits of the index
    pick left/right siblings below the right-edge fork, the remaining
    ``border`` proof hashes are all left siblings; the length check replaces
    the RFC's ``sn == 0`` checks.
    """
    leaf = _check_hash("leaf hash", leaf_hash)
    _check_int("index", index)
    _check_int("size", size)
    proof = _check_proof("inclusion proof", proof)
    if index >= size:
        raise ProofError(f"leaf index out of range: expected index < size {size}, got {index}")
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    if len(proof) != inner + border:
        raise ProofError(f"inclusion proof has wrong length: expected {inner + border} hashes, "
                         f"got {len(proof)}")
    r = leaf
    for i in range(inner):
        if (index >> i) & 1:
            r = _sha256(_NODE + proof[i] + r).digest()
        else:
            r = _sha256(_NODE + r + proof[i]).digest()
    for i in range(inner, inner + border):
        r = _sha256(_NODE + proof[i] + r).digest()
    return r


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Check an inclusion proof (RFC 9162 §2.1.3.2); ProofError on any failure."""
    want = _check_hash("root", root)
    got = root_from_inclusion(leaf_hash, index, size, proof)
    if got != want:
        raise ProofError(f"root mismatch: expected {_short(want)}, computed {_short(got)}")


def root_from_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes) -> bytes:
    """Check ``proof`` against ``root1`` and return the root it implies for ``size2``.

    Equivalent to the RFC 9162 §2.1.4.2 loop. ``size1 == 0`` is refused;
    ``size1 == size2`` needs an empty proof and returns ``root1``.
    """
    _check_int("size1", size1)
    _check_int("size2", size2)
    proof = _check_proof("consistency proof", proof)
    r1 = _check_hash("root1", root1)
    if size2 < size1:
        raise ProofError(f"tree shrank: expected size2 >= size1 {size1}, got {size2}")
    if size1 == 0:
        raise ProofError("consistency proof from an empty tree proves nothing: expected "
                         "size1 >= 1, got 0")
    if size1 == size2:
        if proof:
            raise ProofError(f"consistency proof has wrong length: expected 0 hashes for equal "
                             f"sizes, got {len(proof)}")
        return r1
    # The proof is the inclusion path of node (shift, mask) = the largest perfect
    # subtree ending at size1, preceded by that node unless size1 == 2**shift.
    shift = (size1 & -size1).bit_length() - 1
    mask = (size1 - 1) >> shift
    inner = (mask ^ ((size2 - 1) >> shift)).bit_length()
    border = (mask >> inner).bit_count()
    start = 0 if mask == 0 else 1  # RFC 9162 §2.1.4.2 step 2: prepend root1 for 2**k
    want = start + inner + border
    if len(proof) != want:
        raise ProofError(f"consistency proof has wrong length: expected {want} hashes, "
                         f"got {len(proof)}")
    seed = r1 if start == 0 else proof[0]
    fr = sr = seed
    for i in range(inner):
        c = proof[start + i]
        if (mask >> i) & 1:
            fr = _sha256(_NODE + c + fr).digest()
            sr = _sha256(_NODE + c + sr).digest()
        else:  # c is only to the right of the new tree's path
            sr = _sha256(_NODE + sr + c).digest()
    for i in range(start + inner, want):
        c = proof[i]
        fr = _sha256(_NODE + c + fr).digest()
        sr = _sha256(_NODE + c + sr).digest()
    if fr != r1:
        raise ProofError(f"root1 mismatch: expected {_short(r1)}, computed {_short(fr)}")
    return sr


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                       root2: bytes) -> None:
    """Check a consistency proof (RFC 9162 §2.1.4.2); ProofError on any failure."""
    want = _check_hash("root2", root2)
    got = root_from_consistency(size1, size2, proof, root1)
    if got != want:
        raise ProofError(f"root2 mismatch: expected {_short(want)}, computed {_short(got)}")


# --------------------------------------------------------------------------- compact range


class CompactRange:
    """Trillian-style compact range over leaves [begin, end): the hashes of decompose(begin, end).

    Invariant: ``len(hashes) == len(decompose(begin, end))`` and ``hashes[i]`` is
    the hash of ``decompose(begin, end)[i]``. Appending one leaf costs amortised
    one node hash (RFC 9162 §2.1.1 node hashing); every perfect node of level
    >= 1 is completed, and reported to ``visit``, exactly once.
    """

    __slots__ = ("_begin", "_end", "_hashes")

    def __init__(self, begin: int = 0, end: int = 0, hashes: Sequence[bytes] = ()) -> None:
        _check_int("begin", begin)
        _check_int("end", end)
        hs = list(_check_proof("compact range hashes", hashes))
        want = len(decompose(begin, end))
        if len(hs) != want:
            raise ProofError(f"compact range [{begin}, {end}) has wrong number of hashes: "
                             f"expected {want}, got {len(hs)}")
        self._begin = begin
        self._end = end
        self._hashes = hs

    @property
    def begin(self) -> int:
        """First leaf index covered."""
        return self._begin

    @property
    def end(self) -> int:
        """One past the last leaf index covered."""
        return self._end

    @property
    def hashes(self) -> list[bytes]:
        """Hashes of ``decompose(begin, end)`` (a copy)."""
        return list(self._hashes)

    def __repr__(self) -> str:
        return f"CompactRange(begin={self._begin}, end={self._end}, hashes=<{len(self._hashes)}>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return (self._begin, self._end, self._hashes) == (other._begin, other._end, other._hashes)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def append(self, leaf_hash: bytes, visit: Visitor | None = None) -> None:
        """Append one leaf hash; ``visit`` each node of level >= 1 it completes."""
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            _check_hash("leaf hash", leaf_hash)
        end = self._end
        hashes = self._hashes
        h = leaf_hash
        # Merges = trailing one bits of end, capped where the left sibling would
        # start before begin (Trillian getMergePath).
        n = (end ^ (end + 1)).bit_length() - 1
        if n:
            begin = self._begin
            if begin:
                cap = (end ^ (begin - 1)).bit_length() - 1
                if cap < n:
                    n = cap
            if visit is None:
                for _ in range(n):
                    h = _sha256(_NODE + hashes.pop() + h).digest()
            else:
                for level in range(1, n + 1):
                    h = _sha256(_NODE + hashes.pop() + h).digest()
                    visit(level, end >> level, h)
        hashes.append(h)
        self._end = end + 1

    def extend(self, leaf_hashes: Iterable[bytes], visit: Visitor | None = None) -> None:
        """Append each leaf hash in order."""
        append = self.append
        for h in leaf_hashes:
            append(h, visit)

    def _push(self, level: int, h: bytes, visit: Visitor | None) -> None:
        """Append the perfect node ``(level, end >> level)``; requires end aligned to 2**level."""
        hashes = self._hashes
        begin = self._begin
        index = self._end >> level
        self._end += 1 << level
        # Merge while our node is a right child whose left sibling lies inside [begin, ...).
        while index & 1 and (index - 1) << level >= begin:
            h = _sha256(_NODE + hashes.pop() + h).digest()
            level += 1
            index >>= 1
            if visit is not None:
                visit(level, index, h)
        hashes.append(h)

    def merge(self, other: CompactRange, visit: Visitor | None = None) -> None:
        """Absorb the adjacent range ``other`` (``other.begin == self.end``).

        Equivalent to appending other's leaves one by one: other's nodes are
        pushed left to right and merged greedily; ``visit`` sees each node of
        level >= 1 completed by the merge (never one already inside ``other``).
        """
        if not isinstance(other, CompactRange):
            raise ProofError(f"can only merge a CompactRange, got {type(other).__name__}")
        if other._begin != self._end:
            raise ProofError(f"ranges are not adjacent: expected other.begin == {self._end}, "
                             f"got {other._begin}")
        if self._begin == self._end:  # empty: adopt other's nodes unchanged
            self._begin, self._end = other._begin, other._end
            self._hashes = list(other._hashes)
            return
        for (level, _), h in zip(decompose(other._begin, other._end), list(other._hashes),
                                 strict=True):
            self._push(level, h, visit)

    def root(self) -> bytes:
        """MTH(D[end]) (RFC 9162 §2.1.1); needs ``begin == 0``; EMPTY_ROOT when empty."""
        if self._begin != 0:
            raise ProofError(f"root needs a range from leaf 0: expected begin 0, got {self._begin}")
        if not self._hashes:
            return EMPTY_ROOT
        return fold(self._hashes)

    def nodes(self) -> list[tuple[NodeId, bytes]]:
        """``(node id, hash)`` pairs of the decomposition, left to right."""
        return list(zip(decompose(self._begin, self._end), self._hashes, strict=True))

    def copy(self) -> CompactRange:
        """An independent copy."""
        new = CompactRange.__new__(CompactRange)
        new._begin, new._end, new._hashes = self._begin, self._end, list(self._hashes)
        return new

"""Tests for tracelib.merkle against RFC 9162 / RFC 6962 known answers, the RFC's
worked 7-leaf example, and a literal recursive reference written from the RFC's
definitions (MTH §2.1.1, PATH §2.1.3.1, PROOF/SUBPROOF §2.1.4.1) plus the RFC's
own verification loops (§2.1.3.2, §2.1.4.2)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracelib import merkle as m
from tracelib.errors import ProofError

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- reference


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


MAX_N = 2048
DATA: list[bytes] = [b"tracelib test leaf %d" % i for i in range(MAX_N)]
LEAVES: list[bytes] = [_h(b"\x00" + d) for d in DATA]


@cache
def ref_mth(lo: int, hi: int) -> bytes:
    """RFC 9162 §2.1.1 MTH(D[lo:hi]) over DATA, literally."""
    n = hi - lo
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + DATA[lo])
    k = _largest_pow2_below(n)
    return _h(b"\x01" + ref_mth(lo, lo + k) + ref_mth(lo + k, hi))


def _largest_pow2_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_path(m_: int, lo: int, hi: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[lo:hi])."""
    n = hi - lo
    if n == 1:
        return []
    k = _largest_pow2_below(n)
    if m_ < k:
        return [*ref_path(m_, lo, lo + k), ref_mth(lo + k, hi)]
    return [*ref_path(m_ - k, lo + k, hi), ref_mth(lo, lo + k)]


def ref_subproof(m_: int, lo: int, hi: int, b: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[lo:hi], b)."""
    n = hi - lo
    if m_ == n:
        return [] if b else [ref_mth(lo, hi)]
    k = _largest_pow2_below(n)
    if m_ <= k:
        return [*ref_subproof(m_, lo, lo + k, b), ref_mth(lo + k, hi)]
    return [*ref_subproof(m_ - k, lo + k, hi, False), ref_mth(lo, lo + k)]


def ref_proof(m_: int, n: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
    return ref_subproof(m_, 0, n, True)


def _hc(left: bytes, right: bytes) -> bytes:
    return _h(b"\x01" + left + right)


def rfc_verify_inclusion(leaf: Any, index: Any, size: Any, path: Any, root: Any) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if index >= size:  # step 1
        return False
    fn, sn = index, size - 1  # step 2
    r = leaf  # step 3
    for p in path:  # step 4
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _hc(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _hc(r, p)
        fn >>= 1
        sn >>= 1
    return bool(sn == 0 and r == root)  # step 5


def rfc_verify_consistency(first: Any, second: Any, path: Any, first_hash: Any,
                           second_hash: Any) -> bool:
    """RFC 9162 §2.1.4.2, step by step, plus tracelib's policy for the edge cases:
    size1 == 0 proves nothing; equal sizes need an empty path and equal roots."""
    if first == 0 or second < first:
        return False
    if first == second:
        return not path and first_hash == second_hash
    path = list(path)
    if not path:  # step 1
        return False
    if first & (first - 1) == 0:  # step 2: first is an exact power of 2
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1  # step 3
    if fn & 1:  # step 4
        while fn & 1:
            fn >>= 1
            sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _hc(c, fr)
            sr = _hc(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _hc(sr, c)
        fn >>= 1
        sn >>= 1
    return bool(fr == first_hash and sr == second_hash and sn == 0)  # step 7


def ref_node(node: m.NodeId) -> bytes:
    level, index = node
    return ref_mth(index << level, (index + 1) << level)


def _store_for(nodes: set[m.NodeId], size: int) -> dict[m.NodeId, bytes]:
    """The node hashes a store would return; asserts every node is inside [0, size)."""
    for level, index in nodes:
        assert level >= 0 and index >= 0
        assert (index + 1) << level <= size, (level, index, size)
    return {node: ref_node(node) for node in nodes}


def _perfect_nodes(end: int, min_level: int = 1) -> set[m.NodeId]:
    out: set[m.NodeId] = set()
    level = min_level
    while (1 << level) <= end:
        out.update((level, i) for i in range(end >> level))
        level += 1
    return out


def _flip(b: bytes, bit: int) -> bytes:
    bit %= len(b) * 8
    out = bytearray(b)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --------------------------------------------------------------------------- known answers

KNOWN = json.loads((Path(__file__).parent / "data" / "rfc6962-known-roots.json").read_text())
KNOWN_LEAVES = [m.leaf_hash(bytes.fromhex(x)) for x in KNOWN["leaves_hex"]]


def test_known_roots_file_is_documented() -> None:
    assert "transparency-dev" in KNOWN["about"]
    assert len(KNOWN["roots_hex"]) == len(KNOWN["leaves_hex"]) + 1


@pytest.mark.parametrize("n", range(len(KNOWN["roots_hex"])))
def test_known_roots(n: int) -> None:
    want = bytes.fromhex(KNOWN["roots_hex"][n])
    assert m.root(KNOWN_LEAVES[:n]) == want
    cr = m.CompactRange()
    cr.extend(KNOWN_LEAVES[:n])
    assert cr.root() == want
    if n:
        store = {(lv, i): m.root(KNOWN_LEAVES[i << lv:(i + 1) << lv])
                 for lv, i in m.root_plan(n)}
        assert m.build_proof([m.root_plan(n)], store) == [want]


def test_primitives() -> None:
    assert m.HASH_SIZE == 32
    assert m.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert m.leaf_hash(b"abc") == _h(b"\x00abc")
    a, b, c = LEAVES[:3]
    assert m.node_hash(a, b) == _h(b"\x01" + a + b)
    assert m.fold([a]) == a
    assert m.fold([a, b, c]) == m.node_hash(a, m.node_hash(b, c))
    assert m.root([]) == m.EMPTY_ROOT
    with pytest.raises(ProofError, match="at least one hash"):
        m.fold([])


# --------------------------------------------------------------------------- RFC 7-leaf example

# RFC 9162 §2.1.5 / RFC 6962 §2.1.3 name the nodes of the 7-leaf tree:
#              hash
#          k          l
#       g     h     i    j
#      a b   c d   e f   |
#                        d6        (a..f and j are leaf hashes of d0..d5, d6)
_A, _B, _C, _D, _E, _F, _J = KNOWN_LEAVES[:7]
RFC: dict[str, bytes] = {"a": _A, "b": _B, "c": _C, "d": _D, "e": _E, "f": _F, "j": _J}
RFC["g"] = m.node_hash(RFC["a"], RFC["b"])
RFC["h"] = m.node_hash(RFC["c"], RFC["d"])
RFC["i"] = m.node_hash(RFC["e"], RFC["f"])
RFC["k"] = m.node_hash(RFC["g"], RFC["h"])
RFC["l"] = m.node_hash(RFC["i"], RFC["j"])
RFC["hash"] = m.node_hash(RFC["k"], RFC["l"])
# The same tree built incrementally: hash0 (3 leaves), hash1 = k (4), hash2 (6).
RFC["hash0"] = m.node_hash(RFC["g"], RFC["c"])
RFC["hash1"] = RFC["k"]
RFC["hash2"] = m.node_hash(RFC["k"], RFC["i"])
RFC_SIZES = {"hash0": 3, "hash1": 4, "hash2": 6, "hash": 7}


def test_rfc_example_roots_match_known_answers() -> None:
    for name, size in RFC_SIZES.items():
        assert RFC[name].hex() == KNOWN["roots_hex"][size], name


@pytest.mark.parametrize(("index", "names", "plan"), [
    # "The audit path for d0 is [b, h, l]."
    (0, "b h l", [[(0, 1)], [(1, 1)], [(1, 2), (0, 6)]]),
    # d1 (not in the RFC text, same tree): [a, h, l]
    (1, "a h l", [[(0, 0)], [(1, 1)], [(1, 2), (0, 6)]]),
    # "The audit path for d3 is [c, g, l]."
    (3, "c g l", [[(0, 2)], [(1, 0)], [(1, 2), (0, 6)]]),
    # "The audit path for d4 is [f, j, k]."
    (4, "f j k", [[(0, 5)], [(0, 6)], [(2, 0)]]),
    # "The audit path for d6 is [i, k]."
    (6, "i k", [[(1, 2)], [(2, 0)]]),
])
def test_rfc_example_audit_paths(index: int, names: str, plan: list[list[m.NodeId]]) -> None:
    want = [RFC[x] for x in names.split()]
    assert m.inclusion_proof(index, 7, KNOWN_LEAVES) == want
    assert m.inclusion_proof_plan(index, 7) == plan
    m.verify_inclusion(KNOWN_LEAVES[index], index, 7, want, RFC["hash"])


@pytest.mark.parametrize(("old", "names", "plan"), [
    # "PROOF(3, D[7]) = [c, d, g, l]"
    ("hash0", "c d g l", [[(0, 2)], [(0, 3)], [(1, 0)], [(1, 2), (0, 6)]]),
    # "PROOF(4, D[7]) = [l]"
    ("hash1", "l", [[(1, 2), (0, 6)]]),
    # "PROOF(6, D[7]) = [i, j, k]"
    ("hash2", "i j k", [[(1, 2)], [(0, 6)], [(2, 0)]]),
])
def test_rfc_example_consistency_proofs(old: str, names: str,
                                        plan: list[list[m.NodeId]]) -> None:
    size1 = RFC_SIZES[old]
    want = [RFC[x] for x in names.split()]
    assert m.consistency_proof(size1, 7, KNOWN_LEAVES) == want
    assert m.consistency_proof_plan(size1, 7) == plan
    m.verify_consistency(size1, 7, want, RFC[old], RFC["hash"])
    assert m.root_from_consistency(size1, 7, want, RFC[old]) == RFC["hash"]


# --------------------------------------------------------------------------- decompose


@pytest.mark.parametrize(("begin", "end", "want"), [
    (0, 0, []),
    (5, 5, []),
    (0, 1, [(0, 0)]),
    (0, 7, [(2, 0), (1, 2), (0, 6)]),
    (0, 8, [(3, 0)]),
    (3, 7, [(0, 3), (1, 2), (0, 6)]),
    (1, 3, [(0, 1), (0, 2)]),
    (3, 13, [(0, 3), (2, 1), (2, 2), (0, 12)]),
    (5, 13, [(0, 5), (1, 3), (2, 2), (0, 12)]),
    (1, 2**40, [(0, 1), *((k, 1) for k in range(1, 40))]),
])
def test_decompose_examples(begin: int, end: int, want: list[m.NodeId]) -> None:
    assert m.decompose(begin, end) == want


def _strictly(xs: list[int], sign: int) -> bool:
    return all((b - a) * sign > 0 for a, b in pairwise(xs))


@SETTINGS
@given(st.integers(0, 2**70), st.integers(0, 2**12))
def test_decompose_is_maximal_exact_cover(begin: int, length: int) -> None:
    end = begin + length
    nodes = m.decompose(begin, end)
    pos = begin
    levels = []
    for level, index in nodes:
        assert index << level == pos  # contiguous and aligned
        pos += 1 << level
        # maximal: the parent does not fit in the range
        p_lo, p_hi = (index >> 1) << (level + 1), ((index >> 1) + 1) << (level + 1)
        assert p_lo < begin or p_hi > end
        levels.append(level)
    assert pos == end
    # strictly increasing (left part), then strictly decreasing (right part)
    assert any(_strictly(levels[:p], 1) and _strictly(levels[p:], -1)
               for p in range(len(levels) + 1))
    assert m.root_plan(end) == m.decompose(0, end)


# --------------------------------------------------------------------------- proofs vs reference

sizes = st.integers(1, 2000)


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(0, size - 1)), size


@st.composite
def size_pair(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(sizes)
    return draw(st.integers(1, size2)), size2


@SETTINGS
@given(index_and_size())
def test_inclusion_matches_reference(case: tuple[int, int]) -> None:
    index, size = case
    want = ref_path(index, 0, size)
    root = ref_mth(0, size)
    assert m.inclusion_proof(index, size, LEAVES) == want
    plan = m.inclusion_proof_plan(index, size)
    assert sum(len(e) > 1 for e in plan) <= 1  # at most one ragged element
    assert m.build_proof(plan, _store_for(m.plan_nodes(plan), size)) == want
    assert m.root_from_inclusion(LEAVES[index], index, size, want) == root
    m.verify_inclusion(LEAVES[index], index, size, want, root)
    m.verify_inclusion(LEAVES[index], index, size, tuple(want), root)
    assert rfc_verify_inclusion(LEAVES[index], index, size, want, root)


@SETTINGS
@given(size_pair())
def test_consistency_matches_reference(case: tuple[int, int]) -> None:
    size1, size2 = case
    want = ref_proof(size1, size2)
    root1, root2 = ref_mth(0, size1), ref_mth(0, size2)
    assert m.consistency_proof(size1, size2, LEAVES) == want
    plan = m.consistency_proof_plan(size1, size2)
    assert sum(len(e) > 1 for e in plan) <= 1
    assert m.build_proof(plan, _store_for(m.plan_nodes(plan), size2)) == want
    assert m.root_from_consistency(size1, size2, want, root1) == root2
    m.verify_consistency(size1, size2, want, root1, root2)
    assert rfc_verify_consistency(size1, size2, want, root1, root2)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33])
def test_all_small_proofs(size: int) -> None:
    """Exhaustive over small trees: every index and every size pair."""
    root = ref_mth(0, size)
    for index in range(size):
        proof = m.inclusion_proof(index, size, LEAVES)
        assert proof == ref_path(index, 0, size)
        m.verify_inclusion(LEAVES[index], index, size, proof, root)
    for size1 in range(1, size + 1):
        proof = m.consistency_proof(size1, size, LEAVES)
        assert proof == ref_proof(size1, size)
        m.verify_consistency(size1, size, proof, ref_mth(0, size1), root)


@pytest.mark.parametrize(("a", "b"), [(0, 1), (2**40 - 3, 2**40 + 5), (2**62 + 1, 2**63 - 1),
                                      (12345678901, 98765432109876)])
def test_plans_stay_logarithmic(a: int, b: int) -> None:
    for plan in (m.inclusion_proof_plan(a, b), m.consistency_proof_plan(max(a, 1), b)):
        assert len(m.plan_nodes(plan)) <= 2 * b.bit_length() + 1
        assert all((i + 1) << lv <= b for lv, i in m.plan_nodes(plan))


def test_build_proof_missing_node() -> None:
    plan = m.inclusion_proof_plan(3, 7)
    with pytest.raises(ProofError, match=r"node hash missing: expected node \(1, 0\)"):
        m.build_proof(plan, {(0, 2): LEAVES[2]})


def test_in_memory_proofs_need_enough_leaves() -> None:
    with pytest.raises(ProofError, match="not enough leaves: expected at least 10, got 5"):
        m.inclusion_proof(0, 10, LEAVES[:5])
    with pytest.raises(ProofError, match="not enough leaves"):
        m.consistency_proof(2, 10, LEAVES[:5])


# --------------------------------------------------------------------------- compact ranges


class Recorder:
    """Collects visit() calls and checks each against the reference."""

    def __init__(self) -> None:
        self.seen: Counter[m.NodeId] = Counter()

    def __call__(self, level: int, index: int, h: bytes) -> None:
        assert level >= 1
        assert h == ref_node((level, index)), (level, index)
        self.seen[(level, index)] += 1


def _check_range(cr: m.CompactRange) -> None:
    assert [n for n, _ in cr.nodes()] == m.decompose(cr.begin, cr.end)
    for node, h in cr.nodes():
        assert h == ref_node(node)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 100, 1024, 1500])
def test_append_from_zero_visits_every_perfect_node_once(n: int) -> None:
    rec = Recorder()
    cr = m.CompactRange()
    for i in range(n):
        cr.append(LEAVES[i], rec)
    assert cr.root() == ref_mth(0, n)
    _check_range(cr)
    assert set(rec.seen) == _perfect_nodes(n)
    assert all(c == 1 for c in rec.seen.values())


@SETTINGS
@given(st.data())
def test_compact_range_random_splits_and_merges(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 700), label="n")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(n - 1, 1)), max_size=12), label="cuts"))
    bounds = [0, *(c for c in cuts if 0 < c < n), n]
    rec = Recorder()
    ranges = []
    for lo, hi in pairwise(bounds):
        cr = m.CompactRange(lo, lo)
        if data.draw(st.booleans(), label="extend"):
            cr.extend(LEAVES[lo:hi], rec)
        else:
            for i in range(lo, hi):
                cr.append(LEAVES[i], rec)
        _check_range(cr)
        ranges.append(cr)
    while len(ranges) > 1:
        j = data.draw(st.integers(0, len(ranges) - 2), label="merge at")
        left = ranges[j]
        left.merge(ranges.pop(j + 1), rec)
        _check_range(left)
    final = ranges[0]
    assert (final.begin, final.end) == (0, n)
    assert final.root() == ref_mth(0, n)
    assert set(rec.seen) == _perfect_nodes(n)
    assert all(c == 1 for c in rec.seen.values())
    # rebuilding from stored hashes gives an equal, independent range
    again = m.CompactRange(0, n, final.hashes)
    assert again == final
    if n < MAX_N:
        again.append(LEAVES[n])
        assert again != final and again.root() == ref_mth(0, n + 1)


def test_compact_range_copy_is_independent() -> None:
    cr = m.CompactRange()
    cr.extend(LEAVES[:5])
    cp = cr.copy()
    cp.append(LEAVES[5])
    assert (cr.end, cp.end) == (5, 6)
    assert cr.root() == ref_mth(0, 5) and cp.root() == ref_mth(0, 6)
    assert cr.hashes is not cr.hashes  # read-only view: a fresh list each time


def test_compact_range_merge_into_empty() -> None:
    right = m.CompactRange(3, 3)
    right.extend(LEAVES[3:9])
    empty = m.CompactRange(3, 3)
    empty.merge(right)
    assert empty == right
    left = m.CompactRange()
    left.extend(LEAVES[:3])
    left.merge(m.CompactRange(3, 3))  # merging an empty range is a no-op
    assert left.end == 3 and left.root() == ref_mth(0, 3)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: m.CompactRange(0, 3, [LEAVES[0]]),
     r"compact range \[0, 3\) has wrong number of hashes: expected 2, got 1"),
    (lambda: m.CompactRange(5, 3), r"range is reversed: expected begin <= end, got \[5, 3\)"),
    (lambda: m.CompactRange(-1, 3), "begin must be >= 0, got -1"),
    (lambda: m.CompactRange(0, 1, ["00" * 32]),  # type: ignore[list-item]
     "element 0 must be bytes, got str"),
    (lambda: m.CompactRange(0, 1, [b"x"]), "expected 32 bytes, got 1"),
    (lambda: m.CompactRange(2, 3, [LEAVES[2]]).root(), "expected begin 0, got 2"),
    (lambda: m.CompactRange().merge(m.CompactRange(1, 1)),
     "ranges are not adjacent: expected other.begin == 0, got 1"),
    (lambda: m.CompactRange().merge(None), "can only merge a CompactRange, got NoneType"),  # type: ignore[arg-type]
    (lambda: m.CompactRange().append(b"short"), "leaf hash has wrong length"),
    (lambda: m.CompactRange().append("x" * 32), "leaf hash must be bytes, got str"),  # type: ignore[arg-type]
    (lambda: m.CompactRange().extend([LEAVES[0], None]), "leaf hash must be bytes, got NoneType"),  # type: ignore[list-item]
    (lambda: m.root([LEAVES[0], b""]), "leaf hash has wrong length"),
    (lambda: m.decompose(3, 2), "range is reversed"),
    (lambda: m.decompose(0, 1.5), "end must be an int, got float"),  # type: ignore[arg-type]
    (lambda: m.inclusion_proof_plan(7, 7), "expected index < size 7, got 7"),
    (lambda: m.consistency_proof_plan(0, 7), "empty tree proves nothing"),
    (lambda: m.consistency_proof_plan(8, 7), "tree shrank: expected size2 >= size1 8, got 7"),
])
def test_storage_side_errors(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ProofError, match=match):
        call()


def test_consistency_plan_equal_sizes_is_empty() -> None:
    assert m.consistency_proof_plan(5, 5) == []
    assert m.consistency_proof(5, 5, LEAVES) == []


# --------------------------------------------------------------------------- negative: table

R3, R6, R7 = ref_mth(0, 3), ref_mth(0, 6), ref_mth(0, 7)
P37 = ref_path(3, 0, 7)  # [c, g, l]
C37 = ref_proof(3, 7)  # [c, d, g, l]

# (what, (leaf, index, size, proof, root), message fragment)
INCLUSION_FAILURES: list[tuple[str, tuple[Any, ...], str]] = [
    ("leaf too short", (LEAVES[3][:31], 3, 7, P37, R7),
     "leaf hash has wrong length: expected 32 bytes, got 31"),
    ("leaf is str", (LEAVES[3].hex(), 3, 7, P37, R7), "leaf hash must be bytes, got str"),
    ("leaf is None", (None, 3, 7, P37, R7), "leaf hash must be bytes, got NoneType"),
    ("leaf is bytearray", (bytearray(LEAVES[3]), 3, 7, P37, R7),
     "leaf hash must be bytes, got bytearray"),
    ("root too long", (LEAVES[3], 3, 7, P37, R7 + b"\x00"),
     "root has wrong length: expected 32 bytes, got 33"),
    ("root is str", (LEAVES[3], 3, 7, P37, R7.hex()), "root must be bytes, got str"),
    ("proof element short", (LEAVES[3], 3, 7, [P37[0], P37[1][:-1], P37[2]], R7),
     "inclusion proof element 1 has wrong length: expected 32 bytes, got 31"),
    ("proof element str", (LEAVES[3], 3, 7, [P37[0].hex(), *P37[1:]], R7),
     "inclusion proof element 0 must be bytes, got str"),
    ("proof is None", (LEAVES[3], 3, 7, None, R7),
     "inclusion proof must be a sequence of bytes, got NoneType"),
    ("proof is bytes", (LEAVES[3], 3, 7, b"".join(P37), R7),
     "inclusion proof must be a sequence of bytes, got bytes"),
    ("proof is str", (LEAVES[3], 3, 7, "abc", R7),
     "inclusion proof must be a sequence of bytes, got str"),
    ("negative index", (LEAVES[3], -1, 7, P37, R7), "index must be >= 0, got -1"),
    ("negative size", (LEAVES[3], 3, -7, P37, R7), "size must be >= 0, got -7"),
    ("float index", (LEAVES[3], 3.0, 7, P37, R7), "index must be an int, got float"),
    ("bool index", (LEAVES[3], True, 7, P37, R7), "index must be an int, got bool"),
    ("str size", (LEAVES[3], 3, "7", P37, R7), "size must be an int, got str"),
    ("index == size", (LEAVES[3], 7, 7, P37, R7),
     "leaf index out of range: expected index < size 7, got 7"),
    ("index > size", (LEAVES[3], 9, 7, P37, R7), "expected index < size 7, got 9"),
    ("empty tree", (LEAVES[3], 0, 0, [], m.EMPTY_ROOT), "expected index < size 0, got 0"),
    ("proof too long", (LEAVES[3], 3, 7, [*P37, R3], R7),
     "inclusion proof has wrong length: expected 3 hashes, got 4"),
    ("proof too short", (LEAVES[3], 3, 7, P37[:2], R7),
     "inclusion proof has wrong length: expected 3 hashes, got 2"),
    ("proof empty", (LEAVES[3], 3, 7, [], R7), "expected 3 hashes, got 0"),
    ("huge size", (LEAVES[3], 3, 2**64, P37, R7), "expected 64 hashes, got 3"),
    ("other leaf", (LEAVES[4], 3, 7, P37, R7), "root mismatch: expected "),
    ("other root", (LEAVES[3], 3, 7, P37, R6), f"root mismatch: expected {R6.hex()[:16]}…, "
                                               f"computed {R7.hex()[:16]}…"),
    ("other index", (LEAVES[3], 2, 7, P37, R7), "root mismatch"),
    ("proof reordered", (LEAVES[3], 3, 7, [P37[1], P37[0], P37[2]], R7), "root mismatch"),
]


@pytest.mark.parametrize(("args", "match"), [(a, msg) for _, a, msg in INCLUSION_FAILURES],
                         ids=[w for w, _, _ in INCLUSION_FAILURES])
def test_inclusion_failures(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ProofError) as err:
        m.verify_inclusion(*args)
    assert match in str(err.value)
    assert not rfc_verify_inclusion(*args) if _well_typed_inclusion(args) else True


# (what, (size1, size2, proof, root1, root2), message fragment)
CONSISTENCY_FAILURES: list[tuple[str, tuple[Any, ...], str]] = [
    ("size2 < size1", (7, 3, C37, R7, R3), "tree shrank: expected size2 >= size1 7, got 3"),
    ("size1 == 0", (0, 7, [], m.EMPTY_ROOT, R7),
     "consistency proof from an empty tree proves nothing: expected size1 >= 1, got 0"),
    ("both empty", (0, 0, [], m.EMPTY_ROOT, m.EMPTY_ROOT), "empty tree proves nothing"),
    ("equal sizes, non-empty proof", (7, 7, [R7], R7, R7),
     "consistency proof has wrong length: expected 0 hashes for equal sizes, got 1"),
    ("equal sizes, different roots", (7, 7, [], R7, R6),
     f"root2 mismatch: expected {R6.hex()[:16]}…, computed {R7.hex()[:16]}…"),
    ("proof too long", (3, 7, [*C37, R3], R3, R7),
     "consistency proof has wrong length: expected 4 hashes, got 5"),
    ("proof too short", (3, 7, C37[:3], R3, R7),
     "consistency proof has wrong length: expected 4 hashes, got 3"),
    ("proof empty", (3, 7, [], R3, R7), "expected 4 hashes, got 0"),
    ("power-of-two size1 with root1 prepended", (4, 7, [RFC["k"], RFC["l"]], RFC["k"], R7),
     "expected 1 hashes, got 2"),
    ("root1 mismatch", (3, 7, C37, R6, R7), "root1 mismatch: expected "),
    ("root2 mismatch", (3, 7, C37, R3, R6), "root2 mismatch: expected "),
    ("proof reordered", (3, 7, [C37[1], C37[0], *C37[2:]], R3, R7), "mismatch"),
    ("huge size2", (3, 2**64, C37, R3, R7), "expected 65 hashes, got 4"),
    ("negative size1", (-3, 7, C37, R3, R7), "size1 must be >= 0, got -3"),
    ("negative size2", (3, -7, C37, R3, R7), "size2 must be >= 0, got -7"),
    ("None size1", (None, 7, C37, R3, R7), "size1 must be an int, got NoneType"),
    ("str size2", (3, "7", C37, R3, R7), "size2 must be an int, got str"),
    ("proof is None", (3, 7, None, R3, R7), "consistency proof must be a sequence of bytes"),
    ("proof element int", (3, 7, [1, *C37[1:]], R3, R7),
     "consistency proof element 0 must be bytes, got int"),
    ("proof element long", (3, 7, [*C37[:3], C37[3] + b"\x00"], R3, R7),
     "consistency proof element 3 has wrong length: expected 32 bytes, got 33"),
    ("root1 is str", (3, 7, C37, R3.hex(), R7), "root1 must be bytes, got str"),
    ("root2 is None", (3, 7, C37, R3, None), "root2 must be bytes, got NoneType"),
    ("root1 too short", (3, 7, C37, R3[:16], R7), "root1 has wrong length: expected 32 bytes"),
]


@pytest.mark.parametrize(("args", "match"), [(a, msg) for _, a, msg in CONSISTENCY_FAILURES],
                         ids=[w for w, _, _ in CONSISTENCY_FAILURES])
def test_consistency_failures(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ProofError) as err:
        m.verify_consistency(*args)
    assert match in str(err.value)
    if _well_typed_consistency(args):
        assert not rfc_verify_consistency(*args)


def test_equal_sizes_with_equal_roots_verify() -> None:
    m.verify_consistency(7, 7, [], R7, R7)
    assert m.root_from_consistency(7, 7, (), R7) == R7


# --------------------------------------------------------------------------- negative: Hypothesis


def _is_hash(x: object) -> bool:
    return isinstance(x, bytes) and len(x) == 32


def _is_size(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _is_proof(x: object) -> bool:
    return isinstance(x, (list, tuple)) and all(_is_hash(p) for p in x)


def _well_typed_inclusion(a: Sequence[Any]) -> bool:
    return (_is_hash(a[0]) and _is_size(a[1]) and _is_size(a[2]) and _is_proof(a[3])
            and _is_hash(a[4]))


def _well_typed_consistency(a: Sequence[Any]) -> bool:
    return (_is_size(a[0]) and _is_size(a[1]) and _is_proof(a[2]) and _is_hash(a[3])
            and _is_hash(a[4]))


def _accepts(verify: Callable[..., None], *args: Any) -> bool:
    try:
        verify(*args)
    except ProofError:
        return False
    return True


@SETTINGS
@given(index_and_size(), st.data())
def test_inclusion_bit_flips_fail(case: tuple[int, int], data: st.DataObject) -> None:
    index, size = case
    proof = ref_path(index, 0, size)
    leaf, root = LEAVES[index], ref_mth(0, size)
    target = data.draw(st.integers(-2, len(proof) - 1), label="target")  # -2 leaf, -1 root
    bit = data.draw(st.integers(0, 255), label="bit")
    if target == -2:
        leaf = _flip(leaf, bit)
    elif target == -1:
        root = _flip(root, bit)
    else:
        proof[target] = _flip(proof[target], bit)
    with pytest.raises(ProofError, match="mismatch"):
        m.verify_inclusion(leaf, index, size, proof, root)
    assert not rfc_verify_inclusion(leaf, index, size, proof, root)


@SETTINGS
@given(index_and_size(), st.data())
def test_inclusion_changed_index_or_size(case: tuple[int, int], data: st.DataObject) -> None:
    """Another index always fails (distinct leaves). Another size fails unless the
    audit path has the same shape, exactly as the RFC 9162 §2.1.3.2 loop decides:
    the proof does not bind the size; the signed (size, root) pair does."""
    index, size = case
    proof = ref_path(index, 0, size)
    leaf, root = LEAVES[index], ref_mth(0, size)
    other = data.draw(st.integers(0, 2100).filter(lambda x: x != index), label="index")
    with pytest.raises(ProofError):
        m.verify_inclusion(leaf, other, size, proof, root)
    assert not rfc_verify_inclusion(leaf, other, size, proof, root)
    new_size = data.draw(st.integers(0, 2**12).filter(lambda x: x != size), label="size")
    assert (_accepts(m.verify_inclusion, leaf, index, new_size, proof, root)
            == rfc_verify_inclusion(leaf, index, new_size, proof, root))


@SETTINGS
@given(size_pair(), st.data())
def test_consistency_bit_flips_fail(case: tuple[int, int], data: st.DataObject) -> None:
    size1, size2 = case
    proof = ref_proof(size1, size2)
    root1, root2 = ref_mth(0, size1), ref_mth(0, size2)
    target = data.draw(st.integers(-2, len(proof) - 1), label="target")  # -2 root1, -1 root2
    bit = data.draw(st.integers(0, 255), label="bit")
    if target == -2:
        root1 = _flip(root1, bit)
    elif target == -1:
        root2 = _flip(root2, bit)
    else:
        proof[target] = _flip(proof[target], bit)
    with pytest.raises(ProofError, match="mismatch"):
        m.verify_consistency(size1, size2, proof, root1, root2)
    assert not rfc_verify_consistency(size1, size2, proof, root1, root2)


@SETTINGS
@given(size_pair(), st.integers(0, 2**12), st.integers(0, 2**12), st.data())
def test_consistency_changed_sizes_agree_with_rfc(case: tuple[int, int], s1: int, s2: int,
                                                  data: st.DataObject) -> None:
    size1, size2 = case
    proof = ref_proof(size1, size2)
    root1, root2 = ref_mth(0, size1), ref_mth(0, size2)
    which = data.draw(st.sampled_from(["size1", "size2", "both"]))
    n1 = size1 if which == "size2" else s1
    n2 = size2 if which == "size1" else s2
    assert (_accepts(m.verify_consistency, n1, n2, proof, root1, root2)
            == rfc_verify_consistency(n1, n2, proof, root1, root2))


@SETTINGS
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=24),
       st.integers(0, 2**20), st.integers(0, 2**20), st.binary(min_size=32, max_size=32),
       st.binary(min_size=32, max_size=32))
def test_random_proofs_agree_with_rfc_loops(proof: list[bytes], a: int, b: int, h1: bytes,
                                            h2: bytes) -> None:
    assert (_accepts(m.verify_inclusion, h1, a, b, proof, h2)
            == rfc_verify_inclusion(h1, a, b, proof, h2))
    lo, hi = min(a, b), max(a, b)
    assert (_accepts(m.verify_consistency, lo, hi, proof, h1, h2)
            == rfc_verify_consistency(lo, hi, proof, h1, h2))


garbage = st.one_of(
    st.none(), st.booleans(), st.text(max_size=40), st.binary(max_size=40),
    st.integers(-2**70, 2**70), st.floats(), st.just(2**200), st.just(-(2**200)),
    st.lists(st.one_of(st.binary(max_size=40), st.text(max_size=3), st.none(), st.integers()),
             max_size=6),
    st.dictionaries(st.integers(), st.integers(), max_size=2), st.just(object()),
    st.builds(bytearray, st.binary(min_size=32, max_size=32)),
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_garbage_arguments_only_raise_proof_error(data: st.DataObject) -> None:
    valid_i: tuple[Any, ...] = (LEAVES[3], 3, 7, P37, R7)
    valid_c: tuple[Any, ...] = (3, 7, C37, R3, R7)
    args_i = tuple(data.draw(st.one_of(st.just(v), garbage)) for v in valid_i)
    args_c = tuple(data.draw(st.one_of(st.just(v), garbage)) for v in valid_c)
    for verify, args, rfc, typed in (
        (m.verify_inclusion, args_i, rfc_verify_inclusion, _well_typed_inclusion),
        (m.verify_consistency, args_c, rfc_verify_consistency, _well_typed_consistency),
    ):
        try:
            verify(*args)
        except ProofError:
            continue
        # accepted: only possible with well-typed arguments the RFC algorithm accepts
        assert typed(args)
        assert rfc(*args)
    for fn, n_args in ((m.root_from_inclusion, 4), (m.root_from_consistency, 4),
                       (m.decompose, 2), (m.inclusion_proof_plan, 2),
                       (m.consistency_proof_plan, 2)):
        drawn = [data.draw(garbage) for _ in range(n_args)]
        try:
            fn(*drawn)
        except ProofError:
            pass

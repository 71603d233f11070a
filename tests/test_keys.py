"""Tests for tracelib.keys: Ed25519 keys, key ids, verify_batch, the file keystore."""

from __future__ import annotations

import base64
import json
import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelib.errors import NotFoundError, SignatureError, ValidationError
from tracelib.keys import KeyEntry, Keystore, SigningKey, VerifyKey, key_id, verify_batch

# RFC 8032 §7.1, TEST 1 (empty message).
RFC8032_SECRET = bytes.fromhex(
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
# SHA-256(RFC8032_PUBLIC)[:8]; cross-checked with `xxd -r -p | sha256sum`.
RFC8032_KEY_ID = "21fe31dfa154a261"


@pytest.fixture
def rfc_key() -> SigningKey:
    return SigningKey.from_bytes(RFC8032_SECRET)


def test_rfc8032_test1(rfc_key: SigningKey) -> None:
    assert rfc_key.public.raw == RFC8032_PUBLIC
    assert rfc_key.sign(b"") == RFC8032_SIGNATURE
    rfc_key.public.verify(b"", RFC8032_SIGNATURE)
    assert rfc_key.private_bytes() == RFC8032_SECRET


def test_key_id_pinned(rfc_key: SigningKey) -> None:
    assert key_id(RFC8032_PUBLIC) == RFC8032_KEY_ID
    assert rfc_key.key_id == RFC8032_KEY_ID
    assert rfc_key.public.key_id == RFC8032_KEY_ID
    with pytest.raises(ValidationError):
        key_id(b"\x00" * 31)


def test_sign_verify_and_failures() -> None:
    k = SigningKey.generate()
    other = SigningKey.generate()
    msg = b"lot LOT-1 moved"
    sig = k.sign(msg)
    assert len(sig) == 64
    k.public.verify(msg, sig)
    with pytest.raises(SignatureError, match=other.key_id):
        other.public.verify(msg, sig)
    with pytest.raises(SignatureError):
        k.public.verify(msg + b"!", sig)
    for i in (0, 31, 63):
        flipped = bytearray(sig)
        flipped[i] ^= 0x01
        with pytest.raises(SignatureError):
            k.public.verify(msg, bytes(flipped))
    with pytest.raises(SignatureError, match="64 bytes"):
        k.public.verify(msg, sig[:-1])


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _non_canonical(b64: str) -> str:
    """Same bytes, but with the unused low bits of the last data character set."""
    assert b64.endswith("=") and not b64.endswith("==")
    return b64[:-2] + _B64[_B64.index(b64[-2]) | 1] + "="


def test_verify_key_encodings(rfc_key: SigningKey) -> None:
    vk = rfc_key.public
    assert VerifyKey.from_base64(vk.base64()) == vk
    assert VerifyKey.from_bytes(bytearray(RFC8032_PUBLIC)) == vk
    assert hash(VerifyKey.from_bytes(RFC8032_PUBLIC)) == hash(vk)
    assert RFC8032_KEY_ID in repr(vk)
    for bad in ("", "not base64!", base64.b64encode(b"\x00" * 31).decode(),
                base64.b64encode(b"\x00" * 33).decode(),
                _non_canonical(vk.base64()),
                vk.base64().rstrip("=")):
        with pytest.raises(ValidationError):
            VerifyKey.from_base64(bad)
    for raw in (b"", b"\x00" * 31, b"\x00" * 33):
        with pytest.raises(ValidationError):
            VerifyKey.from_bytes(raw)


def test_signing_key_hygiene(rfc_key: SigningKey) -> None:
    assert RFC8032_SECRET.hex() not in repr(rfc_key)
    assert rfc_key == SigningKey.from_bytes(RFC8032_SECRET)
    assert rfc_key != SigningKey.generate()
    with pytest.raises(ValidationError):
        SigningKey.from_bytes(b"\x01" * 31)


# -- verify_batch -------------------------------------------------------------

_KEYS = [SigningKey.from_bytes(bytes([i]) * 32) for i in range(1, 4)]
_KINDS = ["good", "good", "bad_sig", "bad_msg", "wrong_key", "short_key", "short_sig",
          "garbage_key"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_KINDS), st.integers(0, 2), st.binary(max_size=40)),
                max_size=30))
def test_verify_batch_returns_exactly_the_bad_indexes(
        spec: list[tuple[str, int, bytes]]) -> None:
    items: list[tuple[bytes, bytes, bytes]] = []
    expected: list[int] = []
    for i, (kind, k, msg) in enumerate(spec):
        key = _KEYS[k]
        pub, sig = key.public.raw, key.sign(msg)
        if kind == "bad_sig":
            sig = bytes([sig[0] ^ 0x80]) + sig[1:]
        elif kind == "bad_msg":
            msg = msg + b"x"
        elif kind == "wrong_key":
            pub = _KEYS[(k + 1) % 3].public.raw
        elif kind == "short_key":
            pub = pub[:31]
        elif kind == "short_sig":
            sig = sig[:63]
        elif kind == "garbage_key":
            pub = b"\xff" * 32  # not a valid curve point encoding
        if kind != "good":
            expected.append(i)
        items.append((pub, msg, sig))
    assert verify_batch(items) == expected


def test_verify_batch_is_picklable() -> None:
    fn = pickle.loads(pickle.dumps(verify_batch))
    k = _KEYS[0]
    assert fn([(k.public.raw, b"m", k.sign(b"m")), (k.public.raw, b"m", b"\x00" * 64)]) == [1]


# -- keystore -------------------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_keystore_round_trip(tmp_path: Path, umask_022: None) -> None:
    ks = Keystore(tmp_path / "keys")
    assert not ks.has_party("farm-1")
    k = SigningKey.generate()
    entry = ks.save("farm-1", k, created_at="2024-01-01T00:00:00Z")
    assert entry == KeyEntry("farm-1", k.key_id, "2024-01-01T00:00:00Z",
                             tmp_path / "keys" / f"farm-1.{k.key_id}.json")
    assert ks.has_party("farm-1")
    party, loaded = ks.load(k.key_id)
    assert party == "farm-1" and loaded == k
    assert ks.for_party("farm-1") == k
    assert ks.entries() == [entry]
    doc = json.loads(entry.path.read_text())
    assert set(doc) == {"party", "key_id", "private_key", "public_key", "created_at"}
    assert base64.b64decode(doc["private_key"]) == k.private_bytes()
    assert doc["public_key"] == k.public.base64()
    # Exact modes, whatever the umask; no temporary files left behind.
    assert _mode(tmp_path / "keys") == 0o700
    assert _mode(entry.path) == 0o600
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == [entry.path.name]
    assert ks.permission_problems() == []


def test_keystore_modes_under_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        ks = Keystore(tmp_path / "k")
        e = ks.save("p", SigningKey.generate())
    finally:
        os.umask(old)
    assert _mode(tmp_path / "k") == 0o700
    assert _mode(e.path) == 0o600


def test_keystore_newest_key_and_default_time(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    old, new, other = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    ks.save("mill", old, created_at="2024-05-01T10:00:00+00:00")
    ks.save("mill", new, created_at="2024-05-01T12:00:00+02:00")  # the same instant
    ks.save("mill.2", other)  # a party whose id extends another's
    newest = max([old, new], key=lambda k: k.key_id)  # equal instants: larger key id wins
    assert ks.for_party("mill") == newest
    later = SigningKey.generate()
    ks.save("mill", later, created_at="2024-05-01T10:00:01Z")
    assert ks.for_party("mill") == later
    assert ks.for_party("mill.2") == other  # default created_at is now
    assert {e.party for e in ks.entries()} == {"mill", "mill.2"}
    assert len(ks.entries()) == 4


def test_keystore_not_found(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "nowhere")
    with pytest.raises(NotFoundError) as info:
        ks.for_party("acme")
    assert "acme" in str(info.value) and str(tmp_path / "nowhere") in str(info.value)
    with pytest.raises(NotFoundError):
        ks.load("0123456789abcdef")
    with pytest.raises(ValidationError):
        ks.load("../../etc/passwd")
    assert ks.entries() == []
    assert ks.permission_problems() == [f"keystore folder {tmp_path / 'nowhere'} does not exist"]


@pytest.mark.parametrize("party", [
    "", ".", "..", "../x", "a/b", "/abs", "a\\b", ".hidden", "a..b", "a\x00b", "a b",
    "a\nb", "x" * 129, "é", "-flag", "*", "a?b",
])
def test_keystore_rejects_hostile_party_ids(tmp_path: Path, party: str) -> None:
    ks = Keystore(tmp_path / "k")
    with pytest.raises(ValidationError) as info:
        ks.save(party, SigningKey.generate())
    assert info.value.field == "party"
    assert not (tmp_path / "k").exists() or list((tmp_path / "k").iterdir()) == []
    with pytest.raises(ValidationError):
        ks.for_party(party)


def test_keystore_accepts_reasonable_party_ids(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    for party in ("urn:epc:id:sgln:0614141.00001.0", "farm_7", "a", "Coop-Nord@eu", "x" * 128):
        ks.save(party, SigningKey.generate())
        assert ks.has_party(party)


def test_keystore_refuses_key_for_two_parties(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    k = SigningKey.generate()
    ks.save("a", k)
    ks.save("a", k, created_at="2030-01-01T00:00:00Z")  # same party: replaced
    assert len(ks.entries()) == 1 and ks.entries()[0].created_at == "2030-01-01T00:00:00Z"
    with pytest.raises(ValidationError, match="already stored"):
        ks.save("b", k)


def test_keystore_bad_created_at(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    for bad in ("yesterday", "2024-01-01T00:00:00"):  # not ISO / no time zone
        with pytest.raises(ValidationError):
            ks.save("a", SigningKey.generate(), created_at=bad)


def test_keystore_refuses_tampered_files(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    k = SigningKey.generate()
    e = ks.save("a", k)
    doc = json.loads(e.path.read_text())
    doc["public_key"] = SigningKey.generate().public.base64()
    e.path.write_text(json.dumps(doc))
    with pytest.raises(ValidationError, match="inconsistent"):
        ks.load(k.key_id)
    e.path.write_text("{not json")
    with pytest.raises(ValidationError):
        ks.for_party("a")
    with pytest.raises(ValidationError):
        ks.entries()


def test_permission_problems(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "k")
    e = ks.save("a", SigningKey.generate())
    os.chmod(tmp_path / "k", 0o755)
    os.chmod(e.path, 0o644)
    problems = ks.permission_problems()
    assert len(problems) == 2
    assert "0755" in problems[0] and "0700" in problems[0]
    assert "0644" in problems[1] and "0600" in problems[1] and e.path.name in problems[1]

"""Tests for tracelib.note: C2SP signed-note and tlog-checkpoint."""

from __future__ import annotations

import base64

import pytest

from tracelib.errors import SignatureError, ValidationError
from tracelib.keys import SigningKey, VerifyKey
from tracelib.note import (
    MAX_SIGNATURES,
    Checkpoint,
    NoteVerifier,
    note_key_id,
    open_note,
    parse_signer_string,
    sign_note,
    signer_string,
)

# --- Reference vectors ----------------------------------------------------------
# The PeterNeumann key pair and note are the worked example of the Go reference
# implementation of signed notes, golang.org/x/mod/sumdb/note (package doc of
# note.go), which C2SP signed-note standardises. (The stored C2SP signed-note.md
# itself shows a different example, below, without its verifier key.) Verbatim.
PN_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PN_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PN_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
PN_NOTE = (PN_TEXT + "\n"
           "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")  # noqa: E501
# The same doc's doubly-signed example (EnochRoot's verifier key is not published).
PN_COSIGNED = (PN_NOTE
               + "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n")  # noqa: E501

# C2SP signed-note.md, opening example (verbatim). Its text has an empty line of
# its own, so only a split at the *last* blank line parses it.
C2SP_NOTE = ("Ognuno sta solo sul cuor della terra\n"
             "trafitto da un raggio di sole:\n"
             "\n"
             "ed è subito sera.\n"
             "\n"
             "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n")  # noqa: E501

# C2SP tlog-checkpoint.md, opening example (verbatim).
C2SP_CHECKPOINT_BODY = ("example.com/behind-the-sofa\n"
                        "20852163\n"
                        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
C2SP_CHECKPOINT_NOTE = (C2SP_CHECKPOINT_BODY + "\n"
                        "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n")  # noqa: E501


@pytest.fixture
def pn() -> NoteVerifier:
    return NoteVerifier.parse(PN_VKEY)


def test_reference_note_verifies(pn: NoteVerifier) -> None:
    assert open_note(PN_NOTE, [pn]) == (PN_TEXT, ["PeterNeumann"])
    # The unknown EnochRoot cosignature is ignored.
    assert open_note(PN_COSIGNED, [pn]) == (PN_TEXT, ["PeterNeumann"])


def test_reference_note_tampered(pn: NoteVerifier) -> None:
    for tampered in (PN_NOTE.replace("cryptography", "cryptographY"),
                     PN_NOTE.replace("problem is.", "problem is!"),
                     PN_NOTE.replace("x08go/", "x08go+")):
        with pytest.raises(SignatureError):
            open_note(tampered, [pn])


def test_reference_key_id_and_key_strings(pn: NoteVerifier) -> None:
    assert pn.name == "PeterNeumann"
    assert pn.key_id == bytes.fromhex("c74f20a3")
    assert note_key_id("PeterNeumann", pn.public_key.raw) == bytes.fromhex("c74f20a3")
    assert pn.to_string() == PN_VKEY
    name, key = parse_signer_string(PN_SKEY)
    assert name == "PeterNeumann" and key.public == pn.public_key
    assert signer_string(name, key) == PN_SKEY
    assert NoteVerifier.for_key(name, key.public) == pn
    # Ed25519 is deterministic (RFC 8032): we reproduce the published note exactly.
    assert sign_note(PN_TEXT, name, key) == PN_NOTE


def test_verifier_key_manglings_are_refused() -> None:
    # After golang.org/x/mod/sumdb/note TestNewVerifier: every proper substring
    # and every single-character increment of a verifier key is refused.
    for i in range(len(PN_VKEY) + 1):
        for j in range(i + 1, len(PN_VKEY) + 1):
            if (i, j) != (0, len(PN_VKEY)):
                with pytest.raises(ValidationError):
                    NoteVerifier.parse(PN_VKEY[i:j])
    for i in range(len(PN_VKEY)):
        mangled = PN_VKEY[:i] + chr(ord(PN_VKEY[i]) + 1) + PN_VKEY[i + 1:]
        with pytest.raises(ValidationError):
            NoteVerifier.parse(mangled)
    # A key id that does not match (Go test's "cc469956").
    with pytest.raises(ValidationError, match="does not match"):
        NoteVerifier.parse("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    # Right id and key, wrong algorithm byte.
    raw = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    with pytest.raises(ValidationError, match="algorithm"):
        NoteVerifier.parse("PeterNeumann+c74f20a3+" + base64.b64encode(b"\x02" + raw[1:]).decode())


@pytest.mark.parametrize("skey", [
    PN_SKEY.replace("c74f20a3", "c74f20a4"),
    PN_SKEY.replace("PRIVATE+KEY+", "PRIVATE+KEYS+"),
    PN_SKEY[:-4],
    PN_VKEY,
    "PRIVATE+KEY+Peter Neumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
])
def test_signer_string_manglings(skey: str) -> None:
    with pytest.raises(ValidationError):
        parse_signer_string(skey)


def test_spec_examples_parse_without_their_keys(pn: NoteVerifier) -> None:
    # No verifier key is published for either: both must parse (so the error is
    # "no known signature", a SignatureError) rather than be malformed.
    other = SigningKey.from_bytes(b"\x07" * 32).public
    for note, name in ((C2SP_NOTE, "quasimodo.example/salvatore"),
                       (C2SP_CHECKPOINT_NOTE, "example.com/behind-the-sofa")):
        same_name = NoteVerifier.for_key(name, other)  # same name, other key id: ignored
        with pytest.raises(SignatureError, match="no signature by a known key"):
            open_note(note, [pn, same_name])


def test_last_blank_line_separates_text() -> None:
    k = SigningKey.generate()
    text = "Ognuno sta solo sul cuor della terra\n\ned è subito sera.\n\n"
    v = NoteVerifier.for_key("quasimodo.example/salvatore", k.public)
    note = sign_note(text, v.name, k)
    assert open_note(note, [v]) == (text, [v.name])


def test_round_trip_and_cosigning() -> None:
    log, witness = SigningKey.generate(), SigningKey.generate()
    vl = NoteVerifier.for_key("log.example/a", log.public)
    vw = NoteVerifier.for_key("witness.example/w", witness.public)
    text = "hello\nworld\n"
    one = sign_note(text, vl.name, log)
    assert open_note(one, [vl]) == (text, [vl.name])
    with pytest.raises(SignatureError):
        open_note(one, [vw])
    two = sign_note(text, vw.name, witness, existing=one)
    assert two.startswith(one)  # existing lines kept verbatim, new one appended
    assert open_note(two, [vl, vw]) == (text, [vl.name, vw.name])
    assert open_note(two, [vw]) == (text, [vw.name])
    # Re-signing with a key already present replaces its line, never duplicates it.
    again = sign_note(text, vl.name, log, existing=two)
    assert again.count("— log.example/a ") == 1
    assert open_note(again, [vw, vl]) == (text, [vw.name, vl.name])
    # Cosigning requires the same text.
    with pytest.raises(ValidationError, match="different text"):
        sign_note("other\n", vw.name, witness, existing=one)


def test_known_key_bad_signature_is_never_skipped() -> None:
    a, b = SigningKey.generate(), SigningKey.generate()
    va = NoteVerifier.for_key("a.example", a.public)
    vb = NoteVerifier.for_key("b.example", b.public)
    text = "t\n"
    good = sign_note(text, "b.example", b, existing=sign_note(text, "a.example", a))
    # Replace a's signature with one over another text: b's still verifies, but
    # a's line matches a known key, so the note is refused.
    bad_a = sign_note("u\n", "a.example", a).splitlines()[-1]
    lines = good.splitlines()
    forged = "\n".join([*lines[:-2], bad_a, lines[-1]]) + "\n"
    with pytest.raises(SignatureError, match=r"a\.example"):
        open_note(forged, [va, vb])
    assert open_note(forged, [vb]) == (text, ["b.example"])  # a unknown: ignored
    # A repeated line by a known key is verified too, not skipped.
    dup = good + bad_a + "\n"
    with pytest.raises(SignatureError):
        open_note(dup, [va, vb])


def test_unknown_name_or_id_ignored() -> None:
    k = SigningKey.generate()
    v = NoteVerifier.for_key("a.example", k.public)
    note = sign_note("x\n", "a.example", k)
    sig = base64.b64decode(note.splitlines()[-1].split(" ")[2])
    # Same name, other key id; same key id, other name: both unknown, both ignored.
    other_id = "— a.example " + base64.b64encode(b"\x00\x00\x00\x00" + b"\x01" * 64).decode()
    other_name = "— b.example " + base64.b64encode(sig).decode()
    cosigned = note + other_id + "\n" + other_name + "\n"
    assert open_note(cosigned, [v]) == ("x\n", ["a.example"])


def test_signature_limits() -> None:
    keys = [SigningKey.from_bytes(bytes([i + 1]) * 32) for i in range(MAX_SIGNATURES + 1)]
    note = "limits\n\n" + "".join(
        sign_note("limits\n", f"k{i}", k).splitlines()[-1] + "\n" for i, k in enumerate(keys))
    lines = note.splitlines()
    v0 = NoteVerifier.for_key("k0", keys[0].public)
    # The spec's floor: at least 16 signatures MUST be accepted.
    sixteen = "\n".join(lines[:2 + 16]) + "\n"
    assert open_note(sixteen, [v0]) == ("limits\n", ["k0"])
    at_max = "\n".join(lines[:2 + MAX_SIGNATURES]) + "\n"
    assert open_note(at_max, [v0])[1] == ["k0"]
    with pytest.raises(ValidationError, match="at most"):
        open_note(note, [v0])


@pytest.mark.parametrize("note", [
    "",
    "text\n",  # no blank line, no signatures
    "text\n\n",  # no signature lines
    PN_NOTE[:-1],  # last line without newline
    PN_NOTE.replace("— ", "- "),  # hyphen, not em dash
    PN_NOTE.replace("— ", "—"),  # em dash without space
    PN_NOTE.replace("— PeterNeumann ", "— PeterNeumann  "),  # bad base64 (leading space)
    PN_NOTE.replace("x08go/", "x08go*"),  # not base64
    PN_NOTE.replace("— PeterNeumann ", "— Peter+Neumann "),  # '+' in key name
    PN_NOTE.replace("— PeterNeumann ", "— PeterNeumann"),  # no name/signature separator
    PN_TEXT + "\n— PeterNeumann AAAA\n",  # shorter than key id + 1 byte
    PN_NOTE.replace("answer", "ans\twer"),  # control character
    PN_NOTE.replace("answer", "ans\rwer"),
    PN_NOTE.replace("answer", "ans\ud800wer"),  # not valid Unicode
    PN_NOTE + "trailing\n",  # text after the signatures
])
def test_malformed_notes(pn: NoteVerifier, note: str) -> None:
    with pytest.raises(ValidationError) as info:
        open_note(note, [pn])
    assert type(info.value) is ValidationError  # malformed, not a signature failure


def test_sign_note_rejects_bad_input() -> None:
    k = SigningKey.generate()
    for text in ("no newline", "", "a\tb\n", "a\x00\n"):
        with pytest.raises(ValidationError):
            sign_note(text, "n", k)
    for name in ("", "a b", "a+b", "a\u00a0b", "a\u2003b", "a\nb"):
        with pytest.raises(ValidationError):
            sign_note("t\n", name, k)
        with pytest.raises(ValidationError):
            NoteVerifier.for_key(name, k.public)


def test_note_verifier_checks_its_id() -> None:
    k = SigningKey.generate()
    with pytest.raises(ValidationError):
        NoteVerifier("a", b"\x00\x00\x00\x00", k.public)
    v = NoteVerifier.for_key("a", k.public)
    assert NoteVerifier.parse(v.to_string()) == v
    clash = NoteVerifier.__new__(NoteVerifier)  # bypass checks to forge a colliding entry
    object.__setattr__(clash, "name", "a")
    object.__setattr__(clash, "key_id", v.key_id)
    object.__setattr__(clash, "public_key", SigningKey.generate().public)
    with pytest.raises(ValidationError, match="ambiguous"):
        open_note(sign_note("t\n", "a", k), [v, clash])


# --- Checkpoints -------------------------------------------------------------------

def test_spec_checkpoint_round_trip() -> None:
    cp = Checkpoint.parse(C2SP_CHECKPOINT_BODY)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.to_text() == C2SP_CHECKPOINT_BODY


def test_checkpoint_sign_open_parse() -> None:
    k = SigningKey.generate()
    cp = Checkpoint("tracelib.example/ledger", 0, bytes(32), ("ext one", "— two"))
    v = NoteVerifier.for_key(cp.origin, k.public)
    text, names = open_note(sign_note(cp.to_text(), cp.origin, k), [v])
    assert names == [cp.origin]
    assert Checkpoint.parse(text) == cp
    big = Checkpoint("o", 2**64 - 1, b"\xff" * 32)
    assert Checkpoint.parse(big.to_text()) == big


ROOT = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


@pytest.mark.parametrize("body", [
    "",
    f"o\n1\n{ROOT}",  # no final newline
    "o\n1\n",  # two lines
    f"\n1\n{ROOT}\n",  # empty origin
    f"o\n01\n{ROOT}\n",  # leading zero
    f"o\n00\n{ROOT}\n",
    f"o\n+1\n{ROOT}\n",
    f"o\n-1\n{ROOT}\n",
    f"o\n 1\n{ROOT}\n",
    f"o\n1 \n{ROOT}\n",
    f"o\n1_000\n{ROOT}\n",  # int() would accept this
    f"o\n\u0661\n{ROOT}\n",  # ARABIC-INDIC DIGIT ONE: int() would accept this
    f"o\n{2**64}\n{ROOT}\n",
    f"o\n{'9' * 5000}\n{ROOT}\n",
    f"o\n0x10\n{ROOT}\n",
    "o\n1\nAAAA\n",  # 3-byte root
    f"o\n1\n{base64.b64encode(bytes(33)).decode()}\n",
    f"o\n1\n{ROOT.rstrip('=')}\n",  # unpadded
    f"o\n1\n{ROOT[:-2]}J=\n",  # non-canonical: "J" sets the 2 padding bits
    f"o\n1\n{ROOT}\n\n",  # empty extension line
    f"o\n1\n{ROOT}\next\n\n",
    f"o\r\n1\r\n{ROOT}\r\n",  # CRLF
    f"o\t\n1\n{ROOT}\n",  # control character
])
def test_checkpoint_rejects(body: str) -> None:
    with pytest.raises(ValidationError):
        Checkpoint.parse(body)


@pytest.mark.parametrize(("args", "field"), [
    (("", 1, bytes(32)), "origin"),
    (("a\nb", 1, bytes(32)), "origin"),
    (("o", -1, bytes(32)), "size"),
    (("o", 2**64, bytes(32)), "size"),
    (("o", True, bytes(32)), "size"),
    (("o", 1, bytes(31)), "root"),
    (("o", 1, bytes(32), ("",)), "extensions[0]"),
    (("o", 1, bytes(32), ("a", "b\nc")), "extensions[1]"),
])
def test_checkpoint_constructor_validates(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Checkpoint(*args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_verify_key_type_is_shared() -> None:
    assert isinstance(NoteVerifier.parse(PN_VKEY).public_key, VerifyKey)

"""C2SP tlog-cosignature (Ed25519 cosignature/v1, signature type 0x04) in tracelib.note:
vectors from the spec and from a reference implementation, sign and verify, and every
tampering refused.

Vectors: the signed-message example is from C2SP tlog-cosignature ("Ed25519 signed
message", CC BY 4.0, github.com/C2SP/C2SP). The verifier key and the cosignature whose
timestamp is read are data from transparency-dev/formats note/note_cosigv1_test.go
(BSD-3-Clause, "Copyright 2023 The Go Authors"): the vkey is a native cosignature/v1 key
whose key ID the parser recomputes, and the signature's timestamp is 1727964367.
"""

from __future__ import annotations

import base64

import pytest

from tracelib.errors import SignatureError, ValidationError
from tracelib.keys import SigningKey
from tracelib.note import (
    Checkpoint,
    CosignatureVerifier,
    NoteVerifier,
    cosign_note,
    cosignature_key_id,
    cosignature_message,
    cosignature_timestamp,
    open_cosigned_note,
    open_note,
    sign_note,
)

SPEC_BODY = ("example.com/behind-the-sofa\n20852163\n"
             "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
REFERENCE_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
REFERENCE_SIG = ("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWW"
                 "OworDcFiEBYJXORmnFBOBA==")
# A fixed key, so this file's own vector is stable (Ed25519 signing is deterministic).
FIXED = SigningKey.from_bytes(bytes(range(32)))


def test_the_signed_message_is_the_spec_example() -> None:
    assert cosignature_message(SPEC_BODY, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + SPEC_BODY.encode())


def test_the_reference_verifier_key_parses_with_its_key_id() -> None:
    verifier = CosignatureVerifier.parse(REFERENCE_VKEY)
    assert verifier.name == "remora.n621.de" and verifier.key_id.hex() == "da77ade7"
    assert verifier.to_string() == REFERENCE_VKEY
    wrong_id = REFERENCE_VKEY.replace("da77ade7", "da77ade8")
    with pytest.raises(ValidationError, match="does not match"):
        CosignatureVerifier.parse(wrong_id)


def test_the_reference_cosignatures_timestamp_is_read() -> None:
    assert cosignature_timestamp(REFERENCE_SIG) == 1727964367
    ed25519_note_sig = ("eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+"
                        "MUMLXpWs1hPb/W/4xkNQY=")
    with pytest.raises(ValidationError):  # a type 0x01 signature has no timestamp
        cosignature_timestamp(ed25519_note_sig)


def test_the_key_id_is_over_name_newline_0x04_and_the_key() -> None:
    import hashlib

    raw = FIXED.public.raw
    assert cosignature_key_id("w.example", raw) == hashlib.sha256(
        b"w.example\n\x04" + raw).digest()[:4]


def _signed(extensions: tuple[str, ...] = ()) -> tuple[str, str, NoteVerifier]:
    log = SigningKey.from_bytes(bytes(range(1, 33)))
    body = Checkpoint("county.example/log", 42, bytes(32), extensions).to_text()
    return body, sign_note(body, "county.example/log", log), NoteVerifier.for_key(
        "county.example/log", log.public)


def test_cosign_then_open_returns_the_cosigner_and_its_timestamp() -> None:
    body, note, log = _signed(("extension line",))
    line = cosign_note(body, "w.example", FIXED, 1_765_000_000)
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[:4] == cosignature_key_id("w.example", FIXED.public.raw)
    assert int.from_bytes(raw[4:12], "big") == 1_765_000_000 and len(raw) == 76
    verifier = CosignatureVerifier.for_key("w.example", FIXED.public)
    opened = open_cosigned_note(note + line, [log], [verifier])
    assert opened.signers == ("county.example/log",)
    assert [(c.name, c.timestamp) for c in opened.cosignatures] == [("w.example", 1_765_000_000)]
    # The operator's own verifier still opens the note: a cosignature is one more line.
    assert open_note(note + line, [log])[0] == body
    # Checked without tracelib.note: the signature is Ed25519 over exactly the spec's message.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    spec_line = cosign_note(SPEC_BODY, "w.example", FIXED, 1679315147)
    spec_raw = base64.b64decode(spec_line.split(" ")[2])
    Ed25519PublicKey.from_public_bytes(FIXED.public.raw).verify(
        spec_raw[12:], b"cosignature/v1\ntime 1679315147\n" + SPEC_BODY.encode())


def _tamper_time(line: str, new_time: int) -> str:
    prefix, b64 = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[4:12] = new_time.to_bytes(8, "big")
    return f"{prefix} {base64.b64encode(bytes(raw)).decode()}\n"


@pytest.mark.parametrize("tamper", ["timestamp", "text", "signature", "zero time", "short"])
def test_a_tampered_cosignature_by_a_known_key_refuses_the_note(tamper: str) -> None:
    body, note, log = _signed()
    line = cosign_note(body, "w.example", FIXED, 1_765_000_000)
    verifier = CosignatureVerifier.for_key("w.example", FIXED.public)
    if tamper == "timestamp":
        line = _tamper_time(line, 1_765_000_001)
    elif tamper == "zero time":
        line = _tamper_time(line, 0)
    elif tamper == "text":
        note = note.replace("\n42\n", "\n43\n")
        note = sign_note(note.split("\n\n")[0] + "\n", "county.example/log",
                         SigningKey.from_bytes(bytes(range(1, 33))))
    elif tamper == "signature":
        prefix, b64 = line.rstrip("\n").rsplit(" ", 1)
        raw = bytearray(base64.b64decode(b64))
        raw[-1] ^= 1
        line = f"{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    else:
        prefix, b64 = line.rstrip("\n").rsplit(" ", 1)
        line = f"{prefix} {base64.b64encode(base64.b64decode(b64)[:40]).decode()}\n"
    with pytest.raises(SignatureError):
        open_cosigned_note(note + line, [log], [verifier])


def test_unknown_cosigners_are_ignored_and_a_log_key_is_no_cosigner_key() -> None:
    body, note, log = _signed()
    stranger = cosign_note(body, "stranger.example", SigningKey.generate(), 5)
    verifier = CosignatureVerifier.for_key("w.example", FIXED.public)
    assert open_cosigned_note(note + stranger, [log], [verifier]).cosignatures == ()
    # The same key as an operator (0x01) signature is not a cosignature (0x04): other key ID.
    plain = sign_note(body, "w.example", FIXED, existing=note)
    assert open_cosigned_note(plain, [log], [verifier]).cosignatures == ()
    with pytest.raises(SignatureError):  # no log signature, and one is required
        open_cosigned_note(body + "\n" + cosign_note(body, "w.example", FIXED, 9), [log],
                           [verifier])


@pytest.mark.parametrize("bad", [0, -1, 2**63, "1"])
def test_cosigning_needs_a_timestamp_in_range(bad: object) -> None:
    with pytest.raises(ValidationError):
        cosign_note(SPEC_BODY, "w.example", FIXED, bad)  # type: ignore[arg-type]

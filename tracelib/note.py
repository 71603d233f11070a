"""C2SP signed notes (c2sp.org/signed-note), checkpoints (c2sp.org/tlog-checkpoint) and
witness cosignatures (c2sp.org/tlog-cosignature).

Two signature types are produced and verified: Ed25519 (type 0x01), which the ledger's
operator signs checkpoints with, and Ed25519 ``cosignature/v1`` (type 0x04), which witnesses
cosign them with (:func:`cosign_note`, :func:`open_cosigned_note`).

Invariants
----------
* A note's text is non-empty, ends in ``"\\n"``, is valid Unicode and has no
  ASCII control character other than newline (C2SP signed-note, Format).
* A signed note is ``text + "\\n" + signature lines``, each line
  ``"— <name> <base64(key id || signature)>\\n"``; the text is everything up
  to and including the newline before the *last* blank line.
* :func:`open_note` never returns text that no trusted key signed, and never
  skips a signature line whose name and key id match a known verifier: such a
  line verifies or the whole note is refused.
* A :class:`Checkpoint` always renders (``to_text``) to a body that
  ``Checkpoint.parse`` accepts and maps back to an equal value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

from tracelib.errors import SignatureError, ValidationError
from tracelib.keys import SigningKey, VerifyKey

__all__ = [
    "MAX_SIGNATURES",
    "SIG_TYPE_COSIGNATURE_V1",
    "SIG_TYPE_ED25519",
    "Checkpoint",
    "Cosignature",
    "CosignatureVerifier",
    "NoteVerifier",
    "OpenedNote",
    "cosign_note",
    "cosignature_key_id",
    "cosignature_message",
    "cosignature_timestamp",
    "note_key_id",
    "note_signature_lines",
    "open_cosigned_note",
    "open_note",
    "parse_signer_string",
    "sign_note",
    "signer_string",
]

#: Signature type byte for Ed25519 (C2SP signed-note, "Signature types").
SIG_TYPE_ED25519 = 0x01

#: Signature type byte of Ed25519 witness cosignatures (C2SP tlog-cosignature, Format).
SIG_TYPE_COSIGNATURE_V1 = 0x04

#: Largest cosignature timestamp (C2SP tlog-cosignature: "MUST NOT exceed 2^63 - 1").
MAX_COSIGNATURE_TIME = 2**63 - 1

#: Most signature lines a note may carry. C2SP signed-note: verifiers SHOULD
#: apply a limit and MUST accept at least 16; 100 matches golang.org/x/mod/sumdb/note.
MAX_SIGNATURES = 100

_EM_DASH_PREFIX = "— "  # U+2014 EM DASH, U+0020 SPACE (C2SP signed-note, Format)
# ASCII control characters other than newline (C2SP signed-note, Format).
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}\Z")
_SIZE = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_MAX_SIZE = 2**64 - 1  # tree sizes are uint64 in RFC 6962 / C2SP tlog-tiles


# ---------------------------------------------------------------------------
# Helpers


def _is_valid_name(name: str) -> bool:
    """C2SP signed-note: key names are non-empty, with no Unicode spaces and no
    '+'. Control characters are refused too (they cannot appear in a note)."""
    if not isinstance(name, str) or not name or "+" in name:
        return False
    if _CONTROL.search(name) or "\n" in name:
        return False
    if any(c.isspace() for c in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_name(name: str) -> None:
    if not _is_valid_name(name):
        raise ValidationError(f"key name {name!r} is invalid: it must be non-empty, without "
                              "spaces, '+' or control characters (C2SP signed-note)",
                              field="name")


def _b64decode(s: str, what: str) -> bytes:
    """Strict, canonical standard base64 (RFC 4648 §4)."""
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise ValidationError(f"{what} is not valid base64") from e
    if base64.b64encode(raw).decode("ascii") != s:
        raise ValidationError(f"{what} is not canonical base64")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _check_text(text: str, what: str) -> None:
    """C2SP signed-note, Format: valid UTF-8, no control characters but newline."""
    if not isinstance(text, str):
        raise ValidationError(f"{what} must be a str, got {type(text).__name__}")
    m = _CONTROL.search(text)
    if m:
        raise ValidationError(f"{what} contains control character U+{ord(m.group()):04X} "
                              "(C2SP signed-note allows only newline)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValidationError(f"{what} is not valid Unicode (lone surrogate)") from e


def _key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """A C2SP signed-note key ID: ``SHA-256(name || 0x0A || type || public key)[:4]``."""
    _check_name(name)
    if not isinstance(public_key, (bytes, bytearray)) or len(public_key) != 32:
        raise ValidationError("an Ed25519 public key is 32 bytes", field="public_key")
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type])
                          + bytes(public_key)).digest()[:4]


def note_key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte C2SP key ID of an Ed25519 key:
    ``SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]`` (C2SP signed-note,
    "Ed25519 signatures")."""
    return _key_id(name, SIG_TYPE_ED25519, public_key)


# ---------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class _VerifierKey:
    """A named Ed25519 verifier key of one C2SP signature type (:attr:`SIG_TYPE`), with
    ``key_id`` the key ID of that type over name and key.

    String form (C2SP signed-note "Verifier keys", golang.org/x/mod/sumdb/note):
    ``<name>+<8 hex digits of key id>+<base64(type || 32-byte public key)>``."""

    SIG_TYPE: ClassVar[int]
    #: how messages name the key, the first byte of its material, and the type wanted
    WHAT: ClassVar[str]
    TYPE_NOUN: ClassVar[str]
    TYPE_WORDS: ClassVar[str]

    name: str
    key_id: bytes
    public_key: VerifyKey

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.public_key, VerifyKey):
            raise ValidationError("public_key must be a VerifyKey", field="public_key")
        if self.key_id != _key_id(self.name, self.SIG_TYPE, self.public_key.raw):
            raise ValidationError(f"key id {bytes(self.key_id).hex()} does not match name "
                                  f"{self.name!r} and its public key", field="key_id")

    @classmethod
    def for_key(cls, name: str, key: VerifyKey) -> Self:
        """The verifier for ``key`` under ``name`` (key id computed)."""
        return cls(name, _key_id(name, cls.SIG_TYPE, key.raw), key)

    @classmethod
    def parse(cls, vkey: str) -> Self:
        """Parse ``<name>+<hex id>+<base64(type||key)>``; ``ValidationError`` if malformed,
        of another algorithm or signature type, or if the id does not match."""
        if not isinstance(vkey, str):
            raise ValidationError(f"verifier key must be a str, got {type(vkey).__name__}")
        # The base64 part may itself contain '+': split at the first two only.
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise ValidationError(f"{cls.WHAT} is not <name>+<hex id>+<base64 key>",
                                  field="vkey")
        name, hex_id, key64 = parts
        _check_name(name)
        if not _HEX8.match(hex_id):
            raise ValidationError(f"verifier key id {hex_id!r} is not 8 hex digits",
                                  field="vkey")
        raw = _b64decode(key64, "verifier key material")
        if not raw or raw[0] != cls.SIG_TYPE:
            alg = f"0x{raw[0]:02x}" if raw else "none"
            raise ValidationError(f"{cls.WHAT} {cls.TYPE_NOUN} {alg} is not {cls.TYPE_WORDS}",
                                  field="vkey")
        if len(raw) != 33:
            raise ValidationError(f"Ed25519 verifier key is 32 bytes, got {len(raw) - 1}",
                                  field="vkey")
        key = VerifyKey.from_bytes(raw[1:])
        kid = bytes.fromhex(hex_id)
        if kid != _key_id(name, cls.SIG_TYPE, key.raw):
            raise ValidationError(f"verifier key id {hex_id} does not match its name and key",
                                  field="vkey")
        return cls(name, kid, key)

    def to_string(self) -> str:
        """The verifier key string (lowercase hex id)."""
        return (f"{self.name}+{self.key_id.hex()}+"
                f"{_b64(bytes([self.SIG_TYPE]) + self.public_key.raw)}")


@dataclass(frozen=True)
class NoteVerifier(_VerifierKey):
    """A named Ed25519 verifier key of notes (type 0x01); ``key_id == note_key_id(name,
    public_key.raw)``."""

    SIG_TYPE: ClassVar[int] = SIG_TYPE_ED25519
    WHAT: ClassVar[str] = "verifier key"
    TYPE_NOUN: ClassVar[str] = "algorithm"
    TYPE_WORDS: ClassVar[str] = "Ed25519 (0x01)"


def signer_string(name: str, key: SigningKey) -> str:
    """``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || 32-byte secret)>``, the
    signer key format of golang.org/x/mod/sumdb/note (for interop). Secret!"""
    _check_name(name)
    kid = note_key_id(name, key.public.raw)
    return f"PRIVATE+KEY+{name}+{kid.hex()}+{_b64(bytes([SIG_TYPE_ED25519]) + key.private_bytes())}"


def parse_signer_string(skey: str) -> tuple[str, SigningKey]:
    """Inverse of :func:`signer_string`: ``(name, key)``. ``ValidationError`` if
    malformed or if the key id does not match the derived public key."""
    if not isinstance(skey, str) or not skey.startswith("PRIVATE+KEY+"):
        raise ValidationError("signer key does not start with PRIVATE+KEY+", field="skey")
    parts = skey[len("PRIVATE+KEY+"):].split("+", 2)
    if len(parts) != 3:
        raise ValidationError("signer key is not PRIVATE+KEY+<name>+<hex id>+<base64 key>",
                              field="skey")
    name, hex_id, key64 = parts
    _check_name(name)
    if not _HEX8.match(hex_id):
        raise ValidationError(f"signer key id {hex_id!r} is not 8 hex digits", field="skey")
    raw = _b64decode(key64, "signer key material")
    if len(raw) != 33 or raw[0] != SIG_TYPE_ED25519:
        raise ValidationError("signer key is not an Ed25519 (0x01) 32-byte key", field="skey")
    key = SigningKey.from_bytes(raw[1:])
    if bytes.fromhex(hex_id) != note_key_id(name, key.public.raw):
        raise ValidationError(f"signer key id {hex_id} does not match its name and key",
                              field="skey")
    return name, key


# ---------------------------------------------------------------------------
# Notes


@dataclass(frozen=True)
class _SigLine:
    name: str
    key_id: bytes
    signature: bytes
    line: str  # the whole line, without its newline


def _split_note(note: str) -> tuple[str, list[_SigLine]]:
    """Parse a signed note into its text and signature lines (no verification)."""
    _check_text(note, "signed note")
    # C2SP signed-note: the text is separated from the signatures by the last
    # empty line; the text includes its final newline.
    split = note.rfind("\n\n")
    if split < 0:
        raise ValidationError("signed note has no blank line before its signatures")
    text, block = note[:split + 1], note[split + 2:]
    if not block or not block.endswith("\n"):
        raise ValidationError("signed note must end with signature lines, each ending "
                              "in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ValidationError(f"signed note has {len(lines)} signatures; at most "
                              f"{MAX_SIGNATURES} are accepted")
    sigs: list[_SigLine] = []
    for n, line in enumerate(lines, 1):
        if not line.startswith(_EM_DASH_PREFIX):
            raise ValidationError(f"signature line {n} does not start with '— ' "
                                  "(U+2014, space)")
        name, sep, b64 = line[len(_EM_DASH_PREFIX):].partition(" ")
        if not sep or not _is_valid_name(name):
            raise ValidationError(f"signature line {n} has no valid key name")
        raw = _b64decode(b64, f"signature line {n}")
        # 4-byte key ID || signature; at least one signature byte.
        if len(raw) < 5:
            raise ValidationError(f"signature line {n} is too short")
        sigs.append(_SigLine(name, raw[:4], raw[4:], line))
    return text, sigs


def note_signature_lines(note: str) -> tuple[str, list[tuple[str, bytes, str]]]:
    """A signed note's text and its signature lines as ``(key name, key id, line)`` (the
    line without its newline), in order, nothing verified (C2SP signed-note, Format)."""
    text, sigs = _split_note(note)
    return text, [(s.name, s.key_id, s.line) for s in sigs]


def sign_note(text: str, name: str, key: SigningKey, *, existing: str | None = None) -> str:
    """Sign ``text`` as ``name`` and return the signed note.

    With ``existing`` (a signed note over the same text), cosign it: its
    signature lines are kept verbatim, in order, followed by the new one; a line
    already there for the same name and key id is replaced (its signature over
    the same text by the same deterministic key would be the same).
    """
    _check_text(text, "note text")
    if not text.endswith("\n"):
        raise ValidationError("note text must end with a newline (C2SP signed-note)")
    _check_name(name)
    kid = note_key_id(name, key.public.raw)
    kept: list[str] = []
    if existing is not None:
        old_text, old_sigs = _split_note(existing)
        if old_text != text:
            raise ValidationError("existing note is over a different text")
        kept = [s.line for s in old_sigs if not (s.name == name and s.key_id == kid)]
        if len(kept) + 1 > MAX_SIGNATURES:
            raise ValidationError(f"a note carries at most {MAX_SIGNATURES} signatures")
    sig = key.sign(text.encode("utf-8"))
    line = f"{_EM_DASH_PREFIX}{name} {_b64(kid + sig)}"
    return text + "\n" + "".join(f"{x}\n" for x in [*kept, line])


def open_note(note: str, verifiers: Sequence[NoteVerifier]) -> tuple[str, list[str]]:
    """Verify a signed note; return ``(text, names of the verifiers that signed)``.

    Per C2SP signed-note: signatures whose (name, key id) match no verifier are
    ignored; a signature whose (name, key id) matches one MUST verify, or the
    note is refused (``SignatureError``); if no known key signed, the note is
    refused (``SignatureError``). A malformed note is a ``ValidationError``.
    Names are returned once each, in order of their first signature line.
    """
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for ver in verifiers:
        if not isinstance(ver, NoteVerifier):
            raise ValidationError(f"verifiers must be NoteVerifier, got {type(ver).__name__}")
        prev = known.get((ver.name, ver.key_id))
        if prev is not None and prev.public_key != ver.public_key:
            # Two different keys colliding on name and id: refuse to guess.
            raise ValidationError(f"ambiguous verifiers: two keys named {ver.name!r} share "
                                  f"key id {ver.key_id.hex()}")
        known[(ver.name, ver.key_id)] = ver
    text, sigs = _split_note(note)
    message = text.encode("utf-8")
    names: list[str] = []
    for s in sigs:
        v = known.get((s.name, s.key_id))
        if v is None:
            continue  # unknown signer: ignored (C2SP signed-note, Signatures)
        try:
            v.public_key.verify(message, s.signature)
        except SignatureError as e:
            raise SignatureError(f"signature by {s.name}+{s.key_id.hex()} does not "
                                 "verify") from e
        if s.name not in names:
            names.append(s.name)
    if not names:
        raise SignatureError("note has no signature by a known key "
                             f"(known: {', '.join(sorted({n for n, _ in known})) or 'none'})")
    return text, names


# ---------------------------------------------------------------------------
# Witness cosignatures (C2SP tlog-cosignature, Ed25519 "cosignature/v1")


def cosignature_key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key ID of an Ed25519 cosigner:
    ``SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]`` (C2SP tlog-cosignature,
    Format)."""
    return _key_id(name, SIG_TYPE_COSIGNATURE_V1, public_key)


def _check_time(timestamp: int) -> None:
    # C2SP tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1; C2SP tlog-witness: a
    # witness's cosignature MUST NOT omit it (zero).
    if type(timestamp) is not int or not 0 < timestamp <= MAX_COSIGNATURE_TIME:
        raise ValidationError(f"cosignature timestamp {timestamp!r} is not in 1..2**63-1",
                              field="timestamp")


def cosignature_message(text: str, timestamp: int) -> bytes:
    """The message an Ed25519 cosignature signs (C2SP tlog-cosignature, "Ed25519 signed
    message"): ``cosignature/v1\\n``, ``time <timestamp>\\n``, then the whole checkpoint
    body including its final newline and its extension lines."""
    _check_text(text, "note text")
    if not text.endswith("\n"):
        raise ValidationError("note text must end with a newline (C2SP signed-note)")
    _check_time(timestamp)
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosignature_timestamp(signature: str) -> int:
    """The timestamp of a ``cosignature/v1`` signature (the base64 after the key name on its
    note signature line: key ID, big-endian u64 timestamp, 64-byte Ed25519 signature; C2SP
    tlog-cosignature, Format), unverified. ``ValidationError`` if it is not that shape."""
    raw = _b64decode(signature, "cosignature")
    if len(raw) != 4 + 8 + 64:
        raise ValidationError(f"a cosignature/v1 signature is 76 bytes, got {len(raw)}")
    timestamp = int.from_bytes(raw[4:12], "big")
    if timestamp > MAX_COSIGNATURE_TIME:
        raise ValidationError(f"cosignature timestamp {timestamp} exceeds 2**63-1")
    return timestamp


@dataclass(frozen=True)
class CosignatureVerifier(_VerifierKey):
    """A witness's named Ed25519 cosigner key (type 0x04, C2SP tlog-cosignature);
    ``key_id == cosignature_key_id(name, public_key.raw)``."""

    SIG_TYPE: ClassVar[int] = SIG_TYPE_COSIGNATURE_V1
    WHAT: ClassVar[str] = "witness verifier key"
    TYPE_NOUN: ClassVar[str] = "type"
    TYPE_WORDS: ClassVar[str] = "an Ed25519 cosignature/v1 key (0x04, C2SP tlog-cosignature)"


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: which cosigner (``name``, ``key_id``), when it signed
    (``timestamp``, POSIX seconds) and its whole note signature line (``line``, without the
    newline), which anyone holding the cosigner's key can verify again."""

    name: str
    key_id: bytes
    timestamp: int
    line: str


def cosign_note(text: str, name: str, key: SigningKey, timestamp: int) -> str:
    """The ``cosignature/v1`` signature line (ending in a newline) of cosigner ``name`` over
    the checkpoint body ``text`` at ``timestamp``: ``— <name> base64(key id ||
    timestamped_signature)``, where ``timestamped_signature`` is the timestamp as a
    big-endian u64 then the 64-byte Ed25519 signature (C2SP tlog-cosignature, Format; RFC
    8446 §3.3)."""
    message = cosignature_message(text, timestamp)
    kid = cosignature_key_id(name, key.public.raw)
    signature = key.sign(message)
    return f"{_EM_DASH_PREFIX}{name} {_b64(kid + timestamp.to_bytes(8, 'big') + signature)}\n"


@dataclass(frozen=True)
class OpenedNote:
    """What :func:`open_cosigned_note` verified: the text, the names of the log keys that
    signed it, and the cosignatures of known witnesses (one per cosigner key, the first
    line of each)."""

    text: str
    signers: tuple[str, ...]
    cosignatures: tuple[Cosignature, ...]


def _verify_cosignature(s: _SigLine, text: str, cosigner: CosignatureVerifier) -> Cosignature:
    if len(s.signature) != 8 + 64:
        raise SignatureError(f"cosignature by {s.name}+{s.key_id.hex()} is "
                             f"{len(s.signature)} bytes, expected 72 (timestamp and Ed25519 "
                             "signature, C2SP tlog-cosignature)")
    timestamp = int.from_bytes(s.signature[:8], "big")
    if not 0 < timestamp <= MAX_COSIGNATURE_TIME:
        raise SignatureError(f"cosignature by {s.name}+{s.key_id.hex()} has timestamp "
                             f"{timestamp}, not in 1..2**63-1")
    try:
        cosigner.public_key.verify(cosignature_message(text, timestamp), s.signature[8:])
    except SignatureError as e:
        raise SignatureError(f"cosignature by {s.name}+{s.key_id.hex()} does not "
                             "verify") from e
    return Cosignature(s.name, s.key_id, timestamp, s.line)


def open_cosigned_note(note: str, verifiers: Sequence[NoteVerifier],
                       cosigners: Sequence[CosignatureVerifier], *,
                       require_signer: bool = True) -> OpenedNote:
    """Verify a signed note with its operator signatures and witness cosignatures.

    As :func:`open_note` for ``verifiers`` (type 0x01); every line whose name and key id
    match a known cosigner (type 0x04) MUST verify as a ``cosignature/v1`` over the note's
    text, or the whole note is refused (``SignatureError``, C2SP signed-note "Signatures":
    such a note is malformed); lines of unknown keys are ignored (C2SP tlog-witness: "The
    client MUST ignore any cosignatures from unknown keys"). ``require_signer=False`` accepts
    a note with no known log signature (for checking cosignature lines on their own).
    """
    known_co: dict[tuple[str, bytes], CosignatureVerifier] = {}
    for co in cosigners:
        if not isinstance(co, CosignatureVerifier):
            raise ValidationError(f"cosigners must be CosignatureVerifier, got "
                                  f"{type(co).__name__}")
        prev = known_co.get((co.name, co.key_id))
        if prev is not None and prev.public_key != co.public_key:
            raise ValidationError(f"ambiguous cosigners: two keys named {co.name!r} share "
                                  f"key id {co.key_id.hex()}")
        known_co[(co.name, co.key_id)] = co
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for ver in verifiers:
        if not isinstance(ver, NoteVerifier):
            raise ValidationError(f"verifiers must be NoteVerifier, got {type(ver).__name__}")
        known[(ver.name, ver.key_id)] = ver
    text, sigs = _split_note(note)
    message = text.encode("utf-8")
    signers: list[str] = []
    cosignatures: dict[tuple[str, bytes], Cosignature] = {}
    for s in sigs:
        log_key = known.get((s.name, s.key_id))
        if log_key is not None:
            try:
                log_key.public_key.verify(message, s.signature)
            except SignatureError as e:
                raise SignatureError(f"signature by {s.name}+{s.key_id.hex()} does not "
                                     "verify") from e
            if s.name not in signers:
                signers.append(s.name)
            continue
        cosigner = known_co.get((s.name, s.key_id))
        if cosigner is not None:
            cosignatures.setdefault((s.name, s.key_id), _verify_cosignature(s, text, cosigner))
    if require_signer and not signers:
        raise SignatureError("note has no signature by a known key "
                             f"(known: {', '.join(sorted({n for n, _ in known})) or 'none'})")
    return OpenedNote(text, tuple(signers), tuple(cosignatures.values()))


# ---------------------------------------------------------------------------
# Checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body: origin, tree size, RFC 6962 root hash and
    optional extension lines.

    Invariants (checked on construction): ``origin`` and each extension are
    non-empty single lines without control characters; ``0 <= size < 2**64``;
    ``root`` is 32 bytes (SHA-256).
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if type(self.size) is not int or not 0 <= self.size <= _MAX_SIZE:
            raise ValidationError(f"tree size {self.size!r} is not an integer in 0..2**64-1",
                                  field="size")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise ValidationError("root hash must be 32 bytes (SHA-256, RFC 6962)",
                                  field="root")
        if not isinstance(self.extensions, tuple):
            raise ValidationError("extensions must be a tuple of lines", field="extensions")
        for i, ext in enumerate(self.extensions):
            _check_line(ext, f"extensions[{i}]")

    def to_text(self) -> str:
        """``<origin>\\n<size>\\n<base64 root>\\n`` then one line per extension."""
        body = f"{self.origin}\n{self.size}\n{_b64(self.root)}\n"
        return body + "".join(f"{e}\n" for e in self.extensions)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Strictly parse a checkpoint body (the note text, not the signed note)."""
        _check_text(text, "checkpoint")
        if not text.endswith("\n"):
            raise ValidationError("checkpoint must end with a newline")
        lines = text[:-1].split("\n")
        # C2SP tlog-checkpoint, Note text: at least three non-empty lines;
        # extension lines, if any, MUST be non-empty.
        if len(lines) < 3:
            raise ValidationError(f"checkpoint has {len(lines)} lines, needs at least 3")
        for i, line in enumerate(lines):
            if not line:
                raise ValidationError(f"checkpoint line {i + 1} is empty", line=i + 1)
        origin, size_s, root_s, *exts = lines
        if len(size_s) > 20 or not _SIZE.match(size_s):
            raise ValidationError(f"tree size {size_s!r} is not a decimal number without "
                                  "sign or leading zeros", field="size", line=2)
        size = int(size_s)
        if size > _MAX_SIZE:
            raise ValidationError(f"tree size {size_s} does not fit in 64 bits",
                                  field="size", line=2)
        root = _b64decode(root_s, "root hash")
        if len(root) != 32:
            raise ValidationError(f"root hash is {len(root)} bytes, expected 32",
                                  field="root", line=3)
        return cls(origin, size, root, tuple(exts))


def _check_line(value: str, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"checkpoint {what} must be a non-empty string", field=what)
    if "\n" in value:
        raise ValidationError(f"checkpoint {what} must be a single line", field=what)
    _check_text(value, f"checkpoint {what}")

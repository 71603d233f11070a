"""Ed25519 keys (RFC 8032), tracelib key ids, and a file keystore.

Invariants
----------
* A :class:`VerifyKey` always holds exactly 32 raw bytes; its ``key_id`` is
  ``key_id(raw)``: the first 8 bytes of SHA-256 of those bytes, lowercase hex.
* A :class:`SigningKey` always holds a 32-byte RFC 8032 secret (the "seed");
  its ``public`` key is derived from it, never stored separately.
* Verification failures surface as :class:`~tracelib.errors.SignatureError`;
  malformed key material as :class:`~tracelib.errors.ValidationError`.
  ``cryptography``'s ``InvalidSignature`` / ``ValueError`` never escape.
* The keystore holds one JSON file per key, ``<party>.<key_id>.json``, mode
  0600, in a folder created with mode 0700. Files are written atomically (a
  temporary file then ``os.replace``), so a reader sees an old file or a new
  one, never a torn one. A file whose contents disagree with its own key id
  is refused, never used.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from tracelib.errors import NotFoundError, SignatureError, ValidationError

__all__ = [
    "KeyEntry",
    "Keystore",
    "SigningKey",
    "VerifyKey",
    "key_id",
    "public_key_object",
    "verify_batch",
    "write_private_file",
]

PUBLIC_KEY_SIZE = 32  # RFC 8032 §5.1.5
SECRET_KEY_SIZE = 32  # RFC 8032 §5.1.5
SIGNATURE_SIZE = 64  # RFC 8032 §5.1.6

_KEY_ID_RE = re.compile(r"[0-9a-f]{16}\Z")
# Party ids become file-name components: a conservative, portable alphabet, no
# path separators, never "." / ".." or hidden files (first char alphanumeric).
_PARTY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}\Z")


def key_id(public_key: bytes) -> str:
    """Return the tracelib key id of a raw 32-byte Ed25519 public key:
    ``SHA-256(public_key)[:8]`` as 16 lowercase hex characters."""
    if not isinstance(public_key, (bytes, bytearray)) or len(public_key) != PUBLIC_KEY_SIZE:
        raise ValidationError(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes, "
                              f"got {_length(public_key)}")
    return hashlib.sha256(public_key).digest()[:8].hex()


def _length(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} bytes"
    return type(value).__name__


def _b64decode(s: str, what: str, field_name: str | None = None) -> bytes:
    """Strict RFC 4648 §4 base64: alphabet only, correct padding, canonical."""
    if not isinstance(s, str):
        raise ValidationError(f"{what} must be a base64 string, got {type(s).__name__}",
                              field=field_name)
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise ValidationError(f"{what} is not valid base64: {e}", field=field_name) from e
    if base64.b64encode(raw).decode("ascii") != s:
        raise ValidationError(f"{what} is not canonical base64", field=field_name)
    return raw


@functools.lru_cache(maxsize=8192)
def public_key_object(raw: bytes) -> Ed25519PublicKey:
    """The loaded public key of 32 raw bytes, cached per process: the ledger verifies
    millions of signatures by a few thousand keys. Raises ValueError for bad lengths
    (lru_cache does not cache exceptions)."""
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class VerifyKey:
    """An Ed25519 public key (RFC 8032 §5.1.5): exactly 32 raw bytes.

    Equality and hashing are by ``raw``. ``key_id`` is derived, never given.
    """

    raw: bytes
    key_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != PUBLIC_KEY_SIZE:
            raise ValidationError(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes, "
                                  f"got {_length(self.raw)}")
        object.__setattr__(self, "key_id", key_id(self.raw))

    @classmethod
    def from_bytes(cls, raw: bytes | bytearray) -> VerifyKey:
        """Wrap raw 32 public-key bytes (``ValidationError`` on any other length)."""
        return cls(bytes(raw) if isinstance(raw, bytearray) else raw)

    @classmethod
    def from_base64(cls, s: str) -> VerifyKey:
        """Parse standard base64 (RFC 4648 §4) of the 32 raw bytes."""
        return cls(_b64decode(s, "public key"))

    def base64(self) -> str:
        """Standard base64 (RFC 4648 §4) of the 32 raw bytes."""
        return base64.b64encode(self.raw).decode("ascii")

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check an RFC 8032 Ed25519 signature; raise ``SignatureError`` if it fails."""
        if len(signature) != SIGNATURE_SIZE:
            raise SignatureError(f"an Ed25519 signature is {SIGNATURE_SIZE} bytes, "
                                 f"got {len(signature)} (key {self.key_id})")
        try:
            public_key_object(self.raw).verify(signature, message)
        except InvalidSignature as e:
            raise SignatureError(f"signature does not verify with key {self.key_id}") from e
        except ValueError as e:  # defensive: key material cryptography refuses
            raise SignatureError(f"key {self.key_id} is not a usable Ed25519 key") from e

    def __repr__(self) -> str:
        return f"VerifyKey(key_id={self.key_id!r})"


class SigningKey:
    """An Ed25519 private key (RFC 8032 §5.1.5), held as its 32-byte secret.

    ``repr`` never shows the secret; equality compares secrets in constant time.
    """

    __slots__ = ("_private", "_public")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        raw_pub = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._public = VerifyKey(raw_pub)

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key from the operating system's CSPRNG."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, raw32: bytes | bytearray) -> SigningKey:
        """Load a 32-byte RFC 8032 secret key (``ValidationError`` otherwise)."""
        if not isinstance(raw32, (bytes, bytearray)) or len(raw32) != SECRET_KEY_SIZE:
            raise ValidationError(f"an Ed25519 secret key is {SECRET_KEY_SIZE} bytes, "
                                  f"got {_length(raw32)}")
        try:
            return cls(Ed25519PrivateKey.from_private_bytes(bytes(raw32)))
        except ValueError as e:  # pragma: no cover - any 32 bytes are a valid seed
            raise ValidationError(f"not a usable Ed25519 secret key: {e}") from e

    def private_bytes(self) -> bytes:
        """The 32-byte RFC 8032 secret. Keep it secret."""
        return self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    @property
    def public(self) -> VerifyKey:
        """The matching public key."""
        return self._public

    @property
    def key_id(self) -> str:
        """``key_id`` of the public key."""
        return self._public.key_id

    def sign(self, message: bytes) -> bytes:
        """The 64-byte deterministic Ed25519 signature of ``message`` (RFC 8032 §5.1.6)."""
        return self._private.sign(message)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SigningKey):
            return NotImplemented
        return hmac.compare_digest(self.private_bytes(), other.private_bytes())

    def __hash__(self) -> int:
        return hash(self._public.raw)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"


def verify_batch(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[int]:
    """Verify ``(public_key_raw, message, signature)`` triples; return the
    indexes that fail, ascending (bad key bytes, bad signature length or a
    signature that does not verify). An empty list means all verified.

    Module level and free of state other than a cache of loaded public keys, so
    it pickles for a process pool.
    """
    load = public_key_object
    bad: list[int] = []
    append = bad.append
    for i, (pub, msg, sig) in enumerate(items):
        try:
            load(pub).verify(sig, msg)
        except (InvalidSignature, ValueError, TypeError):
            # ValueError: key not 32 bytes; TypeError: unhashable/non-bytes input.
            append(i)
    return bad


# ---------------------------------------------------------------------------
# Keystore


@dataclass(frozen=True)
class KeyEntry:
    """One key file in a keystore (the private key itself is not held here)."""

    party: str
    key_id: str
    created_at: str
    path: Path


def _check_party(party: str) -> None:
    if not isinstance(party, str) or not _PARTY_RE.match(party) or ".." in party:
        raise ValidationError(
            f"party id {party!r} cannot name a key file: use 1-128 characters from "
            "A-Z a-z 0-9 . _ : @ -, starting with a letter or digit, without '..'",
            field="party")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse_time(value: str, where: str) -> datetime:
    try:
        t = datetime.fromisoformat(value)
    except (TypeError, ValueError) as e:
        raise ValidationError(f"{where}: created_at {value!r} is not an ISO 8601 timestamp",
                              field="created_at") from e
    if t.tzinfo is None:
        raise ValidationError(f"{where}: created_at {value!r} has no time zone",
                              field="created_at")
    return t


class Keystore:
    """A folder of signing keys, one JSON file per key.

    File ``<party>.<key_id>.json`` holds ``{"party", "key_id", "private_key",
    "public_key", "created_at"}`` (keys as base64 of the raw 32 bytes). The
    contents are authoritative; the file name is checked against them.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    # -- writing -----------------------------------------------------------

    def save(self, party: str, key: SigningKey, *, created_at: str | None = None) -> KeyEntry:
        """Store ``key`` for ``party`` (atomically, mode 0600) and return its entry.

        Saving the same key for the same party again replaces the file. A key
        already stored for a different party is refused (a key id names one
        party).
        """
        _check_party(party)
        if created_at is None:
            created_at = _now()
        else:
            _parse_time(created_at, "save")
        kid = key.key_id
        for other in self._files_for_key(kid):
            entry = self._read_entry(other)
            if entry.party != party:
                raise ValidationError(f"key {kid} is already stored for party "
                                      f"{entry.party!r} ({other})", field="party")
        target = self.path / f"{party}.{kid}.json"
        doc = {
            "party": party,
            "key_id": kid,
            "private_key": base64.b64encode(key.private_bytes()).decode("ascii"),
            "public_key": key.public.base64(),
            "created_at": created_at,
        }
        write_private_file(target, (json.dumps(doc, indent=2, sort_keys=True) + "\n")
                           .encode("utf-8"))
        return KeyEntry(party=party, key_id=kid, created_at=created_at, path=target)

    # -- reading -----------------------------------------------------------

    def _key_files(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.glob("*.json") if not p.name.startswith("."))

    def _files_for_key(self, kid: str) -> list[Path]:
        return [p for p in self._key_files() if p.name.endswith(f".{kid}.json")]

    def _read(self, path: Path) -> tuple[dict[str, Any], SigningKey]:
        where = str(path)
        try:
            doc = json.loads(path.read_bytes())
        except FileNotFoundError as e:
            raise NotFoundError(f"key file {where} disappeared") from e
        except (OSError, ValueError) as e:
            raise ValidationError(f"cannot read key file {where}: {e}") from e
        if not isinstance(doc, dict):
            raise ValidationError(f"key file {where} is not a JSON object")
        for name in ("party", "key_id", "private_key", "public_key", "created_at"):
            if not isinstance(doc.get(name), str):
                raise ValidationError(f"key file {where} lacks string field {name!r}",
                                      field=name)
        key = SigningKey.from_bytes(_b64decode(doc["private_key"], f"{where}: private_key",
                                               "private_key"))
        if key.public.base64() != doc["public_key"] or key.key_id != doc["key_id"]:
            raise ValidationError(f"key file {where} is inconsistent: its private key does "
                                  "not match its public_key/key_id", field="key_id")
        if path.name != f"{doc['party']}.{doc['key_id']}.json":
            raise ValidationError(f"key file {where} is misnamed: contents say party "
                                  f"{doc['party']!r}, key {doc['key_id']}")
        _parse_time(doc["created_at"], where)
        return doc, key

    def _read_entry(self, path: Path) -> KeyEntry:
        doc, _ = self._read(path)
        return KeyEntry(party=doc["party"], key_id=doc["key_id"],
                        created_at=doc["created_at"], path=path)

    def load(self, key_id: str) -> tuple[str, SigningKey]:
        """Return ``(party, key)`` for a key id; ``NotFoundError`` if absent."""
        if not isinstance(key_id, str) or not _KEY_ID_RE.match(key_id):
            raise ValidationError(f"key id {key_id!r} is not 16 lowercase hex characters",
                                  field="key_id")
        files = self._files_for_key(key_id)
        if not files:
            raise NotFoundError(f"no key {key_id} in keystore {self.path}")
        if len(files) > 1:
            raise ValidationError(f"key {key_id} is stored more than once in {self.path}: "
                                  + ", ".join(p.name for p in files))
        doc, key = self._read(files[0])
        return doc["party"], key

    def entries(self) -> list[KeyEntry]:
        """Every key file, sorted by file name (``ValidationError`` on a corrupt one)."""
        return [self._read_entry(p) for p in self._key_files()]

    def _party_entries(self, party: str) -> list[KeyEntry]:
        _check_party(party)
        return [e for e in self.entries() if e.party == party]

    def for_party(self, party: str) -> SigningKey:
        """The party's newest key by ``created_at`` (ties: the larger key id)."""
        found = self._party_entries(party)
        if not found:
            raise NotFoundError(f"no signing key for party {party!r} in keystore {self.path} "
                                f"(looked for {party}.<key_id>.json)")
        newest = max(found, key=lambda e: (_parse_time(e.created_at, str(e.path)), e.key_id))
        _, key = self._read(newest.path)
        return key

    def has_party(self, party: str) -> bool:
        """Whether some key is stored for ``party``."""
        return bool(self._party_entries(party))

    def permission_problems(self) -> list[str]:
        """Human-readable problems: folder missing or not 0700, key files not 0600."""
        problems: list[str] = []
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return [f"keystore folder {self.path} does not exist"]
        if not stat.S_ISDIR(st.st_mode):
            return [f"keystore path {self.path} is not a folder"]
        mode = stat.S_IMODE(st.st_mode)
        if mode != 0o700:
            problems.append(f"keystore folder {self.path} has mode {mode:04o}, expected 0700 "
                            f"(fix: chmod 700 {self.path})")
        for p in self._key_files():
            fmode = stat.S_IMODE(p.lstat().st_mode)
            if p.is_symlink():
                problems.append(f"key file {p} is a symbolic link")
            elif fmode != 0o600:
                problems.append(f"key file {p} has mode {fmode:04o}, expected 0600 "
                                f"(fix: chmod 600 {p})")
        return problems


def write_private_file(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` readable by its owner only (0600, in a 0700 folder made
    if missing), atomically and durably: a temporary file beside it, fsync, rename, fsync of
    the folder. A crash leaves the old file or the new one, never a part of either."""
    folder = target.parent
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # exact, whatever the umask
    tmp = folder / f".{target.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # exact, whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make a file's creation or rename in ``folder`` durable (fsync of the folder itself),
    where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)

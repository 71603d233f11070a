"""The witness side of C2SP tlog-witness: cosign a log's checkpoints after checking that
each is consistent with the last one this witness cosigned for its origin.

:class:`Witness` is the protocol's logic (``add_checkpoint``, the monitoring ``checkpoint``
read) and :meth:`Witness.wsgi` a plain WSGI application serving it; the CLI's
``tracelib witness serve`` runs it under an HTTP server. :class:`WitnessState` keeps, per
origin, the newest checkpoint cosigned, in a file written atomically and fsynced before the
answer is sent (C2SP tlog-witness: "The witness MUST persist the new checkpoint before
responding").

Invariants
----------
* For one origin, checking the old size against the stored checkpoint and storing the new
  one happen under one lock (a process lock and an ``flock`` on the state folder), so two
  requests can never roll the stored size back (C2SP tlog-witness, add-checkpoint, the race
  of steps 1-6).
* A checkpoint is cosigned only if it is signed by a key the witness trusts for its origin,
  and either it is the first for that origin (old size 0, no proof), or the RFC 6962 §2.1.2
  consistency proof from the stored checkpoint verifies, or it has the stored size and root.
  A smaller checkpoint, or one of the same size with another root, is never cosigned.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import merkle
from ..errors import ProofError, SignatureError, ValidationError
from ..keys import SigningKey, write_private_file
from ..note import (
    Checkpoint,
    CosignatureVerifier,
    NoteVerifier,
    cosign_note,
    note_signature_lines,
    open_note,
)

__all__ = ["MAX_BODY", "MAX_PROOF_LINES", "Answer", "Witness", "WitnessState", "origin_hash",
           "parse_add_checkpoint"]

#: Largest add-checkpoint body accepted (a checkpoint note with a few signatures and at
#: most 63 proof lines is far smaller).
MAX_BODY = 64 * 1024
#: C2SP tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
MAX_PROOF_LINES = 63
#: RFC 6962 §2.1: the hash of the empty tree is SHA-256 of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_SIZE_TYPE = "text/x.tlog.size"  # C2SP tlog-witness, 409 Conflict


def origin_hash(origin: str) -> str:
    """The lowercase hex SHA-256 of a log's origin, naming it in the monitoring URL
    ``<prefix>/<origin hash>/checkpoint`` (C2SP tlog-witness, Monitor Retrieval)."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, content type and body."""

    status: int
    content_type: str
    body: bytes

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain; charset=utf-8"
             ) -> Answer:
        return cls(status, content_type, text.encode("utf-8"))


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request body."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse ``old <size>``, the proof lines, an empty line and the signed checkpoint (C2SP
    tlog-witness, add-checkpoint); ``ValidationError`` when malformed."""
    if len(body) > MAX_BODY:
        raise ValidationError(f"request body is {len(body)} bytes, at most {MAX_BODY}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValidationError("request body is not UTF-8") from e
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ValidationError("request body has no empty line before the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    if not first.startswith("old "):
        raise ValidationError("request body does not start with 'old <size>'")
    size_text = first[4:]
    if not size_text.isascii() or not size_text.isdigit() or (
            len(size_text) > 1 and size_text[0] == "0") or len(size_text) > 20:
        raise ValidationError(f"old size {size_text!r} is not a decimal without leading zeros")
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF_LINES:
        raise ValidationError(f"{len(proof_lines)} consistency proof lines; at most "
                              f"{MAX_PROOF_LINES}")
    proof: list[bytes] = []
    for n, line in enumerate(proof_lines, 2):
        try:
            digest = base64.b64decode(line.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as e:
            raise ValidationError(f"proof line {n} is not base64", line=n) from e
        if len(digest) != 32:
            raise ValidationError(f"proof line {n} is {len(digest)} bytes, expected 32", line=n)
        proof.append(digest)
    return AddCheckpoint(int(size_text), tuple(proof), note)


class WitnessState:
    """Per origin, the newest checkpoint this witness cosigned, as the signed note it serves
    (the log's verified signature lines and its own cosignature), one file per origin in
    ``folder`` named by the origin's hash, written atomically and durably (0600)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _path(self, origin: str) -> Path:
        return self.folder / f"{origin_hash(origin)}.checkpoint"

    def load(self, origin: str) -> str | None:
        """The stored note of ``origin``, or None when it never cosigned one."""
        try:
            return self._path(origin).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def load_by_hash(self, hex_hash: str) -> str | None:
        if len(hex_hash) != 64 or any(c not in "0123456789abcdef" for c in hex_hash):
            return None
        try:
            return (self.folder / f"{hex_hash}.checkpoint").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def store(self, origin: str, note: str) -> None:
        """Keep ``note`` for ``origin``: temporary file, fsync, rename, fsync of the folder."""
        write_private_file(self._path(origin), note.encode("utf-8"))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across threads and processes sharing this folder."""
        with self._lock:
            fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)


class Witness:
    """A C2SP tlog-witness witness for the logs it follows.

    ``logs`` maps each origin to the log keys trusted for it; ``name`` and ``key`` are the
    witness's cosigner name and Ed25519 key; ``clock`` gives POSIX seconds (injected so tests
    can fix it).
    """

    def __init__(self, name: str, key: SigningKey, logs: Iterable[NoteVerifier],
                 state: WitnessState, *, clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.key = key
        self.verifier = CosignatureVerifier.for_key(name, key.public)
        self.state = state
        self.clock = clock
        self.logs: dict[str, list[NoteVerifier]] = {}
        for log in logs:
            self.logs.setdefault(log.name, []).append(log)

    # -- add-checkpoint -----------------------------------------------------------------
    def add_checkpoint(self, body: bytes) -> Answer:
        """Answer one add-checkpoint request (C2SP tlog-witness, add-checkpoint)."""
        try:
            request = parse_add_checkpoint(body)
            text, sigs = note_signature_lines(request.note)
            checkpoint = Checkpoint.parse(text)
        except ValidationError as e:
            return Answer.text(400, f"{e}\n")
        trusted = self.logs.get(checkpoint.origin)
        if trusted is None:
            return Answer.text(404, f"unknown log origin {checkpoint.origin!r}\n")
        try:
            open_note(request.note, trusted)
        except (SignatureError, ValidationError) as e:  # no trusted signature, or a bad one
            return Answer.text(403, f"{e}\n")
        if request.old_size > checkpoint.size:
            return Answer.text(400, f"old size {request.old_size} is larger than the "
                                    f"checkpoint's size {checkpoint.size}\n")
        known = {(v.name, v.key_id) for v in trusted}
        log_lines = [line for name, kid, line in sigs if (name, kid) in known]
        with self.state.locked():
            stored = self.state.load(checkpoint.origin)
            try:
                latest = None if stored is None else Checkpoint.parse(
                    note_signature_lines(stored)[0])
            except ValidationError as e:  # fail closed: never cosign past an unreadable state
                return Answer.text(500, f"the witness's stored checkpoint of this log is "
                                        f"unreadable ({e}); it cosigns nothing until it is "
                                        "restored\n")
            latest_size = 0 if latest is None else latest.size
            if request.old_size != latest_size:
                return Answer.text(409, f"{latest_size}\n", _SIZE_TYPE)
            problem = self._inconsistency(request, checkpoint, latest)
            if problem is not None:
                return Answer.text(422, f"{problem}\n")
            line = cosign_note(text, self.name, self.key, max(1, int(self.clock())))
            kept = text + "\n" + "".join(f"{x}\n" for x in log_lines) + line
            self.state.store(checkpoint.origin, kept)  # before answering (C2SP tlog-witness)
        return Answer.text(200, line)

    @staticmethod
    def _inconsistency(request: AddCheckpoint, checkpoint: Checkpoint,
                       latest: Checkpoint | None) -> str | None:
        """Why ``checkpoint`` cannot follow ``latest`` (None when it can)."""
        if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
            return "a checkpoint of size 0 must have the empty tree's root (RFC 6962 §2.1)"
        if request.old_size == 0:
            if request.proof:
                return "old size 0 needs an empty consistency proof"
            return None
        assert latest is not None
        if request.old_size == checkpoint.size:
            if checkpoint.root != latest.root:
                return (f"checkpoint of size {checkpoint.size} has root "
                        f"{checkpoint.root.hex()}, but the one cosigned has "
                        f"{latest.root.hex()}")
            return None
        try:  # RFC 6962 §2.1.2 (RFC 9162 §2.1.4.2)
            merkle.verify_consistency(request.old_size, checkpoint.size, request.proof,
                                      latest.root, checkpoint.root)
        except (ProofError, ValidationError) as e:
            return f"consistency proof from size {request.old_size} does not verify: {e}"
        return None

    # -- monitoring ---------------------------------------------------------------------
    def checkpoint(self, hex_hash: str) -> Answer:
        """The newest cosigned checkpoint of the log whose origin hashes to ``hex_hash``
        (C2SP tlog-witness, Monitor Retrieval Mechanism), 404 when none."""
        note = self.state.load_by_hash(hex_hash)
        if note is None:
            return Answer.text(404, "no checkpoint cosigned for this log\n")
        return Answer.text(200, note)

    # -- WSGI -----------------------------------------------------------------------------
    def wsgi(self, environ: Mapping[str, Any],
             start_response: Callable[[str, Sequence[tuple[str, str]]], Any]
             ) -> list[bytes]:
        """``POST /add-checkpoint`` and ``GET /<origin hash>/checkpoint`` (PEP 3333)."""
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if path == "/add-checkpoint":
            if method != "POST":
                answer = Answer.text(405, "add-checkpoint is a POST\n")
            else:
                answer = self._read_and_add(environ)
        elif method == "GET" and path.endswith("/checkpoint") and path.count("/") == 2:
            answer = self.checkpoint(path.split("/")[1])
        else:
            answer = Answer.text(404, "not found\n")
        reasons = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
                   405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
                   422: "Unprocessable Entity", 500: "Internal Server Error"}
        start_response(f"{answer.status} {reasons.get(answer.status, 'Error')}",
                       [("Content-Type", answer.content_type),
                        ("Content-Length", str(len(answer.body)))])
        return [answer.body]

    def _read_and_add(self, environ: Mapping[str, Any]) -> Answer:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return Answer.text(400, "bad Content-Length\n")
        if length > MAX_BODY:
            return Answer.text(413, f"request body over {MAX_BODY} bytes\n")
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        return self.add_checkpoint(body)

"""The log side of C2SP tlog-witness: send a checkpoint to a witness's ``add-checkpoint``
with a consistency proof from the size the witness last cosigned, and keep the verified
cosignatures it returns.

:func:`request_cosignature` never raises for a witness that is down, slow, refuses or
answers nonsense: it returns a :class:`WitnessAnswer` saying what happened, so one witness
never stops a log from asking the others.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import TracelibError
from ..note import Cosignature, CosignatureVerifier, open_cosigned_note
from .server import MAX_PROOF_LINES

__all__ = [
    "AHEAD",
    "BAD_ANSWER",
    "CONFLICT",
    "COSIGNED",
    "DEFAULT_TIMEOUT",
    "INCONSISTENT",
    "REFUSED",
    "UNREACHABLE",
    "WitnessAnswer",
    "WitnessTarget",
    "add_checkpoint_body",
    "fetch_checkpoint",
    "request_cosignature",
]

#: Seconds to wait for a witness (connect and answer) before reporting it unreachable.
DEFAULT_TIMEOUT = 5.0

#: Outcomes of one request (``WitnessAnswer.outcome``).
COSIGNED = "cosigned"  # 200 with a cosignature that verifies by the witness's key
INCONSISTENT = "inconsistent"  # 422: the witness holds a checkpoint this one contradicts
AHEAD = "ahead"  # 409 with a size larger than this checkpoint's: the witness saw more
CONFLICT = "conflict"  # 409 again after retrying from the witness's size
REFUSED = "refused"  # 400/403/404/other: the witness does not follow this log or key
UNREACHABLE = "unreachable"  # no answer within the timeout
BAD_ANSWER = "bad-answer"  # an answer that breaks the protocol (e.g. a bad cosignature)


@dataclass(frozen=True)
class WitnessTarget:
    """A witness to ask: its name (in this ledger or policy), cosigner key and submission
    prefix (C2SP tlog-witness, HTTP Interface)."""

    name: str
    verifier: CosignatureVerifier
    url: str


@dataclass(frozen=True)
class WitnessAnswer:
    """What one witness did with one checkpoint."""

    witness: str
    outcome: str
    detail: str
    status: int | None = None
    cosignatures: tuple[Cosignature, ...] = ()
    witness_size: int | None = None

    @property
    def cosigned(self) -> bool:
        return self.outcome == COSIGNED

    def describe(self) -> str:
        http = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.witness}: {self.outcome}{http}: {self.detail}"


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """``old <size>``, one base64 line per proof hash, an empty line, then the signed
    checkpoint (C2SP tlog-witness, add-checkpoint: every line ends in a newline)."""
    if len(proof) > MAX_PROOF_LINES:
        raise TracelibError(f"a consistency proof of {len(proof)} hashes is over the "
                            f"protocol's {MAX_PROOF_LINES} lines")
    lines = [f"old {old_size}\n", *(base64.b64encode(h).decode("ascii") + "\n" for h in proof)]
    return ("".join(lines) + "\n" + note).encode("utf-8")


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"witness URL {url!r} is not http(s)://host/…")
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    return conn, parts.path.rstrip("/")


def _exchange(url: str, method: str, path: str, body: bytes | None,
              timeout: float) -> tuple[int, str, bytes]:
    conn, prefix = _connection(url, timeout)
    try:
        headers = {"Content-Type": "text/plain; charset=utf-8"} if body is not None else {}
        conn.request(method, prefix + path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read(256 * 1024)
        return response.status, response.getheader("Content-Type", ""), data
    finally:
        conn.close()


def _post(target: WitnessTarget, body: bytes, timeout: float) -> tuple[int, str, bytes]:
    return _exchange(target.url, "POST", "/add-checkpoint", body, timeout)


def request_cosignature(target: WitnessTarget, note: str, size: int, old_size: int,
                        proof_from: Callable[[int], Sequence[bytes]], *,
                        timeout: float = DEFAULT_TIMEOUT) -> WitnessAnswer:
    """Ask ``target`` to cosign ``note`` (the signed checkpoint of ``size`` records) with
    a proof from ``old_size`` (``proof_from(old)`` builds the RFC 6962 consistency proof
    from ``old`` to ``size``; empty for 0 or ``size``).

    On 409 (C2SP tlog-witness: the body is the witness's size, ``text/x.tlog.size``) it
    retries once from that size. A 200 answer's lines are verified with the witness's key
    before they are returned (C2SP tlog-witness: "use a note verification function
    configured with the witness keys it trusts").
    """
    sizes_tried: list[int] = []
    attempt_old = old_size
    for _ in range(2):
        sizes_tried.append(attempt_old)
        try:
            proof = list(proof_from(attempt_old)) if 0 < attempt_old < size else []
            body = add_checkpoint_body(attempt_old, proof, note)
        except TracelibError as e:
            return WitnessAnswer(target.name, AHEAD if attempt_old > size else BAD_ANSWER,
                                 f"no consistency proof from size {attempt_old}: {e}")
        try:
            status, content_type, data = _post(target, body, timeout)
        except (OSError, http.client.HTTPException, ValueError) as e:
            return WitnessAnswer(target.name, UNREACHABLE, f"{type(e).__name__}: {e}")
        text = data.decode("utf-8", "replace")
        if status == 200:
            return _cosigned(target, note, text)
        if status == 409:
            witness_size = _size_of(content_type, text)
            if witness_size is None:
                return WitnessAnswer(target.name, BAD_ANSWER, "409 without a "
                                     "text/x.tlog.size body", status)
            if witness_size > size:
                return WitnessAnswer(target.name, AHEAD,
                                     f"the witness has cosigned a checkpoint of "
                                     f"{witness_size} records, larger than this one of {size}: "
                                     "this ledger is behind what it once signed",
                                     status, witness_size=witness_size)
            if witness_size in sizes_tried:
                return WitnessAnswer(target.name, CONFLICT, f"409 again at size {witness_size}",
                                     status, witness_size=witness_size)
            attempt_old = witness_size
            continue
        if status == 422:
            return WitnessAnswer(target.name, INCONSISTENT,
                                 f"the witness refuses this checkpoint as inconsistent with "
                                 f"the one it cosigned: {text.strip()[:300]}", status)
        return WitnessAnswer(target.name, REFUSED, text.strip()[:300] or "no detail", status)
    return WitnessAnswer(target.name, CONFLICT, "409 twice", 409)


def _size_of(content_type: str, text: str) -> int | None:
    if content_type.split(";")[0].strip().lower() != "text/x.tlog.size":
        return None
    line = text[:-1] if text.endswith("\n") else text
    if not line.isascii() or not line.isdigit() or len(line) > 20:
        return None
    return int(line)


def _cosigned(target: WitnessTarget, note: str, text: str) -> WitnessAnswer:
    # C2SP tlog-witness: "the client MAY concatenate it to the checkpoint, and use a note
    # verification function configured with the witness keys it trusts".
    if not text or not text.endswith("\n") or not all(
            line.startswith("— ") for line in text[:-1].split("\n")):
        return WitnessAnswer(target.name, BAD_ANSWER, "200 without note signature lines", 200)
    try:
        opened = open_cosigned_note(note + text, [], [target.verifier], require_signer=False)
    except TracelibError as e:
        return WitnessAnswer(target.name, BAD_ANSWER, f"its cosignature is refused: {e}", 200)
    if not opened.cosignatures:
        return WitnessAnswer(target.name, BAD_ANSWER, "200 without a cosignature by its "
                             f"key {target.verifier.to_string()}", 200)
    stamp = opened.cosignatures[0].timestamp
    return WitnessAnswer(target.name, COSIGNED, f"cosigned at {stamp}", 200,
                         opened.cosignatures)


def fetch_checkpoint(url: str, origin_hash_hex: str, *,
                     timeout: float = DEFAULT_TIMEOUT) -> tuple[int, str]:
    """``GET <prefix>/<origin hash>/checkpoint`` (C2SP tlog-witness, Monitor Retrieval
    Mechanism): the status and body. Raises ``OSError`` when unreachable."""
    try:
        status, _ctype, data = _exchange(url, "GET", f"/{origin_hash_hex}/checkpoint", None,
                                         timeout)
    except (http.client.HTTPException, ValueError) as e:
        raise OSError(str(e)) from e
    return status, data.decode("utf-8", "replace")

"""The attachments' blob store: scans and PDFs kept beside the ledger by content
(docs/contract.md "Attachments").

A blob is named by the SHA-256 of its bytes, ``sha256:<64 lowercase hex>``, and kept in the
file ``<root>/sha256/<first 2 hex>/<other 62 hex>``. The ledger commits only the name (an
event's ``data`` cites it); the bytes live here. Files are written atomically (a temporary
``.incoming-*`` file in ``<root>/sha256/``, on the same file system, flushed and fsynced,
then renamed into place and the folder fsynced), readable by their owner and group only
(0640, folders 0750), and at most :data:`MAX_BLOB_BYTES` long.

Whether a blob is present is not ledger state: the append engine never reads this store
(the API and ``tracelib append`` check the presence of what an event cites before they
append it, docs/integrity.md "Attachments").
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Literal

from .bounds import MAX_BLOB_BYTES
from .errors import NotFoundError, ValidationError

__all__ = ["BLOB_NAME", "BlobError", "BlobStore", "Health", "blob_name", "check_name",
           "cited_field", "default_blobs", "missing_attachment"]

#: ``sha256:`` and 64 lowercase hex digits (docs/contract.md "Attachments").
BLOB_NAME = re.compile(r"\Asha256:[0-9a-f]{64}\Z")
#: What :meth:`BlobStore.check` finds: the bytes hash to the name, no file, or other bytes.
Health = Literal["ok", "missing", "corrupt"]
_CHUNK = 1024 * 1024
_FILE_MODE = 0o640
_DIR_MODE = 0o750


class BlobError(ValidationError):
    """A blob refused: ``reason`` is ``bad_name`` (not ``sha256:<64 hex>``), ``mismatch``
    (the bytes hash to another name), ``too_large`` (over the limit) or ``wrong_size``
    (not the size the sender declared) or ``missing`` (an event cites a blob the store
    does not hold)."""

    def __init__(self, message: str, *, reason: str, field: str | None = None,
                 line: int | None = None, event_id: str | None = None) -> None:
        self.reason = reason
        super().__init__(message, field=field, line=line, event_id=event_id)

    def at(self, *, line: int | None = None, event_id: str | None = None) -> BlobError:
        return BlobError(self.message, reason=self.reason, field=self.field,
                         line=line if line is not None else self.line,
                         event_id=event_id if event_id is not None else self.event_id)


def check_name(name: object, *, field: str = "name") -> str:
    """``name`` when it is a blob name, else :class:`BlobError` (``bad_name``)."""
    if not isinstance(name, str) or not BLOB_NAME.match(name):
        shown = repr(name)[:100]
        raise BlobError(f"{shown} is not a blob name: expected sha256: and 64 lowercase hex "
                        "digits (the SHA-256 of the file)", reason="bad_name", field=field)
    return name


def blob_name(data: bytes) -> str:
    """The name of the blob holding ``data``."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def cited_field(data: Mapping[str, Any], name: object) -> str:
    """The field of an event's ``data`` that holds ``name`` (``data.vouchers[1].file``); the
    first found, depth first; ``data`` when no field holds it."""
    stack: list[tuple[Any, str]] = [(data, "data")]
    while stack:
        value, path = stack.pop()
        if value == name and isinstance(value, str):
            return path
        if isinstance(value, Mapping):
            stack.extend((v, f"{path}.{k}") for k, v in reversed(list(value.items())))
        elif isinstance(value, list | tuple):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(value))))
    return "data"


def missing_attachment(name: str, field: str) -> BlobError:
    """The refusal of an event citing a blob the store does not hold."""
    return BlobError(f"attachment {name} is not in the blob store; upload it first: "
                     f"PUT /api/v1/blobs/{name} or tracelib blob add FILE",
                     reason="missing", field=field)


def default_blobs(db: str | os.PathLike[str]) -> Path:
    """Where a ledger's blobs are kept unless configured: beside a SQLite database file
    (``./data/x.db`` → ``./data/x.db.blobs``); for a server database, ``./tracelib-blobs``
    in the current folder, which a deployment should set instead (docs/operations.md)."""
    text = os.fspath(db)
    if text.startswith("sqlite:///"):
        text = text.removeprefix("sqlite:///")
    elif "://" in text:
        return Path("tracelib-blobs").resolve()
    if text in ("", ":memory:"):
        return Path("tracelib-blobs").resolve()
    path = Path(text).expanduser().resolve()
    return path.with_name(f"{path.name}.blobs")


Body = bytes | BinaryIO | Iterable[bytes]


def _chunks(body: Body) -> Iterator[bytes]:
    if isinstance(body, bytes | bytearray | memoryview):
        yield bytes(body)
        return
    read = getattr(body, "read", None)
    if read is not None:
        while True:
            chunk = read(_CHUNK)
            if not chunk:
                return
            yield chunk
    else:
        yield from body


class BlobStore:
    """The blobs under ``root`` (created on the first write)."""

    def __init__(self, root: str | os.PathLike[str], *, limit: int = MAX_BLOB_BYTES) -> None:
        self.root = Path(root)
        self.limit = limit

    def __repr__(self) -> str:
        return f"BlobStore({str(self.root)!r})"

    def path(self, name: str) -> Path:
        """The file that holds blob ``name`` (present or not)."""
        digest = check_name(name).removeprefix("sha256:")
        return self.root / "sha256" / digest[:2] / digest[2:]

    def has(self, name: str) -> bool:
        return self.path(name).is_file()

    def size(self, name: str) -> int:
        try:
            return self.path(name).stat().st_size
        except FileNotFoundError as e:
            raise NotFoundError(f"blob {name} is not in the blob store {self.root}") from e

    def open(self, name: str) -> BinaryIO:
        """The blob's bytes, as a binary file the caller closes."""
        try:
            return self.path(name).open("rb")
        except FileNotFoundError as e:
            raise NotFoundError(f"blob {name} is not in the blob store {self.root}") from e

    def put(self, body: Body) -> str:
        """Store ``body`` (bytes, a binary file or an iterable of chunks) and return its
        name; storing the same bytes again changes nothing."""
        name, _created = self._write(None, body, None)
        return name

    def put_as(self, name: str, body: Body, *, size: int | None = None) -> bool:
        """Store ``body`` as blob ``name``, refusing it (:class:`BlobError`) when its hash is
        another name, when it is over the limit, or when ``size`` is given and the body has
        another length. True when the blob is new, False when it was already stored."""
        check_name(name)
        if size is not None and size > self.limit:
            raise self._too_large(size)
        return self._write(name, body, size)[1]

    def check(self, name: str) -> Health:
        """Rehash the stored blob (in chunks: memory stays bounded)."""
        try:
            f = self.open(name)
        except NotFoundError:
            return "missing"
        digest = hashlib.sha256()
        with f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        return "ok" if f"sha256:{digest.hexdigest()}" == name else "corrupt"

    def names(self) -> Iterator[str]:
        """The names of the stored blobs (files whose path is a blob name)."""
        top = self.root / "sha256"
        if not top.is_dir():
            return
        for sub in sorted(top.iterdir()):
            if not sub.is_dir():
                continue
            for f in sorted(sub.iterdir()):
                name = f"sha256:{sub.name}{f.name}"
                if BLOB_NAME.match(name) and f.is_file():
                    yield name

    def _too_large(self, size: int) -> BlobError:
        return BlobError(f"the file is over the limit of {self.limit} bytes "
                         f"({size if size > self.limit else 'more'} bytes); nothing was stored",
                         reason="too_large", field="body")

    def _write(self, name: str | None, body: Body, size: int | None) -> tuple[str, bool]:
        self.root.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        staging = self.root / "sha256"
        staging.mkdir(mode=_DIR_MODE, exist_ok=True)
        # The temporary file starts in sha256/ (where the 2-hex folder is not known yet, the
        # hash being computed while writing) on the same file system as its final place.
        fd, temp = tempfile.mkstemp(prefix=".incoming-", dir=staging)
        try:
            digest = hashlib.sha256()
            total = 0
            with os.fdopen(fd, "wb") as f:
                for chunk in _chunks(body):
                    total += len(chunk)
                    if total > self.limit:
                        raise self._too_large(total)
                    digest.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            if size is not None and total != size:
                raise BlobError(f"the body has {total} bytes where {size} were declared "
                                "(Content-Length); nothing was stored", reason="wrong_size",
                                field="body")
            found = f"sha256:{digest.hexdigest()}"
            if name is not None and found != name:
                raise BlobError(f"the body's hash is {found} ({total} bytes), not {name}; "
                                "nothing was stored", reason="mismatch", field="body")
            final = self.path(found)
            if final.is_file() and self.check(found) == "ok":
                return found, False
            final.parent.mkdir(mode=_DIR_MODE, exist_ok=True)
            os.chmod(temp, _FILE_MODE)
            os.replace(temp, final)  # atomic: readers see the whole blob or none
            _fsync_dir(final.parent)
            return found, True
        finally:
            if os.path.exists(temp):
                os.unlink(temp)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: fsync the directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

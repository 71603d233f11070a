"""Attachments over HTTP, ``/api/v1/blobs/sha256:<hex>`` (docs/contract.md "Attachments"):
``PUT`` stores a scan or PDF under the SHA-256 of its bytes (a ``write`` token); ``GET`` and
``HEAD`` read it with the scopes of the events that cite it — ``read:all`` always,
``read:own`` when the reader's party signed a citing event or holds its location,
``read:market`` also when the citing event happened inside a market the party holds; a blob
no event cites, ``read:all`` only."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.wsgi import wrap_file

from tracelib.blobs import BlobError, BlobStore, check_name
from tracelib.errors import NotFoundError

from .access import READ_ALL, WRITE, current_principal, forbid_other_books, reach, require
from .extension import ledger
from .httputil import body_chunks, json_response
from .problems import BadInput

__all__ = ["bp", "sniff"]

bp = Blueprint("blobs", __name__, url_prefix="/api/v1")

#: File signatures (magic numbers) of the attachments' usual formats: PDF (ISO 32000-2
#: §7.5.2), PNG (ISO/IEC 15948 §5.2), JPEG (ISO/IEC 10918-1 Annex B, SOI marker).
_MAGIC = ((b"%PDF-", "application/pdf", ".pdf"),
          (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
          (b"\xff\xd8\xff", "image/jpeg", ".jpg"))


def sniff(head: bytes) -> tuple[str, str]:
    """The media type and file extension of a blob from its first bytes;
    ``application/octet-stream`` for anything else."""
    for magic, media_type, ext in _MAGIC:
        if head.startswith(magic):
            return media_type, ext
    return "application/octet-stream", ".bin"


def _blobs() -> BlobStore:
    return ledger().blobs


def _name(name: str) -> str:
    try:
        return check_name(name)
    except BlobError as e:
        raise BadInput(e.message, field="name") from e


@bp.put("/blobs/<path:name>")
def put_blob(name: str) -> Response:
    require(WRITE)
    name = _name(name)
    store = _blobs()
    try:
        created = store.put_as(name, body_chunks(store.limit), size=request.content_length)
    except BlobError as e:
        if e.reason == "wrong_size":
            raise BadInput(f"wrong size: {e.message}", field="body") from e
        raise  # the hash is another name: 422, naming the body's hash
    response = json_response({"name": name, "size": store.size(name), "created": created},
                             status=201 if created else 200)
    response.headers["Location"] = url_for("blobs.get_blob", name=name)
    return response


@bp.get("/blobs/<path:name>")
def get_blob(name: str) -> Response:
    name = _name(name)
    led = ledger()
    who = current_principal()
    citing = led.citations(name)
    if not who.can(READ_ALL):
        mine = reach(led, who)
        if not any(c.actor == who.party or mine.sees(c.location) for c in citing):
            raise forbid_other_books(f"blob {name}")
    store = _blobs()
    if not store.has(name):
        cited = f" (cited by seq {citing[0].seq})" if citing else ""
        raise NotFoundError(f"blob {name}{cited} is not in the blob store")
    with store.open(name) as f:
        media_type, ext = sniff(f.read(8))
    hexdigest = name.removeprefix("sha256:")
    response = current_app.response_class(mimetype=media_type)
    response.set_etag(hexdigest)  # the content's own hash: it never changes
    response.headers["Content-Disposition"] = f'attachment; filename="{hexdigest}{ext}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Readable only with a token: never kept by a shared cache (RFC 9111 §5.2.2.7).
    response.headers["Cache-Control"] = "private, no-cache"
    if request.if_none_match.contains(hexdigest):
        response.status_code = 304
        return response
    response.content_length = store.size(name)
    if request.method != "HEAD":  # the file is opened only to be sent, in chunks
        response.response = wrap_file(request.environ, store.open(name))
        response.direct_passthrough = True
    return response

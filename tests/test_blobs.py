"""The attachments' blob store (docs/contract.md "Attachments"): content-addressed files
beside the ledger, the attachments table the append engine writes for a kind citing files,
the refusal of an event citing a blob not in the store, verify's rehash of the cited blobs
and the `tracelib blob` commands. A throw-away kind citing files stands in for any kind
whose spec sets ``KindSpec.attachments``."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from marshmallow import fields
from sqlalchemy import delete, select

from tests.helpers import Network, origin_event
from tracelib.blobs import BlobError, BlobStore, blob_name, check_name, cited_field, default_blobs
from tracelib.bounds import MAX_BLOB_BYTES
from tracelib.errors import NotFoundError, ValidationError
from tracelib.events import sign_event
from tracelib.keys import Keystore, SigningKey
from tracelib.kinds import KindSpec, Signers, register_kind, unregister_kind
from tracelib.kinds._fields import OpenData
from tracelib.ledger import Ledger
from tracelib.replay import TABLES, derived_tables
from tracelib.store.schema import attachments
from tracelib_cli.main import cli

SCAN = b"%PDF-1.7\n% a scanned voucher\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class FiledNoteData(OpenData):
    # Deliberately loose (any strings): the append engine's own check of the names the
    # hook returns is what a malformed name meets here.
    files = fields.List(fields.Dict(), required=True)


def filed_note_files(data: Mapping[str, Any]) -> Sequence[str]:
    return [f["file"] for f in data["files"]]


SPEC = KindSpec(
    name="filed_note", order=95, data_schema=FiledNoteData(), apply=None,
    label_zh="附件备注", label_en="Filed note", summary="a note with scanned files attached",
    rules="`data.files[].file`: blobs in the blob store.",
    example={"id": "fn-1", "kind": "filed_note", "time": "2026-11-22T08:00:00+08:00",
             "actor": "stall-a01", "location": "stall-a01",
             "data": {"files": [{"file": blob_name(SCAN)}]}},
    signers=Signers(), attachments=filed_note_files,
)


@pytest.fixture
def filed_note() -> Iterator[KindSpec]:
    register_kind(SPEC)
    try:
        yield SPEC
    finally:
        unregister_kind(SPEC.name)


def note(net: Network, *names: str, actor: str = "stall-a01",
         location: str = "stall-a01") -> dict[str, Any]:
    return net.event(actor, {"kind": "filed_note", "location": location,
                             "data": {"files": [{"file": n} for n in names]}})


def rows(ledger: Ledger) -> list[tuple[Any, ...]]:
    with ledger.store.reader() as conn:
        return [tuple(r) for r in conn.execute(
            select(attachments).order_by(attachments.c.seq, attachments.c.name))]


# -- the store -----------------------------------------------------------------------------

def test_a_blob_is_stored_by_its_hash_atomically_and_privately(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    name = store.put(SCAN)
    digest = hashlib.sha256(SCAN).hexdigest()
    assert name == f"sha256:{digest}"
    path = tmp_path / "blobs" / "sha256" / digest[:2] / digest[2:]
    assert store.path(name) == path and path.read_bytes() == SCAN
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert store.has(name) and store.size(name) == len(SCAN)
    with store.open(name) as f:
        assert f.read() == SCAN
    assert store.put(SCAN) == name  # the same bytes again: nothing changes
    with (tmp_path / "scan.png").open("wb") as f:
        f.write(PNG)
    with (tmp_path / "scan.png").open("rb") as f:
        png = store.put(f)  # from a file, in chunks
    assert list(store.names()) == sorted([name, png])
    assert store.put_as(png, [PNG[:5], PNG[5:]]) is False  # already there
    # No temporary file is left behind.
    assert not [p for p in (tmp_path / "blobs").rglob(".incoming-*")]


@pytest.mark.parametrize("bad", ["sha256:" + "A" * 64, "sha256:" + "0" * 63, "md5:" + "0" * 32,
                                 "sha256:../../" + "0" * 58, "0" * 64, ""])
def test_a_name_is_sha256_and_64_lowercase_hex(tmp_path: Path, bad: str) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(BlobError, match="is not a blob name: expected sha256:") as caught:
        store.has(bad)
    assert caught.value.reason == "bad_name" and caught.value.field == "name"
    assert check_name("sha256:" + "0" * 64) == "sha256:" + "0" * 64


def test_a_body_whose_hash_is_another_name_is_refused_naming_both(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    claimed = blob_name(b"something else")
    with pytest.raises(BlobError) as caught:
        store.put_as(claimed, SCAN)
    message = str(caught.value)
    assert blob_name(SCAN) in message and claimed in message and "nothing was stored" in message
    assert caught.value.reason == "mismatch" and caught.value.field == "body"
    assert not store.has(claimed) and not store.has(blob_name(SCAN))
    assert store.put_as(blob_name(SCAN), SCAN) is True


def test_the_size_limit_is_declared_once_and_holds_however_the_body_comes(tmp_path: Path) -> None:
    assert MAX_BLOB_BYTES == 20 * 1024 * 1024
    assert BlobStore(tmp_path).limit == MAX_BLOB_BYTES
    store = BlobStore(tmp_path, limit=10)
    assert store.put(b"0123456789") == blob_name(b"0123456789")  # exactly the limit
    eleven = b"0123456789!"
    with pytest.raises(BlobError, match="over the limit of 10 bytes") as caught:
        store.put(iter([b"01234", b"56789", b"!"]))  # found by reading
    assert caught.value.reason == "too_large"
    with pytest.raises(BlobError, match=r"over the limit of 10 bytes \(11 bytes\)"):
        store.put_as(blob_name(eleven), eleven, size=11)  # declared
    assert not store.has(blob_name(eleven))
    assert not list((tmp_path / "sha256").glob(".incoming-*"))


def test_a_body_of_another_size_than_declared_is_refused(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(BlobError, match=f"the body has {len(SCAN)} bytes where 5 were "
                                        "declared") as caught:
        store.put_as(blob_name(SCAN), SCAN, size=5)
    assert caught.value.reason == "wrong_size"
    assert not store.has(blob_name(SCAN))
    assert store.put_as(blob_name(SCAN), SCAN, size=len(SCAN)) is True


def test_check_rehashes_ok_missing_corrupt(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    name = store.put(SCAN)
    assert store.check(name) == "ok"
    assert store.check(blob_name(b"never stored")) == "missing"
    store.path(name).write_bytes(SCAN + b"tampered")
    assert store.check(name) == "corrupt"
    with pytest.raises(NotFoundError, match="is not in the blob store"):
        store.open(blob_name(b"never stored"))


def test_the_blob_store_lives_beside_the_ledger_unless_configured(tmp_path: Path,
                                                                  operator_key: SigningKey
                                                                  ) -> None:
    db = tmp_path / "city.db"
    assert default_blobs(db) == tmp_path / "city.db.blobs"
    assert default_blobs(f"sqlite:///{db}") == tmp_path / "city.db.blobs"
    assert default_blobs("postgresql+psycopg://u@h/db") == Path("tracelib-blobs").resolve()
    Ledger.create(db, operator_key=operator_key).close()
    with Ledger.open(db) as led:
        assert led.blobs.root == tmp_path / "city.db.blobs"
    with Ledger.open(db, blobs=tmp_path / "elsewhere") as led:
        assert led.blobs.root == tmp_path / "elsewhere"


def test_cited_field_names_where_the_data_holds_a_name() -> None:
    data = {"vouchers": [{"file": "a"}, {"type": "x", "file": "b"}]}
    assert cited_field(data, "b") == "data.vouchers[1].file"
    assert cited_field(data, "c") == "data"


# -- the ledger ----------------------------------------------------------------------------

@pytest.mark.usefixtures("filed_note")
def test_an_event_citing_a_blob_not_in_the_store_is_refused_before_anything_is_stored(
        network: Network) -> None:
    led = network.ledger
    present = led.blobs.put(SCAN)
    absent = blob_name(b"a scan never uploaded")
    size = led.size
    with pytest.raises(ValidationError) as caught:
        led.append([note(network, present, absent)], now=network.now, require_attachments=True)
    assert str(caught.value).endswith(
        f"attachment {absent} is not in the blob store; upload it first: "
        f"PUT /api/v1/blobs/{absent} or tracelib blob add FILE")
    assert caught.value.field == "data.files[1].file"
    assert led.size == size and rows(led) == []
    # Uploaded first, the same event is stored.
    led.blobs.put(b"a scan never uploaded")
    (receipt,) = led.append([note(network, present, absent)], now=network.now,
                            require_attachments=True)
    assert sorted(rows(led)) == sorted([(present, receipt.seq, "stall-a01", "stall-a01"),
                                        (absent, receipt.seq, "stall-a01", "stall-a01")])


@pytest.mark.usefixtures("filed_note")
def test_without_the_presence_check_history_whose_scans_live_elsewhere_is_accepted(
        network: Network) -> None:
    led = network.ledger
    absent = blob_name(b"kept in the archive")
    (receipt,) = led.append([note(network, absent, absent)], now=network.now)
    assert rows(led) == [(absent, receipt.seq, "stall-a01", "stall-a01")]  # cited once
    assert led.citations(absent)[0].seq == receipt.seq
    report = led.verify(workers=1)
    assert report.ok and report.blobs_missing == 1 and report.missing_blobs == (absent,)
    assert report.blobs_checked == 0


@pytest.mark.usefixtures("filed_note")
def test_a_cited_name_that_is_not_a_blob_name_is_refused_naming_the_field(
        network: Network) -> None:
    bad = "sha256:" + "F" * 64
    with pytest.raises(ValidationError, match="is not an attachment name") as caught:
        network.ledger.append([note(network, blob_name(SCAN), bad)], now=network.now)
    assert caught.value.field == "data.files[1].file"


def test_kinds_without_the_hook_write_no_attachment_rows(network: Network) -> None:
    network.ledger.append([origin_event(network, "LOT-1")], now=network.now)
    assert rows(network.ledger) == []
    assert TABLES["attachments"] == "derived"
    assert attachments in derived_tables()


@pytest.mark.usefixtures("filed_note")
def test_verify_rehashes_cited_blobs_fails_on_a_corrupt_one_and_reports_missing(
        network: Network) -> None:
    led = network.ledger
    name = led.blobs.put(SCAN)
    absent = blob_name(b"never uploaded")
    (receipt,) = led.append([note(network, name)], now=network.now, require_attachments=True)
    led.append([note(network, absent)], now=network.now)
    report = led.verify(workers=1)
    assert report.ok, report.problem
    assert (report.blobs_checked, report.blobs_missing, report.missing_blobs) == (1, 1, (absent,))
    led.blobs.path(name).write_bytes(b"%PDF-1.7\n% another voucher\n")
    report = led.verify(workers=1)
    assert not report.ok and report.table == "attachments"
    assert report.problem is not None
    assert f"blob {name} (cited by seq {receipt.seq})" in report.problem
    assert "does not hash to its name" in report.problem


@pytest.mark.usefixtures("filed_note")
def test_verify_compares_and_reindex_rebuilds_the_attachments_table(network: Network) -> None:
    led = network.ledger
    name = led.blobs.put(SCAN)
    (receipt,) = led.append([note(network, name)], now=network.now, require_attachments=True)
    with led.store.writer() as conn:
        conn.execute(delete(attachments))
    report = led.verify(workers=1)
    assert not report.ok and report.table == "attachments"
    assert report.row == {"name": name, "seq": receipt.seq}
    led.reindex()
    assert rows(led) == [(name, receipt.seq, "stall-a01", "stall-a01")]
    assert led.verify(workers=1).ok


# -- the command line ----------------------------------------------------------------------

def _cli_ledger(tmp_path: Path, operator_key: SigningKey) -> tuple[Path, SigningKey]:
    db = tmp_path / "l.db"
    led = Ledger.create(db, operator_key=operator_key)
    stall = SigningKey.generate()
    led.append([sign_event({
        "id": "reg-1", "kind": "register", "time": "2026-11-22T07:00:00+08:00",
        "actor": "operator", "location": "operator.office",
        "data": {"parties": [{"id": "stall-a01", "name": "张记", "role": "stall"}],
                 "locations": [{"id": "stall-a01", "name": "张记", "type": "stall",
                                "holder": "stall-a01"}],
                 "keys": [{"party": "stall-a01", "key_id": stall.key_id,
                           "public_key": stall.public.base64(),
                           "valid_from": "2026-01-01T00:00:00+08:00"}]}}, operator_key)])
    led.close()
    return db, stall


@pytest.mark.usefixtures("filed_note")
def test_cli_blob_add_get_check_and_append_refusing_a_missing_attachment(
        tmp_path: Path, operator_key: SigningKey) -> None:
    db, stall = _cli_ledger(tmp_path, operator_key)
    runner = CliRunner()
    base = ["--db", str(db), "--keystore", str(tmp_path / "keys")]
    Keystore(tmp_path / "keys")  # no operator key there: append signs no checkpoint
    scan = tmp_path / "voucher.pdf"
    scan.write_bytes(SCAN)
    added = runner.invoke(cli, [*base, "blob", "add", str(scan)])
    assert added.exit_code == 0, added.output
    name = blob_name(SCAN)
    assert added.output.split() == [name, str(scan)]
    assert (tmp_path / "l.db.blobs" / "sha256" / name[7:9] / name[9:]).read_bytes() == SCAN

    out = tmp_path / "copy.pdf"
    got = runner.invoke(cli, [*base, "blob", "get", name, "--out", str(out)])
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == SCAN
    missing_get = runner.invoke(cli, [*base, "blob", "get", blob_name(b"nope")])
    assert missing_get.exit_code == 1 and "is not in the blob store" in missing_get.output

    absent = blob_name(b"a scan kept elsewhere")

    def events_file(path: Path, *names: str, event_id: str) -> Path:
        doc = sign_event({"id": event_id, "kind": "filed_note",
                          "time": "2026-11-22T08:00:00+08:00", "actor": "stall-a01",
                          "location": "stall-a01",
                          "data": {"files": [{"file": n} for n in names]}}, stall)
        path.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    refused = runner.invoke(cli, [*base, "append", "--no-checkpoint",
                                  str(events_file(tmp_path / "a.jsonl", name, absent,
                                                  event_id="fn-1"))])
    assert refused.exit_code == 1
    assert f"attachment {absent} is not in the blob store; upload it first" in refused.output
    assert "data.files[1].file" in refused.output and "nothing was stored" in refused.output

    accepted = runner.invoke(cli, [*base, "append", "--no-checkpoint", str(
        events_file(tmp_path / "b.jsonl", name, event_id="fn-2"))])
    assert accepted.exit_code == 0, accepted.output
    imported = runner.invoke(cli, [*base, "append", "--no-checkpoint",
                                   "--allow-missing-attachments",
                                   str(events_file(tmp_path / "a.jsonl", name, absent,
                                                   event_id="fn-1"))])
    assert imported.exit_code == 0, imported.output

    checked = runner.invoke(cli, [*base, "blob", "check", "--json"])
    assert checked.exit_code == 0, checked.output
    doc = json.loads(checked.output)
    assert (doc["ok"], doc["missing"], doc["corrupt"]) == (1, 1, 0)
    assert doc["missing_blobs"] == [{"name": absent, "seq": 3}]

    verified = runner.invoke(cli, [*base, "verify", "--workers", "1"])
    assert verified.exit_code == 0, verified.output
    assert "attachments: 1 cited blob(s) present and rehashed" in verified.output
    assert "1 cited blob(s) not in the blob store" in verified.output
    assert "not a failure" in verified.output and absent in verified.output

    (tmp_path / "l.db.blobs" / "sha256" / name[7:9] / name[9:]).write_bytes(b"changed")
    corrupt = runner.invoke(cli, [*base, "blob", "check"])
    assert corrupt.exit_code == 1
    assert f"corrupt: {name} (cited by seq 2)" in corrupt.output
    failed = runner.invoke(cli, [*base, "verify", "--workers", "1"])
    assert failed.exit_code == 1 and f"blob {name} (cited by seq 2)" in failed.output


def test_doctor_checks_the_blob_store_can_be_written(tmp_path: Path,
                                                     operator_key: SigningKey) -> None:
    from tracelib.doctor import diagnose

    db = str(tmp_path / "d.db")
    Ledger.create(db, operator_key=operator_key).close()
    found = {c.name: c for c in diagnose(db, tmp_path / "keys")}["blob store"]
    assert found.ok and found.detail == (f"{tmp_path / 'd.db.blobs'}: not created yet; "
                                         f"{tmp_path} is writable")
    # Configured under a file (a path that can never be a folder): refused, naming it.
    (tmp_path / "a-file").write_text("not a folder")
    found = {c.name: c for c in diagnose(db, tmp_path / "keys",
                                         blobs=tmp_path / "a-file" / "blobs")}["blob store"]
    assert not found.ok and f"{tmp_path / 'a-file'} cannot be written" in found.detail
    assert "TRACELIB_BLOBS" in found.fix
    result = CliRunner().invoke(cli, ["--db", db, "--keystore", str(tmp_path / "keys"),
                                      "--blobs", str(tmp_path / "b"), "doctor"])
    assert "blob store" in result.output and "Traceback" not in result.output

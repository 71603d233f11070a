"""The service and witnesses (docs/contract.md "Witnesses"): the served checkpoint carries
the cosignature lines; with a witness policy the stall and lot pages say how many witnesses
cosigned ("见证 k/n" / "Witnessed k/n", never mixed) and prove their records against the
newest witnessed checkpoint; a new checkpoint is sent to the witnesses in the background."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import NOW
from tests.service.conftest import STALL, Scene
from tests.test_witness import Running, serve
from tracelib.keys import Keystore, SigningKey
from tracelib.note import open_cosigned_note
from tracelib.witness import Witness, WitnessState, collect_cosignatures
from tracelib_service import create_app
from tracelib_service.api import maybe_sign_checkpoint
from tracelib_service.witnessing import wait_for_witnesses


@pytest.fixture
def witnesses(scene: Scene, tmp_path: Path) -> Iterator[list[Running]]:
    led = scene.ledger
    started = []
    for i in (1, 2, 3):
        key = SigningKey.generate()
        app = Witness(f"w{i}.example", key, led.checkpoint_verifiers(),
                      WitnessState(tmp_path / f"w{i}"))
        started.append(serve(app.wsgi, f"w{i}.example", key))
    scene.net.append_as("operator", {"kind": "register", "location": "operator.office",
                                     "data": {"witnesses": [
                                         {"name": f"county{i}", "url": w.url,
                                          "vkey": w.target.verifier.to_string()}
                                         for i, w in enumerate(started, 1)]}})
    yield started
    for w in started:
        w.stop()


@pytest.fixture
def witnessed_app(db_url: str, keystore: Keystore, witnesses: list[Running],
                  tmp_path: Path) -> Iterator[Flask]:
    policy = tmp_path / "policy.txt"
    policy.write_text("".join(f"witness county{i} {w.target.verifier.to_string()} {w.url}\n"
                              for i, w in enumerate(witnesses, 1))
                      + "group counties 2 county1 county2 county3\nquorum counties\n")
    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                      "NOW": NOW, "WITNESS_POLICY": str(policy)})
    yield app
    wait_for_witnesses(app)
    app.extensions["tracelib"].close()


def _proof_sizes(page: str) -> set[int]:
    return {int(s) for s in re.findall(r"/api/v1/proofs/inclusion/\d+\?size=(\d+)", page)}


def test_pages_say_how_many_witnesses_cosigned_in_one_language(
        scene: Scene, witnesses: list[Running], witnessed_app: Flask,
        operator_key: SigningKey) -> None:
    led = scene.ledger
    client = witnessed_app.test_client()
    signed = led.sign_checkpoint(operator_key, now=NOW)
    page = client.get(f"/s/{STALL}").get_data(as_text=True)
    assert "尚未见证（0/3）" in page  # nobody cosigned yet: the newest checkpoint is shown
    collect_cosignatures(led, targets=[w.target for w in witnesses[:2]])
    zh = client.get(f"/s/{STALL}").get_data(as_text=True)
    en = client.get(f"/s/{STALL}?lang=en").get_data(as_text=True)
    assert "见证 2/3" in zh and "Witnessed" not in zh
    assert "Witnessed 2/3" in en and "见证" not in en
    assert _proof_sizes(zh) == {signed.size}
    lot = client.get("/l/LOT-CP-0001").get_data(as_text=True)
    assert "见证 2/3" in lot
    # A new record on the stall page, signed but not witnessed: the page falls back to the
    # newest checkpoint and says so; records the witnessed checkpoint covers stay on it.
    scene.pending = None
    scene.rapid("LOT-CP-0001", "0.700", time="2026-11-22T09:00:00+08:00", event_id="rt-late")
    newer = led.sign_checkpoint(operator_key, now=NOW)
    fallback = client.get(f"/s/{STALL}").get_data(as_text=True)
    assert "尚未见证（0/3）" in fallback and _proof_sizes(fallback) == {newer.size}
    assert "见证 2/3" in client.get("/l/LOT-QC-0002").get_data(as_text=True)
    assert _proof_sizes(client.get("/l/LOT-QC-0002").get_data(as_text=True)) == {signed.size}


def test_the_served_checkpoint_carries_the_cosignatures(
        scene: Scene, witnesses: list[Running], witnessed_app: Flask,
        operator_key: SigningKey) -> None:
    led = scene.ledger
    led.sign_checkpoint(operator_key, now=NOW)
    collect_cosignatures(led)
    client = witnessed_app.test_client()
    note = client.get("/api/v1/checkpoint", headers={"Accept": "text/plain"}).get_data(
        as_text=True)
    opened = open_cosigned_note(note, led.checkpoint_verifiers(),
                                [w.target.verifier for w in witnesses])
    assert len(opened.cosignatures) == 3
    body = client.get("/api/v1/checkpoint").get_json()
    assert body["note"] == note and len(body["cosignatures"]) == 3
    assert body["witnessing"]["witnessed_size"] == body["size"]


def test_a_new_checkpoint_is_sent_to_the_witnesses_in_the_background(
        scene: Scene, witnesses: list[Running], witnessed_app: Flask) -> None:
    witnesses[2].stop()  # a down witness costs the request nothing
    scene.pending = None
    scene.rapid("LOT-CP-0001", "0.700", time="2026-11-22T09:00:00+08:00", event_id="rt-bg")
    with witnessed_app.test_request_context():
        signed = maybe_sign_checkpoint()
    assert signed is not None
    wait_for_witnesses(witnessed_app)
    assert [w.statuses for w in witnesses[:2]] == [[200], [200]]
    page = witnessed_app.test_client().get(f"/s/{STALL}").get_data(as_text=True)
    assert "见证 2/3" in page


def test_a_policy_that_does_not_parse_stops_the_start(db_url: str, keystore: Keystore,
                                                      tmp_path: Path) -> None:
    from tracelib.errors import ValidationError

    bad = tmp_path / "policy.txt"
    bad.write_text("quorum nobody\n")
    for path, why in ((bad, "policy line 1"), (tmp_path / "missing", "cannot read")):
        with pytest.raises(ValidationError, match=why):
            create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                        "NOW": NOW, "WITNESS_POLICY": str(path)})


def test_the_tile_log_serves_the_checkpoint_with_its_cosignatures(
        scene: Scene, witnesses: list[Running], witnessed_app: Flask,
        operator_key: SigningKey) -> None:
    """``/log/checkpoint`` (C2SP tlog-tiles) is the note the witnesses cosigned, their
    ``cosignature/v1`` lines after the operator's signature."""
    led = scene.ledger
    client = witnessed_app.test_client()
    signed = led.sign_checkpoint(operator_key, now=NOW)
    assert client.get("/log/checkpoint").get_data(as_text=True) == signed.note
    collect_cosignatures(led, targets=[w.target for w in witnesses[:2]])
    served = client.get("/log/checkpoint").get_data(as_text=True)
    assert served.startswith(signed.note) and served != signed.note
    opened = open_cosigned_note(served, led.checkpoint_verifiers(),
                                [w.target.verifier for w in witnesses])
    assert sorted(c.name for c in opened.cosignatures) == sorted(
        w.target.verifier.name for w in witnesses[:2])

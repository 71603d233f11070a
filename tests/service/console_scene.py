"""A regulator for the console's tests: registered in the service tests' ledger (with its
key in the service's keystore) and holding an API token."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from tests.service.conftest import Scene
from tracelib.keys import Keystore, SigningKey

REGULATOR = "regulator-1"
REGULATOR_NAME = "云阳县市场监督管理局"


def register_regulator(scene: Scene, keystore: Keystore) -> None:
    key = SigningKey.generate()
    scene.net.keys[REGULATOR] = key
    scene.net.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": REGULATOR, "name": REGULATOR_NAME, "role": "regulator"}],
        "locations": [{"id": f"{REGULATOR}.office", "name": REGULATOR_NAME, "type": "office",
                       "holder": REGULATOR}],
        "keys": [{"party": REGULATOR, "key_id": key.key_id, "public_key": key.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"}]}})
    keystore.save(REGULATOR, key)


@contextmanager
def console_app_at(db_url: str, scene: Scene, keystore: Keystore,
                   now: datetime | Callable[[], datetime]) -> Iterator[Flask]:
    """The service app over the scene's ledger with :data:`REGULATOR` registered (its key in
    the keystore), its clock at ``now``; closed afterwards."""
    from tracelib_service import create_app

    register_regulator(scene, keystore)
    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                      "NOW": now})
    try:
        yield app
    finally:
        app.extensions["tracelib"].close()


class Clock:
    """The app's clock (``NOW``), moved by the tests."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: FlaskClient, token: str) -> str:
    """Sign in through the form; the CSRF token of the new session."""
    form = client.get("/console/signin").get_data(as_text=True)
    answer = client.post("/console/signin", data={"token": token, "csrf": csrf_of(form)})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    return csrf_of(client.get("/console/find").get_data(as_text=True))


def app_token(app: Flask, party: str, *, scopes: tuple[str, ...] | None = None) -> str:
    """A token for ``party``: ``read:all`` and ``write`` for a regulator or the operator
    (what signs in to the console and signs its recalls), the default scopes otherwise."""
    from tracelib_service.tokens import issue_token

    if scopes is None:
        role = app.extensions["tracelib"].ledger.party(party).role
        scopes = ("read:all", "write") if role in ("regulator", "operator") else None
    return issue_token(app, party) if scopes is None else issue_token(app, party, scopes=scopes)


def school_reached(scene: Scene) -> None:
    """A school's canteen (学校食堂) registered and receiving LOT-SC-0003."""
    key = SigningKey.generate()
    scene.net.keys["canteen-school-1"] = key
    scene.net.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": "canteen-school-1", "name": "云阳县实验小学", "role": "stall"}],
        "locations": [{"id": "canteen-school-1", "name": "云阳县实验小学食堂", "type": "canteen",
                       "holder": "canteen-school-1", "school": True}],
        "keys": [{"party": "canteen-school-1", "key_id": key.key_id,
                  "public_key": key.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"}]}})
    scene.pending = []
    scene.deliver("LOT-SC-0003", "30", to="canteen-school-1")
    scene.flush()


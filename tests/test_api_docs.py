"""docs/api.md is true to the service: it is the generator's current output, and the OpenAPI
document it is generated from names every route the service serves under /api/v1."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tracelib import Ledger, SigningKey
from tracelib_service import create_app
from tracelib_service.openapi import openapi_document

ROOT = Path(__file__).resolve().parents[1]


def _render() -> str:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from gen_api_docs import render
    finally:
        sys.path.pop(0)
    return render()


def test_api_reference_is_current() -> None:
    current = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert current == _render(), "docs/api.md is stale: run `python scripts/gen_api_docs.py`"


def test_openapi_documents_every_api_route(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger.create(db, operator_key=SigningKey.generate()).close()
    app = create_app({"DB": db, "KEYSTORE": str(tmp_path / "keys")})
    try:
        served = set()
        for rule in app.url_map.iter_rules():
            if rule.rule.startswith(("/epcis/capture", "/epcis/queries")):  # server /epcis
                path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix(
                    "/epcis").replace("<capture_id>", "{captureID}"))
            elif rule.rule.startswith("/log/"):  # the tile log: server / (the app's root)
                path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            elif rule.rule.startswith("/api/v1/"):
                path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}",
                              rule.rule.removeprefix("/api/v1"))
            else:
                continue
            served |= {(path, m.lower()) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    finally:
        app.extensions["tracelib"].close()
    documented = {(path, method) for path, item in openapi_document()["paths"].items()
                  for method in item if method != "servers"}
    assert served == documented


def test_api_reference_links_resolve() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", text, re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert target in anchors, f"docs/api.md links to #{target}, which no heading makes"

"""A failed command leaves nothing behind (no empty database file), and `tracelib qr stall`
takes its link from the configured public URL or refuses in one line (docs/contract.md "CLI
environment")."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from tracelib.keys import SigningKey
from tracelib.ledger import Ledger
from tracelib_cli.main import cli


@pytest.mark.parametrize("command", [["verify"], ["show", "0"], ["trace", "LOT-1"], ["alerts"],
                                     ["keys", "list"], ["checkpoint"],
                                     ["qr", "stall", "s", "--out", "a.png",
                                      "--public-url", "https://trace.example.cn"]])
def test_a_command_on_a_missing_database_creates_no_file(tmp_path: Path,
                                                         command: list[str]) -> None:
    db = tmp_path / "new.db"
    result = CliRunner().invoke(cli, ["--db", str(db), *command])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"error: no tracelib ledger at sqlite:///{db}; run `tracelib init` first"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_opening_a_missing_sqlite_file_does_not_create_it(tmp_path: Path) -> None:
    from tracelib.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no tracelib ledger"):
        Ledger.open(tmp_path / "absent.db")
    assert not (tmp_path / "absent.db").exists()


@pytest.fixture
def market(tmp_path: Path) -> str:
    db = str(tmp_path / "m.db")
    key = SigningKey.generate()
    Ledger.create(db, operator_key=key, operator="operator").close()
    from tracelib.events import sign_event

    register = sign_event({"id": "reg-1", "kind": "register", "time": "2026-11-22T06:00:00+08:00",
                           "actor": "operator", "location": "operator.office", "data": {
                               "locations": [{"id": "market-1", "name": "城南农贸市场",
                                              "type": "market"},
                                             {"id": "stall-a01", "name": "张记蔬菜",
                                              "type": "stall", "parent": "market-1"}]}}, key)
    with Ledger.open(db) as ledger:
        ledger.append([register])
    return db


def test_qr_stall_refuses_without_a_public_url(market: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACELIB_PUBLIC_URL", raising=False)
    out = tmp_path / "a.png"
    result = CliRunner().invoke(cli, ["--db", market, "qr", "stall", "stall-a01", "--out",
                                      str(out)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: no public URL configured: set TRACELIB_PUBLIC_URL or pass --public-url "
        "https://… (where shoppers reach the service)"]
    assert not out.exists()
    bad = CliRunner().invoke(cli, ["--db", market, "qr", "stall", "stall-a01", "--out", str(out),
                                   "--public-url", "trace.example.cn"])
    assert bad.exit_code == 1 and len(bad.output.strip().splitlines()) == 1
    assert "http:// or https://" in bad.output and not out.exists()


@pytest.mark.parametrize("how", ["env", "option"])
def test_qr_stall_links_to_the_configured_public_url(market: str, tmp_path: Path,
                                                     how: str) -> None:
    out = tmp_path / "a.png"
    args = ["--db", market, "qr", "stall", "stall-a01", "--out", str(out)]
    env = {"TRACELIB_PUBLIC_URL": "https://trace.example.cn/"}
    if how == "option":
        args += ["--public-url", "https://trace.example.cn/"]
        env = {"TRACELIB_PUBLIC_URL": ""}
    result = CliRunner(env=env).invoke(cli, args)
    assert result.exit_code == 0, result.output
    with Image.open(io.BytesIO(out.read_bytes())) as image:
        found = [b.text for b in zxingcpp.read_barcodes(image.convert("L"))]
    assert found == ["https://trace.example.cn/s/stall-a01"]

"""The console's search (tracelib.views.find) on SQLite and PostgreSQL: every kind of
match, certificate numbers matched exactly whatever LIKE's own characters they hold."""

from __future__ import annotations

import pytest

from tests.helpers import Network, origin_event
from tracelib.errors import ValidationError
from tracelib.events import sign_event
from tracelib.views.find import find


def _kinds(net: Network, text: str) -> list[tuple[str, str]]:
    return [(m.kind, m.lot or m.id) for m in find(net.ledger, text)]


def test_find_every_kind(network: Network) -> None:
    odd = origin_event(network, "LOT-B", sign=False)
    odd["data"]["certificate"]["no"] = 'N%_\\"1'  # LIKE's wildcards, a backslash, a quote
    network.ledger.append([origin_event(network, "LOT-A"),
                           sign_event(odd, network.keys["farm-1"])], now=network.now)
    assert _kinds(network, "LOT-A") == [("lot", "LOT-A")]
    assert _kinds(network, "CERT-LOT-A") == [("certificate", "LOT-A")]
    assert _kinds(network, 'N%_\\"1') == [("certificate", "LOT-B")]
    assert _kinds(network, "N%") == []  # no wildcard: a number matches whole
    assert _kinds(network, "N__\\\"1") == []
    assert ("stall", "stall-a01") in _kinds(network, "张记")
    assert ("party", "market-1") in _kinds(network, "market-1")
    assert ("place", "market-1") in _kinds(network, "market-1")
    first = network.ledger.record(0).to_dict()["event"]["id"]
    assert ("event", first) in _kinds(network, first)
    assert _kinds(network, "50%") == []


@pytest.mark.parametrize("text", ["", "   ", "x" * 201, "a\x00b", "a\nb"])
def test_find_refuses_what_names_nothing(network: Network, text: str) -> None:
    with pytest.raises(ValidationError):
        find(network.ledger, text)

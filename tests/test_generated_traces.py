"""Over generated networks with known answers (tracelib_demo's ground truth): every forward
trace returns exactly the locations that received the lot or what was made from it, with
exact received, sold and on-hand quantities; every backward trace returns exactly the
origins; and the answers are the same on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tracelib.ledger import Ledger
from tracelib.quantity import format_micro
from tracelib.views.tracing import Trace, trace
from tracelib_demo import NetworkSpec, generate

SPEC = NetworkSpec(seed=11, events=4000, farms=8, markets=2, stalls_per_market=12, days=4)


def _as_text(value: Decimal) -> str:
    return format_micro(int(value * 1_000_000))


def assert_trace_is_the_truth(ledger: Ledger, net: Any, lot: str) -> Trace:
    """The lot's trace: every location with exact received, sold and on-hand quantities,
    and every origin, as the generated network's ground truth has them."""
    answer = trace(ledger, lot)
    got = {(loc.location, loc.unit): (format_micro(loc.received), format_micro(loc.sold),
                                      format_micro(loc.on_hand))
           for loc in answer.locations}
    expected = {key: tuple(_as_text(v) for v in values)
                for key, values in net.truth.forward(lot).items()}
    assert got == expected, lot
    assert {o.lot for o in answer.origins} == net.truth.origins(lot), lot
    return answer


def _build(url: str) -> tuple[Ledger, Any]:
    net = generate(SPEC)
    ledger = Ledger.create(url, operator_key=net.operator_key, operator=SPEC.operator,
                           now=net.end)
    ledger.append(net.events(), now=net.end)
    return ledger, net


@pytest.fixture(scope="module")
def generated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ledger, Any]:
    return _build(f"sqlite:///{tmp_path_factory.mktemp('gen') / 'ledger.db'}")


def test_every_trace_equals_the_ground_truth(generated_sqlite: tuple[Ledger, Any]) -> None:
    ledger, net = generated_sqlite
    lots = net.truth.lots()
    assert len(lots) > 100
    stalls_reached = 0
    for lot in lots:
        answer = assert_trace_is_the_truth(ledger, net, lot)
        stalls_reached += sum(1 for loc in answer.locations if loc.type == "stall")
    assert stalls_reached > 0
    assert ledger.verify().ok


@pytest.mark.postgres
def test_traces_are_identical_on_postgresql(generated_sqlite: tuple[Ledger, Any],
                                            pg_url: str) -> None:
    sqlite_ledger, net = generated_sqlite
    pg_ledger, _ = _build(pg_url)
    try:
        for lot in net.truth.lots()[::7]:
            assert trace(pg_ledger, lot).to_dict() == trace(sqlite_ledger, lot).to_dict(), lot
        # Same events, same keys, same record times: the same ledger, byte for byte.
        assert pg_ledger.size == sqlite_ledger.size
        assert pg_ledger.root() == sqlite_ledger.root()
    finally:
        pg_ledger.close()
